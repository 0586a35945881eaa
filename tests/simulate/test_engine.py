"""simulate(): deterministic bytes, spec-valid files, memory bounded by windows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from distillguard.simulate import scenario, simulate
from distillguard.simulate.fixtures import WorldPaths
from tests.conftest import REPO

SPEC_CHECK = REPO.parent / "shared" / "tools" / "spec_check.py"


def _tiny(tmp: Path, seed: int, fmt: str = "jsonl.gz") -> list[bytes]:
    config = scenario("mixed", seed=seed, accounts=200, days=0.1, events_format=fmt)
    s = simulate(config, tmp)
    return [p.read_bytes() for p in (s.events_path, s.accounts_path, s.labels_path)]


@pytest.mark.parametrize("fmt", ["jsonl.gz", "parquet"])
def test_same_seed_same_bytes(tmp_path: Path, fmt: str) -> None:
    first = _tiny(tmp_path / "a", 5, fmt)
    second = _tiny(tmp_path / "b", 5, fmt)
    assert first == second
    assert len(first[0]) > 1000


def test_other_seed_other_bytes(tmp_path: Path) -> None:
    assert _tiny(tmp_path / "a", 5)[0] != _tiny(tmp_path / "b", 6)[0]


@pytest.mark.skipif(not SPEC_CHECK.is_file(), reason="shared spec checker absent")
@pytest.mark.parametrize("kind", ["events", "accounts", "labels"])
def test_files_pass_the_spec_checker(mixed_world: WorldPaths, kind: str) -> None:
    path = {
        "events": mixed_world.events,
        "accounts": mixed_world.accounts,
        "labels": mixed_world.labels,
    }[kind]
    done = subprocess.run(
        [sys.executable, str(SPEC_CHECK), kind, str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout


def test_events_are_time_ordered_and_counted(world_db) -> None:  # type: ignore[no-untyped-def]
    ts = [r[0] for r in world_db.execute("SELECT ts FROM ev").fetchall()]
    assert ts == sorted(ts)
    n = world_db.execute("SELECT count(*) FROM ev").fetchone()[0]
    assert n > 10_000


def test_summary_matches_files(mixed_world: WorldPaths, world_db) -> None:  # type: ignore[no-untyped-def]
    s = mixed_world.summary
    assert s.n_events == world_db.execute("SELECT count(*) FROM ev").fetchone()[0]
    assert s.n_accounts == world_db.execute("SELECT count(*) FROM acc").fetchone()[0]
    per_kind = dict(
        world_db.execute(
            "SELECT kind, count(*) FROM ev JOIN lab USING (account_id) GROUP BY kind"
        ).fetchall()
    )
    assert per_kind == {k: v for k, v in s.events_by_kind.items() if v}


def test_window_size_does_not_change_the_accounts(tmp_path: Path) -> None:
    base = scenario("mixed", seed=9, accounts=200, days=0.1)
    a = simulate(base, tmp_path / "a")
    b = simulate(base.model_copy(update={"chunk_minutes": 5.0}), tmp_path / "b")
    assert a.accounts_path.read_bytes() == b.accounts_path.read_bytes()
    assert abs(a.n_events - b.n_events) < 0.2 * a.n_events
