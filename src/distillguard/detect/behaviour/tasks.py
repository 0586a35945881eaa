"""A light task-category tagger: which kind of capability a prompt asks for.

Capability coverage (how systematically an account sweeps code, maths, reasoning, tool use,
writing, knowledge, …) needs a category per prompt. This tagger uses keyword and shape cues
only (no embeddings, no model), so it is cheap, deterministic and the same in the gateway.
It is deliberately coarse: a prompt may match several categories (all are counted) or none
(``other``). Prefix keywords (``compile*``) match any word starting with them. Known blind
spots: non-English prompts mostly land in ``other``; a capable attacker who phrases every
prompt as small talk will look narrow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["CATEGORIES", "category_entropy", "tag", "tag_many"]

# Keywords per category, matched as whole words (or word prefixes ending in '*') against the
# lower-cased prompt; bigrams as two words in sequence. Word-set lookups keep tagging at a few
# microseconds per prompt, so every sampled prompt can be tagged.
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "code": (
        "python", "javascript", "typescript", "sql", "java", "rust", "golang", "c++", "code",
        "bug", "compile*", "regex", "api", "script", "algorithm*", "implement*", "function",
        "class", "def", "debug*", "refactor*", "html", "css", "bash",
    ),
    "math": (
        "solve", "equation*", "integral*", "derivative*", "probabilit*", "prove", "theorem*",
        "calculate", "percent*", "matrix", "algebra*", "geometry", "arithmetic", "fraction*",
        "how many", "sum of",
    ),
    "reasoning": (
        "step by step", "step-by-step", "reasoning", "reason", "logic*", "puzzle*", "riddle*",
        "deduce", "infer", "chain of", "think carefully", "think through", "explain why",
    ),
    "agentic": (
        "tool", "tools", "function call*", "json schema", "agent*", "browse", "execute",
        "shell", "command line", "api call*", "actions", "plan the", "workflow*",
    ),
    "writing": (
        "essay*", "story", "stories", "poem*", "blog", "email", "rewrite", "paraphrase",
        "summari*", "translate*", "cover letter", "slogan*", "tweet*", "write a", "write an",
        "write me",
    ),
    "knowledge": (
        "who", "when", "where", "which", "history of", "define", "what is", "multiple choice",
        "capital of", "facts about",
    ),
    "analysis": (
        "analy*", "compare", "pros and cons", "evaluate", "assess*", "critique", "rubric",
        "grade the", "grade this", "score the", "score this", "review the", "review this",
    ),
    "safety": (
        "jailbreak*", "system prompt", "dan", "developer mode", "unfiltered",
        "no restrictions", "ignore all", "ignore previous", "ignore the above",
    ),
}  # fmt: skip

CATEGORIES: tuple[str, ...] = (*_KEYWORDS, "other")
_WORD = re.compile(r"[a-z0-9+#-]+")
_CODE_MARK = re.compile(r"```|\bdef \w+\(|[{};]\s*$", re.M)
_MATH_MARK = re.compile(r"\d\s*[-+*/^=]\s*\d")
_SCAN_CHARS = 2000


def _tables() -> tuple[dict[str, int], dict[tuple[str, str], int], tuple[tuple[str, int], ...]]:
    words: dict[str, int] = {}
    pairs: dict[tuple[str, str], int] = {}
    prefixes: list[tuple[str, int]] = []
    for i, (_, keys) in enumerate(_KEYWORDS.items()):
        for key in keys:
            parts = key.replace("-", " ").split() if " " in key else [key]
            if len(parts) >= 2:
                pairs[(parts[0], parts[1].rstrip("*"))] = i
            elif key.endswith("*"):
                prefixes.append((key[:-1], i))
            else:
                words[key] = i
    return words, pairs, tuple(prefixes)


_WORDS, _PAIRS, _PREFIXES = _tables()
_PREFIX_RE = re.compile("|".join(re.escape(p) for p, _ in _PREFIXES))
_PREFIX_OF = dict(_PREFIXES)


def tag(text: str) -> np.ndarray:
    """A 0/1 vector over :data:`CATEGORIES` for one prompt (``other`` when nothing matched).
    Only the first 2,000 characters are read."""
    out = np.zeros(len(CATEGORIES), dtype=np.float64)
    low = text[:_SCAN_CHARS].lower()
    tokens = _WORD.findall(low)
    prev = ""
    for tok in tokens:
        i = _WORDS.get(tok)
        if i is not None:
            out[i] = 1.0
        j = _PAIRS.get((prev, tok))
        if j is not None:
            out[j] = 1.0
        m = _PREFIX_RE.match(tok)
        if m is not None:
            out[_PREFIX_OF[m.group(0)]] = 1.0
        prev = tok
    if _CODE_MARK.search(low):
        out[0] = 1.0
    if _MATH_MARK.search(low):
        out[1] = 1.0
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
