from __future__ import annotations

from distillguard.detect.content import synthetic
from distillguard.detect.content.synthetic import FAMILIES, Split, generate

TASKS = ["What is the capital of Peru?", "A farmer has 12 cows and buys 7 more. How many now?"]
ANSWERS = ["Lima.", "Nineteen cows."]


def test_train_and_eval_phrasings_are_disjoint() -> None:
    lists = [
        value
        for name, value in vars(synthetic).items()
        if name.isupper()
        and name.startswith("_")
        and isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, tuple) for v in value)
    ]
    assert len(lists) >= 10
    for train, held_out in lists:
        assert not set(train) & set(held_out)


def test_every_family_is_generated_deterministically() -> None:
    first = generate(Split.TRAIN, TASKS, ANSWERS, 3, seed=11)
    second = generate(Split.TRAIN, TASKS, ANSWERS, 3, seed=11)
    assert first == second
    assert {p.family for p in first} == set(FAMILIES)


def test_eval_split_uses_other_wording() -> None:
    train = {
        p.text
        for p in generate(Split.TRAIN, TASKS, ANSWERS, 20, seed=1)
        if p.family == "cot_demand"
    }
    held = {
        p.text for p in generate(Split.EVAL, TASKS, ANSWERS, 20, seed=1) if p.family == "cot_demand"
    }
    assert not train & held


def test_look_alikes_have_no_labels() -> None:
    for p in generate(Split.EVAL, TASKS, ANSWERS, 2, seed=3):
        positive = p.family in {
            "cot_demand",
            "rubric",
            "sysprompt_extraction",
            "data_extraction",
            "hidden_injection",
            "adversarial_suffix",
            "roleplay_persuasion",
            "direct_attack",
            "agent_injection",
        }
        assert bool(p.labels) == positive, p.family
