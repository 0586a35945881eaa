"""What a per-account detector returns, and the protocol every detector follows.

A detector reads columns of an :class:`~distillguard.detect.behaviour.frame.AccountFrame` and
returns one evidence score per account in [0, 1] (0 = no evidence, 1 = as strong as this
detector gets), or NaN where it could not judge (e.g. no prompt text: metadata-only mode). The
verdict combination weighs them; a detector never decides alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from distillguard.detect.behaviour.frame import AccountFrame

__all__ = ["Detector", "Evidence"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One detector's output over all accounts of a frame (same order as ``frame.ids``).

    ``scores`` in [0, 1] or NaN (not judged); ``reasons[i]`` the human-readable evidence for
    account i (empty when the score is low); ``skipped`` says why the detector could not run
    for anybody (e.g. 'no prompt text in the log'), None when it ran.
    """

    detector: str
    scores: np.ndarray
    reasons: tuple[tuple[str, ...], ...]
    skipped: str | None = None


class Detector(Protocol):
    """A pure per-account detector: metadata on the class, maths in module functions."""

    name: ClassVar[str]
    needs: ClassVar[frozenset[str]]  # frame columns it reads; content ones may be absent
    content: ClassVar[bool]  # True when it needs prompt text (skipped in metadata-only mode)
    doc_uri: ClassVar[str]

    def evaluate(self, frame: AccountFrame) -> Evidence: ...
