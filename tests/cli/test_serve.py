"""``distillguard serve``: flags reach the settings, bad input is a one-line error.

The running server (SIGTERM, Redis, real keys) is tested in tests/gateway/test_server.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from distillguard.cli.app import app


def test_help_lists_the_flags() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for flag in ("--upstream", "--port", "--config", "--enforcement", "--events", "--redis"):
        assert flag in result.output


def test_flags_override_the_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(settings: Any, *, config_file: Path | None = None) -> None:
        seen["settings"], seen["config"] = settings, config_file

    monkeypatch.setattr("distillguard.gateway.server.serve", fake_run)
    cfg = tmp_path / "dg.toml"
    cfg.write_text('[gateway]\nport = 9000\nupstream_url = "http://127.0.0.1:1/v1"\n')
    result = CliRunner().invoke(
        app, ["serve", "--config", str(cfg), "--upstream", "http://10.0.0.2:8000/v1"]
    )
    assert result.exit_code == 0, result.output
    g = seen["settings"].gateway
    assert (g.port, g.upstream_url) == (9000, "http://10.0.0.2:8000/v1")
    assert seen["config"] == cfg


def test_bad_upstream_is_a_one_line_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "distillguard.cli", "serve", "--upstream", "ftp://example/v1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "gateway.upstream_url 'ftp://example/v1': expected http://" in proc.stderr
    assert "Traceback" not in proc.stderr
