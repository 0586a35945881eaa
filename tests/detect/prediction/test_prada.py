"""PRADA-style query-distribution test and coverage against the population."""

from __future__ import annotations

import numpy as np

from distillguard.detect.behaviour.frame import AccountFrame
from distillguard.detect.prediction.detector import PredictionExtraction
from distillguard.detect.prediction.prada import (
    RunningReference,
    min_distances,
    outside_range,
    population_stats,
    prada_w,
    range_reference,
    stream_stats,
)


def test_min_distances_are_to_earlier_queries_only() -> None:
    x = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.5]])
    d = min_distances(x)
    assert np.allclose(d, [5.0, 0.5])


def test_natural_queries_look_normal_and_synthetic_probing_does_not() -> None:
    rng = np.random.default_rng(3)
    natural = rng.normal(size=(300, 6))
    seeds = rng.normal(size=(5, 6))
    # Jacobian-style augmentation: tiny steps around a few seed points, then a jump to the next
    synthetic = np.vstack([s + 0.01 * rng.normal(size=(60, 6)) for s in seeds])
    assert prada_w(natural) > 0.75
    assert prada_w(synthetic) < prada_w(natural) - 0.4
    assert np.isnan(prada_w(natural[:10]))


def test_uniform_sweep_is_wider_and_out_of_distribution() -> None:
    rng = np.random.default_rng(4)
    population = rng.normal(size=(3000, 5))
    pop = population_stats(population)
    sweep = rng.uniform(-8, 8, size=(200, 5))
    natural = rng.normal(size=(200, 5))
    s_sweep = stream_stats(sweep, pop)
    s_nat = stream_stats(natural, pop)
    assert s_sweep.ood_share > 0.5 > s_nat.ood_share
    assert s_sweep.spread_ratio > 2.0 > s_nat.spread_ratio


def test_detector_flags_the_extractor_among_natural_clients() -> None:
    rng = np.random.default_rng(5)
    pop = population_stats(rng.normal(size=(5000, 5)))
    accounts = {f"client{i}": rng.normal(size=(150, 5)) for i in range(8)}
    accounts["extractor"] = rng.uniform(-8, 8, size=(150, 5))
    ids = sorted(accounts)
    stats = [stream_stats(accounts[a], pop) for a in ids]
    f = AccountFrame(ids=np.asarray(ids, dtype=object))
    f.put_many(
        ids,
        {
            "pred_n": [s.n_queries for s in stats],
            "pred_prada_w": [s.prada_w for s in stats],
            "pred_ood_share": [s.ood_share for s in stats],
            "pred_spread_ratio": [s.spread_ratio for s in stats],
        },
    )
    ev = PredictionExtraction().evaluate(f)
    by = dict(zip(ids, ev.scores, strict=True))
    assert by["extractor"] > 0.9
    assert max(v for k, v in by.items() if k != "extractor") < 0.3
    assert ev.reasons[ids.index("extractor")]


def test_range_reference_keeps_a_discrete_dimensions_valid_values_in_range() -> None:
    rng = np.random.default_rng(6)
    # A flag that is 1 for 30% of inputs: its MAD is 0, so the MAD alone would put every
    # input with the flag set "out of range".
    x = np.column_stack([rng.normal(size=4000), (rng.uniform(size=4000) < 0.3).astype(float)])
    ref = range_reference(x, np.arange(4000) % 40)
    assert population_stats(x).scale[1] < 1e-3
    assert outside_range(np.array([0.0, 1.0]), ref) is False
    assert outside_range(np.array([9.0, 0.0]), ref) is True
    assert outside_range(np.array([0.0, 0.5, 1.0]), ref) is None
    # Natural inputs fall outside rarely, a sweep of the input space often.
    natural = rng.normal(size=(300, 2))
    natural[:, 1] = rng.uniform(size=300) < 0.3
    sweep = rng.uniform(-16, 16, size=(300, 2))
    share = lambda rows: np.mean([outside_range(r, ref) for r in rows])  # noqa: E731
    assert share(natural) < 0.02 and share(sweep) > 0.4


def test_range_reference_weighs_accounts_evenly() -> None:
    rng = np.random.default_rng(7)
    clients = rng.normal(size=(400, 1))  # 40 clients, 10 inputs each
    heavy = rng.normal(30.0, 10.0, size=(4000, 1))  # two heavy callers, far off
    x = np.vstack([clients, heavy])
    accounts = np.concatenate([np.arange(400) % 40, 100 + np.arange(4000) % 2])
    ref = range_reference(x, accounts)
    # The heavy callers are most rows but two votes in 42: the range is the clients'.
    assert abs(float(ref.median[0])) < 0.5 and float(ref.scale[0]) < 2.0
    assert population_stats(x).median[0] > 20.0
    assert outside_range(np.array([30.0]), ref) is True


def _frame(rows: dict[str, tuple[int, float, float, float]]) -> AccountFrame:
    ids = sorted(rows)
    f = AccountFrame(ids=np.asarray(ids, dtype=object))
    cols = ("pred_n", "pred_prada_w", "pred_ood_share", "pred_spread_ratio")
    f.put_many(ids, {c: [rows[a][i] for a in ids] for i, c in enumerate(cols)})
    return f


def test_low_normality_alone_does_not_flag_a_client_inside_the_populations_range() -> None:
    # Clients whose W sits far below the population's (a few huge gaps from heavy-tailed
    # amounts) but whose inputs are as in range and as narrow as everyone's.
    rows = {f"client{i}": (300, 0.6 + 0.01 * i, 0.05, 0.9) for i in range(10)}
    rows["gappy"] = (300, 0.1, 0.05, 0.9)
    rows["probe"] = (300, 0.1, 0.2, 1.0)
    f = _frame(rows)
    ev = PredictionExtraction().evaluate(f)
    by = dict(zip(sorted(rows), ev.scores, strict=True))
    assert by["gappy"] < 0.3
    # The same W with inputs out of range more often than typical counts in full, more than
    # the out-of-range share alone would give.
    rows_ood_only = dict(rows, probe=(300, 0.6, 0.2, 1.0))
    alone = dict(
        zip(
            sorted(rows), PredictionExtraction().evaluate(_frame(rows_ood_only)).scores, strict=True
        )
    )
    assert by["probe"] > 0.9 > alone["probe"]


def test_running_reference_waits_for_enough_accounts_and_weighs_each_the_same() -> None:
    rng = np.random.default_rng(11)
    run = RunningReference(min_accounts=11)
    # A heavy caller sweeping far off arrives first and sends more than everyone else.
    for v in rng.uniform(-80.0, 80.0, size=(500, 3)):
        run.add("sweeper", v)
    for i in range(9):
        for v in rng.normal(size=(20, 3)):
            run.add(f"client{i}", v)
    assert run.current() is None  # ten accounts so far
    for v in rng.normal(size=(20, 3)):
        run.add("client9", v)
    ref = run.current()
    assert ref is not None
    # The sweeper is one account of eleven: the range is the clients'.
    assert outside_range(np.array([0.5, -0.3, 1.0]), ref) is False
    assert outside_range(np.array([40.0, 0.0, 0.0]), ref) is True


def test_running_reference_ignores_other_lengths_and_bad_values() -> None:
    rng = np.random.default_rng(12)
    run = RunningReference(min_accounts=3)
    for i in range(3):
        for v in rng.normal(size=(10, 2)):
            run.add(f"c{i}", v)
        run.add(f"c{i}", np.array([np.nan, 1.0]))
        run.add(f"other{i}", np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    ref = run.current()
    assert ref is not None and ref.median.shape == (2,)
    assert np.isfinite(ref.median).all() and (ref.scale > 0).all()
    assert outside_range(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), ref) is None
