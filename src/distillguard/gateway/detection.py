"""The online part of the detection engine, as the gateway calls it per request.

Three pieces, each optional: the content model (per-prompt signals, C's
``detect.content.ContentModel``), prompt-template fingerprints (``detect.content.templates``)
and the per-account incremental behaviour scorer (A's ``detect.online``). They are loaded once,
explicitly, by :func:`load_detection`; the gateway holds a :class:`Detection` and never imports a
detector on the request path.

The behaviour score of a request is the one computed after the account's previous request:
the state is updated after the response has gone out (off the client's latency) with the
completion tokens known, so the gateway runs the same maths as the batch features, one request
behind. Content signals act on the current request.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import structlog

__all__ = ["ContentScorer", "Detection", "OnlineScorer", "OnlineView", "load_detection"]

log = structlog.get_logger(__name__)


class ContentScorer(Protocol):
    def score_one(self, text: str) -> Mapping[str, float]: ...


class OnlineScorer(Protocol):
    """A's ``detect.online`` module, seen through the four calls the gateway makes."""

    def initial(self) -> Any: ...

    def update(self, state: Any, obs: Mapping[str, Any]) -> tuple[Any, float, tuple[str, ...]]: ...

    def dumps(self, state: Any) -> bytes: ...

    def loads(self, raw: bytes) -> Any: ...


@dataclass(frozen=True, slots=True)
class OnlineView:
    """The last behaviour score of an account, read cheaply from its stored blob."""

    score: float
    reasons: tuple[str, ...]


_NO_VIEW = OnlineView(0.0, ())
_HEAD = struct.Struct(">I")


class Detection:
    """Per-request detection: ``content`` before the upstream call, ``observe`` after it."""

    def __init__(
        self,
        content: ContentScorer | None = None,
        template_id: Callable[[str], str] | None = None,
        online: OnlineScorer | None = None,
    ) -> None:
        self.content = content
        self.template_id = template_id
        self.online = online

    def content_scores(self, text: str | None) -> Mapping[str, float] | None:
        if self.content is None or not text:
            return None
        return self.content.score_one(text)

    def template(self, text: str | None) -> str | None:
        if self.template_id is None or not text:
            return None
        return self.template_id(text)

    @staticmethod
    def view(blob: bytes | None) -> OnlineView:
        """The score stored with the state; decodes only the small header, not the state."""
        if not blob:
            return _NO_VIEW
        (n,) = _HEAD.unpack_from(blob)
        meta = orjson.loads(blob[4 : 4 + n])
        return OnlineView(float(meta[0]), tuple(meta[1]))

    def observe(self, blob: bytes | None, obs: Mapping[str, Any]) -> bytes | None:
        """Fold one finished request into the account's state; returns the new blob."""
        if self.online is None:
            return None
        state = self.online.loads(blob[4 + _HEAD.unpack_from(blob)[0] :]) if blob else None
        if state is None:
            state = self.online.initial()
        state, score, reasons = self.online.update(state, obs)
        meta = orjson.dumps([round(score, 4), list(reasons)])
        return _HEAD.pack(len(meta)) + meta + self.online.dumps(state)


class _AOnline:
    """Adapter over ``distillguard.detect.online`` (imported by :func:`load_detection`)."""

    def __init__(self, module: Any) -> None:
        self.m = module

    def initial(self) -> Any:
        return self.m.initial_state()

    def update(self, state: Any, obs: Mapping[str, Any]) -> tuple[Any, float, tuple[str, ...]]:
        new, score = self.m.update(state, self.m.Observation(**obs))
        return new, float(score.score), tuple(score.reasons)

    def dumps(self, state: Any) -> bytes:
        return bytes(state.to_bytes())

    def loads(self, raw: bytes) -> Any:
        return self.m.OnlineState.from_bytes(raw)


def load_detection(enabled: bool = True) -> Detection:
    """Load the shipped content model, template fingerprints and online scorer once.

    A piece whose module is not installed is left out and logged, so that the gateway still
    enforces identity, limits and the enforcement list; ``enabled=False`` loads nothing.
    """
    if not enabled:
        return Detection()
    content: ContentScorer | None = None
    template_fn: Callable[[str], str] | None = None
    online: OnlineScorer | None = None
    try:
        from distillguard.detect.content import ContentModel

        content = ContentModel.load()
    except ImportError as exc:
        log.warning("gateway.detection.content_unavailable", error=str(exc))
    try:
        from distillguard.detect.content import templates

        template_fn = templates.template_id
    except ImportError as exc:
        log.warning("gateway.detection.templates_unavailable", error=str(exc))
    try:
        from distillguard.detect import online as online_module

        online = _AOnline(online_module)
    except ImportError as exc:
        log.warning("gateway.detection.online_unavailable", error=str(exc))
    return Detection(content, template_fn, online)
