"""Instruction templates: each operator's script stamps its own, customers' teams stamp theirs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from distillguard.simulate import LowAndSlowConfig, ScenarioConfig, scenario, simulate
from distillguard.simulate.engine import build_world
from distillguard.simulate.textgen import distill_prompt, house_frames
from tests.simulate.giveaways import malicious_user_texts


def _heads(frames: tuple[tuple[str, str, str], ...]) -> list[str]:
    # the longest fixed line of each template (slots such as item numbers cut out)
    out = []
    for frame in frames:
        lines = [ln.split("{n}")[0].strip() for part in frame for ln in part.split("\n")]
        out.append(max(lines, key=len))
    return out


def test_each_script_writes_its_own_templates() -> None:
    rng = np.random.default_rng(0)
    drawn = [house_frames(rng, 2) for _ in range(50)]
    assert len({f for frames in drawn for f in frames}) == 100
    seeds = pa.array([f"What is {i} plus {i}?" for i in range(400)])
    frames = drawn[0]
    framed = distill_prompt(rng, seeds, (1, 1, 1, 1), 1.0, 0.5, frames, 1.0).to_pylist()
    plain = distill_prompt(rng, seeds, (1, 1, 1, 1), 1.0, 0.5, frames, 0.0).to_pylist()
    heads = _heads(frames)
    assert all(any(h in t for h in heads) for t in framed)
    assert not any(h in t for h in heads for t in plain)
    assert not any("{n}" in t for t in framed)
    # the slot values differ: the template wraps a different task every time
    assert len(set(framed)) > 390


def test_operators_differ_and_customer_teams_stamp_templates_too() -> None:
    b, _ = build_world(scenario("mixed", seed=3, accounts=800))
    operator_styles = {
        a.style for a in b.actors if a.label == "malicious" and b.styles[a.style].frames
    }
    frames = [b.styles[s].frames for s in operator_styles]
    assert len(frames) >= 4
    assert len({f for fs in frames for f in fs}) == sum(len(fs) for fs in frames)
    # benign teams: one org's accounts share a templated in-house tool
    team_styles: dict[int, set[str]] = {}
    for a in b.actors:
        if a.label == "benign" and b.styles[a.style].frames:
            team_styles.setdefault(a.style, set()).add(str(a.account["org_id"]))
    assert any(len(orgs) == 1 for orgs in team_styles.values())
    team_frames = {f for s in team_styles for f in b.styles[s].frames}
    assert not team_frames & {f for fs in frames for f in fs}


def _framed_share(tmp: Path, share: float) -> float:
    config = ScenarioConfig(
        name="tpl",
        seed=6,
        accounts=150,
        days=0.3,
        campaigns=(LowAndSlowConfig(accounts=30, template_share=share, paraphrase_rate=0.0),),
    )
    s = simulate(config, tmp)
    heads = [t.split("{task}")[0].split("{n}")[0].strip() for t in s.owned["template"]]
    heads = [max(h.split("\n"), key=len) for h in heads]
    texts = malicious_user_texts(s.events_path, s.labels_path)
    return sum(any(h in t for h in heads) for t in texts) / len(texts)


def test_template_share_knob(tmp_path: Path) -> None:
    none = _framed_share(tmp_path / "none", 0.0)
    most = _framed_share(tmp_path / "most", 0.9)
    assert none == 0.0
    # the template wraps reasoning-harvest prompts only (about half of this operator's traffic)
    assert most > 0.25
