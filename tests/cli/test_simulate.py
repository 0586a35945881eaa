"""``distillguard simulate`` end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from distillguard.cli.app import app


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


def test_unknown_scenario_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "distillguard.cli",
            "simulate",
            "--scenario",
            "nope",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "unknown scenario 'nope'" in done.stderr
    assert "Traceback" not in done.stderr
