"""The report's store queries agree with direct counts over the same events."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import duckdb
import numpy as np
import pytest

from distillguard.report import queries
from tests.report.conftest import DAY0, DISTILLERS, PREDICTORS, make_labels, make_result


def _count(con, where: str = "true") -> int:
    return con.execute(f"SELECT count(*) FROM events WHERE {where}").fetchall()[0][0]


@pytest.mark.parametrize(
    ("span_s", "expected"), [(3600, 60), (86400, 600), (7 * 86400, 3600), (400 * 86400, 172800)]
)
def test_bucket_width_keeps_the_plot_readable(span_s, expected):
    assert queries.choose_bucket_s(span_s) == expected
    assert span_s / queries.choose_bucket_s(span_s) <= queries.MAX_BUCKETS


def test_traffic_splits_every_event_once(store, result):
    con = store.con
    span = queries.event_span(con)
    assert span is not None and span[2] == _count(con)
    with queries.verdicts_view(con, result):
        traffic = queries.traffic(con, span[:2], 600)
    flagged = [a.account_id for a in result.flagged()]
    in_flagged = f"account_id IN ({', '.join(repr(a) for a in flagged)})"
    assert int(traffic.suspicious.sum()) == _count(con, in_flagged)
    assert int(traffic.normal.sum()) == _count(con, f"NOT {in_flagged}")
    assert np.all(np.diff(traffic.starts) == 600)
    assert traffic.times()[0] <= DAY0 + timedelta(minutes=10)
    # The view is gone afterwards: the report leaves the store as it found it.
    with pytest.raises(duckdb.CatalogException):
        con.execute(f"SELECT * FROM {queries.VIEW}")


def test_model_traffic_sums_and_folds_the_tail(store, result):
    con = store.con
    span = queries.event_span(con)
    with queries.verdicts_view(con, result):
        traffic = queries.traffic(con, span[:2], 3600)
        models = queries.model_traffic(con, traffic)
        folded = queries.model_traffic(con, traffic, max_models=2)
    assert set(models.models) == {"model-a", "model-b", "fraud-v1"}
    assert models.models[0] == "model-a"  # the busiest first
    assert np.array_equal(models.suspicious.sum(axis=0), traffic.suspicious)
    assert np.array_equal(models.normal.sum(axis=0), traffic.normal)
    assert folded.models == ("model-a", "other")
    assert int(folded.suspicious.sum() + folded.normal.sum()) == _count(con)
    # Release chasing is visible: distillers use only model-b after noon.
    b = models.models.index("model-b")
    noon = int((12 * 3600) // 3600)
    assert models.suspicious[b, noon:].sum() > 0
    assert models.suspicious[models.models.index("model-a"), noon + 1 :].sum() == 0


def test_cluster_traffic_footprint(store, result):
    con = store.con
    span = queries.event_span(con)
    with queries.verdicts_view(con, result):
        traffic = queries.traffic(con, span[:2], 600)
        per = queries.cluster_traffic(con, traffic, ["c-dist", "c-pred", "c-none"])
    assert set(per) == {"c-dist", "c-pred"}
    dist = per["c-dist"]
    members = ", ".join(repr(a) for a in DISTILLERS)
    assert dist.n_events == int(dist.counts.sum()) == _count(con, f"account_id IN ({members})")
    assert dist.n_accounts_active == len(DISTILLERS)
    assert dist.n_ips == 7 and dist.n_asns == 1
    assert dict(dist.endpoints) == {"chat.completions": dist.n_events}
    assert per["c-pred"].models == (("fraud-v1", 30 * len(PREDICTORS)),)


def test_cluster_samples_are_capped_counted_and_stable(store, result, bare_store):
    with queries.verdicts_view(store.con, result):
        a = queries.cluster_samples(store.con, ["c-dist", "c-pred"], per_cluster=50)
        b = queries.cluster_samples(store.con, ["c-dist", "c-pred"], per_cluster=50)
    assert a == b
    assert "c-pred" not in a  # prediction traffic carries no text
    assert sum(s.count for s in a["c-dist"]) == 50
    counts = [s.count for s in a["c-dist"]]
    assert counts == sorted(counts, reverse=True)
    with queries.verdicts_view(bare_store.con, result):
        assert queries.cluster_samples(bare_store.con, ["c-dist"]) == {}


def test_campaign_events_served_before_flag(store, result):
    con = store.con
    flagged_at = DAY0 + timedelta(hours=12)
    accounts = tuple(
        replace(a, first_flagged_at=flagged_at) if a.flagged else a for a in result.accounts
    )
    with queries.verdicts_view(con, replace(result, accounts=accounts)):
        with queries.labels_view(con, make_labels()):
            events = queries.campaign_events(con)
    members = ", ".join(repr(a) for a in DISTILLERS)
    served = _count(con, f"account_id IN ({members}) AND ts < TIMESTAMPTZ '{flagged_at}'")
    assert events["camp-dist"] == (served, 60 * len(DISTILLERS))
    assert events["camp-pred"] == (30 * len(PREDICTORS), 30 * len(PREDICTORS))
    assert events[None][1] == 60 * len(DISTILLERS) + 30 * len(PREDICTORS)


def test_labels_from_store(store):
    assert queries.labels_from_store(store.con) is None
    store.con.execute(
        "CREATE TABLE labels (account_id VARCHAR PRIMARY KEY, label VARCHAR, "
        "campaign_id VARCHAR, kind VARCHAR)"
    )
    assert queries.labels_from_store(store.con) is None
    store.con.execute(
        "INSERT INTO labels VALUES ('a', 'malicious', 'c1', 'x'), ('b', 'benign', NULL, NULL)"
    )
    got = queries.labels_from_store(store.con)
    assert [(r.account_id, str(r.label), r.campaign_id) for r in got] == [
        ("a", "malicious", "c1"),
        ("b", "benign", None),
    ]


def test_empty_log():
    con = duckdb.connect()
    from tests.report.conftest import EVENTS_DDL

    con.execute(EVENTS_DDL)
    assert queries.event_span(con) is None
    with queries.verdicts_view(con, make_result()):
        pass


def test_multi_turn_sample_reads_first_and_last_user_turn(store, result):
    con = store.con
    con.execute(
        """
        INSERT INTO events (request_id, ts, account_id, endpoint, model, client_ip, messages,
                            status)
        VALUES ('req-multi', TIMESTAMPTZ '2026-03-02 09:00:00+00', 'acct-dist-00',
                'chat.completions', 'model-a', '203.0.113.1',
                [{'role': 'system', 'content': 'be brief'},
                 {'role': 'user', 'content': 'plan a trip'},
                 {'role': 'assistant', 'content': 'ok'},
                 {'role': 'user', 'content': 'now show all your reasoning'}],
                200)
        """
    )
    with queries.verdicts_view(con, result):
        samples = queries.cluster_samples(con, ["c-dist"], per_cluster=10_000)
    texts = {s.text for s in samples["c-dist"]}
    assert f"plan a trip {queries.TURN_SEPARATOR} now show all your reasoning" in texts
    assert not any("be brief" in t or t.endswith(" ok") for t in texts)
