"""The analyst's known-good list."""

from __future__ import annotations

import pytest

from distillguard.detect.overrides import find_override, parse_known_good
from distillguard.errors import SchemaError


def test_parses_jsonl_and_csv_and_matches_accounts_then_orgs() -> None:
    jl = parse_known_good(
        '{"account_id": "a1", "who": "alice", "why": "our eval harness"}\n'
        '{"org_id": "org-9", "who": "bob", "why": "verified enterprise customer",'
        ' "added_at": "2026-11-20T10:00:00Z"}\n',
        "kg.jsonl",
    )
    csv = parse_known_good("account_id,org_id,who,why\n,org-9,bob,enterprise\n", "kg.csv")
    assert len(jl) == 2 and csv[0].org_id == "org-9"
    assert find_override(jl, "a1", None) is jl[0]
    assert find_override(jl, "zz", "org-9") is jl[1]
    assert find_override(jl, "zz", "org-1") is None
    assert jl[1].added_at is not None


@pytest.mark.parametrize(
    "text, field",
    [
        ('{"who": "a", "why": "b"}', "account_id"),
        ('{"account_id": "a1", "why": "b"}', "who"),
        ('{"account_id": "a1", "who": "a"}', "why"),
        ('{"account_id": "a1", "who": "a", "why": "b", "added_at": "yesterday"}', "added_at"),
    ],
)
def test_bad_entries_are_errors_naming_file_line_and_field(text: str, field: str) -> None:
    with pytest.raises(SchemaError, match=rf"kg.jsonl:1: .*{field}"):
        parse_known_good(text + "\n", "kg.jsonl")
