"""The README's identity section documents every identity setting and CLI command."""

from __future__ import annotations

from pathlib import Path

import typer.main

from distillguard.cli.identity import accounts_app, keys_app, mfa_app
from distillguard.settings import IdentitySettings

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("<!-- section:identity -->")[1].split("<!-- /section:identity -->")[0]


def test_every_setting_documented() -> None:
    section = _section()
    missing = [name for name in IdentitySettings.model_fields if f"`{name}`" not in section]
    assert missing == []


def test_every_command_documented() -> None:
    section = _section()
    for app in (accounts_app, keys_app, mfa_app):
        group = typer.main.get_group(app)
        for name in group.commands:
            assert name in section, f"command {name!r} is not in the README identity section"
