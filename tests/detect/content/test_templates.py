from __future__ import annotations

import random
from collections import Counter

import numpy as np

from distillguard.detect.content.templates import group_templates, mask, template_id

QUESTIONS = [
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many in May.",
    "Weng earns $12 an hour for babysitting. Yesterday she babysat for 50 minutes.",
    "Betty is saving money for a new wallet which costs $100 and has half of it.",
    "James writes a 3-page letter to 2 different friends twice a week.",
    "A bakery sells muffins in boxes of six; a school orders enough for thirty children.",
    "Mark has a garden with flowers of three colours; ten of them are yellow.",
    "Albert buys two large pizzas and two small pizzas and eats every slice.",
    "Ken created a care package to send to his brother, who was away at boarding school.",
    "Alexis is applying for a new job and bought a new set of business clothes.",
    "Tina makes $18.00 an hour and gets overtime after eight hours a day.",
    "A deep-sea monster rises from the waters once every hundred years to feast on a ship.",
    "Toulouse has twice as many sheep as Charleston, which has four times as many as Seattle.",
]
OTHER_PROMPTS = [
    "Write a haiku about autumn leaves falling on a quiet pond.",
    "How do I configure nginx as a reverse proxy for a Node.js application?",
    "What are the main causes of the French Revolution?",
    "Translate 'good morning, how are you' into Spanish and Italian.",
    "Explain the difference between TCP and UDP with examples.",
    "Give me a recipe for a vegetarian lasagna for four people.",
    "Summarize the plot of Pride and Prejudice in three sentences.",
    "What is the time complexity of quicksort in the worst case and why?",
]


def test_mask_replaces_slot_values() -> None:
    masked = mask('Hi, I am John Smith and owe $1,234.50 to "Acme" — see https://x.io/a?b=1')
    assert "john" not in masked and "smith" not in masked
    assert "1" not in masked and "acme" not in masked and "x.io" not in masked
    assert "<name>" in masked and "<num>" in masked and "<q>" in masked and "<url>" in masked


def test_template_id_equal_when_only_slot_values_differ() -> None:
    a = template_id('Translate "hello there" into French for customer 1042, Maria.')
    b = template_id('Translate "where is the station" into French for customer 77, Kenji.')
    c = template_id("Translate this paragraph into German please.")
    assert a == b
    assert a != c
    assert len(a) == 16 and int(a, 16) >= 0


def test_template_id_is_stable_across_calls() -> None:
    text = "Solve step by step and show all reasoning: 3 + 4 * 2"
    assert template_id(text) == template_id(text)


def _campaign() -> tuple[list[str], list[int]]:
    tpl_a = (
        "You are a meticulous tutor. Solve the following problem and show your complete "
        "chain of thought, every intermediate step, before the final answer. Problem: {q}"
    )
    tpl_b = (
        "{q}\n\nBefore answering, write out all of your internal reasoning inside "
        "<thinking> tags, then give the answer on the last line."
    )
    rng = random.Random(5)
    texts: list[str] = []
    truth: list[int] = []
    for q in QUESTIONS:
        texts.append(tpl_a.format(q=q))
        truth.append(0)
        sum_q = f"What is {rng.randint(2, 99)} times {rng.randint(2, 99)} plus {rng.randint(2, 9)}?"
        texts.append(tpl_b.format(q=sum_q))
        truth.append(1)
    for i, p in enumerate(OTHER_PROMPTS):
        texts.append(p)
        truth.append(2 + i)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], [truth[i] for i in order]


def test_one_template_with_different_slots_groups_together() -> None:
    texts, truth = _campaign()
    labels = group_templates(texts)
    for template in (0, 1):
        members = {int(labels[i]) for i, t in enumerate(truth) if t == template}
        assert len(members) == 1, f"template {template} split into {members}"
    a = next(int(labels[i]) for i, t in enumerate(truth) if t == 0)
    b = next(int(labels[i]) for i, t in enumerate(truth) if t == 1)
    assert a != b


def test_different_prompts_do_not_group() -> None:
    texts, truth = _campaign()
    labels = group_templates(texts)
    template_labels = {int(labels[i]) for i, t in enumerate(truth) if t < 2}
    others = [int(labels[i]) for i, t in enumerate(truth) if t >= 2]
    assert not template_labels & set(others)
    assert max(Counter(others).values()) == 1


def test_labels_are_numbered_by_first_appearance() -> None:
    labels = group_templates(
        ["alpha beta gamma delta", "one two three four", "alpha beta gamma delta"]
    )
    assert labels.tolist() == [0, 1, 0]


def test_empty_and_blank_inputs() -> None:
    assert group_templates([]).shape == (0,)
    labels = group_templates(["", "   ", "hello world"])
    assert labels.shape == (3,)
    assert labels.dtype == np.int64
