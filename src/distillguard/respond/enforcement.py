"""The audit's enforcement list (``enforcement.json``) as a lookup the gateway asks per request.

The document is written by ``detect.verdicts.enforcement_document``: accounts with a response
other than ``none``, flagged clusters with their members and link keys, and analysts'
known-good overrides. Parsing is pure (bytes in, lookup out); reading the file is the gateway's job.

A flagged cluster's ``links`` are hashes (``detect.online.link_hash``) of infrastructure that
only flagged accounts used (payment instrument, sign-up device or burst, client fingerprint,
org); an account that presents one is treated as a member of that cluster from its first
request (:meth:`EnforcementList.linked`). Files written before links existed load unchanged.

``predict_reference`` (optional, versioned) is the range of the predict inputs the audit read
(``detect.prediction.prada.range_reference``: per feature position a centre and a scale, every
account weighing the same): the gateway's online scorer judges each predict input against it
(``prada.outside_range``) for the sequential predict test, as the replay does after each periodic
audit. ``{"version": 1, "median": [...], "scale": [...]}``, one number per feature position,
written at full precision so that the gateway's judgement is the audit's bit for bit. A file
without it loads as before (the predict test waits); a version this gateway does not know is
skipped with a note (the rest of the list still applies); a malformed one is refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from distillguard.detect.prediction.prada import PopulationStats
from distillguard.detect.verdicts import Response
from distillguard.errors import ConfigError

__all__ = [
    "EMPTY_ENFORCEMENT",
    "PREDICT_REFERENCE_VERSION",
    "EnforcementEntry",
    "EnforcementList",
    "parse_enforcement",
    "parse_predict_reference",
    "predict_reference_document",
]

PREDICT_REFERENCE_VERSION = 1

_SEVERITY = {r: i for i, r in enumerate(Response)}


@dataclass(frozen=True, slots=True)
class EnforcementEntry:
    """What the audit asked the gateway to do about one account.

    ``response`` is the stronger of the account's own response and its cluster's; ``reasons``
    name where it came from (``audit:account score=0.91``, ``audit:cluster c-12 (14 members)``).
    """

    response: Response
    cluster_id: str | None
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EnforcementList:
    """Per-account entries plus known-good accounts and orgs, which the gateway never acts on."""

    accounts: Mapping[str, EnforcementEntry] = field(default_factory=dict)
    clusters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    known_good_accounts: frozenset[str] = frozenset()
    known_good_orgs: frozenset[str] = frozenset()
    generated_at: str | None = None
    links: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """link hash -> (cluster id, key kind)"""
    cluster_responses: Mapping[str, Response] = field(default_factory=dict)
    predict_reference: PopulationStats | None = None
    """the range predict inputs are judged against (None: the file has none)"""
    notes: tuple[str, ...] = ()
    """what was skipped while parsing and why (the loader logs them)"""

    def lookup(self, account_id: str) -> EnforcementEntry | None:
        return self.accounts.get(account_id)

    def is_known_good(self, account_id: str, org_id: str | None) -> bool:
        return account_id in self.known_good_accounts or (
            org_id is not None and org_id in self.known_good_orgs
        )

    def linked(self, hashes: Iterable[str]) -> EnforcementEntry | None:
        """The entry of a flagged cluster one of ``hashes`` (link hashes of an account's
        record and request) links to, as if the account were a member; None without a link.
        A dict lookup per hash."""
        links = self.links
        for h in hashes:
            hit = links.get(h)
            if hit is not None:
                cluster_id, kind = hit
                response = self.cluster_responses.get(cluster_id, Response.NONE)
                reason = f"linked to flagged cluster {cluster_id} by {kind} -> {response}"
                return EnforcementEntry(response, cluster_id, (reason,))
        return None

    def cluster_of(self, account_id: str) -> str | None:
        entry = self.accounts.get(account_id)
        return entry.cluster_id if entry is not None else None


EMPTY_ENFORCEMENT = EnforcementList()


def _response(value: Any, where: str) -> Response:
    try:
        return Response(str(value))
    except ValueError:
        allowed = ", ".join(r.value for r in Response)
        raise ConfigError(
            f"{where}: unknown response {value!r}; expected one of {allowed}"
        ) from None


def _stronger(a: Response, b: Response) -> Response:
    return a if _SEVERITY[a] >= _SEVERITY[b] else b


def predict_reference_document(ref: PopulationStats) -> dict[str, Any]:
    """The ``predict_reference`` section for ``ref`` (from ``prada.range_reference``).
    Floats are written as they are: JSON numbers round-trip exactly, so the gateway's
    ``outside_range`` answers what the audit's would."""
    return {
        "version": PREDICT_REFERENCE_VERSION,
        "median": [float(v) for v in np.asarray(ref.median, dtype=np.float64).tolist()],
        "scale": [float(v) for v in np.asarray(ref.scale, dtype=np.float64).tolist()],
    }


def _numbers(value: Any, where: str) -> list[float]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: must be a non-empty list of numbers")
    out: list[float] = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"{where}[{i}]: {v!r} is not a finite number")
        out.append(float(v))
    return out


def parse_predict_reference(
    value: Any, where: str = "predict_reference"
) -> tuple[PopulationStats | None, str | None]:
    """The reference from its section: ``(reference, None)``; ``(None, None)`` when the
    section is absent (None); ``(None, note)`` for a version this code does not know. A
    malformed version-1 section (lengths differ, a scale not above zero, not numbers) is a
    ``ConfigError``: judging inputs against a broken range would flag or clear at random."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected an object with 'version', 'median' and 'scale'")
    version = value.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ConfigError(f"{where}: needs an integer 'version'")
    if version != PREDICT_REFERENCE_VERSION:
        return None, (
            f"{where}: version {version} is not known to this gateway (it reads "
            f"{PREDICT_REFERENCE_VERSION}); the online predict test stays off until a known one"
        )
    median = _numbers(value.get("median"), f"{where}.median")
    scale = _numbers(value.get("scale"), f"{where}.scale")
    if len(median) != len(scale):
        raise ConfigError(
            f"{where}: 'median' has {len(median)} feature positions, 'scale' {len(scale)}"
        )
    for i, s in enumerate(scale):
        if s <= 0.0:
            raise ConfigError(f"{where}.scale[{i}]: must be above zero, got {s!r}")
    return PopulationStats(
        median=np.asarray(median, dtype=np.float64), scale=np.asarray(scale, dtype=np.float64)
    ), None


def parse_enforcement(raw: bytes, source: str = "enforcement.json") -> EnforcementList:
    """Build the lookup from the document's bytes; a malformed document is a ``ConfigError``
    naming ``source`` and the offending entry, so that a reload can refuse it and keep the old
    list."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a JSON object with 'accounts' and 'clusters'")
    entries: dict[str, EnforcementEntry] = {}
    clusters: dict[str, tuple[str, ...]] = {}
    cluster_response: dict[str, Response] = {}
    links: dict[str, tuple[str, str]] = {}
    for i, c in enumerate(doc.get("clusters") or []):
        where = f"{source}: clusters[{i}]"
        if not isinstance(c, dict) or not isinstance(c.get("cluster_id"), str):
            raise ConfigError(f"{where}: needs a string 'cluster_id'")
        members = c.get("members") or []
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ConfigError(f"{where}: 'members' must be a list of account ids")
        clusters[c["cluster_id"]] = tuple(members)
        cluster_response[c["cluster_id"]] = _response(c.get("response", "none"), where)
        raw_links = c.get("links") or []
        if not isinstance(raw_links, list):
            raise ConfigError(f"{where}: 'links' must be a list of {{kind, sha256}} objects")
        for j, link in enumerate(raw_links):
            if not (
                isinstance(link, dict)
                and isinstance(link.get("kind"), str)
                and isinstance(link.get("sha256"), str)
            ):
                raise ConfigError(f"{where}.links[{j}]: needs string 'kind' and 'sha256'")
            links.setdefault(link["sha256"], (c["cluster_id"], link["kind"]))
    for i, a in enumerate(doc.get("accounts") or []):
        where = f"{source}: accounts[{i}]"
        if not isinstance(a, dict) or not isinstance(a.get("account_id"), str):
            raise ConfigError(f"{where}: needs a string 'account_id'")
        response = _response(a.get("response", "none"), where)
        cluster_id = a.get("cluster_id") if isinstance(a.get("cluster_id"), str) else None
        score = a.get("score")
        reasons = [
            f"audit:account score={score:.2f}" if isinstance(score, float) else "audit:account"
        ]
        reasons += [str(r) for r in a.get("reasons") or []][:3]
        entries[a["account_id"]] = EnforcementEntry(response, cluster_id, tuple(reasons))
    # A cluster's response covers every member, including ones the account list does not name
    # (a fresh sock-puppet that joined the cluster through shared infrastructure).
    for cluster_id, members in clusters.items():
        c_resp = cluster_response[cluster_id]
        c_reason = f"audit:cluster {cluster_id} ({len(members)} members) -> {c_resp}"
        for member in members:
            old = entries.get(member)
            if old is None:
                entries[member] = EnforcementEntry(c_resp, cluster_id, (c_reason,))
            else:
                entries[member] = EnforcementEntry(
                    _stronger(old.response, c_resp),
                    old.cluster_id or cluster_id,
                    (*old.reasons, c_reason),
                )
    good_accounts: set[str] = set()
    good_orgs: set[str] = set()
    for k in doc.get("known_good") or []:
        if isinstance(k, dict):
            if isinstance(k.get("account_id"), str):
                good_accounts.add(k["account_id"])
            if isinstance(k.get("org_id"), str):
                good_orgs.add(k["org_id"])
    generated = doc.get("generated_at")
    reference, note = parse_predict_reference(
        doc.get("predict_reference"), f"{source}: predict_reference"
    )
    return EnforcementList(
        accounts=entries,
        clusters=clusters,
        known_good_accounts=frozenset(good_accounts),
        known_good_orgs=frozenset(good_orgs),
        generated_at=generated if isinstance(generated, str) else None,
        links=links,
        cluster_responses=cluster_response,
        predict_reference=reference,
        notes=(note,) if note is not None else (),
    )
