"""Release chasing: campaigns move most chat traffic to a new model within hours."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from distillguard.simulate import SCENARIOS
from distillguard.simulate.config import BenignConfig


def test_new_model_absent_before_release_and_adopted_by_campaigns(world_db, mixed_world) -> None:  # type: ignore[no-untyped-def]
    release = SCENARIOS["mixed"].release
    assert release is not None
    start, days = SCENARIOS["mixed"].start, 0.5
    release_epoch = start.timestamp() + release.at_fraction * days * 86400
    before = world_db.execute(
        f"SELECT count(*) FROM ev WHERE model = '{release.model}' AND "
        f"epoch(ts::TIMESTAMPTZ) < {release_epoch}"
    ).fetchone()[0]
    assert before == 0
    late = release_epoch + 4 * 3600
    share = dict(
        world_db.execute(
            f"SELECT lab.label, avg((model = '{release.model}')::INT) FROM ev JOIN lab USING "
            f"(account_id) WHERE endpoint = 'chat.completions' AND epoch(ts::TIMESTAMPTZ) > {late} "
            "GROUP BY ALL"
        ).fetchall()
    )
    assert share["malicious"] > 0.5
    assert share["benign"] < share["malicious"]
    # and some customers (eval harnesses, researchers) try it early too
    # (a handful of eval harnesses and researchers among ~500 customers in the small world)
    assert share["benign"] > 0.005


def test_a_launch_crowd_of_customers_moves_as_fast_and_as_far_as_campaigns(world_db) -> None:  # type: ignore[no-untyped-def]
    # Developers flip the model string at launch: some ordinary customers (not only eval
    # harnesses and researchers) have 70% or more of their chat traffic on the release from
    # 3 h after it, as campaigns do, so moving fast alone cannot tell them apart.
    release = SCENARIOS["mixed"].release
    assert release is not None
    start, days = SCENARIOS["mixed"].start, 0.5
    late = start.timestamp() + release.at_fraction * days * 86400 + 3 * 3600
    rows = world_db.execute(
        f"SELECT lab.label, lab.kind, avg((model = '{release.model}')::INT) FROM ev JOIN lab "
        f"USING (account_id) WHERE endpoint = 'chat.completions' AND epoch(ts::TIMESTAMPTZ) > "
        f"{late} GROUP BY lab.label, lab.kind, account_id HAVING count(*) >= 5"
    ).fetchall()
    everyday = {"developer", "corporate_nat", "mobile", "privacy_vpn", "shared_payment_org"}
    customers = [s for label, kind, s in rows if label == "benign" and kind in everyday]
    movers = sum(s >= 0.7 for s in customers)
    # the default launch crowd is 12% of them; a few hundred such customers in the small world
    assert 0.04 * len(customers) < movers < 0.25 * len(customers)
    campaigns = [s for label, _, s in rows if label == "malicious"]
    assert sum(s >= 0.7 for s in campaigns) > 0.2 * len(campaigns)


def test_the_launch_crowd_is_part_of_the_early_adopters() -> None:
    with pytest.raises(ValidationError):
        BenignConfig(new_model_early_adopters=0.1, launch_crowd=0.2)
    assert BenignConfig(new_model_early_adopters=0.3, launch_crowd=0.0).launch_crowd == 0.0
