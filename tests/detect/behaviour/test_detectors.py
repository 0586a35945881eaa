"""Per-account detectors on crafted feature frames: positives, benign look-alikes, contracts."""

from __future__ import annotations

import numpy as np
import pytest

from distillguard.detect import DETECTORS
from distillguard.detect.behaviour.detectors import (
    ContentAbuse,
    IdentityRisk,
    InfraDiversity,
    ReasoningParams,
    ReleaseChasing,
    TimingRegularity,
    VolumeShape,
    identity_risk_of,
)
from distillguard.detect.behaviour.frame import AccountFrame

DAY = 86400.0


def frame(rows: dict[str, dict[str, float | str | None]]) -> AccountFrame:
    ids = np.asarray(sorted(rows), dtype=object)
    f = AccountFrame(ids=ids)
    keys = {k for r in rows.values() for k in r}
    for k in keys:
        values = [rows[i].get(k) for i in ids]
        if all(v is None or isinstance(v, int | float) for v in values):
            f.num[k] = np.array([np.nan if v is None else float(v) for v in values])
        else:
            f.text[k] = np.asarray(values, dtype=object)
    return f


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.name)
def test_contract_scores_in_unit_interval_and_one_reason_tuple_per_account(detector) -> None:
    rng = np.random.default_rng(0)
    rows = {
        f"a{i}": {name: float(rng.uniform(0, 50)) for name in detector.needs} for i in range(12)
    }
    f = frame(rows)
    ev = detector.evaluate(f)
    assert ev.detector == detector.name
    assert ev.scores.shape == (12,)
    finite = ev.scores[np.isfinite(ev.scores)]
    assert ((finite >= 0) & (finite <= 1)).all()
    assert len(ev.reasons) == 12
    assert detector.needs, "a detector declares the columns it reads"
    assert isinstance(detector.doc_uri, str) and detector.doc_uri.startswith("http")


@pytest.mark.parametrize("detector", [d for d in DETECTORS if d.content], ids=lambda d: d.name)
def test_content_detectors_do_not_judge_without_content(detector) -> None:
    f = frame({"a": {"n_events": 100.0}, "b": {"n_events": 5.0}})
    ev = detector.evaluate(f)
    assert not np.isfinite(ev.scores).any()


def test_volume_shape_catches_long_completion_harvest_not_short_batch_jobs() -> None:
    f = frame(
        {
            "harvester": {
                "n_events": 3000,
                "active_hours": 20,
                "mean_completion_tokens": 1800,
                "share_long_completion": 0.9,
            },
            "batch_job": {
                "n_events": 3000,
                "active_hours": 20,
                "mean_completion_tokens": 120,
                "share_long_completion": 0.0,
            },
        }
    )
    ev = VolumeShape().evaluate(f)
    by = dict(zip(f.ids, ev.scores, strict=True))
    assert by["harvester"] > 0.8
    assert by["batch_job"] < 0.1
    assert any("1800" in r for r in ev.reasons[list(f.ids).index("harvester")])


def test_volume_shape_without_token_counts_counts_volume_at_half_strength() -> None:
    f = frame(
        {
            "harvester": {"n_events": 5000, "active_hours": 20, "share_has_tokens": 0.0},
            "person": {"n_events": 40, "active_hours": 8, "share_has_tokens": 0.0},
            "predict": {
                "n_events": 3000, "active_hours": 20, "share_has_tokens": 0.0,
                "share_predict": 1.0,
            },
            "logged": {
                "n_events": 3000, "active_hours": 20, "share_has_tokens": 1.0,
                "mean_completion_tokens": 120, "share_long_completion": 0.0,
            },
        }
    )  # fmt: skip
    ev = VolumeShape().evaluate(f)
    by = dict(zip(f.ids, ev.scores, strict=True))
    assert by["harvester"] == 0.5
    assert by["person"] == 0.0
    assert by["predict"] == 0.0  # predictions have no completion: nothing is missing
    assert by["logged"] < 0.1  # short completions counted: the shape speaks
    assert any("no token counts" in r for r in ev.reasons[list(f.ids).index("harvester")])


def test_reasoning_params_reads_shares_and_ignores_default_parameters() -> None:
    f = frame(
        {
            "cot": {"share_reasoning_high": 0.95, "share_logprobs": 0.9},
            "dev": {"share_reasoning_high": 0.05, "share_logprobs": 0.0},
        }
    )
    s = dict(zip(f.ids, ReasoningParams().evaluate(f).scores, strict=True))
    assert s["cot"] > 0.9 and s["dev"] == 0.0


def test_content_abuse_is_proportional_to_the_share_of_attack_prompts() -> None:
    f = frame(
        {
            "attacker": {"c_share_jailbreak": 0.5, "c_share_injection": 0.2},
            "stray": {"c_share_jailbreak": 0.01, "c_share_injection": 0.0},
        }
    )
    s = dict(zip(f.ids, ContentAbuse().evaluate(f).scores, strict=True))
    assert s["attacker"] == 1.0 and s["stray"] == 0.0


def test_timing_regularity_flags_clockwork_and_round_the_clock_not_bursty_humans() -> None:
    f = frame(
        {
            "bot": {"gap_cv": 0.05, "n_gaps": 200, "night_share": 0.21},
            "human": {"gap_cv": 1.8, "n_gaps": 200, "night_share": 0.02},
            "too_few": {"gap_cv": 0.05, "n_gaps": 3, "night_share": 0.3},
        }
    )
    s = dict(zip(f.ids, TimingRegularity().evaluate(f).scores, strict=True))
    assert s["bot"] > 0.9
    assert s["human"] == 0.0
    assert s["too_few"] == 0.0


def test_release_chasing_needs_a_fast_and_near_complete_move() -> None:
    f = frame(
        {
            "chaser": {
                "share_new_model_after": 0.9,
                "hours_to_new_model": 2,
                "n_after_release": 80,
            },
            "early_adopter": {
                "share_new_model_after": 0.2,
                "hours_to_new_model": 1,
                "n_after_release": 80,
            },
            "migrated_later": {
                "share_new_model_after": 1.0,
                "hours_to_new_model": 72,
                "n_after_release": 80,
            },
        }
    )
    s = dict(zip(f.ids, ReleaseChasing().evaluate(f).scores, strict=True))
    assert s["chaser"] > 0.9
    assert s["early_adopter"] == 0.0
    assert s["migrated_later"] == 0.0


def test_infra_diversity_separates_proxy_rotation_from_a_mobile_user() -> None:
    f = frame(
        {
            "proxy": {
                "n_events": 100, "n_subnets": 80, "n_asns": 30, "n_countries": 12,
                "n_fingerprints": 1,
            },
            "mobile": {
                "n_events": 100, "n_subnets": 25, "n_asns": 1, "n_countries": 1,
                "n_fingerprints": 1,
            },
        }
    )  # fmt: skip
    s = dict(zip(f.ids, InfraDiversity().evaluate(f).scores, strict=True))
    assert s["proxy"] == 1.0
    assert s["mobile"] == 0.0


def test_infra_diversity_without_asns_counts_networks_from_prefixes() -> None:
    f = frame(
        {
            "rotator": {"n_events": 3000, "n_subnets": 40, "n_asns": 0, "share_has_asn": 0.0},
            "phone": {"n_events": 30, "n_subnets": 8, "n_asns": 0, "share_has_asn": 0.0},
            "logged": {"n_events": 3000, "n_subnets": 40, "n_asns": 1, "share_has_asn": 1.0},
        }
    )  # fmt: skip
    ev = InfraDiversity().evaluate(f)
    s = dict(zip(f.ids, ev.scores, strict=True))
    assert s["rotator"] == 1.0
    assert s["phone"] == 0.0
    assert s["logged"] == 0.0  # one network per its ASNs: a carrier's many prefixes
    assert any("no ASNs" in r for r in ev.reasons[list(f.ids).index("rotator")])


def test_identity_risk_fresh_unverified_vs_aged_organisation_and_missing_records() -> None:
    t0 = 1_800_000_000.0
    f = frame(
        {
            "fresh": {"created_t": t0 - 0.5 * DAY, "first_t": t0, "verification": "none",
                      "plan": "free"},
            "aged": {"created_t": t0 - 400 * DAY, "first_t": t0,
                     "verification": "organization", "plan": "enterprise"},
            "unknown": {"created_t": None, "first_t": t0, "verification": None, "plan": None},
        }
    )  # fmt: skip
    s = dict(zip(f.ids, IdentityRisk().evaluate(f).scores, strict=True))
    assert s["fresh"] > 0.9
    assert s["aged"] == 0.0
    assert np.isnan(s["unknown"])
    # the scalar form the gateway's policy reads gives the same numbers
    one = identity_risk_of(np.array([0.5, 400.0, np.nan]), ["none", "organization", None],
                           ["free", "enterprise", None])  # fmt: skip
    assert one[0] == s["fresh"] and one[1] == 0.0 and np.isnan(one[2])


def test_over_a_week_volume_and_rotation_are_judged_on_a_typical_day() -> None:
    # a traveller over seven days: 12 countries and 40 networks in all, 2 and 2 on a typical
    # day; a busy customer: 3,500 requests in all, 500 a day; a proxy rotating every day
    week = {"span_days": 6.8}
    f = frame(
        {
            "traveller": {
                **week, "n_events": 300, "n_subnets": 60, "n_asns": 40, "n_countries": 12,
                "n_fingerprints": 2, "day_events": 45, "day_subnets": 6, "day_asns": 2,
                "day_countries": 2, "day_fingerprints": 1,
            },
            "busy": {
                **week, "n_events": 3500, "active_hours": 60, "mean_completion_tokens": 1200,
                "share_long_completion": 0.5, "day_events": 500,
            },
            "proxy": {
                **week, "n_events": 700, "n_subnets": 600, "n_asns": 200, "n_countries": 40,
                "n_fingerprints": 1, "day_events": 100, "day_subnets": 90, "day_asns": 30,
                "day_countries": 12, "day_fingerprints": 1,
            },
        }
    )  # fmt: skip
    infra = InfraDiversity().evaluate(f)
    s = dict(zip(f.ids, infra.scores, strict=True))
    assert s["traveller"] == 0.0
    assert s["proxy"] == 1.0
    assert any("a typical day" in r for r in infra.reasons[list(f.ids).index("proxy")])
    vol = dict(zip(f.ids, VolumeShape().evaluate(f).scores, strict=True))
    one = frame(
        {"busy": {"n_events": 3500, "active_hours": 60, "mean_completion_tokens": 1200,
                  "share_long_completion": 0.5}}
    )  # fmt: skip
    whole = {"busy": float(VolumeShape().evaluate(one).scores[0])}
    assert vol["busy"] < whole["busy"]


def test_a_log_of_a_day_or_less_is_judged_on_the_whole_log() -> None:
    # the day columns are there but the account's traffic spans under a day: the counts over
    # the log are its day (and a frame without them, the online scorer's, is judged the same)
    row = {
        "n_events": 100,
        "n_subnets": 80,
        "n_asns": 30,
        "n_countries": 12,
        "n_fingerprints": 1,
    }
    day = {"day_events": 50, "day_subnets": 2, "day_asns": 1, "day_countries": 1,
           "day_fingerprints": 1}  # fmt: skip
    f = frame({"a": {**row, **day, "span_days": 0.9}, "b": row})
    s = InfraDiversity().evaluate(f).scores
    assert s[0] == s[1] == 1.0
