"""Scoring an audit against labels: confusion counts, campaigns, benign look-alikes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from distillguard.events.records import Label, LabelRecord
from distillguard.report.groundtruth import compare
from tests.report.conftest import make_labels, make_result


def test_perfect_audit():
    result = make_result()
    c = compare(result, make_labels())
    assert (c.tp, c.fp, c.fn) == (10, 0, 0)
    assert c.tn == 30
    assert c.precision == 1.0 and c.recall == 1.0 and c.fpr == 0.0
    assert c.n_caught == len(c.campaigns) == 2
    assert c.true_event_share is None


def test_misses_and_false_positives_are_attributed():
    result = make_result()
    flips = {"acct-dist-00": False, "acct-dist-01": False, "acct-cust-00": True}
    accounts = tuple(
        replace(a, flagged=flips[a.account_id]) if a.account_id in flips else a
        for a in result.accounts
    )
    c = compare(replace(result, accounts=accounts), make_labels())
    assert (c.tp, c.fn, c.fp) == (8, 2, 1)
    assert c.precision == pytest.approx(8 / 9)
    assert c.recall == pytest.approx(8 / 10)
    dist = next(k for k in c.campaigns if k.campaign_id == "camp-dist")
    assert dist.recall == pytest.approx(6 / 8)
    assert dist.caught
    nat = next(k for k in c.benign_kinds if k.kind == "corporate_nat")
    assert nat.fpr == pytest.approx(1 / 3)
    assert c.benign_kinds[0].kind == "corporate_nat"  # the kind with false positives first


def test_unlabelled_accounts_are_counted_apart():
    labels = [r for r in make_labels() if r.account_id != "acct-cust-05"]
    c = compare(make_result(), labels)
    assert c.n_unlabelled == 1
    assert c.tp + c.fp + c.fn + c.tn == len(labels)


def test_campaign_requests_and_true_share():
    result = make_result()
    events = {"camp-dist": (48, 480), "camp-pred": (0, 60), None: (48, 540)}
    c = compare(result, make_labels(), events)
    dist = next(k for k in c.campaigns if k.campaign_id == "camp-dist")
    assert dist.served_share == pytest.approx(0.1)
    assert c.true_event_share == pytest.approx(540 / result.stats.n_events)


def test_malicious_without_campaign_is_grouped_by_kind():
    labels = [
        *make_labels(),
        LabelRecord(account_id="acct-lone", label=Label.MALICIOUS, kind="jailbreak_extraction"),
    ]
    result = make_result()
    lone = replace(result.accounts[-1], account_id="acct-lone", flagged=False)
    c = compare(replace(result, accounts=(*result.accounts, lone)), labels)
    names = [k.campaign_id for k in c.campaigns]
    assert "(no campaign: jailbreak_extraction)" in names
    assert c.n_caught == 2
