"""``distillguard audit`` end to end on a small simulated world."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from distillguard.cli.app import app
from distillguard.detect.replay import predict_reference
from distillguard.events.ingest import ingest
from distillguard.respond.enforcement import parse_enforcement
from distillguard.simulate import scenario, simulate
from distillguard.store import Store

SPEC_CHECK = Path(__file__).resolve().parents[2].parent / "shared" / "tools" / "spec_check.py"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    simulate(scenario("mixed", seed=11, accounts=150, days=0.25), out)
    return out


def _assert_spec_valid(verdicts: Path) -> None:
    """The verdicts file passes the shared spec checker (where the checkout has it)."""
    if SPEC_CHECK.exists():
        done = subprocess.run(
            [sys.executable, str(SPEC_CHECK), "verdicts", str(verdicts)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout


def _files(world: Path) -> list[str]:
    events = next(world.glob("events.*"))
    return ["--events", str(events), "--accounts", str(world / "accounts.jsonl")]


def test_audit_writes_verdicts_clusters_enforcement_and_report(world: Path, tmp_path: Path) -> None:
    kg = tmp_path / "known_good.jsonl"
    labels = [json.loads(x) for x in (world / "labels.jsonl").read_text().splitlines()]
    cleared = next(r["account_id"] for r in labels if r["label"] == "malicious")
    kg.write_text(json.dumps({"account_id": cleared, "who": "alice", "why": "test"}) + "\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app, ["audit", *_files(world), "--out", str(out), "--known-good", str(kg)]
    )
    assert res.exit_code == 0, res.output
    verdicts = [json.loads(x) for x in (out / "verdicts.jsonl").read_text().splitlines()]
    seen = {r["account_id"] for r in verdicts}
    assert seen <= {r["account_id"] for r in labels} and len(seen) > 100
    _assert_spec_valid(out / "verdicts.jsonl")
    malicious = {r["account_id"] for r in labels if r["label"] == "malicious"}
    flagged = {r["account_id"] for r in verdicts if r["flagged"]}
    assert flagged & malicious, "the audit catches some of the campaign accounts"
    assert cleared not in flagged
    enforcement = json.loads((out / "enforcement.json").read_text())
    assert {"generated_at", "accounts", "clusters", "known_good"} <= set(enforcement)
    assert enforcement["known_good"][0]["who"] == "alice"
    for c in enforcement["clusters"]:  # hashed link keys, never egress addresses
        assert all(k["kind"] != "ip" and len(k["sha256"]) == 64 for k in c["links"])
    _assert_predict_reference_is_the_replays(world, out)
    for line in (out / "clusters.jsonl").read_text().splitlines():
        c = json.loads(line)
        assert len(c["members"]) >= 2 and 0 <= c["score"] <= 1
    assert (out / "report.html").stat().st_size > 1000


def _assert_predict_reference_is_the_replays(world: Path, out: Path) -> None:
    """enforcement.json carries the range of the log's predict inputs, exactly the one the
    replay computes from the same events, and the gateway's parser reads it back."""
    raw = (out / "enforcement.json").read_bytes()
    section = json.loads(raw)["predict_reference"]
    assert section["version"] == 1 and len(section["median"]) == len(section["scale"]) > 0
    ref = parse_enforcement(raw).predict_reference
    assert ref is not None
    with Store.open(":memory:") as store:
        ingest(store, [next(world.glob("events.*"))], [world / "accounts.jsonl"], [])
        expected = predict_reference(store.con, "events", 400)
    assert expected is not None
    assert np.array_equal(ref.median, expected.median)
    assert np.array_equal(ref.scale, expected.scale)


def test_audit_metadata_only_and_replay_from_an_ingested_store(world: Path, tmp_path: Path) -> None:
    db = tmp_path / "dg.duckdb"
    res = CliRunner().invoke(app, ["ingest", *_files(world), "--db", str(db),
                                   "--rejects", str(tmp_path / "rej.jsonl")])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = tmp_path / "out2"
    res = CliRunner().invoke(
        app, ["audit", "--db", str(db), "--out", str(out), "--no-content", "--replay",
              "--replay-windows", "6", "--replay-horizon-hours", "12", "--no-report"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    verdicts = [json.loads(x) for x in (out / "verdicts.jsonl").read_text().splitlines()]
    # every flagged account has the time it first crossed (an account that crossed in an
    # earlier window and fell back keeps its time too), and says which path flagged it
    assert all(r["first_flagged_at"] is not None for r in verdicts if r["flagged"])
    flagged = [r for r in verdicts if r["first_flagged_at"] is not None]
    assert flagged and all(
        any(x.startswith("first flagged by") for x in r["reasons"]) for r in flagged
    )
    assert "5 periodic audits" in res.output
    _assert_spec_valid(out / "verdicts.jsonl")
    assert not (out / "report.html").exists()


def test_audit_without_inputs_is_a_clear_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["audit", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0


def test_audit_reports_rejected_records_with_file_line_and_reason(
    world: Path, tmp_path: Path
) -> None:
    # Good events plus two broken lines: the audit goes on with the good ones and says, on the
    # terminal and in rejects.jsonl, which records it could not read and why.
    good = (world / "events.jsonl.gz").read_bytes()
    lines = gzip.decompress(good).decode().splitlines()[:50]
    bad = tmp_path / "mixed.jsonl"
    broken = json.loads(lines[0])
    del broken["request_id"]
    bad.write_text("\n".join([*lines, json.dumps(broken), "not json"]) + "\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["audit", "--events", str(bad), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"{bad}:51: request_id" in res.output.replace("\n", "")
    assert f"{bad}:52:" in res.output.replace("\n", "")
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert len(rejects) == 2
    assert "rejects:" in res.output


def test_audit_keeps_chat_events_without_prompt_text_and_says_so(
    world: Path, tmp_path: Path
) -> None:
    # A provider that keeps no prompts logs chat events without messages: the audit keeps them,
    # judges them on metadata and says how many it kept without text (none are rejected).
    lines = gzip.decompress((world / "events.jsonl.gz").read_bytes()).decode().splitlines()
    stripped = []
    n_chat = 0
    for line in lines[:400]:
        event = json.loads(line)
        if event["endpoint"] == "chat.completions":
            del event["messages"]
            n_chat += 1
        stripped.append(json.dumps(event))
    path = tmp_path / "no-prompts.jsonl"
    path.write_text("\n".join(stripped) + "\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["audit", "--events", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    flat = res.output.replace("\n", " ")
    assert f"{n_chat:,} chat/completions events carry no prompt text" in flat
    assert not (out / "rejects.jsonl").exists() or not (out / "rejects.jsonl").read_text()
    verdicts = [json.loads(x) for x in (out / "verdicts.jsonl").read_text().splitlines()]
    assert {v["account_id"] for v in verdicts} == {json.loads(x)["account_id"] for x in lines[:400]}


def test_audit_of_the_last_hours_of_a_store_reads_that_window_and_leaves_the_store(
    world: Path, tmp_path: Path
) -> None:
    db = tmp_path / "dg.duckdb"
    res = CliRunner().invoke(app, ["ingest", *_files(world), "--db", str(db),
                                   "--rejects", str(tmp_path / "rej.jsonl")])  # fmt: skip
    assert res.exit_code == 0, res.output
    with Store.open(db) as store:
        n_all, hi = store.con.sql("SELECT count(*), max(ts) FROM events").fetchall()[0]
        in_window = {
            a
            for (a,) in store.con.execute(
                "SELECT DISTINCT account_id FROM events "
                "WHERE ts > ?::TIMESTAMPTZ - INTERVAL 2 HOUR",
                [hi],
            ).fetchall()
        }
    out = tmp_path / "out-last"
    res = CliRunner().invoke(
        app, ["audit", "--db", str(db), "--out", str(out), "--last-hours", "2", "--no-content"]
    )
    assert res.exit_code == 0, res.output
    verdicts = [json.loads(x) for x in (out / "verdicts.jsonl").read_text().splitlines()]
    assert {v["account_id"] for v in verdicts} == in_window
    assert "audited the last 2 h of the log only" in (out / "report.html").read_text()
    with Store.open(db) as store:  # the window was the audit's alone
        assert store.con.sql("SELECT count(*) FROM events").fetchall()[0][0] == n_all


def test_a_log_of_several_days_is_judged_day_by_day_unless_asked_to_audit_it_whole(
    tmp_path: Path,
) -> None:
    world = tmp_path / "two-days"
    simulate(scenario("mixed", seed=12, accounts=80, days=2.0), world)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["audit", *_files(world), "--out", str(out), "--no-content"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "judged day by day: the log spans 2 UTC days" in text
    assert "Judged day by day (each account takes its strongest day's verdict)" in text
    assert "judged one UTC day at a time" in (out / "report.html").read_text()
    verdicts = [json.loads(x) for x in (out / "verdicts.jsonl").read_text().splitlines()]
    clusters = [json.loads(x) for x in (out / "clusters.jsonl").read_text().splitlines()]
    _assert_spec_valid(out / "verdicts.jsonl")
    assert all("judged day by day" in v["reasons"][-1] for v in verdicts)
    # Each cluster lists the accounts that name it, once across the days.
    for c in clusters:
        named = {v["account_id"] for v in verdicts if v["cluster_id"] == c["cluster_id"]}
        assert set(c["members"]) == named
    assert {v["cluster_id"] for v in verdicts} - {None} == {c["cluster_id"] for c in clusters}
    res = CliRunner().invoke(
        app, ["audit", *_files(world), "--out", str(out), "--no-content", "--no-report",
              "--whole-log"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "audited as one (--whole-log)" in text and "judged day by day" not in text
    res = CliRunner().invoke(
        app, ["audit", *_files(world), "--out", str(out), "--no-content", "--no-report",
              "--last-hours", "24"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "audited the last 24 h of the log only" in text
    assert "judged day by day" not in text and "audited as one" not in text
