"""The spec's rules as SQL: which rows are acceptable, why a row is not, and the typed columns
the store keeps.

Validation runs inside DuckDB a whole chunk at a time, in two queries:

1. :func:`rejects_query` finds the bad rows and their ``problems`` (a list of
   ``{field, reason}``); only those rows come back to Python. It reads a *candidate* shape in
   which every field whose type must be checked is DuckDB JSON, so that ``"200"`` or ``200.5``
   can be told from the integer ``200``.
2. :func:`insert_query` converts the remaining rows to the store's types and inserts them,
   ``ON CONFLICT DO NOTHING`` on the key.

For JSON Lines the first query parses only the small fields it checks (the JSON parser still
scans each line, but the long texts are not copied), and the second parses each good line once
more into the final types; this is cheaper than materialising every parsed row in between.

Lenient where the spec allows ("it may accept more"): a number given for a text field is kept
as its text, unknown fields are ignored, a JSON ``null`` counts as absent, any role and text
content in ``messages`` is kept. Strict where a detector would be misled: integers must be
integers, timestamps need an offset or ``Z``, chat/completions/predict events need their
content field, ``params`` must be an object.
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
    "KIND_RULES",
    "LABELS",
    "VERIFICATIONS",
    "KindRules",
    "insert_query",
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

    @property
    def checked_fields(self) -> tuple[str, ...]:
        """The fields the checks read (the light parse of pass 1 extracts only these)."""
        wanted = set(self.required) | self.json_fields | (_TS_FIELDS & set(self.fields))
        wanted |= {"messages", "prompt", "verification", "label"} & set(self.fields)
        return tuple(n for n in self.fields if n in wanted)


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


def _light_structure(rules: KindRules) -> str:
    parts = []
    for name in rules.checked_fields:
        if name == "messages":
            # Roles only: the contents are long and not checked.
            parts.append('"messages":[{"role":"VARCHAR"}]')
        elif name in rules.json_fields:
            parts.append(f'"{name}":"JSON"')
        else:
            parts.append(f'"{name}":"VARCHAR"')
    return "{" + ",".join(parts) + "}"


def _full_structure(rules: KindRules) -> str:
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
    """Candidate rows over ``source(src_no, line, blank)`` of JSON text (light parse)."""
    key = _q(rules.key)
    cols = ", ".join(f"r.{_q(n)} AS {_q(n)}" for n in rules.checked_fields)
    messages_type = (
        ", CASE WHEN r IS NOT NULL AND r.messages IS NULL "
        "THEN json_type(line, '$.messages') END AS messages_type"
        if "messages" in rules.fields
        else ""
    )
    return f"""
        SELECT src_no, {cols}{messages_type},
            CASE
                WHEN r IS NULL AND NOT json_valid(line) THEN 'malformed JSON'
                WHEN r IS NULL OR (r.{key} IS NULL AND json_type(line) <> 'OBJECT')
                    THEN 'not a JSON object'
            END AS rec_error
        FROM (
            SELECT src_no, line, try(from_json(line, {_sql_str(_light_structure(rules))})) AS r
            FROM {source}
            WHERE NOT blank
        )
    """


def _is_text(t: pa.DataType | None) -> bool:
    return t is not None and (pa.types.is_string(t) or pa.types.is_large_string(t))


def _columns_candidate(
    rules: KindRules, source: str, schema: pa.Schema, rec_error: str | None
) -> str:
    """Candidate rows over ``source(src_no, <some of the kind's columns>)``, typed as a
    Parquet file or an adapter gives them, or all text as CSV gives them."""
    exprs = ["src_no"]
    for name in rules.fields:
        col = _q(name)
        src = schema.field(name).type if schema.get_field_index(name) >= 0 else None
        if name == "messages":
            if src is None:
                exprs += [f"CAST(NULL AS {MESSAGES_TYPE}) AS messages", "NULL AS messages_type"]
            elif _is_text(src):
                typed = f"try(from_json({col}, '{_MESSAGES_JSON}'))"
                exprs += [
                    f"{typed} AS messages",
                    f"CASE WHEN {col} IS NOT NULL AND {typed} IS NULL THEN "
                    f"CASE WHEN json_valid({col}) THEN json_type({col}) ELSE 'VARCHAR' END "
                    "END AS messages_type",
                ]
            else:
                typed = f"try_cast({col} AS {MESSAGES_TYPE})"
                exprs += [
                    f"{typed} AS messages",
                    f"CASE WHEN {col} IS NOT NULL AND {typed} IS NULL "
                    f"THEN typeof({col}) END AS messages_type",
                ]
        elif name in rules.json_fields:
            if src is None:
                exprs.append(f"CAST(NULL AS JSON) AS {col}")
            elif _is_text(src):
                exprs.append(
                    f"CASE WHEN json_valid({col}) THEN CAST({col} AS JSON) "
                    f"ELSE to_json({col}) END AS {col}"
                )
            else:
                exprs.append(f"to_json({col}) AS {col}")
        elif src is None:
            exprs.append(f"CAST(NULL AS VARCHAR) AS {col}")
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


# ---------------------------------------------------------------------------------------------
# Checks


def _blank(col: str) -> str:
    return f"({col} IS NULL OR trim({col}) = '')"


def _ts_bad(col: str) -> str:
    # Cheap shape test first (T separator, offset or Z at the end), then a real parse.
    return (
        f"NOT {_blank(col)} AND (length({col}) < 20 "
        f"OR substr({col}, 11, 1) NOT IN ('T', 't', ' ') "
        f"OR NOT (right({col}, 1) IN ('Z', 'z') "
        f"OR regexp_full_match(right({col}, 6), '[+-][0-9][0-9]:[0-9][0-9]')) "
        f"OR try_cast({col} AS TIMESTAMPTZ) IS NULL)"
    )


def _checks(kind: str, rules: KindRules) -> list[tuple[str, str, str]]:
    """(field, condition that marks a problem, reason) for every rule of ``kind``."""
    checks: list[tuple[str, str, str]] = []
    for name in rules.required:
        col = _q(name)
        missing = f"{col} IS NULL" if name in rules.json_fields else _blank(col)
        checks.append((name, missing, "required field missing"))
    for name in _TS_FIELDS & set(rules.fields):
        checks.append((name, _ts_bad(_q(name)), "not an RFC 3339 timestamp with offset or Z"))
    if kind == "events":
        for name in sorted(_INT_FIELDS):
            col = _q(name)
            checks.append(
                (
                    name,
                    f"{col} IS NOT NULL AND json_type({col}) NOT IN {_INT_TYPES}",
                    "not an integer",
                )
            )
        checks.append(
            (
                "latency_ms",
                f"latency_ms IS NOT NULL AND json_type(latency_ms) NOT IN {_NUM_TYPES}",
                "not a number",
            )
        )
        for name in sorted(_LIST_FIELDS):
            col = _q(name)
            typed = f"try(from_json({col}, '[\"DOUBLE\"]'))"
            checks.append(
                (
                    name,
                    f"{col} IS NOT NULL AND (json_type({col}) <> 'ARRAY' "
                    f"OR list_count({typed}) <> json_array_length({col}))",
                    "not a list of numbers",
                )
            )
        checks.append(
            ("params", "params IS NOT NULL AND json_type(params) <> 'OBJECT'", "not a JSON object")
        )
        checks.append(
            (
                "messages",
                "messages_type IS NOT NULL AND messages_type <> 'NULL'",
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
        for endpoint, name in (
            ("chat.completions", "messages"),
            ("completions", "prompt"),
            ("predict", "features"),
        ):
            condition = f"endpoint = '{endpoint}' AND {_q(name)} IS NULL"
            if name == "messages":
                condition += " AND (messages_type IS NULL OR messages_type = 'NULL')"
            checks.append((name, condition, f"required for {endpoint} events"))
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


def rejects_query(
    kind: str,
    source: str,
    *,
    lines: bool,
    schema: pa.Schema | None = None,
    rec_error: str | None = None,
) -> str:
    """``SELECT src_no, problems`` for the bad rows of ``source`` only.

    ``lines``: ``source`` is ``(src_no, line, blank)`` JSON text; else it holds the kind's
    columns as described by ``schema`` (``rec_error`` names a column of whole-record problems
    found before validation, e.g. by an adapter).
    """
    rules = KIND_RULES[kind]
    if lines:
        candidate = _lines_candidate(rules, source)
    else:
        if schema is None:
            raise ValueError("rejects_query needs the schema of a column source")
        candidate = _columns_candidate(rules, source, schema, rec_error)
    checks = _checks(kind, rules)
    any_bad = " OR ".join(f"coalesce({cond}, false)" for _, cond, _ in checks)
    problems = ",\n                ".join(
        f"CASE WHEN coalesce({cond}, false) THEN "
        f"{{'field': {_sql_str(field)}, 'reason': {_sql_str(reason)}}} END"
        for field, cond, reason in checks
    )
    return f"""
        SELECT src_no,
            CASE
                WHEN rec_error IS NOT NULL THEN [{{'field': '(record)', 'reason': rec_error}}]
                ELSE list_filter([
                {problems}
                ], lambda p: p IS NOT NULL)
            END AS problems
        FROM ({candidate})
        WHERE rec_error IS NOT NULL OR {any_bad}
        ORDER BY src_no
    """


def _typed_from_candidate(rules: KindRules) -> str:
    out = []
    for name in rules.fields:
        col = _q(name)
        if name in _TS_FIELDS:
            out.append(f"CAST({col} AS TIMESTAMPTZ)")
        elif name in _INT_FIELDS:
            out.append(f"CAST({col} AS BIGINT)")
        elif name == "latency_ms":
            out.append(f"CAST({col} AS DOUBLE)")
        elif name in _LIST_FIELDS:
            out.append(f"from_json({col}, '[\"DOUBLE\"]')")
        else:
            out.append(col)
    return ", ".join(out)


def insert_query(
    kind: str,
    source: str,
    *,
    lines: bool,
    schema: pa.Schema | None = None,
    skip: str | None = None,
) -> str:
    """``INSERT`` the good rows of ``source`` into the kind's table: one row per key, and none
    whose key is already stored. (Of two rows with the same key in one chunk, DuckDB keeps
    the first it processes; sorting the chunk to pin that down would cost more than it is
    worth for what is a broken export anyway.)

    ``skip`` names a relation with a ``src_no`` column: the rejected rows, left out.
    """
    rules = KIND_RULES[kind]
    where = f"src_no NOT IN (SELECT src_no FROM {skip})" if skip else "true"
    columns = ", ".join(_q(n) for n in rules.fields)
    if lines:
        typed = ", ".join(
            f"CAST(r.{_q(n)} AS TIMESTAMPTZ)" if n in _TS_FIELDS else f"r.{_q(n)}"
            for n in rules.fields
        )
        body = f"""
            SELECT {typed} FROM (
                SELECT src_no, from_json(line, {_sql_str(_full_structure(rules))}) AS r
                FROM {source}
                WHERE NOT blank AND {where}
            )
        """
    else:
        if schema is None:
            raise ValueError("insert_query needs the schema of a column source")
        candidate = _columns_candidate(rules, source, schema, None)
        body = f"""
            SELECT {_typed_from_candidate(rules)} FROM ({candidate})
            WHERE {where}
        """
    return f"INSERT INTO {rules.table} ({columns}) {body} ON CONFLICT DO NOTHING"
