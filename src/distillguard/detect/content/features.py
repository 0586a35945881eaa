"""Hashed character and word n-grams, computed with numpy alone.

The training script (``scripts/train_content_model.py``) and the runtime scorer call the same
functions, so a shipped model is just arrays of weights: no pickled scikit-learn objects, which
break across versions and execute code on load.

Every n-gram of a text is a span of its code points. One cumulative sum gives a polynomial hash
of any span in O(1) (see :func:`_span_hashes`), so char 3/4/5-grams, words and word bigrams all
come out of a handful of vectorised numpy operations, with no Python loop over characters.
Hashes are deterministic across processes and platforms (no use of Python's salted ``hash``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "HASH_BITS",
    "MAX_CHARS",
    "HashedText",
    "hash_text",
    "normalise",
]

HASH_BITS = 18
"""log2 of the hashed feature space (262,144 buckets)."""

MAX_CHARS = 1536
"""Texts longer than this are cut to their head and tail before hashing, which bounds the
per-request cost. The tail is kept because adversarial suffixes and hidden instructions often
sit at the end of a long document."""

_TAIL_CHARS = 512
_M = MAX_CHARS + 2  # highest code-point position after padding
_BASE = np.uint64(1_000_003)
_BASE_INV = np.uint64(pow(1_000_003, -1, 2**64))
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads the top bits evenly
_SHIFT = np.uint64(64 - HASH_BITS)
_CHAR_NS = (3, 4, 5)
_SALT_WORD = np.uint64(0x5BD1E995)
_SALT_BIGRAM = np.uint64(0x27D4EB2F165667C5)
_SALT_CHAR = np.uint64(0x165667B19E3779F9)
_ONE = np.uint64(1)

# Powers of the base and of its inverse, modulo 2**64 (uint64 arithmetic wraps).
_POW = np.empty(MAX_CHARS + 4, dtype=np.uint64)
_IPOW = np.empty(MAX_CHARS + 4, dtype=np.uint64)
_POW[0] = _IPOW[0] = 1
with np.errstate(over="ignore"):
    for _k in range(1, MAX_CHARS + 4):
        _POW[_k] = _POW[_k - 1] * _BASE
        _IPOW[_k] = _IPOW[_k - 1] * _BASE_INV

# Which code points count as word characters: ASCII letters/digits/apostrophe, and every
# non-ASCII code point (letters of other scripts, but also emoji; good enough for tokens).
_WORDISH = np.zeros(129, dtype=bool)
for _c in "abcdefghijklmnopqrstuvwxyz0123456789'_":
    _WORDISH[ord(_c)] = True
_WORDISH[128] = True


def normalise(text: str) -> str:
    """NFKC, lower case, whitespace runs collapsed to one space, cut to ``MAX_CHARS``.

    NFKC folds full-width and styled letters (a common filter-evasion trick) to plain ones.
    """
    folded = " ".join(unicodedata.normalize("NFKC", text).lower().replace("’", "'").split())
    if len(folded) > MAX_CHARS:
        folded = folded[: MAX_CHARS - _TAIL_CHARS - 1] + " " + folded[-_TAIL_CHARS:]
    return folded


@dataclass(frozen=True, slots=True)
class HashedText:
    """The hashed n-grams of one normalised text.

    ``char_idx`` and ``word_idx`` are bucket indices (with repeats; one per occurrence),
    ``word_hash`` the full 64-bit hash of each word (for dictionary look-ups), ``codes`` the
    code points and ``word_starts``/``word_ends`` the word spans, all for the structural
    features.
    """

    text: str
    codes: npt.NDArray[np.uint32]
    char_idx: npt.NDArray[np.int64]
    word_idx: npt.NDArray[np.int64]
    word_hash: npt.NDArray[np.uint64]
    word_starts: npt.NDArray[np.int64]
    word_ends: npt.NDArray[np.int64]


_ARANGE = np.arange(MAX_CHARS + 4, dtype=np.int64)


def _span_hashes(
    prefix: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint64]:
    """Polynomial hash of ``codes[a:b]`` for each (a, b), independent of position.

    ``prefix[i] = sum_{j<i} c_j * B**(M-j)`` so ``prefix[b] - prefix[a]`` times
    ``B**-(M-b+1)`` is ``sum_{a<=j<b} c_j * B**(b-1-j)``: the usual rolling hash. Array
    arithmetic on uint64 wraps modulo 2**64 without warnings, which is what we want.
    """
    return (prefix[ends] - prefix[starts]) * _IPOW[_M - ends + 1]


def hash_text(text: str) -> HashedText:
    """Normalise ``text`` and hash its char 3/4/5-grams, words and word bigrams."""
    norm = normalise(text)
    # padded so that char grams see the word edges at the start and end of the text
    codes = np.frombuffer(f" {norm} ".encode("utf-32-le"), dtype=np.uint32)
    n = codes.shape[0]
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum((codes.astype(np.uint64) + _ONE) * _POW[_M - _ARANGE[:n]], out=prefix[1:])

    wordish = _WORDISH[np.minimum(codes, 128)]
    edges = np.diff(wordish.view(np.int8))
    # codes are padded with spaces, so every word starts after index 0 and ends before n
    w_starts = np.flatnonzero(edges == 1) + 1
    w_ends = np.flatnonzero(edges == -1) + 1
    n_words = w_starts.shape[0]
    char_starts = [_ARANGE[: n - k + 1] for k in _CHAR_NS if n >= k]
    starts = np.concatenate([*char_starts, w_starts, w_starts[:-1]])
    ends = np.concatenate(
        [*(cs + k for cs, k in zip(char_starts, _CHAR_NS, strict=False)), w_ends, w_ends[1:]]
    )
    h = _span_hashes(prefix, starts, ends)
    n_char = starts.shape[0] - n_words - max(n_words - 1, 0)
    salts = np.empty_like(h)
    salts[:n_char] = _SALT_CHAR
    salts[n_char : n_char + n_words] = _SALT_WORD
    salts[n_char + n_words :] = _SALT_BIGRAM
    idx = (((h ^ salts) * _MIX) >> _SHIFT).astype(np.int64)
    return HashedText(
        text=norm,
        codes=codes,
        char_idx=idx[:n_char],
        word_idx=idx[n_char:],
        word_hash=h[n_char : n_char + n_words],
        word_starts=w_starts,
        word_ends=w_ends,
    )
