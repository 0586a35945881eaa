"""shared_templates: a rare template stamped across accounts, and what must not count as one."""

from __future__ import annotations

import numpy as np

from distillguard.detect.content.templates import shared_templates

_WORDS = (
    "river stone lantern orbit copper meadow signal harbor velvet prism tundra falcon ember "
    "quartz willow canyon beacon saddle glacier pepper marble violet anchor thistle"
).split()
_OPERATOR = (
    "Act as a methodical analyst. Resolve the following case without shortcuts.\n\n"
    "Entry no. {n}:\n{q}\n\n>> Deliverable\nShow every step.\nList any assumptions first."
)
_TEAM = "Summarise for the quarterly board pack, in plain words and under fifty words:\n{q}"
_PUBLIC = "Answer the following question with the letter of the correct option only:\n{q}"


def _world(
    seed: int = 0,
) -> tuple[list[str], list[str], dict[str, str]]:
    rng = np.random.default_rng(seed)

    def q() -> str:
        return " ".join(rng.choice(_WORDS, 9)) + f" {rng.integers(1000)}?"

    owners: list[str] = []
    texts: list[str] = []
    orgs: dict[str, str] = {}

    def add(acc: str, org: str, template: str | None, share: float, casual: bool = False) -> None:
        orgs[acc] = org
        for k in range(20):
            use = (k == 0) if casual else (template is not None and rng.random() < share)
            owners.append(acc)
            texts.append(
                template.format(n=rng.integers(10_000), q=q()) if use and template else q()
            )

    for i in range(8):  # an operator's fleet: one template, eight orgs
        add(f"op{i}", f"op-org{i}", _OPERATOR, 0.3)
    for i in range(6):  # one team's in-house tool
        add(f"team{i}", "acme", _TEAM, 0.5)
    for i in range(40):  # a public template: a few heavy users, many who use it now and then
        add(f"pub{i}", f"pub-org{i}", _PUBLIC, 0.5, casual=i >= 5)
    for i in range(60):  # everybody else
        add(f"other{i}", f"o{i}", None, 0.0)
    return owners, texts, orgs


def test_an_operators_template_is_found_with_its_fleet() -> None:
    owners, texts, orgs = _world()
    found = shared_templates(owners, texts, orgs)
    assert len(found) == 1
    t = found[0]
    assert set(t.accounts) <= {f"op{i}" for i in range(8)}
    assert len(t.accounts) >= 6
    assert "methodical analyst" in t.sample
    assert len(t.key) == 16


def test_one_orgs_tool_and_a_public_template_are_not_evidence() -> None:
    owners, texts, orgs = _world(1)
    members = {a for t in shared_templates(owners, texts, orgs) for a in t.accounts}
    assert not any(a.startswith(("team", "pub", "other")) for a in members)
    # without org records the team's tool is a template like any other
    without_orgs = {a for t in shared_templates(owners, texts) for a in t.accounts}
    assert any(a.startswith("team") for a in without_orgs)


def test_a_template_stamped_by_a_large_share_of_all_accounts_is_public() -> None:
    owners, texts, orgs = _world(2)
    assert shared_templates(owners, texts, orgs, max_population=0.01, min_cap=2) == []


def test_keys_are_stable_and_empty_input_is_empty() -> None:
    owners, texts, orgs = _world(3)
    a = shared_templates(owners, texts, orgs)
    b = shared_templates(list(reversed(owners)), list(reversed(texts)), orgs)
    assert [t.key for t in a] == [t.key for t in b]
    assert shared_templates([], []) == []
    assert shared_templates(["a", "b"], ["", ""]) == []
