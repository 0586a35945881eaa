"""Combinatorial generators: many phrasings, no fixed list to memorise."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from distillguard.simulate import textgen


def test_distill_prompts_rarely_repeat() -> None:
    rng = np.random.default_rng(0)
    seeds = pa.array([f"question {i}" for i in range(50)])
    seeds = seeds.take(pa.array(rng.integers(0, 50, size=3000)))
    texts = textgen.distill_prompt(rng, seeds, (0.4, 0.3, 0.2, 0.1), 0.5, 0.7).to_pylist()
    assert len(set(texts)) > 0.95 * len(texts)
    assert all("{n}" not in t and "{city}" not in t for t in texts)


def test_rubric_and_agent_texts_are_filled() -> None:
    rng = np.random.default_rng(1)
    q = pa.array(["What is 2+2?"] * 100)
    rubric = textgen.rubric_request(rng, q, textgen.candidate_answers(rng, 100)).to_pylist()
    assert all("[Question]" in r and "{n}" not in r for r in rubric)
    assert len(set(textgen.tool_result(rng, 500).to_pylist())) > 450
