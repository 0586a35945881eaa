"""The reusable small world for other stages' tests."""

from __future__ import annotations

from distillguard.simulate.fixtures import WorldPaths


def test_small_world_paths_exist(mixed_world: WorldPaths) -> None:
    for path in (mixed_world.events, mixed_world.accounts, mixed_world.labels):
        assert path.is_file() and path.stat().st_size > 0
    assert mixed_world.summary.n_malicious > 0
