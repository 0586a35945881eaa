"""The audit's enforcement list (``enforcement.json``) as a lookup the gateway asks per request.

The document is written by ``detect.verdicts.enforcement_document``: accounts with a response
other than ``none``, flagged clusters with their members and link keys, and analysts'
known-good overrides. Parsing is pure (bytes in, lookup out); reading the file is the gateway's job.

A flagged cluster's ``links`` are hashes (``detect.online.link_hash``) of infrastructure that
only flagged accounts used (payment instrument, sign-up device or burst, client fingerprint,
org); an account that presents one is treated as a member of that cluster from its first
request (:meth:`EnforcementList.linked`). Files written before links existed load unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from distillguard.detect.verdicts import Response
from distillguard.errors import ConfigError

__all__ = ["EMPTY_ENFORCEMENT", "EnforcementEntry", "EnforcementList", "parse_enforcement"]

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
    return EnforcementList(
        accounts=entries,
        clusters=clusters,
        known_good_accounts=frozenset(good_accounts),
        known_good_orgs=frozenset(good_orgs),
        generated_at=generated if isinstance(generated, str) else None,
        links=links,
        cluster_responses=cluster_response,
    )
