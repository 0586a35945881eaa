from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from distillguard.identity import totp

SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}

# RFC 6238 Appendix B.
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("t", "sha1", "sha256", "sha512"), RFC6238)
def test_rfc6238_vectors(t: int, sha1: str, sha256: str, sha512: str) -> None:
    for algorithm, expected in (("SHA1", sha1), ("SHA256", sha256), ("SHA512", sha512)):
        assert totp.totp(SEEDS[algorithm], t, digits=8, algorithm=algorithm) == expected


def test_rfc4226_hotp_vectors() -> None:
    expected = [
        "755224",
        "287082",
        "359152",
        "969429",
        "338314",
        "254676",
        "287922",
        "162583",
        "399871",
        "520489",
    ]
    assert [totp.hotp(SEEDS["SHA1"], c) for c in range(10)] == expected


def test_agrees_with_pyotp_for_random_seed() -> None:
    seed = totp.new_seed()
    other = pyotp.TOTP(totp.seed_to_base32(seed))
    for t in (0, 1_700_000_000, 1_700_000_029, 1_700_000_030):
        assert totp.totp(seed, t) == other.at(t)


def test_match_window() -> None:
    seed = totp.new_seed()
    now = 1_700_000_015.0
    step = int(now // 30)
    assert totp.match_totp(seed, totp.totp(seed, now), now) == step
    assert totp.match_totp(seed, totp.totp(seed, now - 30), now) == step - 1
    assert totp.match_totp(seed, totp.totp(seed, now + 30), now) == step + 1
    far = totp.totp(seed, now - 90)
    if far not in {totp.totp(seed, now + d) for d in (-30, 0, 30)}:
        assert totp.match_totp(seed, far, now) is None


def test_provisioning_uri_round_trips() -> None:
    seed = totp.new_seed()
    uri = totp.provisioning_uri(seed, "jane@example.com", "distillguard")
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    query = parse_qs(parsed.query)
    assert totp.seed_from_base32(query["secret"][0]) == seed
    assert query["issuer"] == ["distillguard"]
    assert pyotp.parse_uri(uri).now() == totp.totp(seed, __import__("time").time())


def test_qr_renders() -> None:
    text = totp.qr_text("otpauth://totp/x?secret=ABC")
    assert len(text.splitlines()) > 10
