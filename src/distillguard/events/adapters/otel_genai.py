"""Adapter: OpenTelemetry GenAI spans, exported as OTLP JSON, onto the request-event record.

Providers that already trace their API with OpenTelemetry can hand those traces to
distillguard as they are. The input is the OTLP/JSON trace encoding (``resourceSpans`` →
``scopeSpans`` → ``spans``), either one JSON document or one document per line (as the
collector's file exporter writes). Only spans that carry ``gen_ai.operation.name`` become
events; other spans (HTTP, database, …) are skipped and counted in the log.

Mapping (attribute names from the GenAI semantic conventions, with the older names still
emitted by many instrumentations as fallbacks; ``README.md`` has the same table):

==================  ===============================================================
event field         from
==================  ===============================================================
request_id          ``traceId`` + ``-`` + ``spanId``
ts                  ``startTimeUnixNano`` (as RFC 3339 UTC)
account_id          first of the configured attributes (default ``enduser.id``,
                    ``user.id``, ``gen_ai.user.id``, ``account.id``) on the span, else
                    on its resource; absent → the span is rejected with that reason
endpoint            ``gen_ai.operation.name``: chat / generate_content →
                    chat.completions, text_completion → completions, embeddings →
                    embeddings, anything else kept as is
model               ``gen_ai.request.model``, else ``gen_ai.response.model``
client_ip           ``client.address``, else ``network.peer.address`` (required: a span
                    recorded by a client SDK has neither and is rejected)
user_agent          ``user_agent.original``
messages            ``gen_ai.system_instructions`` + ``gen_ai.input.messages`` (text
                    parts joined); older: ``gen_ai.prompt`` on a ``gen_ai.content.prompt``
                    event, ``gen_ai.{system,user,assistant,tool}.message`` events,
                    ``gen_ai.prompt.N.role/content`` attributes
prompt              for text_completion: the user text of the above
params              ``gen_ai.request.{temperature, max_tokens, top_p, top_k, seed,
                    frequency_penalty, presence_penalty, stop_sequences→stop,
                    choice.count→n}``
response_text       ``gen_ai.output.messages`` (first assistant text); older:
                    ``gen_ai.completion`` on a ``gen_ai.content.completion`` event,
                    ``gen_ai.choice`` event, ``gen_ai.completion.0.content``
prompt_tokens       ``gen_ai.usage.input_tokens`` (older ``gen_ai.usage.prompt_tokens``)
completion_tokens   ``gen_ai.usage.output_tokens`` (older ``…completion_tokens``)
status              ``http.response.status_code``; else 500 when the span status is
                    ERROR, 200 otherwise
latency_ms          ``endTimeUnixNano - startTimeUnixNano``
==================  ===============================================================

No mapping (left absent): ``api_key_id``, ``org_id``, ``asn``, ``country``,
``client_fingerprint``, ``features``, ``response_probs``, ``action``;
``gen_ai.response.finish_reasons`` and ``server.address`` have no field in the event record.

This adapter builds a Python dict per span (the OTLP nesting leaves little choice), so it is
slower than the native formats; convert large archives once with ``distillguard ingest`` and
query the store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import structlog

from distillguard.errors import InputFileError
from distillguard.events.readers import Chunk, ProgressFn
from distillguard.events.schema import MESSAGE_TYPE

__all__ = [
    "DEFAULT_ACCOUNT_ATTRIBUTES",
    "OTEL_COLUMNS",
    "iter_otel_genai",
    "looks_like_otlp",
    "span_to_event",
]

log = structlog.get_logger(__name__)

DEFAULT_ACCOUNT_ATTRIBUTES: tuple[str, ...] = (
    "enduser.id",
    "user.id",
    "gen_ai.user.id",
    "account.id",
)

OTEL_COLUMNS = pa.schema(
    [
        ("src_no", pa.int64()),
        ("request_id", pa.string()),
        ("ts", pa.string()),
        ("account_id", pa.string()),
        ("endpoint", pa.string()),
        ("model", pa.string()),
        ("client_ip", pa.string()),
        ("user_agent", pa.string()),
        ("messages", pa.list_(MESSAGE_TYPE)),
        ("prompt", pa.string()),
        ("params", pa.string()),
        ("response_text", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("status", pa.int64()),
        ("latency_ms", pa.float64()),
        ("_problem", pa.string()),
    ]
)

_ENDPOINTS = {
    "chat": "chat.completions",
    "generate_content": "chat.completions",
    "text_completion": "completions",
    "embeddings": "embeddings",
}
_PARAMS = (
    ("gen_ai.request.temperature", "temperature"),
    ("gen_ai.request.max_tokens", "max_tokens"),
    ("gen_ai.request.top_p", "top_p"),
    ("gen_ai.request.top_k", "top_k"),
    ("gen_ai.request.seed", "seed"),
    ("gen_ai.request.frequency_penalty", "frequency_penalty"),
    ("gen_ai.request.presence_penalty", "presence_penalty"),
    ("gen_ai.request.stop_sequences", "stop"),
    ("gen_ai.request.choice.count", "n"),
)
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_BATCH = 10_000


# The export's top-level key, as a key (a colon after it): an event log whose prompt says
# "resourceSpans" holds it as a value or escaped inside a string.
_OTLP_KEY = re.compile(rb'"resource(?:Spans|_spans)"\s*:')


def looks_like_otlp(head: bytes) -> bool:
    """Whether the first bytes of a file look like an OTLP/JSON trace export."""
    return _OTLP_KEY.search(head) is not None


def _any_value(value: Mapping[str, Any]) -> Any:
    """OTLP AnyValue → Python (``intValue`` is a string in OTLP/JSON)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    if "doubleValue" in value:
        return value["doubleValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "arrayValue" in value:
        return [_any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _attributes(value["kvlistValue"].get("values", []))
    return None


def _attributes(items: Iterable[Mapping[str, Any]] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or ():
        key = item.get("key")
        if isinstance(key, str):
            out[key] = _any_value(item.get("value") or {})
    return out


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{"):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return value
    return value


def _text_of(content: Any) -> str | None:
    """Text of a message body: a string, a list of parts ({type: text, content}), or a dict."""
    content = _maybe_json(content)
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [t for t in (_text_of(p) for p in content) if t]
        return "\n".join(texts) if texts else None
    if isinstance(content, dict):
        if content.get("type") not in (None, "text"):
            return None
        for key in ("content", "text"):
            if key in content:
                return _text_of(content[key])
    return None


def _messages_from(value: Any) -> list[dict[str, str | None]]:
    value = _maybe_json(value)
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    out: list[dict[str, str | None]] = []
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                body = item.get("parts", item.get("content"))
                out.append({"role": str(item.get("role") or "user"), "content": _text_of(body)})
    return out


def _input_messages(attrs: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> list[Any]:
    messages: list[dict[str, str | None]] = []
    system = attrs.get("gen_ai.system_instructions")
    if system is not None:
        messages.append({"role": "system", "content": _text_of(system)})
    if "gen_ai.input.messages" in attrs:
        return messages + _messages_from(attrs["gen_ai.input.messages"])
    for event in events:
        name = event.get("name")
        eattrs = _attributes(event.get("attributes"))
        if name == "gen_ai.content.prompt" and "gen_ai.prompt" in eattrs:
            return messages + _messages_from(eattrs["gen_ai.prompt"])
        if name in _MESSAGE_EVENTS:
            body = eattrs.get("content", event.get("body"))
            messages.append({"role": _MESSAGE_EVENTS[name], "content": _text_of(body)})
    i = 0
    while f"gen_ai.prompt.{i}.role" in attrs or f"gen_ai.prompt.{i}.content" in attrs:
        messages.append(
            {
                "role": str(attrs.get(f"gen_ai.prompt.{i}.role") or "user"),
                "content": _text_of(attrs.get(f"gen_ai.prompt.{i}.content")),
            }
        )
        i += 1
    return messages


def _response_text(attrs: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> str | None:
    if "gen_ai.output.messages" in attrs:
        for message in _messages_from(attrs["gen_ai.output.messages"]):
            if message["content"]:
                return message["content"]
        return None
    for event in events:
        eattrs = _attributes(event.get("attributes"))
        if event.get("name") == "gen_ai.content.completion" and "gen_ai.completion" in eattrs:
            msgs = _messages_from(eattrs["gen_ai.completion"])
            return msgs[0]["content"] if msgs else None
        if event.get("name") == "gen_ai.choice":
            body = _maybe_json(eattrs.get("message", event.get("body")))
            if isinstance(body, dict) and isinstance(body.get("message"), dict):
                body = body["message"]
            return _text_of(body)
    return _text_of(attrs.get("gen_ai.completion.0.content"))


def _ts(nanos: Any) -> str | None:
    try:
        value = int(nanos)
    except (TypeError, ValueError):
        return None
    if value <= 0:
        return None
    moment = datetime.fromtimestamp(value / 1e9, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}Z"


def span_to_event(
    span: Mapping[str, Any],
    resource: Mapping[str, Any],
    account_attributes: Sequence[str] = DEFAULT_ACCOUNT_ATTRIBUTES,
) -> dict[str, Any] | None:
    """One OTLP span (with its resource's attributes) as an event dict in the columns of
    :data:`OTEL_COLUMNS` (without ``src_no``); ``None`` for a span that is not a GenAI call.

    A span that maps but lacks what the spec requires still comes back, with ``_problem``
    saying why, so that it lands in the rejects file instead of vanishing.
    """
    attrs = _attributes(span.get("attributes"))
    operation = attrs.get("gen_ai.operation.name")
    if not isinstance(operation, str):
        return None
    events: list[Mapping[str, Any]] = list(span.get("events") or [])
    account = next(
        (
            str(source[name])
            for name in account_attributes
            for source in (attrs, resource)
            if source.get(name) not in (None, "")
        ),
        None,
    )
    problem = (
        None
        if account is not None
        else f"no account attribute on the span or its resource ({', '.join(account_attributes)})"
    )
    endpoint = _ENDPOINTS.get(operation, operation)
    messages = _input_messages(attrs, events)
    prompt = None
    if endpoint == "completions":
        texts = [m["content"] for m in messages if m["role"] != "assistant" and m["content"]]
        prompt = "\n".join(texts) if texts else None
    params = {name: attrs[key] for key, name in _PARAMS if attrs.get(key) is not None}
    start, end = span.get("startTimeUnixNano"), span.get("endTimeUnixNano")
    try:
        latency = (int(end) - int(start)) / 1e6 if start and end else None
    except (TypeError, ValueError):
        latency = None
    status = attrs.get("http.response.status_code")
    if not isinstance(status, int):
        status = 500 if (span.get("status") or {}).get("code") in (2, "STATUS_CODE_ERROR") else 200
    trace_id, span_id = span.get("traceId"), span.get("spanId")
    return {
        "request_id": f"{trace_id}-{span_id}" if trace_id and span_id else None,
        "ts": _ts(start),
        "account_id": account,
        "endpoint": endpoint,
        "model": attrs.get("gen_ai.request.model") or attrs.get("gen_ai.response.model"),
        "client_ip": attrs.get("client.address") or attrs.get("network.peer.address"),
        "user_agent": attrs.get("user_agent.original"),
        "messages": messages or None,
        "prompt": prompt,
        "params": json.dumps(params, sort_keys=True) if params else None,
        "response_text": _response_text(attrs, events),
        "prompt_tokens": _int(
            attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens"))
        ),
        "completion_tokens": _int(
            attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens"))
        ),
        "status": status,
        "latency_ms": latency,
        "_problem": problem,
    }


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _documents(path: Path, progress: ProgressFn | None) -> Iterator[Any]:
    """OTLP documents in the file: one per line, or the whole file as one document."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(path, "no such file") from None
    except UnicodeDecodeError:
        raise InputFileError(path, "not UTF-8 text, so not an OTLP/JSON export") from None
    if progress:
        progress(path.stat().st_size)
    try:
        yield json.loads(text)
        return
    except json.JSONDecodeError:
        pass
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            raise InputFileError(
                path, f"line {number} is not JSON; expected an OTLP/JSON trace export"
            ) from None


def iter_otel_genai(
    path: Path,
    *,
    account_attributes: Sequence[str] = DEFAULT_ACCOUNT_ATTRIBUTES,
    progress: ProgressFn | None = None,
) -> Iterator[Chunk]:
    """Chunks of mapped GenAI spans; ``src_no`` numbers the file's spans (all of them, from 1)."""
    rows: list[dict[str, Any]] = []
    span_no = 0
    skipped = 0
    first = 1
    found_any = False
    for doc in _documents(path, progress):
        if not isinstance(doc, dict) or not ("resourceSpans" in doc or "resource_spans" in doc):
            raise InputFileError(path, "not an OTLP/JSON trace export (no resourceSpans)")
        found_any = True
        for rs in doc.get("resourceSpans") or doc.get("resource_spans") or []:
            resource = _attributes((rs.get("resource") or {}).get("attributes"))
            for ss in rs.get("scopeSpans") or rs.get("scope_spans") or []:
                for span in ss.get("spans") or []:
                    span_no += 1
                    event = span_to_event(span, resource, account_attributes)
                    if event is None:
                        skipped += 1
                        continue
                    rows.append({"src_no": span_no, **event})
                    if len(rows) >= _BATCH:
                        yield Chunk(pa.Table.from_pylist(rows, schema=OTEL_COLUMNS), first)
                        first = span_no + 1
                        rows = []
    if not found_any:
        raise InputFileError(path, "empty file, not an OTLP/JSON trace export")
    if rows:
        yield Chunk(pa.Table.from_pylist(rows, schema=OTEL_COLUMNS), first)
    if skipped:
        log.info("ingest.otel.skipped", path=str(path), non_genai_spans=skipped)
