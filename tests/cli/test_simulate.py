"""``distillguard simulate`` end to end."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from distillguard.cli.app import app
from distillguard.errors import ConfigError


def test_simulate_writes_three_files(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--scenario",
            "signup_farm",
            "--seed",
            "3",
            "--out",
            str(out),
            "--accounts",
            "150",
            "--days",
            "0.1",
            "--data-dir",
            str(tmp_path / "none"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "signup_farm" in result.output
    for name in ("events.jsonl.gz", "accounts.jsonl", "labels.jsonl"):
        assert (out / name).stat().st_size > 0


def test_unknown_scenario_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["simulate", "--scenario", "nope", "--out", str(tmp_path / "x")]
    )
    assert isinstance(result.exception, ConfigError)
    assert "unknown scenario 'nope'" in str(result.exception)
    assert "mixed" in str(result.exception)
