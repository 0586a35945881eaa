"""Release chasing: campaigns move most chat traffic to a new model within hours."""

from __future__ import annotations

from distillguard.simulate import SCENARIOS


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
