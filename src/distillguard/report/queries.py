"""The store queries behind the report: traffic over time, per model, per cluster, samples.

Every query aggregates inside DuckDB and returns small arrays (one value per time bucket, model
or cluster), so a report over millions of events costs a few group-bys, not a Python loop over
rows. The audit's verdicts are joined in as a temporary Arrow view (``_dg_report_verdicts``),
registered for the duration of one :func:`collect` call and removed afterwards.

Time is bucketed on epoch seconds rather than with ``date_trunc`` so that the result does not
depend on the connection's time zone setting.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from distillguard.detect.verdicts import AuditResult
from distillguard.events.records import Label, LabelRecord

__all__ = [
    "BUCKET_CHOICES_S",
    "TURN_SEPARATOR",
    "ClusterTraffic",
    "ModelTraffic",
    "ReportStore",
    "SampleText",
    "Traffic",
    "campaign_events",
    "choose_bucket_s",
    "cluster_samples",
    "cluster_traffic",
    "event_span",
    "labels_from_store",
    "labels_view",
    "model_traffic",
    "traffic",
    "verdicts_view",
]

VIEW = "_dg_report_verdicts"
# Joins the first and last user turns of a multi-turn request in a sample text.
TURN_SEPARATOR = "⏎"
LABELS_VIEW = "_dg_report_labels"

# Bucket widths tried in order; the first giving at most MAX_BUCKETS buckets over the period wins.
BUCKET_CHOICES_S: tuple[int, ...] = (60, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
MAX_BUCKETS = 200

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class ReportStore(Protocol):
    """What the report needs of :class:`distillguard.store.Store`: its DuckDB connection with
    the ``events`` table (and optionally ``labels``) of INTERFACES.md."""

    @property
    def con(self) -> duckdb.DuckDBPyConnection: ...


@dataclass(frozen=True, slots=True)
class Traffic:
    """Requests per time bucket, split by whether the account was flagged.

    ``starts`` are bucket starts in epoch seconds (UTC); all arrays share its length.
    """

    bucket_s: int
    starts: FloatArray
    suspicious: IntArray
    normal: IntArray

    def times(self) -> list[datetime]:
        return [datetime.fromtimestamp(float(s), tz=UTC) for s in self.starts]


@dataclass(frozen=True, slots=True)
class ModelTraffic:
    """Requests per model and time bucket; rows of the matrices follow ``models`` (busiest
    first, the tail folded into ``other``), columns follow the :class:`Traffic` buckets."""

    models: tuple[str, ...]
    suspicious: IntArray
    normal: IntArray


@dataclass(frozen=True, slots=True)
class ClusterTraffic:
    """One cluster's footprint in the log: requests per bucket and its infrastructure spread."""

    cluster_id: str
    counts: IntArray
    n_events: int
    n_accounts_active: int
    n_ips: int
    n_asns: int
    n_countries: int
    n_fingerprints: int
    n_user_agents: int
    models: tuple[tuple[str, int], ...]
    endpoints: tuple[tuple[str, int], ...]
    first_ts: datetime | None
    last_ts: datetime | None


@dataclass(frozen=True, slots=True)
class SampleText:
    """A prompt text seen in a cluster's traffic and how often it was seen in the sample."""

    text: str
    count: int


def choose_bucket_s(span_s: float) -> int:
    """The narrowest bucket width that keeps the period within :data:`MAX_BUCKETS` buckets."""
    for width in BUCKET_CHOICES_S:
        if span_s / width <= MAX_BUCKETS:
            return width
    return int(math.ceil(span_s / MAX_BUCKETS / 86400.0)) * 86400


@contextmanager
def verdicts_view(con: duckdb.DuckDBPyConnection, result: AuditResult) -> Iterator[str]:
    """Expose the audit's per-account verdicts to SQL as a view named ``_dg_report_verdicts``
    (account_id, flagged, cluster_id, score, first_flagged_at) while the block runs."""
    table = pa.table(
        {
            "account_id": pa.array([a.account_id for a in result.accounts], pa.string()),
            "flagged": pa.array([bool(a.flagged) for a in result.accounts], pa.bool_()),
            "cluster_id": pa.array([a.cluster_id for a in result.accounts], pa.string()),
            "score": pa.array([float(a.score) for a in result.accounts], pa.float64()),
            "first_flagged_at": pa.array(
                [a.first_flagged_at for a in result.accounts], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    con.register(VIEW, table)
    try:
        yield VIEW
    finally:
        con.unregister(VIEW)


def event_span(con: duckdb.DuckDBPyConnection) -> tuple[float, float, int] | None:
    """(first, last) event time in epoch seconds and the event count; None for an empty log."""
    # fetchall, not fetchone: DuckDB keeps a half-read result open and refuses the next call.
    (row,) = con.execute("SELECT min(epoch(ts)), max(epoch(ts)), count(*) FROM events").fetchall()
    if row[2] == 0:
        return None
    return float(row[0]), float(row[1]), int(row[2])


def _bucket_axis(first_s: float, last_s: float, bucket_s: int) -> tuple[int, FloatArray]:
    k0 = int(math.floor(first_s / bucket_s))
    k1 = int(math.floor(last_s / bucket_s))
    starts = np.arange(k0, k1 + 1, dtype=np.float64) * bucket_s
    return k0, starts


def traffic(con: duckdb.DuckDBPyConnection, span: tuple[float, float], bucket_s: int) -> Traffic:
    """Requests per bucket from flagged accounts (suspicious) and from everyone else."""
    k0, starts = _bucket_axis(span[0], span[1], bucket_s)
    suspicious = np.zeros(len(starts), dtype=np.int64)
    normal = np.zeros(len(starts), dtype=np.int64)
    rows = con.execute(
        f"""
        SELECT CAST(floor(epoch(e.ts) / ?) AS BIGINT) AS k, coalesce(v.flagged, false) AS s,
               count(*) AS n
        FROM events e LEFT JOIN {VIEW} v ON v.account_id = e.account_id
        GROUP BY ALL
        """,
        [bucket_s],
    ).fetchall()
    for k, s, n in rows:
        (suspicious if s else normal)[int(k) - k0] += int(n)
    return Traffic(bucket_s=bucket_s, starts=starts, suspicious=suspicious, normal=normal)


def model_traffic(
    con: duckdb.DuckDBPyConnection, axis: Traffic, max_models: int = 6
) -> ModelTraffic:
    """Requests per model and bucket, split suspicious/normal. Shows release chasing: the
    suspicious traffic moving to a newly released model faster than the customers do."""
    k0 = int(round(float(axis.starts[0]) / axis.bucket_s)) if len(axis.starts) else 0
    rows = con.execute(
        f"""
        SELECT e.model, CAST(floor(epoch(e.ts) / ?) AS BIGINT) AS k,
               coalesce(v.flagged, false) AS s, count(*) AS n
        FROM events e LEFT JOIN {VIEW} v ON v.account_id = e.account_id
        GROUP BY ALL
        """,
        [axis.bucket_s],
    ).fetchall()
    totals: dict[str, int] = {}
    for model, _k, _s, n in rows:
        totals[str(model)] = totals.get(str(model), 0) + int(n)
    ranked = sorted(totals, key=lambda m: (-totals[m], m))
    if len(ranked) > max_models:
        models = (*ranked[: max_models - 1], "other")
    else:
        models = tuple(ranked)
    index = {m: i for i, m in enumerate(models)}
    shape = (len(models), len(axis.starts))
    suspicious = np.zeros(shape, dtype=np.int64)
    normal = np.zeros(shape, dtype=np.int64)
    for model, k, s, n in rows:
        row = index.get(str(model), index.get("other", 0))
        (suspicious if s else normal)[row, int(k) - k0] += int(n)
    return ModelTraffic(models=models, suspicious=suspicious, normal=normal)


def _top(pairs: object, limit: int) -> tuple[tuple[str, int], ...]:
    items = [(str(p["k"]), int(p["n"])) for p in (pairs or [])]  # type: ignore[attr-defined]
    items.sort(key=lambda kv: (-kv[1], kv[0]))
    return tuple(items[:limit])


def cluster_traffic(
    con: duckdb.DuckDBPyConnection, axis: Traffic, cluster_ids: Sequence[str]
) -> dict[str, ClusterTraffic]:
    """Per cluster: requests per bucket (on ``axis``) and how widely its traffic is spread over
    addresses, networks, countries, devices and clients."""
    if not cluster_ids or not len(axis.starts):
        return {}
    k0 = int(round(float(axis.starts[0]) / axis.bucket_s))
    ids = list(cluster_ids)
    counts = {c: np.zeros(len(axis.starts), dtype=np.int64) for c in ids}
    for cid, k, n in con.execute(
        f"""
        SELECT v.cluster_id, CAST(floor(epoch(e.ts) / ?) AS BIGINT) AS k, count(*) AS n
        FROM events e JOIN {VIEW} v ON v.account_id = e.account_id
        WHERE v.cluster_id IN (SELECT unnest(?::VARCHAR[]))
        GROUP BY ALL
        """,
        [axis.bucket_s, ids],
    ).fetchall():
        counts[str(cid)][int(k) - k0] += int(n)
    out: dict[str, ClusterTraffic] = {}
    for row in con.execute(
        f"""
        WITH c AS (
            SELECT v.cluster_id, e.*
            FROM events e JOIN {VIEW} v ON v.account_id = e.account_id
            WHERE v.cluster_id IN (SELECT unnest(?::VARCHAR[]))
        ),
        m AS (
            SELECT cluster_id, list({{'k': model, 'n': n}}) AS models
            FROM (SELECT cluster_id, model AS model, count(*) AS n FROM c GROUP BY ALL)
            GROUP BY cluster_id
        ),
        p AS (
            SELECT cluster_id, list({{'k': endpoint, 'n': n}}) AS endpoints
            FROM (SELECT cluster_id, endpoint, count(*) AS n FROM c GROUP BY ALL)
            GROUP BY cluster_id
        ),
        s AS (
            SELECT cluster_id, count(*) AS n_events, count(DISTINCT account_id) AS n_acc,
                   count(DISTINCT client_ip) AS n_ip, count(DISTINCT asn) AS n_asn,
                   count(DISTINCT country) AS n_country,
                   count(DISTINCT client_fingerprint) AS n_fp,
                   count(DISTINCT user_agent) AS n_ua,
                   min(epoch(ts)) AS t0, max(epoch(ts)) AS t1
            FROM c GROUP BY cluster_id
        )
        SELECT s.*, m.models, p.endpoints
        FROM s LEFT JOIN m USING (cluster_id) LEFT JOIN p USING (cluster_id)
        """,
        [ids],
    ).fetchall():
        cid = str(row[0])
        out[cid] = ClusterTraffic(
            cluster_id=cid,
            counts=counts[cid],
            n_events=int(row[1]),
            n_accounts_active=int(row[2]),
            n_ips=int(row[3]),
            n_asns=int(row[4]),
            n_countries=int(row[5]),
            n_fingerprints=int(row[6]),
            n_user_agents=int(row[7]),
            first_ts=datetime.fromtimestamp(float(row[8]), tz=UTC) if row[8] is not None else None,
            last_ts=datetime.fromtimestamp(float(row[9]), tz=UTC) if row[9] is not None else None,
            models=_top(row[10], 4),
            endpoints=_top(row[11], 4),
        )
    return out


def cluster_samples(
    con: duckdb.DuckDBPyConnection, cluster_ids: Sequence[str], per_cluster: int = 300
) -> dict[str, list[SampleText]]:
    """Up to ``per_cluster`` prompt texts per cluster, drawn in a stable pseudo-random order
    (hash of request_id) so the same log gives the same samples. Identical texts are counted
    together, most frequent first.

    A chat request reads as its first user message (the task), followed, in a multi-turn
    request, by :data:`TURN_SEPARATOR` and the last one (where harvesting follow-ups such as
    "now show all your reasoning" sit); a completion request reads as its prompt.

    Clusters whose events carry no text get no entry: the report then says content is absent.
    """
    if not cluster_ids:
        return {}
    rows = con.execute(
        f"""
        WITH u AS (
            SELECT v.cluster_id, e.request_id, e.prompt,
                   list_filter(e.messages, lambda m: m.role = 'user') AS turns
            FROM events e JOIN {VIEW} v ON v.account_id = e.account_id
            WHERE v.cluster_id IN (SELECT unnest(?::VARCHAR[]))
        ),
        t AS (
            SELECT cluster_id, request_id,
                   CASE WHEN len(turns) > 1
                        THEN turns[1].content || ' {TURN_SEPARATOR} ' || turns[-1].content
                        ELSE coalesce(turns[1].content, prompt) END AS text
            FROM u
        ),
        r AS (
            SELECT cluster_id, text,
                   row_number() OVER (
                       PARTITION BY cluster_id ORDER BY hash(request_id), request_id
                   ) AS rn
            FROM t WHERE text IS NOT NULL AND length(text) > 0
        )
        SELECT cluster_id, text, count(*) AS n FROM r WHERE rn <= ?
        GROUP BY ALL ORDER BY cluster_id, n DESC, text
        """,
        [list(cluster_ids), per_cluster],
    ).fetchall()
    out: dict[str, list[SampleText]] = {}
    for cid, text, n in rows:
        out.setdefault(str(cid), []).append(SampleText(text=str(text), count=int(n)))
    return out


@contextmanager
def labels_view(con: duckdb.DuckDBPyConnection, labels: Sequence[LabelRecord]) -> Iterator[str]:
    """Expose ground-truth labels to SQL as a view named ``_dg_report_labels`` while the block
    runs (whether or not the store has a ``labels`` table of its own)."""
    table = pa.table(
        {
            "account_id": pa.array([r.account_id for r in labels], pa.string()),
            "label": pa.array([str(r.label) for r in labels], pa.string()),
            "campaign_id": pa.array([r.campaign_id for r in labels], pa.string()),
        }
    )
    con.register(LABELS_VIEW, table)
    try:
        yield LABELS_VIEW
    finally:
        con.unregister(LABELS_VIEW)


def campaign_events(con: duckdb.DuckDBPyConnection) -> dict[str | None, tuple[int, int]]:
    """Per campaign of the labels view: (requests served before the account was first
    flagged, all requests). A never-flagged account's requests all count as served. The key
    None sums every malicious account's requests, campaign or not.

    Needs both :func:`verdicts_view` and :func:`labels_view` open.
    """
    rows = con.execute(
        f"""
        SELECT grouping(l.campaign_id) AS total, l.campaign_id,
               sum(CASE WHEN v.first_flagged_at IS NULL OR e.ts < v.first_flagged_at
                        THEN 1 ELSE 0 END) AS served,
               count(*) AS n
        FROM events e
        JOIN {LABELS_VIEW} l ON l.account_id = e.account_id
        LEFT JOIN {VIEW} v ON v.account_id = e.account_id
        WHERE l.label = 'malicious'
        GROUP BY GROUPING SETS ((l.campaign_id), ())
        """
    ).fetchall()
    out: dict[str | None, tuple[int, int]] = {None: (0, 0)}
    for is_total, c, s, n in rows:
        if is_total:
            out[None] = (int(s), int(n))
        elif c is not None:
            out[str(c)] = (int(s), int(n))
    return out


def labels_from_store(con: duckdb.DuckDBPyConnection) -> tuple[LabelRecord, ...] | None:
    """The ground truth in the store's ``labels`` table, or None when there is none."""
    ((exists,),) = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'labels'"
    ).fetchall()
    if exists == 0:
        return None
    rows = con.execute(
        "SELECT account_id, label, campaign_id, kind FROM labels ORDER BY account_id"
    ).fetchall()
    if not rows:
        return None
    return tuple(
        LabelRecord(account_id=a, label=Label(lab), campaign_id=c, kind=k) for a, lab, c, k in rows
    )
