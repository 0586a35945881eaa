"""The detect benchmark's "answered in full" figure: requests served before the first flag,
less those the gateway degrades inline by their own content."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from benchmarks.detect import _answered_in_full, _established, _load, _world

from distillguard.detect.queries import PROMPT_TEXT_SQL
from distillguard.settings import PolicySettings
from distillguard.store import Store


class _Scores:
    def __init__(self, d: dict[str, np.ndarray]) -> None:
        self.d = d

    def as_dict(self) -> dict[str, np.ndarray]:
        return self.d


class _Hot:
    """Jailbreak 0.99 for texts whose hash is odd, reasoning 0.99 for every text."""

    def score(self, texts: list[str]) -> _Scores:
        odd = np.array([hash(t) % 2 == 1 for t in texts])
        n = len(texts)
        return _Scores(
            {
                "jailbreak": np.where(odd, 0.99, 0.1),
                "cot_elicitation": np.full(n, 0.99),
                "overall": np.full(n, 0.99),
            }
        )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    world = _world(5, 300, False, tmp_path_factory.mktemp("detect") / "w", volume_scale=0.2)
    with Store.open(":memory:") as s:
        _load(s, world)
        yield s


def test_answered_in_full_leaves_out_what_the_inline_check_degrades(store: Any) -> None:
    con = store.con
    # every campaign account flagged at its third request (never, with fewer)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ffa AS SELECT account_id, "
        "  max(CASE WHEN k = 3 THEN ts END) AS ffa, any_value(camp) AS camp FROM ("
        "  SELECT e.account_id, e.ts, l.campaign_id AS camp, row_number() OVER "
        "  (PARTITION BY e.account_id ORDER BY e.ts) AS k FROM events e JOIN labels l "
        "  USING (account_id) WHERE l.label = 'malicious') GROUP BY 1"
    )
    rows = con.sql(
        f"SELECT e.account_id, e.ts, {PROMPT_TEXT_SQL}, l.label, l.campaign_id "
        "FROM events e JOIN labels l USING (account_id)"
    ).fetchall()
    ffa = dict(con.sql("SELECT account_id, ffa FROM _ffa").fetchall())
    policy = PolicySettings()
    full, cost = _answered_in_full(store, _Hot(), policy)  # type: ignore[arg-type]
    # as the gateway's policy does, content alone leaves established customers to the audit
    established = set(_established(store, policy))
    assert 0 < len(established) < len({r[0] for r in rows})

    def hot(text: str | None, acc: str) -> bool:
        return bool(text) and hash(text) % 2 == 1 and acc not in established

    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    benign = [0, 0]
    benign_accounts: dict[str, bool] = {}
    for acc, ts, text, label, camp in rows:
        if label == "malicious":
            per[camp][1] += 1
            per[camp][0] += int((ffa[acc] is None or ts <= ffa[acc]) and not hot(text, acc))
        else:
            benign[0] += int(hot(text, acc))
            benign[1] += 1
            benign_accounts[acc] = benign_accounts.get(acc, False) or hot(text, acc)
    assert per and set(full) == set(per)
    for camp, (n_full, total) in per.items():
        assert full[camp] == pytest.approx(n_full / total)
    assert cost["requests"] == pytest.approx(benign[0] / benign[1])
    assert cost["accounts"] == pytest.approx(np.mean(list(benign_accounts.values())))
    assert 0 < cost["requests"] < 1  # reasoning asks (0.99 everywhere) degrade nothing

    # with reasoning asks among the degrading signals and every account judged, every request
    # with text is degraded
    wide = PolicySettings(
        content_degrade_signals=("jailbreak", "cot_elicitation"), content_identity_at=None
    )
    all_full, _ = _answered_in_full(store, _Hot(), wide)  # type: ignore[arg-type]
    no_text: dict[str, int] = defaultdict(int)
    for acc, ts, text, label, camp in rows:
        if label == "malicious" and (ffa[acc] is None or ts <= ffa[acc]) and not text:
            no_text[camp] += 1
    for camp, (_, total) in per.items():
        assert all_full[camp] == pytest.approx(no_text[camp] / total)
