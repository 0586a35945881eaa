"""Per-request content signals: jailbreak, injection, extraction, reasoning harvest, rubric
grading, and prompt template fingerprints.

``ContentModel.load()`` reads the model shipped in the package (never at import, never from the
network); ``.score(texts)`` scores batches, ``.score_one(text)`` one request on the hot path.
:mod:`distillguard.detect.content.templates` fingerprints prompt templates.
"""

from distillguard.detect.content import templates
from distillguard.detect.content.scan import SCAN_FIELDS, ScanStatus, row_text, score_rows
from distillguard.detect.content.scorer import HEADS, SIGNALS, ContentModel, ContentScores

__all__ = [
    "HEADS",
    "SCAN_FIELDS",
    "SIGNALS",
    "ContentModel",
    "ContentScores",
    "ScanStatus",
    "row_text",
    "score_rows",
    "templates",
]
