"""audit: the edge that runs the detect stage on files or a store and writes its outputs.

``run_audit`` ingests event files into a throwaway store (or opens an ingested one), loads the
content model, calls :func:`distillguard.detect.engine.audit_store` and writes
``verdicts.jsonl``, ``clusters.jsonl``, ``enforcement.json`` and ``report.html``.
"""

from distillguard.audit.run import AuditRun, load_known_good, run_audit, write_outputs

__all__ = ["AuditRun", "load_known_good", "run_audit", "write_outputs"]
