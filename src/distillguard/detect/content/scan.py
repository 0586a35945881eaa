"""Scoring rows of arbitrary JSON records (the core of ``distillguard scan``), without I/O.

A row's text is its ``text`` field when present, otherwise the spec event's content: its
``messages`` (every non-assistant message, joined by newlines, as
:meth:`distillguard.events.records.RequestEvent.text` does) or its ``prompt``. Rows with no text
(e.g. ``predict`` events, or providers that keep no prompts) are passed through with
``scan_status = "no_text"`` and no scores: never dropped, never scored as zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from distillguard.detect.content.scorer import HEADS, ContentModel

__all__ = ["SCAN_FIELDS", "ScanStatus", "row_text", "score_rows"]


class ScanStatus(StrEnum):
    """Value of the ``scan_status`` field added to every output row."""

    OK = "ok"
    NO_TEXT = "no_text"


SCAN_FIELDS: tuple[str, ...] = (*HEADS[:-1], "score", "scan_status")
"""Fields ``score_rows`` adds to a row (``score`` is the model's ``overall`` head); an input
field with one of these names is overwritten."""


def _content_text(content: object) -> str:
    # The spec's content is a string; OpenAI-style logs also carry a list of typed parts, of
    # which the text parts are read (images and audio are not content this model scores).
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""


def row_text(row: Mapping[str, Any]) -> str | None:
    """The text to score for one row, or ``None`` when it carries none."""
    text = row.get("text")
    if isinstance(text, str) and text.strip():
        return text
    messages = row.get("messages")
    if isinstance(messages, list):
        parts = [
            _content_text(m.get("content"))
            for m in messages
            if isinstance(m, Mapping) and m.get("role") != "assistant"
        ]
        joined = "\n".join(p for p in parts if p)
        if joined.strip():
            return joined
    prompt = row.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        return prompt
    return None


def score_rows(
    rows: Sequence[Mapping[str, Any]], model: ContentModel, digits: int = 6
) -> list[dict[str, Any]]:
    """Every row, in order, with the fields of :data:`SCAN_FIELDS` added."""
    texts: list[str] = []
    where: list[int] = []
    for i, row in enumerate(rows):
        text = row_text(row)
        if text is not None:
            texts.append(text)
            where.append(i)
    scores = model.score(texts).as_dict()
    out = [{**row, "scan_status": ScanStatus.NO_TEXT.value} for row in rows]
    for j, i in enumerate(where):
        scored = out[i]
        for name in HEADS[:-1]:
            scored[name] = round(float(scores[name][j]), digits)
        scored["score"] = round(float(scores["overall"][j]), digits)
        # re-inserted so that it stays the last key, after the scores
        del scored["scan_status"]
        scored["scan_status"] = ScanStatus.OK.value
    return out
