"""``distillguard serve``: run the inline gateway in front of an OpenAI-compatible upstream."""

from __future__ import annotations

from pathlib import Path

import typer

from distillguard.cli.logging import configure_logging
from distillguard.settings import load_settings

__all__ = ["register", "serve"]


def serve(
    upstream: str | None = typer.Option(
        None, "--upstream", help="Base URL of the protected API, e.g. http://127.0.0.1:8000/v1."
    ),
    port: int | None = typer.Option(None, "--port", help="Port to listen on (default 8080)."),
    host: str | None = typer.Option(None, "--host", help="Address to bind (default 127.0.0.1)."),
    config: Path | None = typer.Option(
        None, "--config", help="Settings file (TOML); its [gateway.policy] is re-read on reload."
    ),
    enforcement: Path | None = typer.Option(
        None, "--enforcement", help="The audit's enforcement.json."
    ),
    events: Path | None = typer.Option(
        None, "--events", help="Event log to append to (.jsonl or .jsonl.gz)."
    ),
    redis_url: str | None = typer.Option(
        None, "--redis", help="Share limits and state through Redis, e.g. redis://127.0.0.1:6379/0."
    ),
    json_logs: bool = typer.Option(False, "--json-logs", help="Log JSON lines to stderr."),
) -> None:
    """Proxy /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models and /v1/predict,
    applying API keys, tier limits, online detection and the audit's enforcement list."""
    from distillguard.gateway.server import serve as run

    configure_logging(json=json_logs)
    settings = load_settings(
        config,
        {
            "gateway": {
                "upstream_url": upstream,
                "port": port,
                "host": host,
                "enforcement_path": enforcement,
                "event_log": events,
                "redis_url": redis_url,
            }
        },
    )
    run(settings, config_file=config)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
