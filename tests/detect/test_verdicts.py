"""Result records: wire forms are spec-valid, responses are proportionate."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from distillguard.detect.verdicts import (
    AccountVerdict,
    AuditResult,
    AuditStats,
    ClusterVerdict,
    KnownGood,
    Response,
    cluster_record,
    enforcement_document,
    response_for,
    verdict_record,
)

SPEC_CHECK = Path(__file__).resolve().parents[3] / "shared" / "tools" / "spec_check.py"
T = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _result() -> AuditResult:
    accounts = (
        AccountVerdict("a1", 0.97, True, "C0001", ("reason one",), T, Response.SUSPEND),
        AccountVerdict("a2", 0.3, False, None, (), None, Response.WATCH),
        AccountVerdict("a3", 0.01, False, None, (), None, Response.NONE),
    )
    clusters = (
        ClusterVerdict(
            "C0001", ("a1",), 0.97, "distillation", ("e",), {"payment": ("card",)},
            Response.SUSPEND, flagged=True,
        ),
    )  # fmt: skip
    stats = AuditStats(
        10, 3, 1, 0.5, True, T, T,
        overrides=(KnownGood("a9", None, "alice", "our own eval harness"),),
    )  # fmt: skip
    return AuditResult(accounts, clusters, stats)


def test_response_ladder_is_monotone_and_unflagged_accounts_are_at_most_watched() -> None:
    order = list(Response)
    scores = [0.0, 0.3, 0.5, 0.75, 0.9, 0.99]
    seen = [order.index(response_for(s, s >= 0.5)) for s in scores]
    assert seen == sorted(seen)
    assert response_for(0.49, False) is Response.WATCH
    assert response_for(0.1, False) is Response.NONE
    assert response_for(0.99, True) is Response.SUSPEND


def test_verdict_records_pass_the_spec_checker(tmp_path: Path) -> None:
    if not SPEC_CHECK.exists():
        pytest.skip("shared/tools/spec_check.py not present")
    path = tmp_path / "verdicts.jsonl"
    path.write_text("".join(json.dumps(verdict_record(v)) + "\n" for v in _result().accounts))
    done = subprocess.run(
        [sys.executable, str(SPEC_CHECK), "verdicts", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout
    first = json.loads(path.read_text().splitlines()[0])
    assert list(first) == [
        "account_id", "score", "flagged", "cluster_id", "reasons", "first_flagged_at",
    ]  # fmt: skip
    assert first["first_flagged_at"] == "2026-11-23T12:00:00.000Z"


def test_enforcement_document_lists_actionable_accounts_flagged_clusters_and_overrides() -> None:
    doc = enforcement_document(_result())
    assert [a["account_id"] for a in doc["accounts"]] == ["a1", "a2"]
    assert doc["clusters"][0]["members"] == ["a1"]
    assert doc["known_good"][0]["who"] == "alice"
    json.dumps(doc)
    rec = cluster_record(_result().clusters[0])
    assert rec["shared"] == {"payment": ["card"]}
