"""The shipped content model: hashed n-grams + structural features, one logistic head per signal.

A model is a handful of numpy arrays in one ``.npz`` (no pickle: ``allow_pickle=False``), so it
loads in milliseconds, cannot run code on load, and does not depend on the scikit-learn version
that trained it. ``ContentModel.load()`` reads the copy shipped inside the package; nothing is
ever downloaded.

Signals (all in [0, 1], higher is more suspicious):

- ``jailbreak``: persona / "no restrictions" / developer-mode framing meant to lift the model's
  rules.
- ``injection``: instructions that try to override the operator's, including ones hidden in a
  document or tool output after innocuous text, fake system tags and delimiters.
- ``extraction``: demands to reveal the system prompt, hidden instructions, secrets, or
  memorised training data verbatim.
- ``cot_elicitation``: demands for the model's full / hidden / internal reasoning trace (a
  distillation harvest). An ordinary "let's think step by step" is *not* this signal.
- ``rubric``: grading-rubric and preference requests ("score this response 1-10", "which of
  responses A and B is better"): reward-model data harvesting.
- ``overall``: "is this prompt suspicious at all". A sixth head is trained on "any of the
  above" against benign prompts; ``overall`` combines it with the jailbreak, injection and
  extraction heads: each head's logit is shifted so that 0 sits at that head's own
  1%-false-positive threshold, and ``overall = sigmoid(max of the shifted logits)``. So
  ``overall > 0.5`` means at least one of those heads crossed its own threshold. The specific
  heads generalise better to unseen attack sources than the any-attack head alone (see the
  model card), which is why they are combined rather than trusted to one head.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import structlog

from distillguard.detect.content.features import (
    HASH_BITS,
    MAX_CHARS,
    HashedBatch,
    hash_batches,
    hash_text,
)
from distillguard.detect.content.structural import STRUCTURAL_NAMES, structural_features
from distillguard.errors import DetectorError

__all__ = [
    "HEADS",
    "MODEL_FILE",
    "SIGNALS",
    "ContentModel",
    "ContentScores",
    "FeatureBatch",
    "ModelWeights",
    "featurize",
]

log = structlog.get_logger(__name__)

SIGNALS: tuple[str, ...] = ("jailbreak", "injection", "extraction", "cot_elicitation", "rubric")
"""The per-signal scores, in column order; ``overall`` comes on top of these."""

HEADS: tuple[str, ...] = (*SIGNALS, "overall")
"""Columns of the model's weight matrices: the signals, then ``overall``."""

MODEL_FILE = "content_model.npz"
"""File name of the shipped model inside ``distillguard.detect.content.model``."""

_N_BUCKETS = 1 << HASH_BITS
_FORMAT_VERSION = 2
_ROW_HEADS = 8


@dataclass(frozen=True, slots=True)
class FeatureBatch:
    """Features of a batch of texts: hashed n-grams (CSR, one row per text) and the dense
    structural block (raw, before the model's standardisation)."""

    hashed: sp.csr_matrix
    structural: npt.NDArray[np.float32]


def _gram_weights(ptr: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    # Each block (char grams, word grams) of a text is scaled by 1/sqrt(its number of grams):
    # a cheap stand-in for L2 normalisation that needs no per-text counting, so inference is a
    # plain gather-and-sum.
    counts = np.diff(ptr)
    return np.repeat((1.0 / np.sqrt(np.maximum(counts, 1))).astype(np.float32), counts)


def _blocks(batch: HashedBatch) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The char-gram and word-gram blocks of ``batch`` as (texts x buckets) CSR matrices,
    repeated buckets within a row left unsummed (a sparse product sums them anyway)."""
    shape = (len(batch), _N_BUCKETS)
    return (
        sp.csr_matrix((_gram_weights(batch.char_ptr), batch.char_idx, batch.char_ptr), shape),
        sp.csr_matrix((_gram_weights(batch.gram_ptr), batch.word_idx, batch.gram_ptr), shape),
    )


def featurize(texts: Sequence[str], vocabulary: npt.NDArray[np.uint64]) -> FeatureBatch:
    """Features for ``texts`` as training sees them (the scorer computes the same numbers
    without building the canonical matrix)."""
    hashed: list[sp.csr_matrix] = []
    structural: list[npt.NDArray[np.float32]] = []
    for _, batch in hash_batches(texts):
        char, word = _blocks(batch)
        hashed.append((char + word).tocsr())
        structural.append(structural_features(batch, vocabulary))
    if not hashed:
        return FeatureBatch(
            hashed=sp.csr_matrix((0, _N_BUCKETS), dtype=np.float32),
            structural=np.zeros((0, len(STRUCTURAL_NAMES)), dtype=np.float32),
        )
    matrix = sp.vstack(hashed, format="csr")
    matrix.sum_duplicates()
    return FeatureBatch(hashed=matrix, structural=np.concatenate(structural))


@dataclass(frozen=True, slots=True)
class ModelWeights:
    """Everything a :class:`ContentModel` needs, as arrays.

    ``w_hashed`` is (buckets, heads), ``w_structural`` (structural features, heads);
    structural features are standardised with ``struct_mean`` / ``struct_scale`` first.
    ``thresholds`` holds, per signal and then ``overall``, the score at which 1% of the
    development set's benign prompts are flagged (for callers who want that operating point).
    """

    w_hashed: npt.NDArray[np.float32]
    w_structural: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32]
    struct_mean: npt.NDArray[np.float32]
    struct_scale: npt.NDArray[np.float32]
    vocabulary: npt.NDArray[np.uint64]
    thresholds: npt.NDArray[np.float32]
    metadata: dict[str, Any]

    def save(self, path: Path) -> None:
        """Write the weights as a compressed ``.npz`` (no pickled objects)."""
        meta = {
            **self.metadata,
            "format_version": _FORMAT_VERSION,
            "hash_bits": HASH_BITS,
            "max_chars": MAX_CHARS,
            "heads": list(HEADS),
            "structural_names": list(STRUCTURAL_NAMES),
        }
        # float16 halves the package size; the weights need nowhere near float32 precision
        np.savez_compressed(
            path,
            w_hashed=self.w_hashed.astype(np.float16),
            w_structural=self.w_structural.astype(np.float32),
            bias=self.bias.astype(np.float32),
            struct_mean=self.struct_mean.astype(np.float32),
            struct_scale=self.struct_scale.astype(np.float32),
            vocabulary=self.vocabulary.astype(np.uint64),
            thresholds=self.thresholds.astype(np.float32),
            metadata=np.array(json.dumps(meta, sort_keys=True)),
        )


@dataclass(frozen=True, slots=True)
class ContentScores:
    """Scores for a batch of texts: one float array in [0, 1] per signal, plus ``overall``."""

    jailbreak: npt.NDArray[np.float64]
    injection: npt.NDArray[np.float64]
    extraction: npt.NDArray[np.float64]
    cot_elicitation: npt.NDArray[np.float64]
    rubric: npt.NDArray[np.float64]
    overall: npt.NDArray[np.float64]

    def as_dict(self) -> dict[str, npt.NDArray[np.float64]]:
        """Signal name (and ``overall``) to its score array."""
        return {name: getattr(self, name) for name in HEADS}

    def __len__(self) -> int:
        return int(self.overall.shape[0])


def _sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0))))


class ContentModel:
    """Scores prompts for the content signals. Pure: no I/O after :meth:`load`.

    Build it once with :meth:`load` (the shipped model) or :meth:`from_weights`, then call
    :meth:`score` for batches or :meth:`score_one` on the hot path.
    """

    __slots__ = (
        "_bias_eff",
        "_combine_idx",
        "_combine_offset",
        "_combine_pairs",
        "_w",
        "_w_hashed",
        "_w_rows",
        "_w_struct_scaled",
        "metadata",
        "thresholds",
    )

    def __init__(self, weights: ModelWeights) -> None:
        self._w = weights
        self._w_hashed = np.ascontiguousarray(weights.w_hashed, dtype=np.float32)
        # The same weights padded to 8 heads (32 bytes a bucket) and viewed as one opaque
        # 32-byte item per bucket: np.take on that 1-D view gathers a bucket's weights in one
        # copy, several times faster than a 2-D gather, and a float32 matrix-vector product
        # then sums them (far faster than .sum(axis=0) on the gathered rows).
        padded = np.zeros((weights.w_hashed.shape[0], _ROW_HEADS), dtype=np.float32)
        padded[:, : len(HEADS)] = weights.w_hashed
        self._w_rows = padded.view(np.dtype((np.void, 4 * _ROW_HEADS))).ravel()
        # fold the standardisation into the weights: (x - m) / s @ W == x @ (W / s) - (m / s) @ W
        scaled = weights.w_structural / weights.struct_scale[:, None]
        self._w_struct_scaled = np.ascontiguousarray(scaled, dtype=np.float64)
        self._bias_eff = (weights.bias - weights.struct_mean @ scaled).astype(np.float64)
        self.metadata = weights.metadata
        combination = weights.metadata.get("overall_combination")
        if combination:
            self._combine_idx = np.array(
                [HEADS.index(h) for h in combination["heads"]], dtype=np.int64
            )
            self._combine_offset = np.asarray(combination["offsets"], dtype=np.float64)
        else:
            self._combine_idx = np.zeros(0, dtype=np.int64)
            self._combine_offset = np.zeros(0, dtype=np.float64)
        # the same combination as plain Python pairs, for score_one (one row of six logits:
        # numpy's per-call overhead would cost more than the arithmetic)
        self._combine_pairs: list[tuple[int, float]] = list(
            zip(self._combine_idx.tolist(), self._combine_offset.tolist(), strict=True)
        )
        self.thresholds: dict[str, float] = {
            name: float(t) for name, t in zip(HEADS, weights.thresholds, strict=True)
        }

    @classmethod
    def from_weights(cls, weights: ModelWeights) -> ContentModel:
        """A model from weights in memory (training, tests)."""
        return cls(weights)

    @classmethod
    def load(cls, path: Path | None = None) -> ContentModel:
        """Load the model shipped in the package, or the ``.npz`` at ``path``.

        Raises :class:`DetectorError` when the file is missing, unreadable, or was written for
        a different feature layout (retrain with ``scripts/train_content_model.py``).
        """
        if path is None:
            ref = resources.files("distillguard.detect.content.model").joinpath(MODEL_FILE)
            with resources.as_file(ref) as p:
                return cls(_read_weights(Path(p)))
        return cls(_read_weights(Path(path)))

    @property
    def weights(self) -> ModelWeights:
        """The arrays behind this model."""
        return self._w

    @property
    def vocabulary(self) -> npt.NDArray[np.uint64]:
        """Sorted word hashes counted as dictionary words by the structural features."""
        return self._w.vocabulary

    def _logits(self, batch: HashedBatch) -> npt.NDArray[np.float64]:
        char, word = _blocks(batch)
        z = np.asarray(char @ self._w_hashed, dtype=np.float64)
        z += np.asarray(word @ self._w_hashed, dtype=np.float64)
        z += structural_features(batch, self._w.vocabulary) @ self._w_struct_scaled
        return z + self._bias_eff

    def score(self, texts: Sequence[str]) -> ContentScores:
        """Scores for every text in ``texts`` (same order)."""
        if not texts:
            empty = np.zeros(0, dtype=np.float64)
            return ContentScores(*(empty for _ in HEADS))
        # Logs repeat prompts (eval harnesses, retries, one template stamped by many
        # accounts): each distinct text is scored once.
        position: dict[str, int] = {}
        inverse = np.fromiter(
            (position.setdefault(t, len(position)) for t in texts), dtype=np.int64, count=len(texts)
        )
        unique = list(position)
        z = np.empty((len(unique), len(HEADS)), dtype=np.float64)
        for start, batch in hash_batches(unique):
            z[start : start + len(batch)] = self._logits(batch)
        probs = self._probabilities(z)
        return ContentScores(*(probs[inverse, k] for k in range(len(HEADS))))

    def _probabilities(self, z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Logits (rows, heads) to scores, with ``overall`` combined as the module says."""
        probs = _sigmoid(z)
        if self._combine_idx.shape[0]:
            shifted = z[..., self._combine_idx] - self._combine_offset
            probs[..., -1] = _sigmoid(shifted.max(axis=-1))
        return probs

    def score_one(self, text: str) -> dict[str, float]:
        """Scores of one text as ``{signal: score, ..., "overall": score}``; the gateway's
        per-request path (no sparse matrix is built)."""
        h = hash_text(text)
        n_char, n_word = h.char_idx.shape[0], h.word_idx.shape[0]
        scale = np.empty(n_char + n_word, dtype=np.float32)
        scale[:n_char] = 1.0 / math.sqrt(max(n_char, 1))
        scale[n_char:] = 1.0 / math.sqrt(max(n_word, 1))
        rows = self._w_rows.take(np.concatenate([h.char_idx, h.word_idx]))
        z = (scale @ rows.view(np.float32).reshape(-1, _ROW_HEADS))[: len(HEADS)]
        z = z + structural_features(h, self._w.vocabulary)[0] @ self._w_struct_scaled
        logits: list[float] = (z + self._bias_eff).tolist()
        # what _probabilities does, in plain Python on one row
        probs = [_sigmoid_one(v) for v in logits]
        if self._combine_pairs:
            probs[-1] = _sigmoid_one(max(logits[i] - off for i, off in self._combine_pairs))
        return dict(zip(HEADS, probs, strict=True))


def _sigmoid_one(z: float) -> float:
    """:func:`_sigmoid` of one logit."""
    return 1.0 / (1.0 + math.exp(-min(max(z, -40.0), 40.0)))


def _read_weights(path: Path) -> ModelWeights:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError as exc:
        raise DetectorError(
            f"{path}: content model file not found; reinstall distillguard or retrain with "
            "scripts/train_content_model.py"
        ) from exc
    except (OSError, ValueError) as exc:
        raise DetectorError(f"{path}: not a readable content model ({exc})") from exc
    required = (
        "w_hashed",
        "w_structural",
        "bias",
        "struct_mean",
        "struct_scale",
        "vocabulary",
        "thresholds",
        "metadata",
    )
    missing = [k for k in required if k not in arrays]
    if missing:
        raise DetectorError(f"{path}: content model lacks arrays {missing}; retrain it")
    meta: dict[str, Any] = json.loads(str(arrays["metadata"]))
    expected = {
        "format_version": _FORMAT_VERSION,
        "hash_bits": HASH_BITS,
        "max_chars": MAX_CHARS,
        "heads": list(HEADS),
        "structural_names": list(STRUCTURAL_NAMES),
    }
    wrong = [k for k, v in expected.items() if meta.get(k) != v]
    if wrong:
        raise DetectorError(
            f"{path}: content model was trained for another feature layout ({', '.join(wrong)} "
            "differ); retrain it with scripts/train_content_model.py"
        )
    n_struct = len(STRUCTURAL_NAMES)
    shapes_ok = arrays["w_hashed"].shape == (_N_BUCKETS, len(HEADS)) and arrays[
        "w_structural"
    ].shape == (n_struct, len(HEADS))
    if not shapes_ok:
        raise DetectorError(f"{path}: content model arrays have the wrong shapes; retrain it")
    log.debug("content_model.loaded", path=str(path), trained_at=meta.get("trained_at"))
    return ModelWeights(
        w_hashed=arrays["w_hashed"].astype(np.float32),
        w_structural=arrays["w_structural"].astype(np.float32),
        bias=arrays["bias"].astype(np.float32),
        struct_mean=arrays["struct_mean"].astype(np.float32),
        struct_scale=arrays["struct_scale"].astype(np.float32),
        vocabulary=arrays["vocabulary"].astype(np.uint64),
        thresholds=arrays["thresholds"].astype(np.float32),
        metadata=meta,
    )
