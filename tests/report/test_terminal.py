"""The terminal summary: headline numbers, clusters, accounts with reasons, overrides."""

from __future__ import annotations

from dataclasses import replace

from rich.console import Console

from distillguard.detect.verdicts import Response
from distillguard.report.terminal import print_summary
from tests.report.conftest import CLEARED, make_result


def _render(result, width: int = 160) -> str:
    console = Console(record=True, width=width, color_system=None)
    print_summary(result, console)
    return console.export_text()


def test_headline_clusters_and_accounts():
    result = make_result()
    text = _render(result)
    assert f"{100 * result.stats.suspicious_event_share:.1f}%" in text
    assert f"{result.stats.n_flagged:,} of {result.stats.n_accounts:,}" in text
    assert f"{result.stats.n_events:,}" in text
    for cluster in result.clusters:
        if cluster.flagged:
            assert cluster.cluster_id in text
            assert cluster.evidence[0] in text
            assert str(cluster.response) in text
        else:
            assert cluster.cluster_id not in text
    top = max(result.accounts, key=lambda a: a.score)
    assert top.account_id in text
    assert top.reasons[0] in text
    assert "prompt text analysed" in text
    assert CLEARED in text and "University eval partner" in text


def test_metadata_only_is_said():
    text = _render(make_result(content_available=False))
    assert "metadata-only" in text


def test_accounts_are_spread_over_clusters():
    result = make_result()
    text = _render(result)
    # Eight distillers outscore the predictors, but at most three of them are listed so that
    # the prediction-extraction pair still shows.
    listed = [a.account_id for a in result.flagged() if a.account_id in text]
    assert sum(a.startswith("acct-dist") for a in listed) == 3
    assert any(a.startswith("acct-pred") for a in listed)


def test_data_is_not_read_as_markup():
    result = make_result()
    top = result.accounts[0]
    odd = replace(top, account_id="[bold]acct-x[/bold]", reasons=("ratio [0.9] over [red]x",))
    text = _render(replace(result, accounts=(odd, *result.accounts[1:])))
    assert "[bold]acct-x[/bold]" in text
    assert "ratio [0.9] over [red]x" in text


def test_nothing_flagged():
    result = make_result()
    calm = replace(
        result,
        accounts=tuple(replace(a, flagged=False) for a in result.accounts),
        clusters=tuple(replace(c, flagged=False) for c in result.clusters),
        stats=replace(result.stats, n_flagged=0, suspicious_event_share=0.0, overrides=()),
    )
    text = _render(calm)
    assert "No cluster was judged suspicious." in text
    assert "No account was flagged." in text
    assert "0.0%" in text


def test_narrow_terminal_keeps_evidence_whole():
    result = make_result()
    text = _render(result, width=80)
    flat = " ".join(text.split())
    for cluster in result.clusters:
        if cluster.flagged:
            for evidence in cluster.evidence:
                assert evidence in flat
    top = max(result.accounts, key=lambda a: a.score)
    assert top.reasons[0] in flat


def _with_review(result):
    clusters = tuple(
        replace(c, score=0.62, response=Response.WATCH, evidence=("61% do two of: ...",))
        if c.cluster_id == "c-nat"
        else c
        for c in result.clusters
    )
    return replace(result, clusters=clusters)


def test_clusters_suspicious_as_a_whole_with_no_member_flagged_are_listed_to_review():
    result = _with_review(make_result())
    assert [c.cluster_id for c in result.clusters_to_review()] == ["c-nat"]
    text = _render(result)
    assert "Clusters to review (1 of 1)" in text
    assert "c-nat" in text and "61% do two of" in text
    assert "Clusters to review" not in _render(make_result())
