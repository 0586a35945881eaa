"""OpenTelemetry GenAI spans (OTLP/JSON) mapped onto events, through the real ingest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distillguard.events.adapters.otel_genai import iter_otel_genai
from distillguard.events.ingest import ingest
from distillguard.events.readers import Chunk
from distillguard.store import Store

T0 = 1_764_324_000_000_000_000  # 2025-11-28T10:00:00Z in ns


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        v: dict[str, Any] = {"boolValue": value}
    elif isinstance(value, int):
        v = {"intValue": str(value)}
    elif isinstance(value, float):
        v = {"doubleValue": value}
    elif isinstance(value, list):
        v = {"arrayValue": {"values": [{"stringValue": x} for x in value]}}
    else:
        v = {"stringValue": value}
    return {"key": key, "value": v}


def _span(n: int, attrs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "traceId": f"{n:032x}",
        "spanId": f"{n:016x}",
        "name": "span",
        "kind": 2,
        "startTimeUnixNano": str(T0 + n * 1_000_000_000),
        "endTimeUnixNano": str(T0 + n * 1_000_000_000 + 250_000_000),
        "attributes": [_attr(k, v) for k, v in attrs.items()],
        **extra,
    }


def _export(spans: list[dict[str, Any]], resource: dict[str, Any] | None = None) -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr(k, v) for k, v in (resource or {}).items()]},
                "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
            }
        ]
    }


NEW_CHAT = _span(
    1,
    {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-x",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 300,
        "gen_ai.usage.input_tokens": 41,
        "gen_ai.usage.output_tokens": 99,
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be terse."}]),
        "gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": "Explain your reasoning"}]}]
        ),
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": "Sure."}]}]
        ),
        "client.address": "198.51.100.7",
        "user_agent.original": "OpenAI/Python 1.50",
        "enduser.id": "acct-new",
        "http.response.status_code": 200,
    },
)
OLD_CHAT = _span(
    2,
    {
        "gen_ai.operation.name": "chat",
        "gen_ai.response.model": "gpt-y",
        "gen_ai.usage.prompt_tokens": 7,
        "network.peer.address": "2001:db8::1",
    },
    events=[
        {
            "name": "gen_ai.content.prompt",
            "attributes": [_attr("gen_ai.prompt", json.dumps([{"role": "user", "content": "hi"}]))],
        },
        {
            "name": "gen_ai.content.completion",
            "attributes": [
                _attr("gen_ai.completion", json.dumps([{"role": "assistant", "content": "yo"}]))
            ],
        },
    ],
    status={"code": 2, "message": "upstream failed"},
)
FLAT_COMPLETION = _span(
    3,
    {
        "gen_ai.operation.name": "text_completion",
        "gen_ai.request.model": "m",
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "Once upon a time",
        "client.address": "203.0.113.9",
        "user.id": "acct-flat",
    },
)
HTTP_ONLY = _span(4, {"http.request.method": "POST", "url.path": "/v1/chat"})
NO_ACCOUNT = _span(
    5,
    {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.request.model": "emb",
        "client.address": "203.0.113.10",
    },
)


def _write(tmp_path: Path, doc: dict, name: str = "traces.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_spans_map_onto_events(tmp_path):
    doc = _export(
        [NEW_CHAT, OLD_CHAT, FLAT_COMPLETION, HTTP_ONLY, NO_ACCOUNT], {"user.id": "acct-res"}
    )
    path = _write(tmp_path, doc)
    rejects = tmp_path / "rej.jsonl"
    with Store.open() as store:
        (f,) = ingest(store, [path], rejects=rejects).files  # auto-detected from content
        rows = store.con.sql("SELECT * FROM events ORDER BY ts").fetchall()
        cols = store.con.sql("SELECT * FROM events").columns
    assert str(f.format) == "otel-genai"
    assert (f.records, f.accepted, f.rejected) == (4, 4, 0)  # the HTTP span is not an event
    new, old, flat, emb = (dict(zip(cols, r, strict=True)) for r in rows)
    assert new["request_id"] == f"{1:032x}-{1:016x}"
    assert new["account_id"] == "acct-new"
    assert new["endpoint"] == "chat.completions"
    assert new["client_ip"] == "198.51.100.7"
    assert new["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Explain your reasoning"},
    ]
    assert new["response_text"] == "Sure."
    assert json.loads(new["params"]) == {"temperature": 0.2, "max_tokens": 300}
    assert (new["prompt_tokens"], new["completion_tokens"], new["status"]) == (41, 99, 200)
    assert new["latency_ms"] == 250.0
    assert new["ts"].isoformat().startswith("2025-11-28T10:00:01")
    # Older conventions: prompt/completion events, resource-level user, peer address, ERROR.
    assert old["account_id"] == "acct-res"
    assert old["model"] == "gpt-y"
    assert old["messages"] == [{"role": "user", "content": "hi"}]
    assert old["response_text"] == "yo"
    assert (old["client_ip"], old["status"], old["prompt_tokens"]) == ("2001:db8::1", 500, 7)
    assert (flat["endpoint"], flat["prompt"], flat["account_id"]) == (
        "completions",
        "Once upon a time",
        "acct-flat",
    )
    assert emb["endpoint"] == "embeddings"


def test_span_without_account_is_rejected_with_reason(tmp_path):
    path = _write(tmp_path, _export([NEW_CHAT, NO_ACCOUNT]), "spans.otlp.json")
    rejects = tmp_path / "rej.jsonl"
    with Store.open() as store:
        (f,) = ingest(store, [path], rejects=rejects, format="otel-genai").files
    assert (f.accepted, f.rejected) == (1, 1)
    (entry,) = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert entry["span"] == 2
    assert "enduser.id" in entry["reason"]


def test_account_attribute_is_configurable(tmp_path):
    span = _span(
        9,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "m",
            "client.address": "192.0.2.1",
            "tenant": "t-42",
            "gen_ai.input.messages": json.dumps([{"role": "user", "content": "x"}]),
        },
    )
    path = _write(tmp_path, _export([span]))
    with Store.open() as store:
        ingest(store, [path], account_attributes=("tenant",))
        assert store.con.sql("SELECT account_id FROM events").fetchall() == [("t-42",)]


def test_collector_file_export_one_document_per_line(tmp_path):
    path = tmp_path / "traces.jsonl"
    path.write_text(
        json.dumps(_export([NEW_CHAT])) + "\n" + json.dumps(_export([FLAT_COMPLETION])) + "\n"
    )
    chunks: list[Chunk] = list(iter_otel_genai(path))
    assert sum(c.table.num_rows for c in chunks) == 2
    with Store.open() as store:
        assert ingest(store, [path]).files[0].accepted == 2


def test_an_event_log_whose_prompt_names_the_otlp_key_is_not_taken_for_an_export() -> None:
    from distillguard.events.adapters.otel_genai import looks_like_otlp

    assert looks_like_otlp(b'{"resourceSpans": [{"resource": {}}]}')
    assert looks_like_otlp(b'{\n  "resource_spans" :[]}')
    line = json.dumps({"request_id": "r1", "prompt": "resourceSpans"}).encode()
    assert not looks_like_otlp(line)
    quoted = json.dumps({"request_id": "r2", "prompt": '{"resourceSpans": []}'}).encode()
    assert not looks_like_otlp(quoted)
