"""The account features' per-day columns, from a real DuckDB store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from distillguard.detect.behaviour.frame import AccountFrame
from distillguard.detect.engine import _fetch
from distillguard.detect.queries import ACCOUNT_FEATURES_SQL, EMPTY_ACCOUNTS
from distillguard.store import Store


def _features(rows: list[tuple[str, datetime, str]]) -> AccountFrame:
    with Store.open(":memory:") as store:
        store.con.execute("CREATE TEMP TABLE ev AS SELECT * FROM events WHERE false")
        for i, (acc, ts, ip) in enumerate(rows):
            store.con.execute(
                "INSERT INTO ev (request_id, ts, account_id, endpoint, model, client_ip) "
                "VALUES (?, ?, ?, 'chat', 'm', ?)",
                [f"r{i}", ts, acc, ip],
            )
        table = _fetch(store.con, ACCOUNT_FEATURES_SQL.format(events="ev", accounts=EMPTY_ACCOUNTS))
    return AccountFrame.from_arrow(table)


def test_per_day_counts_are_medians_over_the_active_days() -> None:
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    rows = []
    # three days, each from two subnets of its own, 4, 6 and 10 requests
    for day, n in enumerate((4, 6, 10)):
        for k in range(n):
            ts = t0 + timedelta(days=day, hours=9, minutes=k)
            rows.append(("week", ts, f"10.{day}.{k % 2}.1"))
    rows.append(("hour", t0 + timedelta(hours=1), "10.9.9.9"))
    rows.append(("hour", t0 + timedelta(hours=2), "10.9.8.9"))
    f = _features(rows)
    i = list(f.ids).index("week")
    assert f.col("n_subnets")[i] == 6
    assert f.col("day_subnets")[i] == 2
    assert f.col("day_events")[i] == 6
    assert 2.0 < f.col("span_days")[i] < 2.1
    j = list(f.ids).index("hour")
    assert np.isclose(f.col("span_days")[j], 1 / 24)
    assert f.col("day_events")[j] == f.col("n_events")[j] == 2
