"""The spec's rules as SQL: which rows are acceptable, why a row is not, and the typed columns
the store keeps.

Validation runs inside DuckDB, a whole chunk (or a whole Parquet file) at a time. A
*candidate* query puts every source in one shape: text fields as VARCHAR, ``messages`` as a
typed list, and every field whose type must be checked as DuckDB JSON, so that ``"200"`` or
``200.5`` can be told from the integer ``200``. Over it:

1. :func:`insert_query` inserts the rows that pass every check and whose key is not stored
   yet, converted to the store's types. Each line is parsed once.
2. :func:`rejects_query` lists the bad rows with their ``problems`` (``{field, reason}``); only
   these rows come back to Python. It runs only when the insert took fewer rows than the
   source has, i.e. when there are rejects or duplicates to tell apart, so clean new data pays
   for one pass.

Lenient where the spec allows ("it may accept more"): a number given for a text field is kept
as its text, unknown fields are ignored, a JSON ``null`` counts as absent, any role and text
content in ``messages`` is kept. Strict where a detector would be misled: integers must be
integers, timestamps need an offset or ``Z``, predict events need their ``features``,
``params`` must be an object. A chat or completions event without its text is kept (providers
that keep no prompts) and counted, so the audit judges it on metadata and says how many.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from distillguard.events.schema import (
    ACCOUNT_REQUIRED,
    ACCOUNT_SCHEMA,
    EVENT_REQUIRED,
    EVENT_SCHEMA,
    LABEL_REQUIRED,
    LABEL_SCHEMA,
)

__all__ = [
    "FAST_PATH_ERROR",
    "KIND_RULES",
    "LABELS",
    "VERIFICATIONS",
    "KindRules",
    "dedupe_all_query",
    "dedupe_query",
    "duplicates_query",
    "insert_query",
    "jsonl_fast_insert_query",
    "new_key_duplicates_query",
    "rejects_query",
]

MESSAGES_TYPE = "STRUCT(role VARCHAR, content VARCHAR)[]"
_MESSAGES_JSON = '[{"role":"VARCHAR","content":"VARCHAR"}]'
_INT_TYPES = "('BIGINT', 'UBIGINT')"
_NUM_TYPES = "('BIGINT', 'UBIGINT', 'DOUBLE')"
_INT_FIELDS = frozenset({"asn", "prompt_tokens", "completion_tokens", "status"})
_LIST_FIELDS = frozenset({"features", "response_probs"})
_TS_FIELDS = frozenset({"ts", "created_at"})
VERIFICATIONS = ("none", "email", "phone", "document", "organization")
LABELS = ("benign", "malicious")


@dataclass(frozen=True, slots=True)
class KindRules:
    """How one record kind is checked and stored: its table, key, fields, required fields, and
    the fields whose JSON type is checked (they are JSON in the candidate shape)."""

    table: str
    key: str
    schema: pa.Schema
    required: tuple[str, ...]
    json_fields: frozenset[str]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.schema.names)


KIND_RULES: Mapping[str, KindRules] = {
    "events": KindRules(
        table="events",
        key="request_id",
        schema=EVENT_SCHEMA,
        required=EVENT_REQUIRED,
        json_fields=frozenset(
            {
                "asn",
                "features",
                "params",
                "response_probs",
                "prompt_tokens",
                "completion_tokens",
                "status",
                "latency_ms",
            }
        ),
    ),
    "accounts": KindRules(
        table="accounts",
        key="account_id",
        schema=ACCOUNT_SCHEMA,
        required=ACCOUNT_REQUIRED,
        json_fields=frozenset(),
    ),
    "labels": KindRules(
        table="labels",
        key="account_id",
        schema=LABEL_SCHEMA,
        required=LABEL_REQUIRED,
        json_fields=frozenset(),
    ),
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ---------------------------------------------------------------------------------------------
# Candidate shapes


def _store_type(name: str) -> str:
    """DuckDB type of a field in the store (and in the candidate shape)."""
    if name == "messages":
        return MESSAGES_TYPE
    if name in _INT_FIELDS:
        return "BIGINT"
    if name == "latency_ms":
        return "DOUBLE"
    if name in _LIST_FIELDS:
        return "DOUBLE[]"
    if name == "params":
        return "JSON"
    return "VARCHAR"


def _typed_fields(rules: KindRules) -> tuple[str, ...]:
    """Fields whose JSON type is checked: the candidate carries ``<name>__t`` for each."""
    return tuple(n for n in rules.fields if n in rules.json_fields or n == "messages")


def _structure(rules: KindRules) -> str:
    parts = []
    for name in rules.fields:
        if name == "messages":
            kind = _MESSAGES_JSON
        elif name in _INT_FIELDS:
            kind = '"BIGINT"'
        elif name == "latency_ms":
            kind = '"DOUBLE"'
        elif name in _LIST_FIELDS:
            kind = '["DOUBLE"]'
        elif name == "params":
            kind = '"JSON"'
        else:
            kind = '"VARCHAR"'
        parts.append(f'"{name}":{kind}')
    return "{" + ",".join(parts) + "}"


def _lines_candidate(rules: KindRules, source: str) -> str:
    """Candidate rows over ``source(src_no, line, blank, bad_utf8)`` of JSON text.

    ``from_json`` converts leniently (``"abc"`` for an integer becomes NULL, ``200.5`` becomes
    200), so the JSON type of each checked field is read too, all in one ``json_type`` call
    with a list of paths (one more parse of the line, but far cheaper than keeping those
    fields as JSON and inspecting each).
    """
    typed = _typed_fields(rules)
    cols = ", ".join(f"r.{_q(n)} AS {_q(n)}" for n in rules.fields)
    types = "".join(f", t[{i + 2}] AS {_q(n + '__t')}" for i, n in enumerate(typed))
    paths = ", ".join(["'$'", *(f"'$.{n}'" for n in typed)])
    # json_valid first: from_json fails the whole query on one bad line, and try() costs
    # more than the extra validity scan.
    return f"""
        SELECT src_no, {cols}{types},
            CASE
                WHEN bad_utf8 THEN 'not valid UTF-8 text'
                WHEN r IS NULL THEN 'malformed JSON'
                WHEN t[1] <> 'OBJECT' THEN 'not a JSON object'
            END AS rec_error
        FROM (
            SELECT src_no, bad_utf8,
                CASE WHEN NOT bad_utf8 AND json_valid(line)
                    THEN from_json(line, {_sql_str(_structure(rules))}) END AS r,
                CASE WHEN r IS NOT NULL THEN json_type(line, [{paths}]) END AS t
            FROM {source}
            WHERE NOT blank
        )
    """


def _is_text(t: pa.DataType | None) -> bool:
    return t is not None and (pa.types.is_string(t) or pa.types.is_large_string(t))


def _static_json_type(t: pa.DataType) -> str:
    """JSON type name a typed (Parquet/adapter) column's values would have."""
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "DOUBLE"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "ARRAY"
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return "OBJECT"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    return "VARCHAR"


def _columns_candidate(
    rules: KindRules, source: str, schema: pa.Schema, rec_error: str | None
) -> str:
    """Candidate rows over ``source(src_no, <some of the kind's columns>)``, typed as a
    Parquet file or an adapter gives them, or all text as CSV gives them (nested values and
    ``params`` as JSON text)."""
    exprs = ["src_no"]
    typed = set(_typed_fields(rules))
    for name in rules.fields:
        col = _q(name)
        tcol = _q(name + "__t")
        src = schema.field(name).type if schema.get_field_index(name) >= 0 else None
        store_type = _store_type(name)
        if src is None:
            exprs.append(f"CAST(NULL AS {store_type}) AS {col}")
            if name in typed:
                exprs.append(f"CAST(NULL AS VARCHAR) AS {tcol}")
            continue
        if name in typed and _is_text(src):
            # Text holding JSON (CSV, or a Parquet string column): parse, and keep its type.
            value = f"try(from_json({col}, {_sql_str(_element_structure(name))}))"
            if name == "params":
                value = f"CASE WHEN json_valid({col}) THEN CAST({col} AS JSON) END"
            exprs.append(f"{value} AS {col}")
            exprs.append(
                f"CASE WHEN {col} IS NULL THEN NULL WHEN json_valid({col}) "
                f"THEN json_type(CAST({col} AS JSON)) ELSE 'VARCHAR' END AS {tcol}"
            )
        elif name in typed:
            if name == "params":
                exprs.append(f"to_json({col}) AS {col}")
            else:
                exprs.append(f"try_cast({col} AS {store_type}) AS {col}")
            exprs.append(
                f"CASE WHEN {col} IS NULL THEN NULL ELSE "
                f"{_sql_str(_static_json_type(src))} END AS {tcol}"
            )
        elif pa.types.is_timestamp(src):
            utc = f"timezone('UTC', {col})" if src.tz is not None else col
            exprs.append(f"strftime({utc}, '%Y-%m-%dT%H:%M:%S.%fZ') AS {col}")
        else:
            exprs.append(f"CAST({col} AS VARCHAR) AS {col}")
    exprs.append(
        f"CAST({_q(rec_error)} AS VARCHAR) AS rec_error"
        if rec_error
        else "CAST(NULL AS VARCHAR) AS rec_error"
    )
    return f"SELECT {', '.join(exprs)} FROM {source}"


def _element_structure(name: str) -> str:
    if name == "messages":
        return _MESSAGES_JSON
    if name in _LIST_FIELDS:
        return '["DOUBLE"]'
    if name == "latency_ms":
        return '"DOUBLE"'
    return '"BIGINT"'


# ---------------------------------------------------------------------------------------------
# Checks


def _blank(col: str) -> str:
    # No trim(): it is slow in DuckDB, and a whitespace-only id is odd but harmless.
    return f"({col} IS NULL OR {col} = '')"


def _ts_bad(col: str) -> str:
    # Plain string tests for the shape (T separator, offset or Z at the end), then a parse.
    return (
        f"NOT {_blank(col)} AND (length({col}) < 20 "
        f"OR substr({col}, 11, 1) NOT IN ('T', 't', ' ') "
        f"OR NOT (right({col}, 1) IN ('Z', 'z') "
        f"OR (substr({col}, -6, 1) IN ('+', '-') AND substr({col}, -3, 1) = ':')) "
        f"OR try_cast({col} AS TIMESTAMPTZ) IS NULL)"
    )


def _present(name: str) -> str:
    """The raw value of a type-checked field is there and not JSON null."""
    t = _q(name + "__t")
    return f"({t} IS NOT NULL AND {t} <> 'NULL')"


def _checks(kind: str, rules: KindRules) -> list[tuple[str, str, str]]:
    """(field, condition that marks a problem, reason) for every rule of ``kind``."""
    checks: list[tuple[str, str, str]] = []
    for name in rules.required:
        missing = f"NOT {_present(name)}" if name in rules.json_fields else _blank(_q(name))
        checks.append((name, missing, "required field missing"))
    for name in sorted(_TS_FIELDS & set(rules.fields)):
        checks.append((name, _ts_bad(_q(name)), "not an RFC 3339 timestamp with offset or Z"))
    if kind == "events":
        for name in sorted(_INT_FIELDS):
            t = _q(name + "__t")
            checks.append((name, f"{_present(name)} AND {t} NOT IN {_INT_TYPES}", "not an integer"))
        checks.append(
            (
                "latency_ms",
                f"{_present('latency_ms')} AND latency_ms__t NOT IN {_NUM_TYPES}",
                "not a number",
            )
        )
        for name in sorted(_LIST_FIELDS):
            col, t = _q(name), _q(name + "__t")
            checks.append(
                (
                    name,
                    f"{_present(name)} AND ({t} <> 'ARRAY' OR {col} IS NULL "
                    f"OR list_count({col}) <> len({col}))",
                    "not a list of numbers",
                )
            )
        checks.append(
            (
                "params",
                f"{_present('params')} AND (params__t <> 'OBJECT' OR params IS NULL)",
                "not a JSON object",
            )
        )
        checks.append(
            (
                "messages",
                f"{_present('messages')} AND (messages__t <> 'ARRAY' OR messages IS NULL)",
                "not a list of {role, content} objects",
            )
        )
        checks.append(
            (
                "messages",
                "messages IS NOT NULL AND NOT list_bool_and("
                "list_transform(messages, lambda m: m IS NOT NULL AND m.role IS NOT NULL))",
                "every message needs a role",
            )
        )
        # A chat or completions event without its text is kept: the spec lets providers keep
        # no prompts, and rejecting such a log would throw away the metadata the audit still
        # judges. The ingest counts them (``FileReport.no_text``) so the gap is never silent.
        checks.append(
            (
                "features",
                f"endpoint = 'predict' AND NOT {_present('features')}",
                "required for predict events",
            )
        )
    if kind == "accounts":
        allowed = ", ".join(f"'{v}'" for v in VERIFICATIONS)
        checks.append(
            (
                "verification",
                f"verification IS NOT NULL AND verification NOT IN ({allowed})",
                f"not one of {', '.join(VERIFICATIONS)}",
            )
        )
    if kind == "labels":
        checks.append(
            (
                "label",
                f"NOT {_blank('label')} AND label NOT IN ('benign', 'malicious')",
                "not one of benign, malicious",
            )
        )
    return checks


def _candidate(
    rules: KindRules,
    source: str,
    lines: bool,
    schema: pa.Schema | None,
    rec_error: str | None,
) -> str:
    if lines:
        return _lines_candidate(rules, source)
    if schema is None:
        raise ValueError("a column source needs its schema")
    return _columns_candidate(rules, source, schema, rec_error)


def _any_bad(kind: str, rules: KindRules) -> str:
    return "rec_error IS NOT NULL OR " + " OR ".join(
        f"coalesce({cond}, false)" for _, cond, _ in _checks(kind, rules)
    )


def rejects_query(
    kind: str,
    source: str,
    *,
    lines: bool,
    schema: pa.Schema | None = None,
    rec_error: str | None = None,
) -> str:
    """``SELECT src_no, problems`` for the bad rows of ``source`` only, in source order.

    ``lines``: ``source`` is ``(src_no, line, blank, bad_utf8)`` JSON text; else it holds
    ``src_no`` and the kind's columns as described by ``schema`` (``rec_error`` names a
    column of whole-record problems found before validation, e.g. by an adapter).
    """
    rules = KIND_RULES[kind]
    problems = ",\n                ".join(
        f"CASE WHEN coalesce({cond}, false) THEN "
        f"{{'field': {_sql_str(field)}, 'reason': {_sql_str(reason)}}} END"
        for field, cond, reason in _checks(kind, rules)
    )
    return f"""
        SELECT src_no,
            CASE
                WHEN rec_error IS NOT NULL THEN [{{'field': '(record)', 'reason': rec_error}}]
                ELSE list_filter([
                {problems}
                ], lambda p: p IS NOT NULL)
            END AS problems
        FROM ({_candidate(rules, source, lines, schema, rec_error)})
        WHERE {_any_bad(kind, rules)}
        ORDER BY src_no
    """


def _typed(rules: KindRules) -> str:
    return ", ".join(
        f"CAST({_q(n)} AS TIMESTAMPTZ)" if n in _TS_FIELDS else _q(n) for n in rules.fields
    )


def insert_query(
    kind: str,
    source: str,
    *,
    lines: bool,
    schema: pa.Schema | None = None,
    rec_error: str | None = None,
) -> str:
    """``INSERT`` the rows of ``source`` that pass every check and whose key is not stored yet
    into the kind's table.

    Two good rows with the same key *within* ``source`` are both inserted here; the ingest
    removes the later one per file (:func:`dedupe_query`). The store has no primary-key index:
    maintaining one doubled the cost of a load, while this anti-join plus one distinct count
    per file keep keys unique for a fraction of that.
    """
    rules = KIND_RULES[kind]
    columns = ", ".join(_q(n) for n in rules.fields)
    key = _q(rules.key)
    return f"""
        INSERT INTO {rules.table} ({columns})
        SELECT {_typed(rules)}
        FROM ({_candidate(rules, source, lines, schema, rec_error)}) AS c
        WHERE NOT ({_any_bad(kind, rules)})
            AND NOT EXISTS (SELECT 1 FROM {rules.table} AS e WHERE e.{key} = c.{key})
    """


def duplicates_query(kind: str, after_rowid: int) -> str:
    """How many rows added after ``after_rowid`` repeat a key among themselves."""
    rules = KIND_RULES[kind]
    return (
        f"SELECT count(*) - count(DISTINCT {_q(rules.key)}) FROM {rules.table} "
        f"WHERE rowid > {int(after_rowid)}"
    )


def dedupe_query(kind: str, after_rowid: int) -> str:
    """Delete the later copies of keys repeated among the rows added after ``after_rowid``
    (rows are numbered in the order they were inserted, so the first copy stays)."""
    rules = KIND_RULES[kind]
    return f"""
        DELETE FROM {rules.table} WHERE rowid IN (
            SELECT rowid FROM (
                SELECT rowid, row_number() OVER (PARTITION BY {_q(rules.key)} ORDER BY rowid) AS n
                FROM {rules.table} WHERE rowid > {int(after_rowid)}
            ) WHERE n > 1
        )
    """


FAST_PATH_ERROR = "distillguard: a record needs the careful path"


def jsonl_fast_insert_query(kind: str, path: str, *, gzipped: bool) -> str:
    """``INSERT`` every record of a JSON Lines file, read by DuckDB's own ``read_json``, or
    fail with an error if any record would be rejected.

    This is the fast path for clean files: ``read_json`` reads and parses the file in bulk
    (in parallel, with its own decompression), which costs about half of splitting it into
    lines first. It knows no line numbers, so it cannot say *which* record is bad: any bad
    record (a check that fails, or a line ``read_json`` cannot parse or convert) makes the
    query fail with :data:`FAST_PATH_ERROR` or a DuckDB error, and the caller rolls the file
    back and loads it again line by line. The checks are the same as that path's, on the same
    candidate shape, so both accept exactly the same records. Keys are not deduplicated here:
    the caller removes repeated keys after the insert.
    """
    rules = KIND_RULES[kind]
    typed = set(_typed_fields(rules))
    columns = []
    exprs = []
    for name in rules.fields:
        col = _q(name)
        if name == "messages":
            columns.append(f"'{name}': '{MESSAGES_TYPE}'")
            exprs += [col, f"CASE WHEN {col} IS NULL THEN NULL ELSE 'ARRAY' END AS messages__t"]
        elif name in typed:
            columns.append(f"'{name}': 'JSON'")
            if name == "params":
                value = col
            elif name in _LIST_FIELDS:
                value = f"try(from_json({col}, '[\"DOUBLE\"]'))"
            else:
                value = f"try_cast({col} AS {_store_type(name)})"
            exprs += [f"{value} AS {col}", f"json_type({col}) AS {_q(name + '__t')}"]
        else:
            columns.append(f"'{name}': 'VARCHAR'")
            exprs.append(col)
    quoted = path.replace("'", "''")
    reader = (
        f"read_json('{quoted}', format = 'newline_delimited', records = true, "
        f"compression = '{'gzip' if gzipped else 'none'}', columns = {{{', '.join(columns)}}})"
    )
    candidate = f"SELECT {', '.join(exprs)}, CAST(NULL AS VARCHAR) AS rec_error FROM {reader}"
    names = ", ".join(_q(n) for n in rules.fields)
    return f"""
        INSERT INTO {rules.table} ({names})
        SELECT {_typed(rules)}
        FROM ({candidate})
        WHERE CASE WHEN {_any_bad(kind, rules)} THEN error({_sql_str(FAST_PATH_ERROR)})
            ELSE true END
    """


def new_key_duplicates_query(kind: str, after_rowid: int) -> str:
    """How many rows added after ``after_rowid`` have a key stored before them."""
    rules = KIND_RULES[kind]
    key = _q(rules.key)
    return (
        f"SELECT count(*) FROM {rules.table} WHERE rowid > {int(after_rowid)} AND {key} IN "
        f"(SELECT {key} FROM {rules.table} WHERE rowid <= {int(after_rowid)})"
    )


def dedupe_all_query(kind: str, after_rowid: int) -> str:
    """Delete rows added after ``after_rowid`` whose key was stored before them or repeats an
    earlier row among them."""
    rules = KIND_RULES[kind]
    key = _q(rules.key)
    after = int(after_rowid)
    return f"""
        DELETE FROM {rules.table} WHERE rowid IN (
            SELECT rowid FROM (
                SELECT rowid, {key},
                    row_number() OVER (PARTITION BY {key} ORDER BY rowid) AS n
                FROM {rules.table} WHERE rowid > {after}
            ) AS x
            WHERE n > 1 OR {key} IN (SELECT {key} FROM {rules.table} WHERE rowid <= {after})
        )
    """
