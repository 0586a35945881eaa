"""The keyword task tagger and the coverage entropy."""

from __future__ import annotations

import numpy as np

from distillguard.detect.behaviour.tasks import CATEGORIES, category_entropy, tag, tag_many


def _cats(text: str) -> set[str]:
    v = tag(text)
    return {c for c, x in zip(CATEGORIES, v, strict=True) if x}


def test_tags_the_obvious_categories() -> None:
    assert "code" in _cats("Write a Python function that parses ISO dates")
    assert "math" in _cats("Solve for x: 3x + 7 = 22")
    assert "reasoning" in _cats("Think step by step and explain why the answer holds")
    assert "agentic" in _cats("You can call the search tool; plan the actions as JSON schema")
    assert "writing" in _cats("Write a poem about autumn leaves")
    assert _cats("asdf qwerty") == {"other"}


def test_entropy_zero_for_one_category_and_high_for_a_sweep() -> None:
    narrow = tag_many(["fix this python bug"] * 20).sum(axis=0)
    sweep = tag_many(
        [
            "fix this python bug",
            "solve the equation 2x + 1 = 5",
            "reason step by step about this riddle",
            "call the tool and execute the plan",
            "write a poem",
            "what is the capital of Peru",
            "compare the pros and cons",
        ]
    ).sum(axis=0)
    assert category_entropy(narrow) == 0.0
    assert category_entropy(sweep) > 0.8
    assert category_entropy(np.zeros(len(CATEGORIES))) == 0.0
