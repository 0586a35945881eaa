from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from distillguard.respond.degrade import degrade_probs, degrade_request, degrade_response


def test_request_loses_logprobs_and_samples_and_is_capped() -> None:
    body = {"model": "m", "max_tokens": 9000, "logprobs": True, "top_logprobs": 5, "n": 4}
    out = degrade_request({**body, "reasoning_effort": "high"}, 256)
    assert out == {"model": "m", "max_tokens": 256, "n": 1, "reasoning_effort": "low"}
    assert body["max_tokens"] == 9000  # the input is not mutated
    assert degrade_request({"model": "m"}, 256)["max_tokens"] == 256
    assert degrade_request({"model": "m", "max_tokens": 50}, 256)["max_tokens"] == 50
    capped = degrade_request({"model": "m", "max_completion_tokens": 999}, 100)
    assert capped["max_completion_tokens"] == 100 and "max_tokens" not in capped


def test_response_and_chunks_lose_reasoning_and_logprobs() -> None:
    doc = {
        "id": "x",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi", "reasoning_content": "secret"},
                "logprobs": {"content": []},
            }
        ],
    }
    out = degrade_response(doc)
    assert out["choices"][0] == {"index": 0, "message": {"role": "assistant", "content": "hi"}}
    assert doc["choices"][0]["message"]["reasoning_content"] == "secret"
    chunk = {"choices": [{"index": 0, "delta": {"reasoning": "r", "content": "a"}}]}
    assert degrade_response(chunk)["choices"][0]["delta"] == {"content": "a"}
    assert degrade_response({"error": "x"}) == {"error": "x"}


@given(
    st.lists(st.floats(0.0, 1.0), min_size=2, max_size=8).filter(lambda p: sum(p) > 0),
    st.integers(0, 3),
    st.integers(0, 2**16),
)
def test_degraded_probabilities_keep_the_top_class(
    probs: list[float], decimals: int, seed: int
) -> None:
    total = sum(probs)
    probs = [p / total for p in probs]
    top = max(range(len(probs)), key=probs.__getitem__)
    if sorted(probs)[-2] == probs[top]:
        return  # a tie has no single top class to keep
    out = degrade_probs(probs, decimals, 0.05, random.Random(seed))
    assert len(out) == len(probs)
    assert max(range(len(out)), key=out.__getitem__) == top
    assert out.count(max(out)) == 1
    assert all(round(p, decimals) == p and p >= 0 for p in out)
