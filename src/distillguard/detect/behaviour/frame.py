"""Per-account feature columns, as numpy arrays aligned on one sorted account index.

The engine fills it from the SQL aggregates (Arrow) and from content scoring; detectors read
columns by name. A column that could not be computed (no content, no account records) is all NaN,
and detectors that need it say so instead of scoring.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

__all__ = ["AccountFrame", "ramp"]


def ramp(x: np.ndarray | float, lo: float, hi: float) -> np.ndarray:
    """0 below ``lo``, 1 above ``hi``, linear between; NaN stays NaN. The evidence curve every
    detector uses, so each threshold in a detector reads as 'starts to count at lo, full at hi'."""
    arr = np.asarray(x, dtype=np.float64)
    # minimum/maximum rather than clip: same result, a fraction of the overhead on the one-row
    # frames of the online scorer.
    return np.minimum(np.maximum((arr - lo) / (hi - lo), 0.0), 1.0)


@dataclass(slots=True)
class AccountFrame:
    """Columns of per-account values; ``ids`` sorted ascending and unique.

    Numeric columns are float64 (missing = NaN); text columns (``org_id``, ``verification``, …)
    are object arrays with None for missing.
    """

    ids: np.ndarray
    num: dict[str, np.ndarray] = field(default_factory=dict)
    text: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_arrow(cls, table: pa.Table, key: str = "account_id") -> AccountFrame:
        ids = np.asarray(table.column(key).to_pylist(), dtype=object)
        frame = cls(ids=ids)
        for name in table.column_names:
            if name == key:
                continue
            col = table.column(name)
            if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
                frame.num[name] = col.to_numpy(zero_copy_only=False).astype(np.float64)
            elif pa.types.is_boolean(col.type):
                values = col.to_pylist()
                frame.num[name] = np.array(
                    [np.nan if v is None else float(v) for v in values], dtype=np.float64
                )
            else:
                frame.text[name] = np.asarray(col.to_pylist(), dtype=object)
        return frame

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def col(self, name: str) -> np.ndarray:
        """A numeric column, or all-NaN when it was never computed."""
        found = self.num.get(name)
        if found is None:
            return np.full(len(self), np.nan)
        return found

    def txt(self, name: str) -> np.ndarray:
        found = self.text.get(name)
        if found is None:
            return np.full(len(self), None, dtype=object)
        return found

    def has(self, name: str) -> bool:
        """True when the column exists and has at least one value."""
        found = self.num.get(name)
        return found is not None and bool(np.isfinite(found).any())

    def index_of(self, account_ids: Iterable[str]) -> np.ndarray:
        """Row positions of ``account_ids`` (all must be present)."""
        wanted = np.asarray(list(account_ids), dtype=object)
        pos = np.searchsorted(self.ids, wanted)
        return pos

    def put(self, name: str, account_ids: Iterable[str], values: Iterable[float]) -> None:
        """Set a numeric column from (account, value) pairs; accounts not given get NaN."""
        out = np.full(len(self), np.nan)
        ids = list(account_ids)
        if ids:
            out[self.index_of(ids)] = np.asarray(list(values), dtype=np.float64)
        self.num[name] = out

    def put_many(self, account_ids: Iterable[str], columns: Mapping[str, Iterable[float]]) -> None:
        ids = list(account_ids)
        for name, values in columns.items():
            self.put(name, ids, values)

    def row(self, i: int) -> dict[str, float]:
        """One account's finite numeric features (for the verdict record)."""
        return {k: float(v[i]) for k, v in sorted(self.num.items()) if np.isfinite(v[i])}
