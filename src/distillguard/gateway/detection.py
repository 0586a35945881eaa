"""The per-request part of the detection engine, as the gateway calls it.

On the request path: the content model (per-prompt signals, C's
``detect.content.ContentModel``), loaded once, explicitly, by :func:`load_detection`. Off it, in
the online scorer's own process (:mod:`distillguard.gateway.online_worker`): prompt-template
fingerprints (``detect.content.templates``) and the per-account behaviour score (A's
``detect.online``); here we only check that they can be imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import structlog

__all__ = ["ContentScorer", "Detection", "load_detection"]

log = structlog.get_logger(__name__)


class ContentScorer(Protocol):
    def score_one(self, text: str) -> Mapping[str, float]: ...


class Detection:
    """Per-request signals; ``online`` and ``templates`` say whether the behaviour scorer and
    the template fingerprints are installed (they run in the online scorer's process)."""

    def __init__(
        self, content: ContentScorer | None = None, online: bool = False, templates: bool = False
    ) -> None:
        self.content = content
        self.online = online
        self.templates = templates

    @property
    def pieces(self) -> list[str]:
        """Which parts are loaded, for /healthz and the start-up log."""
        parts = [("content", self.content is not None), ("online", self.online)]
        return [n for n, loaded in [*parts, ("templates", self.templates)] if loaded]

    def content_scores(self, text: str | None) -> Mapping[str, float] | None:
        if self.content is None or not text:
            return None
        return self.content.score_one(text)


def load_detection(enabled: bool = True) -> Detection:
    """Load the shipped content model and template fingerprints once, and check that the online
    scorer can be imported. A piece that is not installed is left out and logged, so that the
    gateway still enforces identity, limits and the enforcement list; ``enabled=False`` loads
    nothing."""
    if not enabled:
        return Detection()
    content: ContentScorer | None = None
    online = templates = False
    try:
        from distillguard.detect.content import ContentModel

        content = ContentModel.load()
    except ImportError as exc:
        log.warning("gateway.detection.content_unavailable", error=str(exc))
    try:
        from distillguard.detect.content import templates as _templates  # noqa: F401

        templates = True
    except ImportError as exc:
        log.warning("gateway.detection.templates_unavailable", error=str(exc))
    try:
        from distillguard.detect import online as _online  # noqa: F401

        online = True
    except ImportError as exc:
        log.warning("gateway.detection.online_unavailable", error=str(exc))
    return Detection(content, online, templates)
