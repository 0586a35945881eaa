"""The foreign-traffic generator writes spec-valid files, deterministically, from the right
prompt splits."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from benchmarks import foreign

SMALL = (
    lambda w: foreign.everyday(w, 12),
    foreign.university_labs,
    foreign.tor_vpn,
    foreign.red_team_vendor,
    foreign.non_english,
    foreign.prediction_customers,
    foreign.fingerprint_distillation,
    foreign.slow_jailbreak,
    foreign.slow_predict_extraction,
)


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    out = tmp_path_factory.mktemp("foreign") / "w"
    foreign.generate(5, out, shared_data, SMALL)
    return out


def _events(world: Path) -> list[dict[str, object]]:
    with gzip.open(world / "events.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_files_pass_the_spec_checker(small_world: Path) -> None:
    if not foreign.SPEC_CHECK.exists():
        pytest.skip("shared/tools/spec_check.py is not present")
    assert list(foreign.spec_violations(small_world)) == []


def test_every_event_belongs_to_a_labelled_account_created_before_it(small_world: Path) -> None:
    created = {}
    for line in (small_world / "accounts.jsonl").read_text().splitlines():
        rec = json.loads(line)
        created[rec["account_id"]] = rec["created_at"]
    labels = [json.loads(x) for x in (small_world / "labels.jsonl").read_text().splitlines()]
    assert {r["account_id"] for r in labels} == set(created)
    assert {r["label"] for r in labels} == {"benign", "malicious"}
    for ev in _events(small_world):
        assert ev["account_id"] in created
        assert str(ev["ts"]) >= created[str(ev["account_id"])]


def test_same_seed_same_bytes(small_world: Path, shared_data: Path, tmp_path: Path) -> None:
    foreign.generate(5, tmp_path, shared_data, SMALL)
    for name in ("events.jsonl.gz", "accounts.jsonl", "labels.jsonl"):
        a = (small_world / name).read_bytes()
        b = (tmp_path / name).read_bytes()
        if name.endswith(".gz"):
            a, b = gzip.decompress(a), gzip.decompress(b)
        assert a == b, name


def test_benign_everyday_text_stays_out_of_the_training_split(
    small_world: Path, shared_data: Path
) -> None:
    with (shared_data / "prompts" / "train.jsonl").open(encoding="utf-8") as f:
        train = {json.loads(line)["text"] for line in f}
    kinds = {
        r["account_id"]: r["kind"]
        for r in map(json.loads, (small_world / "labels.jsonl").read_text().splitlines())
    }
    users = [
        m["content"]
        for ev in _events(small_world)
        if kinds[str(ev["account_id"])] in ("everyday", "tor_vpn", "non_english")
        for m in ev.get("messages", [])  # type: ignore[attr-defined]
        if m["role"] == "user"
    ]
    assert users
    assert not [u for u in users if u in train]


def test_markdown_counts_accounts_surfaced_in_clusters_of_concern() -> None:
    run = {
        "seed": 7,
        "n_events_generated": 100,
        "n_accounts": 30,
        "fpr_by_kind": {"everyday": {"n": 20, "fpr": 0.05}},
        "deployment_fpr_by_kind": {"everyday": {"n": 20, "fpr": 0.1}},
        "in_cluster_of_concern": {"everyday": 2, "fp_distill-1": 6},
        "launch_switchers": {"n": 10, "flagged": 0, "ever": 1},
        "campaign_recall": {"fp_distill-1": 0.1},
        "served_before_flag": {"fp_distill-1": 0.95},
        "first_flag_paths": {"fp_distill-1": {"audit": 1, "never": 9}},
        "precision": 1.0,
    }
    md = foreign.markdown([run], "python -m benchmarks.foreign --seeds 7")
    assert "| everyday | 20 | 1 | 2 | 2 |" in md
    assert "| **all benign** | 20 | 1 (5.00%) | 2 (10.00%) | 2 (10.00%) |" in md
    assert "| 7 | fp_distill-1 | 0.100 | 0.600 | 95.0% | 0 / 0 / 1 / 0 / 9 |" in md
