"""The Typer application. Each command lives in its own module and registers itself here."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from distillguard.errors import DistillguardError

__all__ = ["app", "main"]

app = typer.Typer(
    name="distillguard",
    help="Find, stop and prove model-theft campaigns against AI-model APIs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", help="Show full tracebacks instead of one-line errors."
    ),
) -> None:
    if debug:
        os.environ["DISTILLGUARD_DEBUG"] = "1"


# Command modules register on import; keep this list sorted by data-flow order.
from distillguard.cli import audit as _audit  # noqa: E402
from distillguard.cli import demo as _demo  # noqa: E402
from distillguard.cli import identity as _identity  # noqa: E402
from distillguard.cli import ingest as _ingest  # noqa: E402
from distillguard.cli import scan as _scan  # noqa: E402
from distillguard.cli import serve as _serve  # noqa: E402
from distillguard.cli import simulate as _simulate  # noqa: E402

for _module in (_demo, _simulate, _ingest, _scan, _audit, _serve, _identity):
    _module.register(app)


def main() -> None:
    """Console-script entry point: one-line errors for expected failures, tracebacks on --debug."""
    try:
        app()
    except DistillguardError as exc:
        if os.environ.get("DISTILLGUARD_DEBUG") == "1" or "--debug" in sys.argv:
            raise
        Console(stderr=True, soft_wrap=True).print(
            f"error: {exc}", style="bold red", highlight=False, markup=False
        )
        raise SystemExit(2) from None
