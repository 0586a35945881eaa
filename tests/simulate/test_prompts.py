"""Prompt pools: shared data when present, a varied built-in generator when not."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from distillguard.simulate import scenario, simulate
from distillguard.simulate.prompts import load_library
from tests.conftest import SHARED_DATA
from tests.simulate.giveaways import events_sql


def test_builtin_pools_are_varied(tmp_path: Path) -> None:
    lib = load_library(tmp_path, "dev", seed=1)  # an empty directory: no data
    assert lib.source == "builtin"
    for pool in (lib.chat, lib.search, lib.benchmark, lib.jailbreak, lib.injection):
        texts = pool.to_pylist()
        assert len(set(texts)) > 0.5 * len(texts) and len(set(texts)) > 100


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent")
def test_shared_pools_load_and_respect_the_split() -> None:
    lib = load_library(SHARED_DATA, "dev", seed=1)
    assert lib.source == "shared"
    assert len(lib.benchmark) > 10_000
    dev_only = load_library(SHARED_DATA, "dev", seed=1).attacks.to_pylist()
    both = load_library(SHARED_DATA, "all", seed=1).attacks.to_pylist()
    assert len(both) > 3 * len(dev_only)


def test_simulation_runs_without_shared_data(tmp_path: Path) -> None:
    empty = tmp_path / "no-data"
    empty.mkdir()
    config = scenario("mixed", seed=2, accounts=300, days=0.2, data_dir=empty)
    s = simulate(config, tmp_path / "out")
    assert s.prompt_source == "builtin"
    con = duckdb.connect()
    texts = [
        r[0]
        for r in con.execute(
            "SELECT m.content FROM (SELECT unnest(messages) m FROM "
            f"{events_sql(s.events_path)} WHERE messages IS NOT NULL) "
            "WHERE m.role = 'user'"
        ).fetchall()
    ]
    assert len(texts) > 2000
    assert len(set(texts)) > 0.5 * len(texts)
