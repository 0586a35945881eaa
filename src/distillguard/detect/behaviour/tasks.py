"""A light task-category tagger: which kind of capability a prompt asks for.

Capability coverage (how systematically an account sweeps code, maths, reasoning, tool use,
writing, knowledge, …) needs a category per prompt. This tagger uses keyword and shape cues
only (no embeddings, no model), so it is cheap, deterministic and the same in the gateway.
It is deliberately coarse: a prompt may match several categories (all are counted) or none
(``other``). Known blind spots: non-English prompts mostly land in ``other``; a capable
attacker who phrases every prompt as small talk will look narrow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["CATEGORIES", "category_entropy", "tag", "tag_many"]

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "code",
        re.compile(
            r"```|\bdef \w+\(|\bclass \w+|\bfunction\b|\bpython\b|\bjavascript\b|\bsql\b|"
            r"\bjava\b|\brust\b|c\+\+|\bcode\b|\bbug\b|\bcompile|\bregex|\bapi\b|\bscript\b|"
            r"\balgorithm|\bimplement",
            re.I,
        ),
    ),
    (
        "math",
        re.compile(
            r"\d+\s*[-+*/^=]\s*\d+|\bsolve\b|\bequation|\bintegral|\bderivative|\bprobabilit|"
            r"\bprove\b|\btheorem|\bcalculate|\bhow many\b|\bpercent|\bsum of\b|\bmatrix",
            re.I,
        ),
    ),
    (
        "reasoning",
        re.compile(
            r"step[- ]by[- ]step|\breason(ing)?\b|\bexplain why\b|\blogic|\bpuzzle|\briddle|"
            r"\bthink (carefully|through)|\bchain of thought|\bdeduce|\binfer\b",
            re.I,
        ),
    ),
    (
        "agentic",
        re.compile(
            r"\btool\b|\bfunction call|\bcall the\b|\bjson schema|\bagent\b|\bbrowse|"
            r"\bplan (the|a|your)\b|\bexecute\b|\bshell\b|\bcommand line|\bapi call|\bactions?:",
            re.I,
        ),
    ),
    (
        "writing",
        re.compile(
            r"\bwrite (a|an|me|the)\b|\bessay|\bstory|\bpoem|\bblog|\bemail\b|\brewrite|"
            r"\bparaphrase|\bsummari[sz]e|\btranslate|\bcover letter|\bslogan|\btweet",
            re.I,
        ),
    ),
    (
        "knowledge",
        re.compile(
            r"^(who|what|when|where|which)\b|\bhistory of\b|\bdefine\b|\bwhat is\b|"
            r"\bmultiple choice|\bcapital of\b|\bfacts? about",
            re.I | re.M,
        ),
    ),
    (
        "analysis",
        re.compile(
            r"\banaly[sz]e|\bcompare\b|\bpros and cons|\bevaluate\b|\bassess|\bcritique|"
            r"\brubric|\bgrade (the|this)|\bscore (the|this)|\breview (the|this)",
            re.I,
        ),
    ),
    (
        "safety",
        re.compile(
            r"\bignore (all|previous|the above)|\bjailbreak|\bsystem prompt|\bDAN\b|"
            r"\bdeveloper mode|\bunfiltered|\bno restrictions",
            re.I,
        ),
    ),
)

CATEGORIES: tuple[str, ...] = (*(name for name, _ in _PATTERNS), "other")


def tag(text: str) -> np.ndarray:
    """A 0/1 vector over :data:`CATEGORIES` for one prompt (``other`` when nothing matched)."""
    out = np.zeros(len(CATEGORIES), dtype=np.float64)
    sample = text[:4000]
    for i, (_, pattern) in enumerate(_PATTERNS):
        if pattern.search(sample):
            out[i] = 1.0
    if not out.any():
        out[-1] = 1.0
    return out


def tag_many(texts: Sequence[str]) -> np.ndarray:
    """``tag`` for many prompts: shape (len(texts), len(CATEGORIES))."""
    if not texts:
        return np.zeros((0, len(CATEGORIES)))
    return np.vstack([tag(t) for t in texts])


def category_entropy(counts: np.ndarray) -> float:
    """Normalised Shannon entropy of a category histogram, in [0, 1]: 0 = one category,
    1 = even spread over all of them. ``other`` is left out: it says nothing about sweeping."""
    c = np.asarray(counts, dtype=np.float64)[: len(CATEGORIES) - 1]
    total = c.sum()
    if total <= 0:
        return 0.0
    p = c[c > 0] / total
    return float(-(p * np.log(p)).sum() / np.log(len(c)))
