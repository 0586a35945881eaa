"""Degraded service: what a suspected extractor still gets.

The point is to cut the value of harvested outputs for distillation or model copying while a
legitimate user who was caught by mistake still gets a usable answer: reasoning traces and
log-probabilities are dropped (the richest training signal), output length is capped, several
samples per prompt become one, and prediction probabilities are rounded and jittered while the
top class stays the same. All functions are pure: they take parsed JSON and return a new value.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

__all__ = [
    "REASONING_KEYS",
    "degrade_chunk",
    "degrade_probs",
    "degrade_request",
    "degrade_response",
]

# Fields in which OpenAI-compatible servers return reasoning traces (vLLM, DeepSeek, OpenRouter).
REASONING_KEYS = ("reasoning_content", "reasoning", "reasoning_details", "thinking")
_DROP_PARAMS = ("logprobs", "top_logprobs", "echo", "best_of")


def degrade_request(body: dict[str, Any], max_tokens_cap: int) -> dict[str, Any]:
    """Request side: no log-probabilities, one sample, at most ``max_tokens_cap`` tokens, and
    the lowest reasoning effort."""
    out = {k: v for k, v in body.items() if k not in _DROP_PARAMS}
    key = "max_completion_tokens" if "max_completion_tokens" in out else "max_tokens"
    asked = out.get(key)
    out[key] = asked if isinstance(asked, int) and 0 < asked <= max_tokens_cap else max_tokens_cap
    if "n" in out:
        out["n"] = 1
    if "reasoning_effort" in out:
        out["reasoning_effort"] = "low"
    return out


def _strip_choice(choice: Any) -> Any:
    if not isinstance(choice, dict):
        return choice
    out = {k: v for k, v in choice.items() if k != "logprobs"}
    for part in ("message", "delta"):
        inner = out.get(part)
        if isinstance(inner, dict):
            out[part] = {k: v for k, v in inner.items() if k not in REASONING_KEYS}
    return out


def degrade_response(doc: Any) -> Any:
    """Response side (a whole completion or one streamed chunk): reasoning and log-probabilities
    removed from every choice."""
    if not isinstance(doc, dict) or not isinstance(doc.get("choices"), list):
        return doc
    out = dict(doc)
    out["choices"] = [_strip_choice(c) for c in doc["choices"]]
    return out


degrade_chunk = degrade_response


def degrade_probs(
    probs: Sequence[float], decimals: int, noise: float, rng: random.Random
) -> list[float]:
    """Jitter each probability by up to ``noise``, renormalise and round to ``decimals``, while
    keeping the arg-max class, so a caller still gets the right label but not the confidence
    surface that model-extraction attacks fit against."""
    if not probs:
        return []
    top = max(range(len(probs)), key=probs.__getitem__)
    jittered = [max(0.0, p + rng.uniform(-noise, noise)) for p in probs]
    total = sum(jittered) or 1.0
    out = [round(p / total, decimals) for p in jittered]
    best = max(out)
    if out[top] < best or out.count(best) > 1:
        # Rounding or jitter moved the maximum: give the original class a clear lead again.
        out[top] = round(best + 10.0**-decimals if decimals else best + 1.0, decimals)
    return out
