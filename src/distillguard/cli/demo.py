"""``distillguard demo``: the whole story on embedded defaults."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", help="Where to write the demo's files."),
    seed: int = typer.Option(7, "--seed", help="Simulator seed."),
) -> None:
    """Simulate a day with a hidden campaign, audit it, print findings, write the report."""
    typer.echo(f"demo: output in {out} (seed {seed})")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
