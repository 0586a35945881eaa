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

- :func:`shared_templates`: templates *stamped across accounts*. A word shingle of the masked
  texts is one of an account's template shingles when it recurs in a sizeable share of that
  account's prompts; shingles stamped by the same set of accounts are one template (a template's
  words travel together, a common phrase's do not). A template is kept when it is rare: used by
  at least two accounts of more than one org, and by hardly anybody else (most accounts that
  ever use its words stamp it), so a public template that many strangers use now and then
  (a benchmark harness, a framework's default prompt) and one team's in-house tool are not
  evidence. Nor is a template whose prompts are mostly attacks (``attack`` scores from the
  content model): jailbreak and injection texts circulate publicly, and red-team vendors,
  researchers and attackers all send the same ones verbatim, so sharing one says nothing about
  who runs the accounts. The network stage links the accounts that share one.

Known to evade: an operator who paraphrases the template per request (an LLM rewriting each
prompt) defeats both; so does interleaving the template with long slot values such that fewer
than a few shingles of the template survive. Each member's ``shares`` (how much of its sample
carries the template) let the lift weigh its template links (``combine.template_weight``): an
operator that stamps its template on no more than a tenth of each account's prompts is linked,
but not lifted by the link.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "SharedTemplate",
    "carrying_shares",
    "group_templates",
    "link_values",
    "mask",
    "shared_templates",
    "template_id",
]

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


@lru_cache(maxsize=1 << 16)
def _text_shingles(text: str, k: int) -> npt.NDArray[np.uint64]:
    # The replay's periodic audits sample mostly the same prompts window after window.
    return _shingles(mask(text), k)


@dataclass(frozen=True, slots=True)
class SharedTemplate:
    """One template stamped across accounts: ``key`` (16 hex characters, stable), the
    ``accounts`` (owner ids as given) that stamp it, how many masked shingles it has
    (``n_shingles``, its length), how many other accounts use its words without stamping it
    (``n_casual``), a ``sample`` prompt built from it and, per member (same order as
    ``accounts``), the share of its texts that carry the template (``shares``): an operator
    wraps most of its harvest in its template, a customer who pasted a persona line into a few
    prompts carries it on a few."""

    key: str
    accounts: tuple[Any, ...]
    n_shingles: int
    n_casual: int
    sample: str
    shares: tuple[float, ...] = ()


def shared_templates(
    owners: Sequence[Any],
    texts: Sequence[str],
    orgs: Mapping[Any, object] | None = None,
    *,
    shingle_words: int = 4,
    min_texts: int = 2,
    min_share: float = 0.05,
    min_shingles: int = 3,
    exclusivity: float = 0.7,
    max_population: float = 0.05,
    min_cap: int = 10,
    attack: Sequence[float] | npt.NDArray[np.float64] | None = None,
    max_attack_share: float = 0.5,
) -> list[SharedTemplate]:
    """Templates that several accounts stamp on their prompts, from a sample of each account's
    distinct prompts (``owners[i]`` the account of ``texts[i]``).

    A masked shingle is a template shingle of an account when at least ``min_texts`` of its
    texts, and ``min_share`` of them, contain it. A shingle counts when it is rare: stamped by
    two or more accounts but by no more than ``max(min_cap, max_population * accounts)`` (a prompt
    stamped by a twentieth of all customers is a popular tool's, public), and exclusive: the
    accounts stamping it are at least ``exclusivity`` of all accounts whose texts contain it (a
    phrase many use now and then is common wording). Such shingles are one template when they
    share texts and much the same stampers (Jaccard >= 0.5, joined transitively); its members
    are the accounts stamping at least half of its shingles. A template needs ``min_shingles``
    shingles (a short phrase is not one), two members and more than one org (``orgs`` maps an
    owner to its org; an owner without one is its own org): one team's in-house tool is not
    evidence. ``attack[i]`` (optional, in [0, 1], NaN unknown) is how surely ``texts[i]`` is an
    attack (jailbreak, injection, extraction): a template is dropped when more than
    ``max_attack_share`` of its members' prompts that carry it (half its shingles or more) are
    attacks, because an attack text shared across accounts is a public one (a jailbreak corpus,
    a red-team suite), not one operator's script. An operator's own wrapper that merely reads
    like role-play now and then keeps its links.
    Sorted by key; O(total shingles).
    """
    n = len(texts)
    if n == 0:
        return []
    owner_ids: dict[Any, int] = {}
    o = np.fromiter((owner_ids.setdefault(a, len(owner_ids)) for a in owners), np.int64, n)
    per_text = [_text_shingles(t, shingle_words) for t in texts]
    lengths = np.fromiter((x.shape[0] for x in per_text), np.int64, n)
    if not lengths.sum():
        return []
    flat = np.concatenate(per_text)
    text_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
    n_acc = len(owner_ids)
    cap = max(min_cap, int(max_population * n_acc))
    uniq, sh = np.unique(flat, return_inverse=True)
    sh = sh.ravel()
    # (shingle, account) -> number of the account's texts with it
    pair = sh * n_acc + o[text_of]
    pairs, counts = np.unique(pair, return_counts=True)
    p_sh, p_acc = pairs // n_acc, pairs % n_acc
    texts_per_acc = np.bincount(o, minlength=n_acc).astype(np.float64)
    stamp = (counts >= min_texts) & (counts >= min_share * texts_per_acc[p_acc])
    users = np.bincount(p_sh, minlength=uniq.shape[0])
    stampers = np.bincount(p_sh[stamp], minlength=uniq.shape[0])
    # A shingle stamped by one account is that account's habit; one that many others use now
    # and then is a common phrase; one stamped by very many is public (a popular tool's prompt).
    cand = (stampers >= 2) & (stampers >= exclusivity * users) & (stampers <= cap)
    keep = stamp & cand[p_sh]
    if not keep.any():
        return []
    stampers_of: dict[int, frozenset[int]] = {}
    for sh_i, acc_i in zip(p_sh[keep].tolist(), p_acc[keep].tolist(), strict=True):
        stampers_of[sh_i] = stampers_of.get(sh_i, frozenset()) | {acc_i}
    # A template's words travel together: candidate shingles that share a text of an account
    # stamping both, and are stamped by much the same accounts, are one template (a campaign
    # account's system prompt and its operator's wrapper share texts, not stampers).
    parent = {x: x for x in stampers_of}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    start = np.concatenate([[0], np.cumsum(lengths)])
    seen: set[tuple[int, int]] = set()
    for i in range(n):
        mine = [
            x for x in sh[start[i] : start[i + 1]].tolist() if int(o[i]) in stampers_of.get(x, ())
        ]
        if len(mine) < 2:
            continue
        mine.sort(key=lambda x: (len(stampers_of[x]), x))
        for x, y in zip(mine[:-1], mine[1:], strict=True):
            rx, ry = find(x), find(y)
            if rx == ry or (x, y) in seen:
                continue
            seen.add((x, y))
            sx, sy = stampers_of[x], stampers_of[y]
            if len(sx & sy) >= 0.5 * len(sx | sy):
                parent[max(rx, ry)] = min(rx, ry)
    groups: dict[int, list[int]] = {}
    for x in stampers_of:
        groups.setdefault(find(x), []).append(x)
    names = list(owner_ids)
    texts_of: dict[int, list[int]] = {}
    for i, a in enumerate(o.tolist()):
        texts_of.setdefault(a, []).append(i)
    org_of = orgs or {}
    attack_of = None if attack is None else np.asarray(attack, dtype=np.float64)
    if attack_of is not None and attack_of.shape[0] != n:
        raise ValueError(f"attack has {attack_of.shape[0]} scores for {n} texts")
    out: list[SharedTemplate] = []
    for shingles in groups.values():
        if len(shingles) < min_shingles:
            continue
        # members: the accounts that stamp a good part of the template's words
        votes: dict[int, int] = {}
        for x in shingles:
            for acc_i in stampers_of[x]:
                votes[acc_i] = votes.get(acc_i, 0) + 1
        accs = np.array(sorted(a for a, v in votes.items() if v >= 0.5 * len(shingles)))
        if accs.shape[0] < 2:
            continue
        members = tuple(names[int(a)] for a in accs)
        if len({org_of.get(m) or ("self", m) for m in members}) < 2:
            continue
        want = set(shingles)
        carried = {
            a: [
                i
                for i in texts_of.get(a, [])
                if 2 * len(want.intersection(sh[start[i] : start[i + 1]].tolist())) >= len(want)
            ]
            for a in accs.tolist()
        }
        carrying = [i for a in accs.tolist() for i in carried[a]]
        if attack_of is not None and _mostly_attacks(attack_of[carrying], max_attack_share):
            continue
        casual = max(int(users[shingles].max()) - accs.shape[0], 0)
        ids = np.sort(uniq[shingles])
        key = hashlib.blake2b(ids.tobytes(), digest_size=8).hexdigest()
        # a sample: the first member's text holding most of the template's shingles
        hits = [
            (len(want.intersection(sh[start[i] : start[i + 1]].tolist())), -i)
            for i in texts_of.get(int(accs[0]), [])
        ]
        best = texts[-max(hits)[1]] if hits else ""
        shares = tuple(len(carried[a]) / max(float(texts_per_acc[a]), 1.0) for a in accs.tolist())
        out.append(SharedTemplate(key, members, len(shingles), casual, best, shares))
    out.sort(key=lambda t: t.key)
    return out


def _mostly_attacks(scores: npt.NDArray[np.float64], max_share: float) -> bool:
    """Whether more than ``max_share`` of the scored prompts in ``scores`` are attacks
    (score >= 0.5); unscored prompts (NaN) do not count either way."""
    known = scores[np.isfinite(scores)]
    return bool(known.size) and float((known >= 0.5).mean()) > max_share


def carrying_shares(templates: Sequence[SharedTemplate]) -> dict[Any, float]:
    """Per owner, the share of its texts that carry any of the templates it stamps (their
    shares added up, at most 1): an operator that rotates its harvest through several
    templates wraps most of it all the same."""
    out: dict[Any, float] = {}
    for t in templates:
        for owner, share in zip(t.accounts, t.shares, strict=True):
            out[owner] = min(out.get(owner, 0.0) + float(share), 1.0)
    return out


def link_values(templates: Sequence[SharedTemplate]) -> dict[Any, list[str]]:
    """Per owner, the templates it stamps as link values that read as evidence:
    ``tpl:<key> (<n> accounts) "<sample>"`` (the sample cut to 120 characters)."""
    out: dict[Any, list[str]] = {}
    for t in templates:
        sample = " ".join(t.sample.split())
        sample = sample if len(sample) <= 120 else sample[:117] + "..."
        value = f'tpl:{t.key} ({len(t.accounts)} accounts) "{sample}"'
        for owner in t.accounts:
            out.setdefault(owner, []).append(value)
    return out
