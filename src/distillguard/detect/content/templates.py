"""Prompt template fingerprints: one operator's template stamped across many accounts.

Harvesting campaigns send the same instruction wrapped around thousands of different slot
values (questions, names, numbers, documents). Two tools find them:

- :func:`template_id`: a short stable hash of the *masked skeleton* of one prompt (numbers,
  capitalised names, quoted strings, code, URLs, ids and placeholders masked). Cheap enough
  for the gateway to compute per request; equal ids mean the same skeleton exactly.
- :func:`group_templates`: near-duplicate grouping over many prompts in about O(n): word
  shingles of the masked texts, restricted to shingles that recur across the corpus (a slot
  value is unique to its prompt, the template's wording is not), MinHash signatures computed
  with vectorised numpy, and LSH banding with union-find. Prompts that share a template get
  the same cluster label even when their slot values differ in length and content.

Known to evade: an operator who paraphrases the template per request (an LLM rewriting each
prompt) defeats both; so does interleaving the template with long slot values such that fewer
than a few shingles of the template survive.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["group_templates", "mask", "template_id"]

# (guard, pattern, replacement): a pattern only runs when its cheap substring guard is in
# the text (most prompts have no URL, e-mail or quote), which keeps template_id per request
# cheap. Punctuation such as "$" or "+" is dropped later, so patterns need not match it.
_MASKS: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    (("```",), re.compile(r"```.*?(?:```|$)", re.S), " <code> "),
    (("http", "www."), re.compile(r"\bhttps?://\S+|\bwww\.\S+"), " <url> "),
    (("@",), re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b"), " <email> "),
    (
        ("{", "[", "<"),
        re.compile(r"\{\{?[^{}\n]{0,60}\}?\}|\[[A-Z][A-Z0-9 _-]{2,40}\]|<[A-Z_]{3,30}>"),
        " <slot> ",
    ),
    (
        ('"', "“", "«", "'"),
        re.compile(
            r"\"[^\"\n]{1,300}\"|“[^”\n]{1,300}”|«[^»\n]{1,300}»|(?<!\w)'[^'\n]{1,200}'(?!\w)"
        ),
        " <q> ",
    ),
    ((), re.compile(r"\b[0-9a-fA-F][0-9a-fA-F-]{7,}\b"), ""),  # ids: see _mask_id
    ((), re.compile(r"\d(?:[\d,._:/]*\d)?"), " <num> "),
)  # fmt: skip
_ID_INDEX = 5
# After the masks above (on whitespace-collapsed text): a capitalised word that follows a
# lower-case word, a comma or a mask is a name, not the start of a sentence.
_NAME = re.compile(r"(?<=[a-z,;:>] )[A-Z][\w'’-]+(?: [A-Z][\w'’-]+)*")
_HEX_LETTER = re.compile(r"[a-fA-F]")


def _mask_id(m: re.Match[str]) -> str:
    # an id mixes hex digits and hex letters; a plain word ("deadbeef") or number is left
    token = m.group(0)
    if any(c.isdigit() for c in token) and _HEX_LETTER.search(token):
        return " <id> "
    return token


_WORD = re.compile(r"<\w+>|[^\W_]+(?:'[^\W_]+)?")


def mask(text: str) -> str:
    """The template skeleton of ``text``: slot-like values replaced by ``<num>``, ``<name>``,
    ``<q>``, ``<code>``, ``<url>``, ``<email>``, ``<id>``, ``<slot>``; lower case; one space
    between tokens, punctuation dropped."""
    out = text
    for i, (guards, rx, repl) in enumerate(_MASKS):
        if guards and not any(g in out for g in guards):
            continue
        out = rx.sub(_mask_id if i == _ID_INDEX else repl, out)
    out = _NAME.sub("<name>", " ".join(out.split()))
    return " ".join(_WORD.findall(out.lower()))


def template_id(text: str) -> str:
    """16 hex characters identifying the masked skeleton of ``text`` (stable across runs and
    machines). Prompts that differ only in masked values share an id."""
    return hashlib.blake2b(mask(text).encode("utf-8"), digest_size=8).hexdigest()


_PRIME = np.uint64(0x9E3779B97F4A7C15)


def _shingles(masked: str, k: int) -> npt.NDArray[np.uint64]:
    words = masked.split()
    if len(words) < k:
        grams = [" ".join(words)] if words else []
    else:
        grams = [" ".join(words[i : i + k]) for i in range(len(words) - k + 1)]
    if not grams:
        return np.zeros(0, dtype=np.uint64)
    digests = b"".join(hashlib.blake2b(g.encode(), digest_size=8).digest() for g in grams)
    return np.unique(np.frombuffer(digests, dtype=np.uint64))


def _minhash(
    shingles: npt.NDArray[np.uint64],
    owner: npt.NDArray[np.int64],
    n_texts: int,
    num_perm: int,
    seed: int,
    chunk: int = 1 << 16,
) -> npt.NDArray[np.uint64]:
    """(n_texts, num_perm) MinHash signatures; ``owner[i]`` is the text of ``shingles[i]``
    (sorted). Each permutation is a multiply-xorshift of the 64-bit shingle hash."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    sig = np.full((n_texts, num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
    for lo in range(0, shingles.shape[0], chunk):
        sh = shingles[lo : lo + chunk, None]
        h = sh * a[None, :] + b[None, :]
        h ^= h >> np.uint64(29)
        h *= _PRIME
        h ^= h >> np.uint64(32)
        np.minimum.at(sig, owner[lo : lo + chunk], h)
    return sig


def group_templates(
    texts: Sequence[str],
    *,
    threshold: float = 0.5,
    num_perm: int = 64,
    shingle_words: int = 4,
    min_df: int = 2,
    seed: int = 1,
) -> npt.NDArray[np.int64]:
    """A cluster label per text; texts built from the same template share a label.

    Only shingles that occur in at least ``min_df`` texts are kept (a text without any keeps
    all its own, so identical texts still group). ``threshold`` is the Jaccard similarity of
    the kept shingle sets at which two texts are likely (about 50%) to be linked; LSH bands
    are chosen for it. Labels are numbered by first appearance, starting at 0; a text alone
    in its cluster gets a label of its own.
    """
    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    per_text = [_shingles(mask(t), shingle_words) for t in texts]
    lengths = np.array([s.shape[0] for s in per_text], dtype=np.int64)
    owner = np.repeat(np.arange(n, dtype=np.int64), lengths)
    flat = np.concatenate(per_text) if lengths.sum() else np.zeros(0, dtype=np.uint64)
    uniq, inverse, df = np.unique(flat, return_inverse=True, return_counts=True)
    frequent = df[inverse] >= min_df
    has_frequent = np.zeros(n, dtype=bool)
    has_frequent[owner[frequent]] = True
    keep = frequent | ~has_frequent[owner]
    sig = _minhash(flat[keep], owner[keep], n, num_perm, seed)
    empty = lengths == 0
    rows = _rows_per_band(threshold, num_perm)
    bands = num_perm // rows
    src: list[npt.NDArray[np.int64]] = []
    dst: list[npt.NDArray[np.int64]] = []
    idx = np.flatnonzero(~empty)
    for band in range(bands):
        block = np.ascontiguousarray(sig[idx, band * rows : (band + 1) * rows])
        keys = block.view(np.dtype((np.void, block.dtype.itemsize * rows))).ravel()
        _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        src.append(idx)
        dst.append(idx[first[inv.ravel()]])
    if src:
        s, d = np.concatenate(src), np.concatenate(dst)
    else:
        s = d = np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(s.shape[0], dtype=np.int8), (s, d)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    # renumber by first appearance so labels are deterministic and readable
    _, first_seen, relabel = np.unique(comp, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first_seen))
    return np.asarray(order[relabel.ravel()], dtype=np.int64)


def _rows_per_band(threshold: float, num_perm: int) -> int:
    """Rows per LSH band so that the S-curve's midpoint (1/b)^(1/r) is nearest ``threshold``."""
    best, best_gap = 1, 2.0
    for r in range(1, num_perm + 1):
        if num_perm % r:
            continue
        b = num_perm // r
        gap = abs((1.0 / b) ** (1.0 / r) - threshold)
        if gap < best_gap:
            best, best_gap = r, gap
    return best
