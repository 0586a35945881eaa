"""A small hand-made world for the report tests: a DuckDB store with the ``events`` table of
INTERFACES.md, and an audit result written by hand so that the report is tested on its own.

One day of traffic: 30 customers, a templated distillation cluster (c-dist) that moves to the
new model at noon and whose prompts include a hostile ``<script>`` and a pasted API key, a
prediction-extraction pair (c-pred, no text), a corporate NAT group judged benign (c-nat), and
one account cleared by an analyst's known-good override.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from distillguard.detect.content.templates import template_id
from distillguard.detect.verdicts import (
    AccountVerdict,
    AuditResult,
    AuditStats,
    ClusterVerdict,
    KnownGood,
    Response,
    response_for,
)
from distillguard.events.records import Label, LabelRecord

DAY0 = datetime(2026, 3, 2, tzinfo=UTC)
HOSTILE = (
    "<script>window.__pwned = 1; document.title = 'pwned'</script><img src=x onerror=alert(1)>"
)
SECRET = "sk-live1234567890abcdefABCDEF"
SECRET_PROMPT = f"my key is {SECRET} please use it"

EVENTS_DDL = """
CREATE TABLE events (
    request_id VARCHAR PRIMARY KEY, ts TIMESTAMPTZ, account_id VARCHAR, api_key_id VARCHAR,
    org_id VARCHAR, endpoint VARCHAR, model VARCHAR, client_ip VARCHAR, asn BIGINT,
    country VARCHAR, user_agent VARCHAR, client_fingerprint VARCHAR,
    messages STRUCT(role VARCHAR, content VARCHAR)[], prompt VARCHAR, features DOUBLE[],
    params JSON, response_text VARCHAR, response_probs DOUBLE[], prompt_tokens BIGINT,
    completion_tokens BIGINT, status BIGINT, latency_ms DOUBLE, action VARCHAR
)
"""

TEMPLATES = (
    "Solve step by step and show all your reasoning: problem {n}",
    "Grade this answer on a 1-10 rubric and explain every criterion: item {n}",
)
CUSTOMERS = [f"acct-cust-{i:02d}" for i in range(30)]
DISTILLERS = [f"acct-dist-{i:02d}" for i in range(8)]
PREDICTORS = ["acct-pred-00", "acct-pred-01"]
NAT = ["acct-cust-00", "acct-cust-01", "acct-cust-02"]
CLEARED = "acct-cust-29"


class FakeStore:
    """Quacks like distillguard.store.Store for the report: a ``con`` with an events table."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self._con


def _events(with_content: bool) -> list[tuple[object, ...]]:
    rng = np.random.default_rng(5)
    rows: list[tuple[object, ...]] = []

    def add(account, ts, model, ip, asn, text, endpoint="chat.completions", features=None):
        messages = None
        if endpoint == "chat.completions":
            messages = [{"role": "user", "content": text if with_content else ""}]
            if not with_content:
                messages = []
        rows.append(
            (
                f"req-{len(rows):06d}",
                ts,
                account,
                None,
                None,
                endpoint,
                model,
                ip,
                asn,
                "US",
                "python-sdk/1.0",
                f"fp-{account[-2:]}",
                messages,
                None,
                features,
                None,
                None,
                None,
                40,
                300,
                200,
                120.0,
                None,
            )
        )

    for i, account in enumerate(CUSTOMERS):
        ip = "10.0.0.1" if account in NAT else f"198.51.100.{i}"
        for _ in range(40):
            ts = DAY0 + timedelta(seconds=float(rng.uniform(0, 86400)))
            model = "model-b" if ts.hour >= 12 and rng.random() < 0.1 else "model-a"
            add(account, ts, model, ip, 64500 + i, f"Customer question {int(rng.integers(1000))}")
    for j, account in enumerate(DISTILLERS):
        for k in range(60):
            ts = DAY0 + timedelta(hours=6, seconds=float(rng.uniform(0, 15 * 3600)))
            model = "model-b" if ts.hour >= 12 else "model-a"
            text = TEMPLATES[k % 2].format(n=int(rng.integers(10_000)))
            # Repeated, so that both land among the "most repeated prompts" the report quotes.
            if j == 0 and k < 6:
                text = HOSTILE
            if j == 1 and k < 6:
                text = SECRET_PROMPT
            add(account, ts, model, f"203.0.113.{k % 7}", 9009, text)
    for account in PREDICTORS:
        for _ in range(30):
            ts = DAY0 + timedelta(hours=2, seconds=float(rng.uniform(0, 4 * 3600)))
            add(account, ts, "fraud-v1", "192.0.2.9", 7777, "", "predict", [0.5, 0.1, 0.9])
    return rows


def make_store(with_content: bool = True) -> FakeStore:
    con = duckdb.connect(":memory:")
    con.execute(EVENTS_DDL)
    # Through Arrow, not executemany: DuckDB runs executemany one statement per row.
    names = [row[1] for row in con.execute("PRAGMA table_info('events')").fetchall()]
    rows = _events(with_content)
    columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    schema = pa.schema(
        [
            ("request_id", pa.string()),
            ("ts", pa.timestamp("us", tz="UTC")),
            *[(n, pa.string()) for n in names[2:8]],
            ("asn", pa.int64()),
            *[(n, pa.string()) for n in names[9:12]],
            ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ("prompt", pa.string()),
            ("features", pa.list_(pa.float64())),
            ("params", pa.string()),
            ("response_text", pa.string()),
            ("response_probs", pa.list_(pa.float64())),
            ("prompt_tokens", pa.int64()),
            ("completion_tokens", pa.int64()),
            ("status", pa.int64()),
            ("latency_ms", pa.float64()),
            ("action", pa.string()),
        ]
    )
    table = pa.table(columns, schema=schema)
    con.register("_fixture_events", table)
    con.execute("INSERT INTO events SELECT * FROM _fixture_events")
    con.unregister("_fixture_events")
    return FakeStore(con)


def _verdict(account: str, score: float, cluster: str | None, reasons: tuple[str, ...], **kw):
    flagged = score >= 0.5
    return AccountVerdict(
        account_id=account,
        score=score,
        flagged=flagged,
        cluster_id=cluster,
        reasons=reasons,
        first_flagged_at=DAY0 + timedelta(hours=7) if flagged else None,
        response=response_for(score, flagged),
        features={"volume": score},
        kind=kw.pop("kind", "distillation" if flagged else None),
        n_events=kw.pop("n_events", 40),
        **kw,
    )


def make_result(content_available: bool = True) -> AuditResult:
    good = KnownGood(
        account_id=CLEARED, org_id=None, who="ana@t-and-s", why="University eval partner"
    )
    accounts = [
        _verdict(
            a,
            0.97 - 0.01 * i,
            "c-dist",
            ("template concentration 0.92", "reasoning share 0.8"),
            n_events=60,
        )
        for i, a in enumerate(DISTILLERS)
    ]
    accounts += [
        _verdict(
            a,
            0.88,
            "c-pred",
            ("PRADA distance test p=1e-6",),
            kind="prediction_extraction",
            n_events=30,
        )
        for a in PREDICTORS
    ]
    accounts += [
        _verdict(a, 0.05 + 0.01 * i, "c-nat" if a in NAT else None, ("low volume",))
        for i, a in enumerate(CUSTOMERS)
    ]
    accounts = [
        replace(a, score=0.7, flagged=False, response=Response.NONE, override=good)
        if a.account_id == CLEARED
        else a
        for a in accounts
    ]
    accounts.sort(key=lambda a: -a.score)
    clusters = (
        ClusterVerdict(
            cluster_id="c-dist",
            members=tuple(DISTILLERS),
            score=0.96,
            kind="distillation",
            evidence=(
                "8 accounts share 7 addresses in AS9009",
                "one prompt template in 92% of requests",
            ),
            shared={
                "ip": ("203.0.113.0", "203.0.113.1"),
                "template": (template_id(TEMPLATES[0].format(n=1)), "0123456789abcdef"),
            },
            response=Response.SUSPEND,
            flagged=True,
            n_events=480,
        ),
        ClusterVerdict(
            cluster_id="c-pred",
            members=tuple(PREDICTORS),
            score=0.88,
            kind="prediction_extraction",
            evidence=("synchronised bursts",),
            shared={"ip": ("192.0.2.9",)},
            response=Response.CHALLENGE,
            flagged=True,
            n_events=60,
        ),
        ClusterVerdict(
            cluster_id="c-nat",
            members=tuple(NAT),
            score=0.1,
            kind="benign",
            evidence=("one corporate NAT address",),
            shared={"ip": ("10.0.0.1",)},
            response=Response.NONE,
            flagged=False,
            n_events=120,
        ),
    )
    n_events = 30 * 40 + 8 * 60 + 2 * 30
    stats = AuditStats(
        n_events=n_events,
        n_accounts=len(accounts),
        n_flagged=sum(a.flagged for a in accounts),
        suspicious_event_share=(8 * 60 + 2 * 30) / n_events,
        content_available=content_available,
        started=DAY0 + timedelta(days=1),
        finished=DAY0 + timedelta(days=1, seconds=3),
        n_clusters=3,
        n_flagged_clusters=2,
        period_start=DAY0,
        period_end=DAY0 + timedelta(days=1),
        notes=() if content_available else ("no prompt text in the log: metadata-only mode",),
        overrides=(good,),
        detectors=("behaviour", "network", "prediction"),
    )
    return AuditResult(accounts=tuple(accounts), clusters=clusters, stats=stats)


def make_labels() -> tuple[LabelRecord, ...]:
    out = [
        LabelRecord(
            account_id=a, label=Label.MALICIOUS, campaign_id="camp-dist", kind="cot_harvest"
        )
        for a in DISTILLERS
    ]
    out += [
        LabelRecord(
            account_id=a,
            label=Label.MALICIOUS,
            campaign_id="camp-pred",
            kind="prediction_extraction",
        )
        for a in PREDICTORS
    ]
    out += [
        LabelRecord(
            account_id=a, label=Label.BENIGN, kind="corporate_nat" if a in NAT else "developer"
        )
        for a in CUSTOMERS
    ]
    return tuple(out)


@pytest.fixture
def store() -> Iterator[FakeStore]:
    s = make_store(with_content=True)
    yield s
    s.con.close()


@pytest.fixture
def bare_store() -> Iterator[FakeStore]:
    s = make_store(with_content=False)
    yield s
    s.con.close()


@pytest.fixture
def result() -> AuditResult:
    return make_result()


@pytest.fixture
def labels() -> tuple[LabelRecord, ...]:
    return make_labels()
