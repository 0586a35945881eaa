"""Hashed character and word n-grams, computed with numpy alone, for a whole batch at once.

The training script (``scripts/train_content_model.py``) and the runtime scorer call the same
functions, so a shipped model is just arrays of weights: no pickled scikit-learn objects, which
break across versions and execute code on load.

Every n-gram of a text is a span of its code points. One cumulative sum gives a polynomial hash
of any span in O(1) (see :func:`_span_hashes`), so char 3/4/5-grams, words and word bigrams all
come out of a handful of vectorised numpy operations, with no Python loop over characters.
Texts of a batch are concatenated (each padded with a space on both sides) and hashed in one
pass: the per-call numpy overhead, which dominates short prompts, is paid once per batch rather
than once per prompt. Hashes are deterministic across processes and platforms (no use of
Python's salted ``hash``) and do not depend on the other texts of the batch.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "HASH_BITS",
    "MAX_CHARS",
    "PREFIX_CHARS",
    "HashedBatch",
    "hash_batches",
    "hash_text",
    "hash_texts",
    "normalise",
    "prefix_hash",
]

HASH_BITS = 18
"""log2 of the hashed feature space (262,144 buckets)."""

MAX_CHARS = 1024
"""Texts longer than this are cut to their head and tail before hashing, which bounds the
per-request cost. The tail is kept because adversarial suffixes and hidden instructions often
sit at the end of a long document."""

PREFIX_CHARS = 4
"""Words are also hashed by their first ``PREFIX_CHARS`` characters: the structural rules look
up their trigger words by this prefix, so one entry covers a stem and all its inflections."""

_TAIL_CHARS = 384
_CHUNK = 1 << 16
"""Most code points hashed in one pass; bigger batches are cut into chunks of whole texts."""

_M = _CHUNK + 2  # highest code-point position of a chunk
_BASE = np.uint64(1_000_003)
_BASE_INV = np.uint64(pow(1_000_003, -1, 2**64))
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads the top bits evenly
_SHIFT = np.uint64(64 - HASH_BITS)
_CHAR_NS = np.array([3, 4, 5], dtype=np.int64)
_SALT_WORD = np.uint64(0x5BD1E995)
_SALT_BIGRAM = np.uint64(0x27D4EB2F165667C5)
_SALT_CHAR = np.uint64(0x165667B19E3779F9)
_ONE = np.uint64(1)

# Powers of the base and of its inverse, modulo 2**64 (uint64 arithmetic wraps).
with np.errstate(over="ignore"):
    _POW = np.cumprod(np.full(_M + 2, _BASE, dtype=np.uint64), dtype=np.uint64)
    _IPOW = np.cumprod(np.full(_M + 2, _BASE_INV, dtype=np.uint64), dtype=np.uint64)
_POW = np.concatenate(([np.uint64(1)], _POW[:-1]))
_IPOW = np.concatenate(([np.uint64(1)], _IPOW[:-1]))
_POW_DESC = np.ascontiguousarray(_POW[_M - np.arange(_CHUNK + 2)])

# Salts of the single-text path, sliced per call: char grams, then words, then bigrams.
_L = MAX_CHARS + 2
_SALTS_CHAR = np.full(3 * _L, _SALT_CHAR)
_SALTS_WORD = np.full(_L, _SALT_WORD)
_SALTS_BIGRAM = np.full(_L, _SALT_BIGRAM)

# Which code points count as word characters: ASCII letters/digits/apostrophe, and every
# non-ASCII code point (letters of other scripts, but also emoji; good enough for tokens).
_WORDISH = np.zeros(129, dtype=np.int8)
for _c in "abcdefghijklmnopqrstuvwxyz0123456789'_":
    _WORDISH[ord(_c)] = 1
_WORDISH[128] = 1


_HEAD_CHARS = MAX_CHARS - _TAIL_CHARS - 1
_WINDOWS_RAW = ((800, 512), (3 * MAX_CHARS // 2, 3 * _TAIL_CHARS))
"""Raw characters (head, tail) that :func:`_cut_long` folds, tried in order on texts longer
than both together. The first pair is about 1.25 times the folded characters kept
(``_HEAD_CHARS``, ``_TAIL_CHARS``): enough for nearly every long prompt, whose whitespace runs
and NFKC expansions rarely change its length by a fifth; the second catches most of the rest
(whitespace-heavy code and tables) before the whole text is folded."""


def normalise(text: str) -> str:
    """NFKC, lower case, whitespace runs collapsed to one space, cut to ``MAX_CHARS``.

    NFKC folds full-width and styled letters (a common filter-evasion trick) to plain ones.
    """
    for head_raw, tail_raw in _WINDOWS_RAW:
        if len(text) <= head_raw + tail_raw:
            break
        cut = _cut_long(text, head_raw, tail_raw)
        if cut is not None:
            return cut
    folded = _fold(text)
    if len(folded) > MAX_CHARS:
        folded = folded[:_HEAD_CHARS] + " " + folded[-_TAIL_CHARS:]
    return folded


def _fold(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).replace("’", "'")
    return " ".join(text.lower().split())


def _cut_long(text: str, head_raw: int, tail_raw: int) -> str | None:
    """:func:`normalise` of a long ``text`` from about its first ``head_raw`` and last
    ``tail_raw`` characters (normalising, lower-casing and splitting all of a long document
    was most of the cost of the slowest requests). Each window is cut at an ASCII space: NFKC
    never combines a space with what precedes or follows it, and a space ends a word, so the
    folded head window is a prefix of the folded text and the tail window a suffix; as the
    windows do not overlap, the folded text is at least as long as both with a space between.
    So when the windows fold to enough characters the result is the same as folding all of
    ``text``. None when they do not (mostly whitespace) or a window has no space to cut at;
    the caller then tries wider windows, then the whole text."""
    cut_head = text.rfind(" ", 0, head_raw)
    cut_tail = text.find(" ", len(text) - tail_raw)
    if cut_head <= 0 or cut_tail < cut_head:
        return None
    head = _fold(text[:cut_head])
    tail = _fold(text[cut_tail:])
    if len(head) < _HEAD_CHARS or len(tail) < _TAIL_CHARS or len(head) + len(tail) < MAX_CHARS:
        return None
    return head[:_HEAD_CHARS] + " " + tail[-_TAIL_CHARS:]


@dataclass(frozen=True, slots=True)
class HashedBatch:
    """The hashed n-grams of a batch of normalised texts, as flat arrays with offsets.

    Text ``i`` is ``texts[i]``; its code points (padded with one space on each side) are
    ``codes[doc_ptr[i]:doc_ptr[i + 1]]``. Its char n-gram buckets are
    ``char_idx[char_ptr[i]:char_ptr[i + 1]]`` and its word / word-bigram buckets
    ``word_idx[gram_ptr[i]:gram_ptr[i + 1]]`` (one per occurrence, repeats kept). Its words are
    ``word_ptr[i]:word_ptr[i + 1]`` of ``word_hash`` (full 64-bit hash, for dictionary look-ups),
    ``word_prefix`` (hash of the first ``PREFIX_CHARS`` characters, for trigger look-ups) and
    ``word_starts`` / ``word_ends`` (positions in ``codes``). ``clipped`` is ``codes`` with
    every non-ASCII code point mapped to 128. Within a text the order of the grams is not
    specified (the single-text and batch paths differ); only their multiset is.
    """

    texts: list[str]
    codes: npt.NDArray[np.uint32]
    clipped: npt.NDArray[np.intp]
    doc_ptr: npt.NDArray[np.int64]
    char_idx: npt.NDArray[np.int64]
    char_ptr: npt.NDArray[np.int64]
    word_idx: npt.NDArray[np.int64]
    gram_ptr: npt.NDArray[np.int64]
    word_hash: npt.NDArray[np.uint64]
    word_prefix: npt.NDArray[np.uint64]
    word_starts: npt.NDArray[np.int64]
    word_ends: npt.NDArray[np.int64]
    word_ptr: npt.NDArray[np.int64]
    raw: list[str] | None = None
    """The texts as given (not normalised, not cut), where the caller had them: the
    structural pass decodes case-sensitive payloads (base64, ASCII85) from them."""

    def __len__(self) -> int:
        return len(self.texts)


def _span_hashes(
    prefix: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint64]:
    """Polynomial hash of ``codes[a:b]`` for each (a, b), independent of position.

    ``prefix[i] = sum_{j<i} c_j * B**(M-j)`` so ``prefix[b] - prefix[a]`` times
    ``B**-(M-b+1)`` is ``sum_{a<=j<b} c_j * B**(b-1-j)``: the usual rolling hash. Array
    arithmetic on uint64 wraps modulo 2**64 without warnings, which is what we want.
    """
    return (prefix[ends] - prefix[starts]) * _IPOW[_M - ends + 1]


def _offsets(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    out = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _hash_chunk(norms: list[str], raw: list[str] | None = None) -> HashedBatch:
    lens = np.fromiter(map(len, norms), dtype=np.int64, count=len(norms)) + 2
    codes = np.frombuffer(
        ("".join(f" {t} " for t in norms) if len(norms) > 1 else f" {norms[0]} ").encode(
            "utf-32-le"
        ),
        dtype=np.uint32,
    )
    n = codes.shape[0]
    doc_ptr = _offsets(lens)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum((codes + _ONE) * _POW_DESC[:n], out=prefix[1:])

    # char n-grams, grouped by start position (so by text): a k-gram must end inside its text
    ks = _CHAR_NS.shape[0]
    c_starts = np.repeat(np.arange(n, dtype=np.int64), ks)
    c_ends = c_starts + np.tile(_CHAR_NS, n)
    doc_end = np.repeat(doc_ptr[1:], lens * ks)
    keep = c_ends <= doc_end
    c_starts, c_ends = c_starts[keep], c_ends[keep]
    char_counts = np.maximum(lens[:, None] - _CHAR_NS[None, :] + 1, 0).sum(axis=1)
    char_h = _span_hashes(prefix, c_starts, c_ends) ^ _SALT_CHAR

    # words: texts are padded with spaces, so no word crosses a text boundary
    clipped = np.minimum(codes, 128).astype(np.intp)
    edges = np.diff(_WORDISH[clipped])
    w_starts = np.flatnonzero(edges == 1) + 1
    w_ends = np.flatnonzero(edges == -1) + 1
    n_words = w_starts.shape[0]
    word_ptr = np.searchsorted(w_starts, doc_ptr).astype(np.int64)
    # word i, then bigram i..i+1 (dropped after the last word of a text): every text's grams
    # stay contiguous
    last_word = word_ptr[1:][np.diff(word_ptr) > 0] - 1
    g_keep = np.ones(2 * n_words, dtype=bool)
    g_keep[2 * last_word + 1] = False
    gram_counts = np.diff(word_ptr) * 2 - (np.diff(word_ptr) > 0)
    gh = _span_hashes(
        prefix,
        np.concatenate([w_starts, w_starts, w_starts[:-1]]),
        np.concatenate([w_ends, np.minimum(w_starts + PREFIX_CHARS, w_ends), w_ends[1:]]),
    )
    word_hash = gh[:n_words]
    gram_h = np.zeros(2 * n_words, dtype=np.uint64)
    gram_h[0::2] = word_hash ^ _SALT_WORD
    gram_h[1:-1:2] = gh[2 * n_words :] ^ _SALT_BIGRAM
    idx = ((np.concatenate([char_h, gram_h[g_keep]]) * _MIX) >> _SHIFT).astype(np.int64)
    return HashedBatch(
        texts=norms,
        codes=codes,
        clipped=clipped,
        doc_ptr=doc_ptr,
        char_idx=idx[: char_h.shape[0]],
        char_ptr=_offsets(char_counts),
        word_idx=idx[char_h.shape[0] :],
        gram_ptr=_offsets(gram_counts),
        word_hash=word_hash,
        word_prefix=gh[n_words : 2 * n_words],
        word_starts=w_starts,
        word_ends=w_ends,
        word_ptr=word_ptr,
        raw=raw,
    )


def _hash_one(norm: str, raw: str | None = None) -> HashedBatch:
    """:func:`_hash_chunk` of one text with as few numpy calls as possible (the gateway's
    per-request path, where per-call overhead is most of the cost): the same hashes, in another
    order within the text."""
    codes = np.frombuffer(f" {norm} ".encode("utf-32-le"), dtype=np.uint32)
    n = codes.shape[0]
    c1 = codes + _ONE
    # char grams by a rolling product on contiguous slices (no gathers): the same values as
    # the span hashes of the batch path, h(a, b) = sum (c_j + 1) * B**(b - 1 - j)
    h3 = c1[:-2] * _BASE
    h3 += c1[1:-1]
    h3 *= _BASE
    h3 += c1[2:]
    h4 = h3[:-1] * _BASE
    h4 += c1[3:]
    h5 = h4[:-1] * _BASE
    h5 += c1[4:]
    prefix = np.zeros(n + 1, dtype=np.uint64)
    (c1 * _POW_DESC[:n]).cumsum(out=prefix[1:])
    clipped = np.minimum(codes, 128).astype(np.intp)
    wordish = _WORDISH[clipped]
    # the padding makes word edges alternate start, end, start, end, ... (array methods and
    # operators here: numpy's Python-level wrappers such as diff and flatnonzero cost more
    # than their work on one prompt)
    edges = (wordish[1:] != wordish[:-1]).nonzero()[0] + 1
    w_starts, w_ends = edges[0::2], edges[1::2]
    n_words = w_starts.shape[0]
    n_char = h3.shape[0] + h4.shape[0] + h5.shape[0]
    n_word_grams = max(2 * n_words - 1, 0)
    ends = np.concatenate([w_ends, w_ends[1:], np.minimum(w_starts + PREFIX_CHARS, w_ends)])
    starts = np.concatenate([w_starts, w_starts[:-1], w_starts])
    hw = (prefix[ends] - prefix[starts]) * _IPOW[_M + 1 - ends]
    salts = np.concatenate(
        [_SALTS_CHAR[:n_char], _SALTS_WORD[:n_words], _SALTS_BIGRAM[: max(n_words - 1, 0)]]
    )
    grams = np.concatenate([h3, h4, h5, hw[:n_word_grams]])
    idx = (((grams ^ salts) * _MIX) >> _SHIFT).astype(np.int64)
    n_grams = n_char + n_word_grams
    return HashedBatch(
        texts=[norm],
        codes=codes,
        clipped=clipped,
        doc_ptr=np.array([0, n], dtype=np.int64),
        char_idx=idx[:n_char],
        char_ptr=np.array([0, n_char], dtype=np.int64),
        word_idx=idx[n_char:],
        gram_ptr=np.array([0, n_grams - n_char], dtype=np.int64),
        word_hash=hw[:n_words],
        word_prefix=hw[n_word_grams:],
        word_starts=w_starts,
        word_ends=w_ends,
        word_ptr=np.array([0, n_words], dtype=np.int64),
        raw=None if raw is None else [raw],
    )


def hash_batches(texts: Sequence[str]) -> Iterator[tuple[int, HashedBatch]]:
    """Normalise and hash ``texts`` in chunks of whole texts; yields (index of the chunk's first
    text, its :class:`HashedBatch`)."""
    norms = [normalise(t) for t in texts]
    lo = 0
    while lo < len(norms):
        hi, total = lo, 0
        while hi < len(norms) and (hi == lo or total + len(norms[hi]) + 2 <= _CHUNK):
            total += len(norms[hi]) + 2
            hi += 1
        yield lo, _hash_chunk(norms[lo:hi], list(texts[lo:hi]))
        lo = hi


def hash_texts(texts: Sequence[str]) -> HashedBatch:
    """One :class:`HashedBatch` for a batch that fits in one chunk (tests, small batches)."""
    chunks = list(hash_batches(texts))
    if len(chunks) != 1:
        raise ValueError("hash_texts takes a non-empty batch of at most one chunk")
    return chunks[0][1]


def hash_text(text: str) -> HashedBatch:
    """Normalise ``text`` and hash its char 3/4/5-grams, words and word bigrams."""
    return _hash_one(normalise(text), text)


def prefix_hash(word: str) -> int:
    """The ``word_prefix`` hash of a single (already normalised) word."""
    return int(_hash_one(word).word_prefix[0])
