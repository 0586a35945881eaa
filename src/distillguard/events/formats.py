"""File formats of the event log and how a path names its format.

The suffix decides unless the caller says otherwise: ``.jsonl`` (also ``.ndjson``, ``.json``),
``.jsonl.gz``, ``.parquet``, ``.csv``. ``otel-genai`` (OpenTelemetry GenAI spans exported as
OTLP JSON) is read by an adapter and is never written.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from distillguard.errors import InputFileError

__all__ = ["FileFormat", "Kind", "format_for"]

Kind = Literal["events", "accounts", "labels", "verdicts"]


class FileFormat(StrEnum):
    """A file layout distillguard reads (all of them) or writes (all but ``OTEL_GENAI``)."""

    JSONL = "jsonl"
    JSONL_GZ = "jsonl.gz"
    PARQUET = "parquet"
    CSV = "csv"
    OTEL_GENAI = "otel-genai"


_SUFFIXES: tuple[tuple[str, FileFormat], ...] = (
    (".jsonl.gz", FileFormat.JSONL_GZ),
    (".ndjson.gz", FileFormat.JSONL_GZ),
    (".json.gz", FileFormat.JSONL_GZ),
    (".jsonl", FileFormat.JSONL),
    (".ndjson", FileFormat.JSONL),
    (".json", FileFormat.JSONL),
    (".parquet", FileFormat.PARQUET),
    (".csv", FileFormat.CSV),
)


def format_for(path: Path, explicit: str | FileFormat | None = None) -> FileFormat:
    """The format of ``path``: ``explicit`` when given, else from its suffix.

    Raises :class:`InputFileError` naming the path when neither says which format it is.
    """
    if explicit is not None:
        try:
            return FileFormat(str(explicit).lower().lstrip("."))
        except ValueError:
            known = ", ".join(f.value for f in FileFormat)
            raise InputFileError(path, f"unknown format {explicit!r}; use one of {known}") from None
    name = path.name.lower()
    for suffix, fmt in _SUFFIXES:
        if name.endswith(suffix):
            return fmt
    raise InputFileError(
        path,
        "cannot tell the format from the file name; use .jsonl, .jsonl.gz, .parquet or .csv "
        "(or pass the format explicitly)",
    )
