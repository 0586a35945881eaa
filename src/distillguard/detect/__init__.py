"""detect stage: pure detectors, the account network, verdicts.

``DETECTORS`` is the one registry of per-account detectors the audit runs (batch) and whose
maths the gateway's online scorer shares. Add a detector here; nothing looks them up by name.
"""

from distillguard.detect.behaviour.detectors import BEHAVIOUR_DETECTORS
from distillguard.detect.findings import Detector, Evidence
from distillguard.detect.prediction.detector import PredictionExtraction

__all__ = ["DETECTORS", "Detector", "Evidence"]

DETECTORS: tuple[Detector, ...] = (*BEHAVIOUR_DETECTORS, PredictionExtraction())
