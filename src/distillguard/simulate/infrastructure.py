"""Networks, addresses, clients and sign-up identities that actors draw from.

Benign and malicious actors draw from the same catalogues here: the same ISPs, clouds, VPN exits
and residential-proxy exits, the same SDK user agents and TLS fingerprints, the same e-mail
domains (some customers use disposable ones too). What differs is how they draw: a campaign
rotates across many networks, shares a few owned addresses, cards and devices between its
accounts, and signs up in a burst.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache

import numpy as np
import pyarrow as pa

__all__ = [
    "COUNTRIES",
    "DISPOSABLE_DOMAINS",
    "USER_AGENTS",
    "Infrastructure",
    "NetKind",
    "Network",
    "client_fingerprint",
    "utc_offset",
]


class NetKind(IntEnum):
    RESIDENTIAL = 0
    MOBILE = 1
    CLOUD = 2
    HOSTING = 3  # VPN and proxy providers' data centres
    CORPORATE = 4


@dataclass(frozen=True, slots=True)
class Network:
    asn: int
    kind: NetKind
    country: str


# code, weight, UTC offset in hours (a representative one; the US gets a spread)
COUNTRIES: tuple[tuple[str, float, float], ...] = (
    ("US", 28, -5),
    ("IN", 8, 5.5),
    ("GB", 6, 0),
    ("DE", 6, 1),
    ("BR", 5, -3),
    ("FR", 4, 1),
    ("JP", 4, 9),
    ("CA", 4, -5),
    ("KR", 3, 9),
    ("NL", 3, 1),
    ("SG", 2, 8),
    ("AU", 2, 10),
    ("ES", 2, 1),
    ("IT", 2, 1),
    ("MX", 2, -6),
    ("ID", 2, 7),
    ("VN", 2, 7),
    ("PL", 2, 1),
    ("TR", 2, 3),
    ("SE", 1, 1),
    ("IL", 1, 2),
    ("UA", 1, 2),
    ("NG", 1, 1),
    ("ZA", 1, 2),
    ("AR", 1, -3),
    ("PH", 1, 8),
    ("PK", 1, 5),
    ("EG", 1, 2),
    ("HK", 1, 8),
    ("TW", 1, 8),
)
_COUNTRY_INDEX = {c: i for i, (c, _, _) in enumerate(COUNTRIES)}

_CLOUD_ASNS = (16509, 15169, 8075, 14061, 24940, 16276, 63949, 20473, 31898, 45102)
_CLOUD_POPULARITY = (30, 15, 15, 8, 8, 8, 4, 4, 4, 4)
_HOSTING_ASNS = (9009, 60068, 60781, 212238, 136787, 202425, 51167, 62240)

USER_AGENTS: tuple[tuple[str, float], ...] = (
    ("OpenAI/Python 1.54.4", 9),
    ("OpenAI/Python 1.58.1", 8),
    ("OpenAI/Python 1.51.0", 5),
    ("OpenAI/Python 1.40.6", 3),
    ("AsyncOpenAI/Python 1.58.1", 4),
    ("OpenAI/Python 1.35.3", 2),
    ("openai-node/4.73.0", 6),
    ("openai-node/4.67.3", 4),
    ("openai-node/4.52.7", 2),
    ("python-requests/2.32.3", 5),
    ("python-requests/2.31.0", 3),
    ("python-httpx/0.27.2", 4),
    ("python-httpx/0.28.0", 2),
    ("langchain-openai/0.2.9 OpenAI/Python 1.54.4", 3),
    ("litellm/1.52.10 OpenAI/Python 1.54.4", 2),
    ("curl/8.5.0", 2),
    ("curl/7.81.0", 1.5),
    ("Go-http-client/2.0", 2),
    ("Go-http-client/1.1", 1),
    ("axios/1.7.7", 2),
    ("okhttp/4.12.0", 2),
    ("Dart/3.5 (dart:io)", 1),
    ("Java-http-client/17.0.12", 1),
    ("reqwest/0.12.9", 1),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        2,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/18.1 Safari/605.1.15",
        1,
    ),
)
_OSES = ("linux", "darwin", "windows")

_WEBMAIL = (
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "yahoo.com",
    "icloud.com",
    "proton.me",
    "qq.com",
    "163.com",
    "yandex.ru",
    "gmx.de",
    "naver.com",
    "mail.ru",
)
_WEBMAIL_WEIGHTS = (40, 12, 6, 6, 6, 4, 3, 2, 2, 2, 2, 1)
DISPOSABLE_DOMAINS = (
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "temp-mail.org",
    "yopmail.com",
    "sharklasers.com",
)
_WORDS_A = (
    "blue",
    "north",
    "bright",
    "clear",
    "iron",
    "silver",
    "rapid",
    "open",
    "deep",
    "true",
    "nova",
    "prime",
    "green",
    "stone",
    "quantum",
    "lumen",
    "atlas",
    "vector",
)
_WORDS_B = (
    "labs",
    "data",
    "works",
    "soft",
    "ai",
    "health",
    "bank",
    "logic",
    "systems",
    "cloud",
    "media",
    "legal",
    "insights",
    "retail",
    "bio",
    "ops",
)
_TLDS = (".com", ".io", ".ai", ".co", ".de", ".co.uk", ".net", ".fr")
_UNIS = (
    "stanford.edu",
    "mit.edu",
    "cmu.edu",
    "berkeley.edu",
    "ox.ac.uk",
    "cam.ac.uk",
    "ethz.ch",
    "tum.de",
    "u-tokyo.ac.jp",
    "tsinghua.edu.cn",
    "iisc.ac.in",
    "utoronto.ca",
    "nyu.edu",
    "uw.edu",
    "epfl.ch",
    "kaist.ac.kr",
)


_STACKS = (
    ("OpenAI/Python", "python-httpx"),
    ("AsyncOpenAI/Python", "python-httpx"),
    ("langchain-openai", "python-httpx"),
    ("litellm", "python-httpx"),
    ("python-httpx", "python-httpx"),
    ("python-requests", "python-urllib3"),
    ("openai-node", "node"),
    ("axios", "node"),
)


def client_fingerprint(ua_index: int, os_index: int) -> str:
    """The TLS fingerprint of one client stack (HTTP library and OS, not the SDK version):
    shared by everyone on that stack, as JA3/JA4-style fingerprints are."""
    ua = USER_AGENTS[ua_index][0]
    stack = next((s for prefix, s in _STACKS if ua.startswith(prefix)), ua.split("/")[0])
    digest = hashlib.blake2b(f"{stack}|{_OSES[os_index]}".encode(), digest_size=8).hexdigest()
    return f"fp_{digest}"


@dataclass(slots=True)
class Infrastructure:
    """The world's address plan, grown while actors are built, then frozen into Arrow tables.

    ``ips`` holds every address any actor may use; an actor keeps indices into it.
    """

    rng: np.random.Generator
    networks: list[Network] = field(default_factory=list)
    ip_text: list[str] = field(default_factory=list)
    ip_asn: list[int] = field(default_factory=list)
    ip_country: list[str] = field(default_factory=list)
    _prefixes: dict[int, np.ndarray] = field(default_factory=dict)
    _by_kind: dict[tuple[NetKind, str], list[Network]] = field(default_factory=dict)
    vpn_exits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    resi_proxy: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def build(cls, rng: np.random.Generator) -> Infrastructure:
        infra = cls(rng=rng)
        next_asn = 3000
        for code, _, _ in COUNTRIES:
            for kind, count in ((NetKind.RESIDENTIAL, 3), (NetKind.MOBILE, 2)):
                for _ in range(count):
                    next_asn += int(rng.integers(7, 900))
                    infra._add_network(Network(next_asn, kind, code))
            next_asn += int(rng.integers(7, 900))
            infra._add_network(Network(next_asn, NetKind.CORPORATE, code))
        cloud_countries = ("US", "US", "US", "DE", "IE", "SG", "NL", "FR", "JP", "GB")
        for asn, code in zip(_CLOUD_ASNS, cloud_countries, strict=True):
            infra._add_network(Network(asn, NetKind.CLOUD, code))
        hosting_countries = ("GB", "RO", "NL", "DE", "SG", "US", "DE", "US")
        for asn, code in zip(_HOSTING_ASNS, hosting_countries, strict=True):
            infra._add_network(Network(asn, NetKind.HOSTING, code))
        # Commercial services that benign and malicious customers share.
        # A VPN service has exits in every hosting network; a residential-proxy service has
        # tens of thousands of home addresses, so one address rarely serves many accounts.
        infra.vpn_exits = np.concatenate(
            [
                infra.new_ips(NetKind.HOSTING, None, 40, net=net)
                for net in infra._by_kind[(NetKind.HOSTING, "*")]
            ]
        )
        # Proxy exits sit in the big consumer ISPs, in proportion to their customers.
        big = [(code, w) for code, w, _ in COUNTRIES if w >= 4]
        total = sum(w for _, w in big)
        infra.resi_proxy = np.concatenate(
            [
                infra.new_ips(NetKind.RESIDENTIAL, code, round(80_000 * w / total / 3), net=net)
                for code, w in big
                for net in infra._by_kind[(NetKind.RESIDENTIAL, code)]
            ]
        )
        return infra

    def _add_network(self, net: Network) -> None:
        self.networks.append(net)
        self._by_kind.setdefault((net.kind, net.country), []).append(net)
        self._by_kind.setdefault((net.kind, "*"), []).append(net)
        first = self.rng.choice(_PUBLIC_FIRST_OCTETS, size=16)
        second = self.rng.integers(0, 256, size=16)
        third = self.rng.integers(0, 256, size=16)
        self._prefixes[net.asn] = (first << 16) | (second << 8) | third

    def network(self, kind: NetKind, country: str | None) -> Network:
        """A random network of ``kind`` in ``country`` (any country when ``None``)."""
        key = (kind, country if country is not None else "*")
        options = self._by_kind.get(key) or self._by_kind[(kind, "*")]
        if kind == NetKind.CLOUD and country is None:
            w = np.asarray(_CLOUD_POPULARITY, dtype=float)
            return options[int(self.rng.choice(len(options), p=w / w.sum()))]
        return options[int(self.rng.integers(len(options)))]

    def new_ips(
        self, kind: NetKind, country: str | None, n: int, net: Network | None = None
    ) -> np.ndarray:
        """``n`` fresh addresses in one network (``net``, or one picked by kind/country)."""
        net = net or self.network(kind, country)
        prefixes = self._prefixes[net.asn]
        start = len(self.ip_text)
        v6 = net.kind in (NetKind.MOBILE, NetKind.RESIDENTIAL) and self.rng.random() < 0.15
        if v6:
            w = self.rng.integers(0, 65536, size=(n, 5))
            head = f"2a0{net.asn % 10}:{net.asn % 65536:x}"
            texts = [f"{head}:{a:x}:{b:x}:{c:x}:{d:x}:{e:x}:1" for a, b, c, d, e in w.tolist()]
        else:
            p = prefixes[self.rng.integers(len(prefixes), size=n)]
            host = self.rng.integers(1, 255, size=n)
            texts = [
                f"{q >> 16}.{(q >> 8) & 255}.{q & 255}.{h}"
                for q, h in zip(p.tolist(), host.tolist(), strict=True)
            ]
        self.ip_text.extend(texts)
        self.ip_asn.extend([net.asn] * n)
        self.ip_country.extend([net.country] * n)
        return np.arange(start, start + n, dtype=np.int64)

    def tables(self) -> tuple[pa.StringArray, pa.Int64Array, pa.StringArray]:
        """The address table as Arrow arrays (text, asn, country), for ``take`` per event."""
        return (
            pa.array(self.ip_text, type=pa.string()),
            pa.array(self.ip_asn, type=pa.int64()),
            pa.array(self.ip_country, type=pa.string()),
        )

    # -- sign-up identities ---------------------------------------------------------------

    def webmail(self) -> str:
        return _WEBMAIL[_draw(self.rng, _WEBMAIL_CUM)]

    def company_domain(self) -> str:
        a = _WORDS_A[int(self.rng.integers(len(_WORDS_A)))]
        b = _WORDS_B[int(self.rng.integers(len(_WORDS_B)))]
        tld = _TLDS[int(self.rng.integers(len(_TLDS)))]
        sep = "-" if self.rng.random() < 0.3 else ""
        return f"{a}{sep}{b}{int(self.rng.integers(2, 99)) if self.rng.random() < 0.3 else ''}{tld}"

    def university(self) -> str:
        return _UNIS[int(self.rng.integers(len(_UNIS)))]

    def disposable(self) -> str:
        return DISPOSABLE_DOMAINS[int(self.rng.integers(len(DISPOSABLE_DOMAINS)))]

    def country(self) -> str:
        return COUNTRIES[_draw(self.rng, _COUNTRY_CUM)][0]

    def user_agents(self, n: int, families: tuple[str, ...] | None = None) -> tuple[int, ...]:
        """``n`` distinct user-agent indices drawn by popularity (optionally only some
        families, matched as prefixes such as ``"okhttp"``)."""
        idx, cum = _ua_table(families)
        n = min(n, len(idx))
        chosen: list[int] = []
        while len(chosen) < n:
            pick = int(idx[_draw(self.rng, cum)])
            if pick not in chosen:
                chosen.append(pick)
        return tuple(chosen)


def _draw(rng: np.random.Generator, cum: np.ndarray) -> int:
    """One index drawn with the probabilities whose cumulative sums are ``cum``."""
    return min(int(np.searchsorted(cum, rng.random(), side="right")), len(cum) - 1)


def _cumulative(weights: Sequence[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return np.cumsum(w / w.sum())


@lru_cache(maxsize=32)
def _ua_table(families: tuple[str, ...] | None) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(len(USER_AGENTS))
    w = np.asarray([u[1] for u in USER_AGENTS], dtype=float)
    if families:
        keep = np.asarray([any(u[0].startswith(f) for f in families) for u in USER_AGENTS])
        idx, w = idx[keep], w[keep]
    return idx, _cumulative(list(w))


def utc_offset(country: str, rng: np.random.Generator) -> float:
    """A plausible UTC offset for someone in ``country`` (the US and Canada spread west)."""
    base = COUNTRIES[_COUNTRY_INDEX[country]][2] if country in _COUNTRY_INDEX else 0.0
    if country in ("US", "CA"):
        return float(base - rng.choice([0, 0, 1, 3]))
    if country == "AU":
        return float(base - rng.choice([0, 2]))
    if country == "BR":
        return float(base)
    return float(base)


_WEBMAIL_CUM = _cumulative(_WEBMAIL_WEIGHTS)
_COUNTRY_CUM = _cumulative([c[1] for c in COUNTRIES])
_PUBLIC_FIRST_OCTETS = np.asarray(
    [i for i in range(2, 224) if i not in (10, 100, 127, 169, 172, 192, 198, 203)], dtype=np.int64
)
