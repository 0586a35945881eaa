"""Each scenario's labels match what it generated, and campaigns follow their knobs."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from distillguard.simulate import SCENARIOS, CampaignKind, scenario, simulate
from distillguard.simulate.fixtures import small_world
from distillguard.simulate.textgen import COT_PHRASES
from tests.conftest import SHARED_DATA
from tests.simulate.giveaways import events_sql, malicious_user_texts

COT = re.compile(
    r"reasoning|step by step|chain of thought|thought process|intermediate step|think",
    re.IGNORECASE,
)


def _db(paths) -> duckdb.DuckDBPyConnection:  # type: ignore[no-untyped-def]
    from tests.simulate.conftest import load_world

    return load_world(paths)


@pytest.mark.parametrize("kind", [k.value for k in CampaignKind])
def test_single_campaign_scenario_ground_truth(tmp_path: Path, kind: str) -> None:
    # low-and-slow accounts keep human hours: give them a whole day to show up
    days = 1.0 if kind == CampaignKind.LOW_AND_SLOW else 0.25
    paths = small_world(tmp_path, seed=21, name=kind, accounts=250, days=days)
    con = _db(paths)
    config = scenario(kind, accounts=250)
    want = sum(c.accounts for c in config.campaigns)
    labels = con.execute(
        "SELECT kind, campaign_id, count(*) FROM lab WHERE label = 'malicious' GROUP BY ALL"
    ).fetchall()
    assert labels == [(kind, f"{kind}-1", want)]
    # every account has a record and a label, every campaign account sent requests
    assert (
        con.execute("SELECT count(*) FROM acc ANTI JOIN lab USING (account_id)").fetchone()[0] == 0
    )
    silent = con.execute(
        "SELECT count(*) FROM lab WHERE label = 'malicious' AND account_id NOT IN "
        "(SELECT DISTINCT account_id FROM ev)"
    ).fetchone()[0]
    assert silent <= 0.1 * want
    benign_kinds = {
        r[0] for r in con.execute("SELECT DISTINCT kind FROM lab WHERE label = 'benign'").fetchall()
    }
    assert {"developer", "eval_harness", "chat_app"} <= benign_kinds


def test_benign_only_has_no_malicious(tmp_path: Path) -> None:
    paths = small_world(tmp_path, seed=3, name="benign_only", accounts=200, days=0.1)
    con = _db(paths)
    assert con.execute("SELECT count(*) FROM lab WHERE label <> 'benign'").fetchone()[0] == 0
    assert set(SCENARIOS) >= {"mixed", "benign_only", *(k.value for k in CampaignKind)}


def test_signup_farm_knobs(world_db) -> None:  # type: ignore[no-untyped-def]
    cfg = next(c for c in SCENARIOS["mixed"].campaigns if c.kind == CampaignKind.SIGNUP_FARM)
    created = world_db.execute(
        "SELECT epoch(max(created_at::TIMESTAMPTZ)) - epoch(min(created_at::TIMESTAMPTZ)), "
        "avg((email_domain IN ('mailinator.com','guerrillamail.com','10minutemail.com',"
        "'temp-mail.org','yopmail.com','sharklasers.com'))::INT), "
        "count(DISTINCT signup_fingerprint) FROM acc JOIN lab USING (account_id) "
        "WHERE kind = 'signup_farm'"
    ).fetchone()
    assert created[0] <= cfg.signup_window_minutes * 60
    assert created[1] >= cfg.disposable_email_share - 0.3
    assert created[2] <= cfg.signup_devices
    # lock-step: the farm's requests fall in a few shared bursts
    per_minute = world_db.execute(
        "SELECT count(DISTINCT account_id) FROM ev JOIN lab USING (account_id) "
        "WHERE kind = 'signup_farm' GROUP BY date_trunc('minute', ts::TIMESTAMPTZ)"
    ).fetchall()
    n_farm = world_db.execute("SELECT count(*) FROM lab WHERE kind = 'signup_farm'").fetchone()[0]
    assert max(r[0] for r in per_minute) >= 0.8 * n_farm


def test_cot_harvest_is_few_accounts_at_high_volume(world_db) -> None:  # type: ignore[no-untyped-def]
    per_account = dict(
        world_db.execute(
            "SELECT kind, median(n) FROM (SELECT kind, account_id, count(*) n FROM ev "
            "JOIN lab USING (account_id) GROUP BY ALL) GROUP BY kind"
        ).fetchall()
    )
    assert per_account["cot_harvest"] > 10 * per_account["developer"]
    # low-and-slow stays near the benign median
    assert per_account["low_and_slow"] < 5 * max(per_account["developer"], 1)


def test_harvest_prompts_ask_for_reasoning_in_many_phrasings(world_db) -> None:  # type: ignore[no-untyped-def]
    from tests.simulate.conftest import text_of

    texts = text_of(world_db, "kind = 'cot_harvest'")
    assert len(texts) > 500
    cot_share = sum(bool(COT.search(t)) for t in texts) / len(texts)
    assert cot_share > 0.5
    assert len(set(texts)) > 0.7 * len(texts)
    used = {p for p in COT_PHRASES if any(p in t for t in texts[:3000])}
    assert len(used) > 20
    tools = world_db.execute(
        "SELECT count(*) FROM ev JOIN lab USING (account_id) WHERE kind = 'cot_harvest' "
        "AND json_exists(params, '$.tools')"
    ).fetchone()[0]
    assert tools > 0


def test_proxy_network_mixes_theft_with_ordinary_requests(world_db) -> None:  # type: ignore[no-untyped-def]
    from tests.simulate.conftest import text_of

    texts = text_of(world_db, "kind = 'proxy_network'")
    cot = sum(bool(COT.search(t)) for t in texts) / len(texts)
    assert 0.15 < cot < 0.85
    spread = world_db.execute(
        "SELECT count(DISTINCT client_ip), count(DISTINCT asn) FROM ev JOIN lab USING (account_id) "
        "WHERE kind = 'proxy_network'"
    ).fetchone()
    assert spread[0] > 200 and spread[1] > 20


def test_prediction_extraction_probes_off_the_data(world_db) -> None:  # type: ignore[no-untyped-def]
    # features 8-11 are binary flags in natural data; random probes ignore that
    rows = world_db.execute(
        "SELECT lab.label, avg((features[10] NOT IN (0.0, 1.0))::INT), count(*) FROM ev "
        "JOIN lab USING (account_id) WHERE endpoint = 'predict' GROUP BY lab.label"
    ).fetchall()
    share = {r[0]: r[1] for r in rows}
    assert share["benign"] < 0.05
    assert share["malicious"] > 0.3
    assert world_db.execute(
        "SELECT min(len(features)), max(len(features)) FROM ev WHERE endpoint = 'predict'"
    ).fetchone() == (16, 16)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent")
def test_attack_prompts_come_from_the_requested_split(tmp_path: Path) -> None:
    import orjson

    train = {
        orjson.loads(line)["text"]
        for line in (SHARED_DATA / "prompts" / "train.jsonl").read_bytes().splitlines()
        if orjson.loads(line)["label"] != "benign"
    }
    dev = {
        orjson.loads(line)["text"]
        for line in (SHARED_DATA / "prompts" / "dev.jsonl").read_bytes().splitlines()
        if orjson.loads(line)["label"] != "benign"
    }
    config = scenario("jailbreak_extraction", seed=4, accounts=300, days=0.5, data_dir=SHARED_DATA)
    s = simulate(config, tmp_path)
    con = duckdb.connect()
    texts = {
        r[0]
        for r in con.execute(
            "SELECT m.content FROM (SELECT unnest(messages) m FROM "
            f"{events_sql(s.events_path)} WHERE messages IS NOT NULL) WHERE m.role = 'user'"
        ).fetchall()
    }
    assert texts & dev
    assert not (texts & train - dev)


def _harvest_share(tmp: Path, theft_share: float) -> float:
    from distillguard.simulate import ProxyNetworkConfig, ScenarioConfig

    config = ScenarioConfig(
        name="knob",
        seed=5,
        accounts=200,
        days=0.5,
        campaigns=(ProxyNetworkConfig(accounts=40, theft_share=theft_share),),
    )
    s = simulate(config, tmp)
    texts = malicious_user_texts(s.events_path, s.labels_path)
    return sum(bool(COT.search(t)) for t in texts) / len(texts)


def test_theft_share_knob_moves_the_mix(tmp_path: Path) -> None:
    assert _harvest_share(tmp_path / "lo", 0.1) + 0.4 < _harvest_share(tmp_path / "hi", 0.9)
