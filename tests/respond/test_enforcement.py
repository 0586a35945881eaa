from __future__ import annotations

import numpy as np
import orjson
import pytest

from distillguard.detect.prediction.prada import outside_range, range_reference
from distillguard.detect.verdicts import Response
from distillguard.errors import ConfigError
from distillguard.respond.enforcement import parse_enforcement, predict_reference_document


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


def _natural_inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Predict inputs of twelve customers, one of them heavy (it must not be the population)."""
    rng = np.random.default_rng(seed)
    rows, owners = [], []
    for k in range(12):
        n = 400 if k == 0 else 30
        rows.append(rng.normal([0.0, 3.0, 100.0, -2.0], [1.0, 0.5, 20.0, 3.0], size=(n, 4)))
        owners += [f"c{k}"] * n
    return np.vstack(rows), np.asarray(owners, dtype=object)


def test_predict_reference_round_trips_exactly_through_the_file() -> None:
    x, owners = _natural_inputs()
    ref = range_reference(x, owners)
    doc = {"accounts": [], "clusters": [], "predict_reference": predict_reference_document(ref)}
    enf = parse_enforcement(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    got = enf.predict_reference
    assert got is not None and enf.notes == ()
    # Bit for bit: the gateway judges each input as the audit's reference would.
    assert np.array_equal(got.median, ref.median) and np.array_equal(got.scale, ref.scale)
    fresh, _ = _natural_inputs(seed=1)
    probes = np.vstack([fresh[:200], np.random.default_rng(1).uniform(-50, 150, size=(200, 4))])
    answers = [outside_range(p, got) for p in probes]
    assert answers == [outside_range(p, ref) for p in probes]
    assert True in answers and False in answers
    assert outside_range(np.zeros(3), got) is None  # another model's input is not judged


def test_file_without_predict_reference_loads_as_before() -> None:
    doc = {
        "accounts": [{"account_id": "a", "response": "degrade"}],
        "clusters": [],
        "known_good": [],
    }
    enf = parse_enforcement(orjson.dumps(doc))
    assert enf.predict_reference is None and enf.notes == ()
    entry = enf.lookup("a")
    assert entry is not None and entry.response is Response.DEGRADE
    assert parse_enforcement(orjson.dumps({**doc, "predict_reference": None})).notes == ()


def test_unknown_predict_reference_version_is_skipped_with_a_note() -> None:
    doc = {
        "accounts": [{"account_id": "a", "response": "suspend"}],
        "predict_reference": {"version": 2, "centre": [0.0], "spread": [1.0]},
    }
    enf = parse_enforcement(orjson.dumps(doc), "enf.json")
    assert enf.predict_reference is None
    assert len(enf.notes) == 1 and "version 2" in enf.notes[0] and "enf.json" in enf.notes[0]
    entry = enf.lookup("a")
    assert entry is not None and entry.response is Response.SUSPEND  # the rest still applies


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ([1.0, 2.0], "expected an object"),
        ({"median": [0.0], "scale": [1.0]}, "integer 'version'"),
        ({"version": 1, "median": [0.0, 1.0], "scale": [1.0]}, "2 feature positions, 'scale' 1"),
        ({"version": 1, "median": [0.0], "scale": [0.0]}, r"scale\[0\]: must be above zero"),
        ({"version": 1, "median": ["a"], "scale": [1.0]}, r"median\[0\]: 'a' is not a finite"),
        ({"version": 1, "median": [], "scale": []}, "non-empty list of numbers"),
        ({"version": 1, "median": [True], "scale": [1.0]}, "not a finite number"),
    ],
)
def test_malformed_predict_reference_is_refused(section: object, message: str) -> None:
    raw = orjson.dumps({"accounts": [], "predict_reference": section})
    with pytest.raises(ConfigError, match=message):
        parse_enforcement(raw, "enf.json")
