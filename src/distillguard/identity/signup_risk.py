"""Sign-up risk: how much each new account's sign-up evidence looks like a fake-account farm.

Pure: account records in (the spec's ``accounts`` format, as a pyarrow table or records), a
:class:`SignupRiskResult` out. No I/O except reading the shipped disposable-domain list once.

Evidence, each a weight in [0, 1] combined by noisy-or (independent reasons add up, none alone
reaches 1):

- a disposable email domain (shipped list, subdomains included);
- a *fresh* email domain (not in ``known_domains``, not a big webmail provider) that signs up a
  burst of accounts within a day of its first sighting;
- a burst of sign-ups from one network (/24 IPv4, /48 IPv6; or one ASN when an ``asn`` /
  ``signup_asn`` field is present) within an hour;
- a device fingerprint shared with other accounts;
- a payment instrument shared with other accounts;
- a declared country that differs from the sign-up address's country, where that is known (an
  ``ip_country`` / ``signup_country`` field, or the ``ip_country`` lookup argument).

Legitimate look-alikes and how they are spared: a company onboarding staff (one domain, one
office NAT, one corporate card) shares evidence *within one declared org*, so shared evidence
among accounts of the same ``org_id`` is discounted, and the pieces shared only within the org
count once (their largest, not their noisy-or: a card, a device, a network and a domain that one
admin used to create thirty service accounts are one fact, the org's onboarding; added them up
the same-org discount was undone and such an org was challenged at 0.51 in the foreign-traffic
benchmark); fingerprints and networks shared by a large share of all sign-ups (a coarse
fingerprint, a national mobile carrier) identify nobody and are ignored. A class, workshop or
conference signing up together from one network with the institution's own e-mail domain is a
burst from one network and a fresh domain at once: those two describe the same group (people
that arrive together, at one place, from one institution), so over (nearly) the same accounts
they count once, and a network burst alone, however large, stays below the challenge line
(``burst_max``); what a farm adds that a class does not, a disposable domain or a card or device
used across accounts, is independent evidence and still adds up (``benchmarks/foreign.py``: a
40-student lab on one campus NAT scored 1.00 before). What evades it: farms that buy distinct
cards, residential proxies and real-looking domains, and sign up slowly; the behaviour and
network stages of the audit exist for those.

:func:`score_signups_as_of` is the causal form the identity service has at run time: each
account scored with only the sign-ups made up to a given moment (its own sign-up, or its first
API request), so a burst counts once its members exist and never from later sign-ups.

``links`` connect accounts that share evidence (pairs along each group, in sign-up order, so a
group of n accounts gives n-1 links instead of n²/2); ``groups`` give each shared value's
members for the audit's account network.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Any

import pyarrow as pa

__all__ = [
    "WEBMAIL_DOMAINS",
    "LinkKind",
    "SignupGroup",
    "SignupLink",
    "SignupRisk",
    "SignupRiskConfig",
    "SignupRiskResult",
    "disposable_domains",
    "network_key",
    "score_signups",
    "score_signups_as_of",
]

WEBMAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
        "yahoo.com", "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
        "protonmail.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.ru", "yandex.ru",
        "yandex.com", "qq.com", "163.com", "126.com", "naver.com", "zoho.com", "fastmail.com",
        "hey.com", "tutanota.com", "mail.com", "orange.fr", "free.fr", "t-online.de",
    }
)  # fmt: skip


class LinkKind(StrEnum):
    """What two linked accounts share."""

    PAYMENT = "payment"
    DEVICE = "device"
    NETWORK = "network"
    ASN = "asn"
    EMAIL_DOMAIN = "email_domain"


@dataclass(frozen=True, slots=True)
class SignupRiskConfig:
    """Thresholds and weights. Windows in seconds; weights are noisy-or terms in [0, 1].

    The weights were set by hand so that no single piece of evidence reaches 0.5 on its own
    (privacy-minded customers use disposable addresses and VPNs; families share a card): it
    takes two independent signals, or one card or device shared across many accounts, to cross
    it. A burst from one network grows with its size only up to ``burst_max``: many people
    signing up at one place is what a class or an office does. Network/AS and fresh-domain
    bursts whose members overlap by ``same_group_jaccard`` or more are one observation.
    """

    network_window_s: float = 3600.0
    network_burst_min: int = 5
    asn_burst_min: int = 20
    domain_window_s: float = 86400.0
    domain_burst_min: int = 4
    device_min: int = 2
    payment_min: int = 2
    common_share: float = 0.05
    common_min: int = 50
    same_org_factor: float = 0.2
    burst_max: float = 0.45
    same_group_jaccard: float = 0.8
    w_disposable: float = 0.35
    w_fresh_domain: float = 0.3
    w_network: float = 0.35
    w_asn: float = 0.15
    w_device: float = 0.4
    w_payment: float = 0.45
    w_country: float = 0.15


@dataclass(frozen=True, slots=True)
class SignupRisk:
    """One account's sign-up risk: ``score`` in [0, 1], ``signals`` the weight each piece of
    evidence contributed, ``reasons`` the same in words."""

    account_id: str
    score: float
    reasons: tuple[str, ...]
    signals: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class SignupLink:
    account_a: str
    account_b: str
    kind: LinkKind
    key: str
    weight: float


@dataclass(frozen=True, slots=True)
class SignupGroup:
    """Accounts sharing one value (``key``: a network prefix, a domain, an opaque fingerprint)."""

    kind: LinkKind
    key: str
    members: tuple[str, ...]
    weight: float


@dataclass(frozen=True, slots=True)
class SignupRiskResult:
    accounts: tuple[SignupRisk, ...]
    links: tuple[SignupLink, ...]
    groups: tuple[SignupGroup, ...]
    _by_id: dict[str, SignupRisk] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({r.account_id: r for r in self.accounts})

    def get(self, account_id: str) -> SignupRisk | None:
        return self._by_id.get(account_id)

    def to_table(self) -> pa.Table:
        """One row per account: account_id, signup_risk, reasons (list of strings)."""
        return pa.table(
            {
                "account_id": [r.account_id for r in self.accounts],
                "signup_risk": pa.array([r.score for r in self.accounts], pa.float64()),
                "reasons": pa.array(
                    [list(r.reasons) for r in self.accounts], pa.list_(pa.string())
                ),
            }
        )


@lru_cache(maxsize=1)
def disposable_domains() -> frozenset[str]:
    """The shipped list (``identity/data/disposable_domains.txt``)."""
    text = (
        resources.files("distillguard.identity")
        .joinpath("data/disposable_domains.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def network_key(ip: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) a sign-up address belongs to; ``None`` if unparsable."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


@dataclass(frozen=True, slots=True)
class _Signup:
    account_id: str
    t: float
    org_id: str | None
    domain: str | None
    payment: str | None
    network: str | None
    asn: int | None
    device: str | None
    country: str | None
    ip_country: str | None


def _ts(value: Any) -> float:
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.timestamp()
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    raise ValueError(
        f"created_at must be a datetime or RFC 3339 string, got {type(value).__name__}"
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _rows(accounts: pa.Table | Iterable[Any]) -> list[Mapping[str, Any]]:
    if isinstance(accounts, pa.Table):
        return list(accounts.to_pylist())
    out: list[Mapping[str, Any]] = []
    for rec in accounts:
        if isinstance(rec, Mapping):
            out.append(rec)
        elif hasattr(rec, "model_dump"):
            out.append(rec.model_dump())
        else:
            raise TypeError(f"account records must be mappings or AccountRecord, got {type(rec)}")
    return out


def _parse(
    row: Mapping[str, Any], ip_country: Callable[[str], str | None] | Mapping[str, str] | None
) -> _Signup:
    ip = _text(row.get("signup_ip"))
    country_of_ip = _text(row.get("ip_country")) or _text(row.get("signup_country"))
    if country_of_ip is None and ip is not None and ip_country is not None:
        country_of_ip = ip_country.get(ip) if isinstance(ip_country, Mapping) else ip_country(ip)
    asn = row.get("signup_asn", row.get("asn"))
    domain = _text(row.get("email_domain"))
    return _Signup(
        account_id=str(row["account_id"]),
        t=_ts(row["created_at"]),
        org_id=_text(row.get("org_id")),
        domain=domain.lower().lstrip("@") if domain else None,
        payment=_text(row.get("payment_fingerprint")),
        network=network_key(ip) if ip else None,
        asn=int(asn) if asn is not None else None,
        device=_text(row.get("signup_fingerprint")),
        country=(_text(row.get("country")) or "").upper() or None,
        ip_country=country_of_ip.upper() if country_of_ip else None,
    )


def _is_disposable(domain: str, listed: Collection[str]) -> bool:
    parts = domain.split(".")
    return any(".".join(parts[i:]) in listed for i in range(len(parts) - 1))


def _org_factor(member: _Signup, group: Sequence[_Signup], cfg: SignupRiskConfig) -> float:
    """Down-weight evidence shared only with accounts of the same declared organisation."""
    if member.org_id is None:
        return 1.0
    others = [g for g in group if g.account_id != member.account_id]
    if not others:
        return 1.0
    same = sum(1 for g in others if g.org_id == member.org_id) / len(others)
    return 1.0 - (1.0 - cfg.same_org_factor) * same


def _within_org(member: _Signup, group: Sequence[_Signup]) -> bool:
    """Whether every other member of ``group`` declares ``member``'s org (and there is one)."""
    others = [g for g in group if g.account_id != member.account_id]
    return (
        member.org_id is not None
        and bool(others)
        and all(g.org_id == member.org_id for g in others)
    )


# Signals that all say "these accounts arrived together at one place from one institution".
_ARRIVAL_SIGNALS = ("fresh_domain_burst", "network_burst", "asn_burst")


def _combine(
    weights: Mapping[str, float],
    groups: Mapping[str, frozenset[str]],
    own_org: Collection[str],
    cfg: SignupRiskConfig,
) -> float:
    """Noisy-or of an account's signals, counting correlated ones once: the signals shared only
    within its own org by their largest; arrival signals over (nearly) the same accounts by
    their largest."""
    keep = 1.0
    org_part = max((w for n, w in weights.items() if n in own_org), default=0.0)
    kept_groups: list[frozenset[str]] = []
    for name, w in sorted(weights.items(), key=lambda kv: -kv[1]):
        if name in own_org:
            continue
        members = groups.get(name)
        if name in _ARRIVAL_SIGNALS and members is not None:
            if any(
                len(members & g) >= cfg.same_group_jaccard * len(members | g) for g in kept_groups
            ):
                continue
            kept_groups.append(members)
        keep *= 1.0 - w
    return 1.0 - keep * (1.0 - org_part)


def _in_window(members: Sequence[_Signup], window_s: float) -> dict[str, int]:
    """For each member, how many members signed up within ``window_s`` of it (itself included)."""
    times = sorted(m.t for m in members)
    return {
        m.account_id: bisect.bisect_right(times, m.t + window_s)
        - bisect.bisect_left(times, m.t - window_s)
        for m in members
    }


def score_signups(
    accounts: pa.Table | Iterable[Any],
    *,
    config: SignupRiskConfig | None = None,
    known_domains: Collection[str] = (),
    ip_country: Callable[[str], str | None] | Mapping[str, str] | None = None,
    disposable: Collection[str] | None = None,
    population_size: int | None = None,
) -> SignupRiskResult:
    """Score every account's sign-up evidence; see the module docstring for the signals.

    ``accounts``: spec ``accounts`` records (pyarrow table, mappings or ``AccountRecord``s).
    ``known_domains``: domains already seen before this batch (not "fresh").
    ``ip_country``: optional lookup from sign-up IP to ISO country.
    ``population_size``: how many sign-ups the "common value" cut compares a group with (default:
    ``accounts``; :func:`score_signups_as_of` passes the whole population when it scores a part).
    """
    cfg = config or SignupRiskConfig()
    listed = disposable_domains() if disposable is None else frozenset(disposable)
    known = frozenset(d.lower() for d in known_domains)
    signups = [_parse(row, ip_country) for row in _rows(accounts)]
    n_total = len(signups) if population_size is None else max(population_size, len(signups))
    signals: dict[str, dict[str, float]] = {s.account_id: {} for s in signups}
    reasons: dict[str, list[str]] = {s.account_id: [] for s in signups}
    # Per account: the members of the group each signal came from, and the signals shared only
    # with accounts of its own org (see _combine).
    signal_group: dict[str, dict[str, frozenset[str]]] = {s.account_id: {} for s in signups}
    own_org: dict[str, set[str]] = {s.account_id: set() for s in signups}
    groups: list[SignupGroup] = []

    def common(size: int) -> bool:
        return size >= cfg.common_min and size >= cfg.common_share * n_total

    def add(
        acc: str,
        name: str,
        weight: float,
        reason: str,
        group: Sequence[_Signup] = (),
        member: _Signup | None = None,
    ) -> None:
        if weight > signals[acc].get(name, 0.0):
            if name not in signals[acc]:
                reasons[acc].append(reason)
            signals[acc][name] = round(weight, 4)
            if group:
                signal_group[acc][name] = frozenset(g.account_id for g in group)
            if member is not None and _within_org(member, group):
                own_org[acc].add(name)
            else:
                own_org[acc].discard(name)

    def by(key: Callable[[_Signup], Any]) -> dict[Any, list[_Signup]]:
        out: dict[Any, list[_Signup]] = defaultdict(list)
        for s in signups:
            k = key(s)
            if k is not None:
                out[k].append(s)
        return out

    # Disposable domains.
    for s in signups:
        if s.domain and _is_disposable(s.domain, listed):
            add(s.account_id, "disposable_domain", cfg.w_disposable, "disposable email domain")

    # Fresh domains signing up a burst right after their first sighting.
    for domain, members in by(lambda s: s.domain).items():
        if domain in known or domain in WEBMAIL_DOMAINS or _is_disposable(domain, listed):
            continue
        first = min(m.t for m in members)
        burst = [m for m in members if m.t - first <= cfg.domain_window_s]
        if len(burst) < cfg.domain_burst_min:
            continue
        for m in burst:
            w = cfg.w_fresh_domain * _org_factor(m, burst, cfg)
            reason = f"new email domain with {len(burst)} sign-ups within a day of first sighting"
            add(m.account_id, "fresh_domain_burst", w, reason, burst, m)
        groups.append(_group(LinkKind.EMAIL_DOMAIN, domain, burst, cfg.w_fresh_domain))

    # Bursts from one network, and from one ASN when known.
    for kind, key_of, min_n, weight, window in (
        (
            LinkKind.NETWORK,
            lambda s: s.network,
            cfg.network_burst_min,
            cfg.w_network,
            cfg.network_window_s,
        ),
        (LinkKind.ASN, lambda s: s.asn, cfg.asn_burst_min, cfg.w_asn, cfg.network_window_s),
    ):
        for key, members in by(key_of).items():
            if len(members) < min_n or common(len(members)):
                continue
            counts = _in_window(members, window)
            burst = [m for m in members if counts[m.account_id] >= min_n]
            if not burst:
                continue
            for m in burst:
                n = counts[m.account_id]
                grown = min(cfg.burst_max, weight * (1 + 0.1 * (n - min_n)))
                w = grown * _org_factor(m, burst, cfg)
                what = f"network {key}" if kind is LinkKind.NETWORK else f"AS{key}"
                add(
                    m.account_id,
                    f"{kind}_burst",
                    w,
                    f"{n} sign-ups from {what} within {window / 3600:g} h",
                    burst,
                    m,
                )
            groups.append(_group(kind, str(key), burst, weight))

    # Shared device fingerprints and payment instruments.
    for kind, key_of, min_n, weight in (
        (LinkKind.DEVICE, lambda s: s.device, cfg.device_min, cfg.w_device),
        (LinkKind.PAYMENT, lambda s: s.payment, cfg.payment_min, cfg.w_payment),
    ):
        for key, members in by(key_of).items():
            if len(members) < min_n or common(len(members)):
                continue
            for m in members:
                grown = min(1.0, weight * (1 + 0.05 * (len(members) - min_n)))
                w = grown * _org_factor(m, members, cfg)
                noun = "device fingerprint" if kind is LinkKind.DEVICE else "payment instrument"
                add(
                    m.account_id,
                    f"shared_{kind}",
                    w,
                    f"{noun} shared with {len(members) - 1} other account(s)",
                    members,
                    m,
                )
            groups.append(_group(kind, str(key), members, weight))

    # Declared country against the sign-up address's country.
    for s in signups:
        if s.country and s.ip_country and s.country != s.ip_country:
            add(
                s.account_id,
                "country_mismatch",
                cfg.w_country,
                f"declared country {s.country} but signed up from {s.ip_country}",
            )

    risks = []
    for s in signups:
        a = s.account_id
        sig = signals[a]
        score = _combine(sig, signal_group[a], own_org[a], cfg)
        risks.append(SignupRisk(a, round(score, 4), tuple(reasons[a]), sig))
    links = tuple(link for g in groups for link in _chain(g))
    return SignupRiskResult(accounts=tuple(risks), links=links, groups=tuple(groups))


def _group(kind: LinkKind, key: str, members: Sequence[_Signup], weight: float) -> SignupGroup:
    ordered = sorted(members, key=lambda m: (m.t, m.account_id))
    return SignupGroup(kind, key, tuple(m.account_id for m in ordered), weight)


def _chain(group: SignupGroup) -> Iterator[SignupLink]:
    for a, b in zip(group.members, group.members[1:], strict=False):
        yield SignupLink(a, b, group.kind, group.key, group.weight)


def score_signups_as_of(
    accounts: pa.Table | Iterable[Any],
    as_of: Mapping[str, float] | None = None,
    *,
    config: SignupRiskConfig | None = None,
    known_domains: Collection[str] = (),
    ip_country: Callable[[str], str | None] | Mapping[str, str] | None = None,
    disposable: Collection[str] | None = None,
) -> dict[str, SignupRisk]:
    """Each account's sign-up risk as the identity service knew it at ``as_of[account]``
    (epoch seconds; default and floor: the account's own ``created_at``): the same scores as
    :func:`score_signups` over only the sign-ups made up to that moment.

    Accounts missing from ``as_of`` are scored at their sign-up. Cost: one :func:`score_signups`
    per account over the sign-ups that share a value with it (its e-mail domain, network, AS,
    device, card), not over the whole population: every signal is a function of those groups
    and of the population size (the "common value" cut), which is passed through.
    """
    cfg = config or SignupRiskConfig()
    listed = disposable_domains() if disposable is None else frozenset(disposable)
    known = frozenset(d.lower() for d in known_domains)
    rows = _rows(accounts)
    signups = [_parse(row, ip_country) for row in rows]
    order = sorted(range(len(signups)), key=lambda i: signups[i].t)
    times = [signups[i].t for i in order]
    keyed: list[tuple[str, Callable[[_Signup], Any]]] = [
        ("domain", lambda s: s.domain),
        ("network", lambda s: s.network),
        ("asn", lambda s: s.asn),
        ("device", lambda s: s.device),
        ("payment", lambda s: s.payment),
    ]
    index: dict[tuple[str, Any], list[int]] = defaultdict(list)
    for i in order:
        s = signups[i]
        for name, key_of in keyed:
            k = key_of(s)
            if k is None:
                continue
            if name == "domain" and (
                k in known or k in WEBMAIL_DOMAINS or _is_disposable(k, listed)
            ):
                continue  # only fresh domains form groups; the others score on the account alone
            index[(name, k)].append(i)
    out: dict[str, SignupRisk] = {}
    asked = as_of or {}
    for i, s in enumerate(signups):
        q = max(float(asked.get(s.account_id, s.t)), s.t)
        members: set[int] = {i}
        for name, key_of in keyed:
            k = key_of(s)
            if k is None:
                continue
            for j in index.get((name, k), ()):
                if signups[j].t > q:
                    break  # ``index`` lists are in sign-up order
                members.add(j)
        n_total = bisect.bisect_right(times, q)
        population = [rows[j] for j in sorted(members)]
        result = score_signups(
            population,
            config=cfg,
            known_domains=known,
            ip_country=ip_country,
            disposable=listed,
            population_size=n_total,
        )
        risk = result.get(s.account_id)
        if risk is not None:
            out[s.account_id] = risk
    return out
