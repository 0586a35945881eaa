from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from distillguard.events.records import AccountRecord
from distillguard.identity.signup_risk import (
    LinkKind,
    disposable_domains,
    network_key,
    score_signups,
    score_signups_as_of,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def acct(i: int, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "account_id": f"a{i}",
        "created_at": (T0 + timedelta(minutes=i * 37)).isoformat(),
        "email_domain": "gmail.com",
        "signup_ip": f"198.51.{i % 200}.{i % 250 + 1}",
        "signup_fingerprint": f"dev-{i}",
        "payment_fingerprint": f"card-{i}",
        "country": "US",
    }
    base.update(fields)
    return base


def background(n: int = 60) -> list[dict[str, object]]:
    return [acct(i) for i in range(100, 100 + n)]


def company_staff(n: int) -> list[dict[str, object]]:
    """A company onboarding staff: one domain, one office network, one corporate card."""
    return [
        acct(
            i,
            created_at=(T0 + timedelta(minutes=i)).isoformat(),
            email_domain="acme-corp.example",
            signup_ip=f"192.0.2.{i + 5}",
            payment_fingerprint="card-acme",
            org_id="org-acme",
        )
        for i in range(n)
    ]


def test_ordinary_signups_score_zero() -> None:
    result = score_signups(background())
    assert all(r.score == 0.0 and r.reasons == () for r in result.accounts)
    assert result.links == () and result.groups == ()


def test_disposable_domain_and_subdomain() -> None:
    assert "mailinator.com" in disposable_domains()
    result = score_signups(
        [acct(1, email_domain="mailinator.com"), acct(2, email_domain="x.yopmail.com"), acct(3)]
    )
    assert 0.3 < result.get("a1").score < 0.5 and "disposable" in result.get("a1").reasons[0]
    assert result.get("a2").score == result.get("a1").score
    assert result.get("a3").score == 0.0


def test_farm_sharing_card_device_and_network_scores_high_and_links() -> None:
    farm = [
        acct(
            i,
            created_at=(T0 + timedelta(minutes=i)).isoformat(),
            email_domain="quick-mail-hub.net",
            signup_ip=f"203.0.113.{i + 10}",
            signup_fingerprint="dev-farm" if i % 2 else f"dev-x{i}",
            payment_fingerprint="card-farm",
        )
        for i in range(8)
    ]
    result = score_signups(farm + background())
    farm_scores = [result.get(f"a{i}").score for i in range(8)]
    # The fresh domain and the network burst over the same eight accounts count once; the
    # shared card and device are independent of them.
    assert min(farm_scores) > 0.7
    assert all(result.get(f"a{i}").score == 0.0 for i in range(100, 160))
    kinds = {g.kind for g in result.groups}
    assert {LinkKind.PAYMENT, LinkKind.NETWORK, LinkKind.EMAIL_DOMAIN, LinkKind.DEVICE} <= kinds
    payment = next(g for g in result.groups if g.kind is LinkKind.PAYMENT)
    assert set(payment.members) == {f"a{i}" for i in range(8)}
    payment_links = [lk for lk in result.links if lk.kind is LinkKind.PAYMENT]
    assert len(payment_links) == 7  # a chain, not all pairs
    linked = {lk.account_a for lk in payment_links} | {lk.account_b for lk in payment_links}
    assert linked == set(payment.members)
    reasons = " ".join(result.get("a3").reasons)
    assert "payment instrument shared with 7" in reasons and "203.0.113.0/24" in reasons


def test_same_org_sharing_is_discounted() -> None:
    # A company onboarding staff: one domain, one office network, one corporate card.
    staff = company_staff(8)
    farm = [{**row, "org_id": None, "account_id": f"f{i}"} for i, row in enumerate(staff)]
    staff_score = score_signups(staff + background()).get("a3").score
    farm_score = score_signups(farm + background()).get("f3").score
    assert staff_score < 0.5 < farm_score


def test_slow_signups_from_one_network_are_not_a_burst() -> None:
    slow = [
        acct(i, created_at=(T0 + timedelta(hours=3 * i)).isoformat(), signup_ip=f"203.0.113.{i}")
        for i in range(10)
    ]
    result = score_signups(slow)
    assert all("network_burst" not in r.signals for r in result.accounts)


def test_very_common_fingerprint_is_ignored() -> None:
    rows = [acct(i, signup_fingerprint="chrome-default") for i in range(120)]
    result = score_signups(rows)
    assert all("shared_device" not in r.signals for r in result.accounts)


def test_known_domain_is_not_fresh() -> None:
    rows = [
        acct(i, created_at=(T0 + timedelta(minutes=i)).isoformat(), email_domain="startup.io")
        for i in range(6)
    ]
    assert score_signups(rows).get("a0").signals.get("fresh_domain_burst", 0) > 0
    assert score_signups(rows, known_domains={"startup.io"}).get("a0").score == 0.0


def test_country_mismatch_from_field_or_lookup() -> None:
    rows = [acct(1, country="DE", signup_ip="203.0.113.5"), acct(2, country="FR", ip_country="FR")]
    result = score_signups(rows, ip_country={"203.0.113.5": "VN"})
    assert "declared country DE but signed up from VN" in result.get("a1").reasons
    assert result.get("a2").score == 0.0


def test_ipv6_network_and_asn_bursts() -> None:
    assert network_key("2001:db8:1:2::5") == "2001:db8:1::/48"
    assert network_key("not-an-ip") is None
    rows = [
        acct(i, created_at=(T0 + timedelta(minutes=i)).isoformat(), signup_ip=f"2001:db8:1::{i}")
        for i in range(6)
    ]
    assert score_signups(rows).get("a0").signals["network_burst"] > 0
    asn_rows = [
        acct(i, created_at=(T0 + timedelta(seconds=30 * i)).isoformat(), signup_asn=64500)
        for i in range(25)
    ]
    assert score_signups(asn_rows).get("a0").signals["asn_burst"] > 0


def test_accepts_arrow_and_records_with_same_result() -> None:
    rows = [acct(i, payment_fingerprint="card-shared") for i in range(3)] + background(5)
    records = [AccountRecord.model_validate(r) for r in rows]
    table = pa.Table.from_pylist([{**r.model_dump(), "created_at": r.created_at} for r in records])
    a = score_signups(rows)
    b = score_signups(records)
    c = score_signups(table)
    assert (
        [r.score for r in a.accounts]
        == [r.score for r in b.accounts]
        == [r.score for r in c.accounts]
    )
    out = c.to_table()
    assert out.column_names == ["account_id", "signup_risk", "reasons"]
    assert out.num_rows == len(rows)


def test_bad_created_at_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="created_at"):
        score_signups([{"account_id": "x", "created_at": 12}])


def _farm(n: int = 8) -> list[dict[str, object]]:
    return [
        acct(
            i,
            created_at=(T0 + timedelta(minutes=i)).isoformat(),
            email_domain="quick-mail-hub.net",
            signup_ip=f"203.0.113.{i + 10}",
            signup_fingerprint="dev-farm" if i % 2 else f"dev-x{i}",
            payment_fingerprint="card-farm",
        )
        for i in range(n)
    ]


def test_as_of_the_end_equals_the_batch_scores() -> None:
    rows = _farm() + background() + [acct(7000, email_domain="mailinator.com")]
    batch = score_signups(rows)
    late = score_signups_as_of(rows, {str(r["account_id"]): 1e12 for r in rows})
    assert {a: late[a].score for a in late} == {r.account_id: r.score for r in batch.accounts}


def test_as_of_counts_only_earlier_signups() -> None:
    rows = _farm() + background()
    at_signup = score_signups_as_of(rows)  # each account at its own sign-up
    # The first of the burst is alone when it signs up; the last sees the whole burst.
    assert at_signup["a0"].score < 0.5 < at_signup["a7"].score
    assert at_signup["a0"].reasons == ()
    # At its first request, an hour after the burst, the first member is as risky as the rest.
    later = score_signups_as_of(rows, {"a0": (T0 + timedelta(hours=1)).timestamp()})
    assert later["a0"].score == pytest.approx(score_signups(rows).get("a0").score)
    # An "as of" before the account's own sign-up is read as its sign-up.
    early = score_signups_as_of(rows, {"a7": (T0 - timedelta(days=1)).timestamp()})
    assert early["a7"].score == at_signup["a7"].score


def test_as_of_spares_a_company_onboarding_its_staff() -> None:
    staff = company_staff(12)
    risks = score_signups_as_of(staff + background())
    assert max(r.score for r in risks.values()) < 0.5


def _lab(n: int) -> list[dict[str, object]]:
    """A class signing up in one lab session: the campus NAT, the university's own e-mail
    domain, each student on their own laptop and without a card; no org declared."""
    return [
        acct(
            i,
            created_at=(T0 + timedelta(seconds=40 * i)).isoformat(),
            email_domain="stud.uni-example.de",
            signup_ip="192.0.2.77",
            payment_fingerprint=None,
        )
        for i in range(n)
    ]


def test_a_class_signing_up_together_is_not_challenged() -> None:
    risks = score_signups_as_of(_lab(40) + background())
    assert max(r.score for r in risks.values()) < 0.5
    # Both signals are reported; they count once.
    assert {"network_burst", "fresh_domain_burst"} <= set(risks["a39"].signals)
    assert risks["a39"].score == pytest.approx(max(risks["a39"].signals.values()))


def test_a_farm_on_one_network_with_shared_devices_still_is() -> None:
    farm = [{**row, "signup_fingerprint": f"dev-farm-{i % 4}"} for i, row in enumerate(_lab(40))]
    risks = score_signups_as_of(farm + background())
    assert min(risks[f"a{i}"].score for i in range(8, 40)) > 0.5


def test_evidence_shared_only_within_one_org_counts_once() -> None:
    # One admin creates thirty service accounts of one org: one card, one device, one egress.
    staff = [
        {**row, "signup_fingerprint": "dev-admin", "signup_ip": "192.0.2.9"}
        for row in company_staff(30)
    ]
    risk = score_signups(staff + background()).get("a29")
    assert risk is not None
    assert len(risk.signals) >= 3
    assert risk.score == pytest.approx(max(risk.signals.values()))
    assert risk.score < 0.5
