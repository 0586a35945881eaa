"""report stage: the audit's terminal summary and its self-contained HTML report.

``print_summary(result, console)`` for the terminal; ``write_report(store, result, path,
labels=None)`` for report.html. Both read the audit's result records
(:mod:`distillguard.detect.verdicts`); the HTML report also queries the store's ``events``.
"""

from distillguard.report.html import write_report
from distillguard.report.terminal import print_summary

__all__ = ["print_summary", "write_report"]
