"""``distillguard demo`` end to end: simulate → ingest → audit → summary → report."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from distillguard.cli.app import app

pytestmark = pytest.mark.slow


def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    (out).mkdir()
    keep = out / "notes.txt"
    keep.write_text("mine", encoding="utf-8")
    runner = CliRunner()
    # A smaller population than the default keeps the suite fast; the path is the same.
    result = runner.invoke(
        app,
        ["demo", "--out", str(out), "--accounts", "200", "--seed", "11"],
        env={"COLUMNS": "140"},
    )
    assert result.exit_code == 0, result.output
    text = result.output
    for step in ("[1/3]", "[2/3]", "[3/3]"):
        assert step in text
    assert "Suspicious traffic" in text
    assert "Against the simulator's ground truth" in text
    assert str(out / "report.html") in text
    assert (
        "distillguard audit --events my-events.jsonl.gz --accounts my-accounts.jsonl --out out/"
        in text
    )
    assert "distillguard audit --db my.duckdb --out out/" in text
    assert "distillguard audit --db my.duckdb --out out/ --last-hours 24" in text

    page = (out / "report.html").read_text("utf-8")
    for anchor in ('id="summary"', 'id="clusters"', 'id="accounts"', 'id="truth"'):
        assert anchor in page
    labels = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    verdicts = [json.loads(line) for line in (out / "verdicts.jsonl").read_text().splitlines()]
    assert verdicts and {v["account_id"] for v in verdicts} <= {r["account_id"] for r in labels}
    assert all(0.0 <= v["score"] <= 1.0 for v in verdicts)
    enforcement = json.loads((out / "enforcement.json").read_text())
    assert {"generated_at", "accounts", "clusters"} <= set(enforcement)
    assert (out / "clusters.jsonl").exists()
    assert (out / "distillguard.duckdb").exists()
    assert keep.read_text("utf-8") == "mine"  # the demo replaces only its own files
