from __future__ import annotations

import orjson
import pytest

from distillguard.detect.verdicts import Response
from distillguard.errors import ConfigError
from distillguard.respond.enforcement import parse_enforcement


def test_cluster_response_covers_unlisted_members_and_the_stronger_wins() -> None:
    doc = {
        "generated_at": "2026-11-28T00:00:00Z",
        "accounts": [
            {
                "account_id": "a",
                "cluster_id": "c",
                "score": 0.72,
                "response": "degrade",
                "reasons": ["x"],
            },
            {"account_id": "z", "cluster_id": None, "score": 0.6, "response": "throttle"},
        ],
        "clusters": [
            {"cluster_id": "c", "members": ["a", "b"], "score": 0.96, "response": "suspend"}
        ],
        "known_good": [{"account_id": "g", "org_id": None}, {"org_id": "o1"}],
    }
    enf = parse_enforcement(orjson.dumps(doc))
    a, b, z = enf.lookup("a"), enf.lookup("b"), enf.lookup("z")
    assert a is not None and a.response is Response.SUSPEND and a.cluster_id == "c"
    assert a.reasons[0] == "audit:account score=0.72" and "x" in a.reasons
    assert (
        b is not None and b.response is Response.SUSPEND and "cluster c (2 members)" in b.reasons[0]
    )
    assert z is not None and z.response is Response.THROTTLE and z.cluster_id is None
    assert enf.lookup("nobody") is None
    assert (
        enf.is_known_good("g", None)
        and enf.is_known_good("q", "o1")
        and not enf.is_known_good("q", None)
    )
    assert enf.generated_at == "2026-11-28T00:00:00Z"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{oops", "not valid JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"accounts": [{"response": "degrade"}]}', r"accounts\[0\]: needs a string 'account_id'"),
        (b'{"accounts": [{"account_id": "a", "response": "nuke"}]}', "unknown response 'nuke'"),
        (b'{"clusters": [{"cluster_id": "c", "members": "a"}]}', "'members' must be a list"),
    ],
)
def test_malformed_documents_name_the_problem(raw: bytes, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_enforcement(raw, "enf.json")
