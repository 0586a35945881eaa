from __future__ import annotations

from pathlib import Path

import pytest

from distillguard.errors import ConfigError
from distillguard.settings import load_settings


def test_precedence_file_env_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "dg.toml"
    cfg.write_text('[store]\ndb_path = "from-file.duckdb"\n[gateway]\nport = 9000\n')
    assert load_settings(cfg).store.db_path == Path("from-file.duckdb")
    monkeypatch.setenv("DISTILLGUARD_STORE__DB_PATH", "from-env.duckdb")
    s = load_settings(cfg)
    assert s.store.db_path == Path("from-env.duckdb")
    assert s.gateway.port == 9000
    s = load_settings(cfg, {"store": {"db_path": Path("flag.duckdb")}, "gateway": {"port": None}})
    assert s.store.db_path == Path("flag.duckdb")
    assert s.gateway.port == 9000


def test_bad_values_name_the_field(tmp_path: Path) -> None:
    cfg = tmp_path / "dg.toml"
    cfg.write_text("[gateway]\nport = 99999\n")
    with pytest.raises(ConfigError, match=r"gateway\.port"):
        load_settings(cfg)


def test_missing_and_malformed_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[store\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
