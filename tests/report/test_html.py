"""The HTML report: sections, escaping, redaction, self-containment, determinism."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import duckdb

from distillguard.report.html import write_report
from tests.report.conftest import (
    CLEARED,
    EVENTS_DDL,
    HOSTILE,
    SECRET,
    FakeStore,
    make_labels,
    make_result,
    make_store,
)


class _Refs(HTMLParser):
    """Collects every tag and every URL-bearing attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[tuple[str, str, str]] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in {"src", "href", "xlink:href", "action", "srcset", "poster", "data"}:
                self.urls.append((tag, name, value or ""))
            if name == "id" and value:
                self.ids.append(value)


def _parse(page: str) -> _Refs:
    refs = _Refs()
    refs.feed(page)
    return refs


def test_report_with_content_and_labels_has_every_section(store, result, labels, tmp_path):
    path = write_report(store, result, tmp_path / "out" / "report.html", labels=labels)
    assert path == tmp_path / "out" / "report.html"
    page = path.read_text(encoding="utf-8")
    refs = _parse(page)
    for anchor in ("summary", "clusters", "accounts", "overrides", "plots", "truth"):
        assert anchor in refs.ids, anchor
    # Traffic, scores, models, and one timeline per suspicious cluster.
    assert page.count('<svg role="img"') == 3 + sum(c.flagged for c in result.clusters)
    share = f"{100 * result.stats.suspicious_event_share:.1f}%"
    assert share in page
    for cluster in result.clusters:
        assert cluster.cluster_id in page
    for evidence in result.clusters[0].evidence:
        assert evidence in page
    for account in result.flagged():
        assert account.account_id in page
        assert account.reasons[0] in page
    assert "Metadata only" not in page
    assert "Most repeated prompts" in page
    assert not list(tmp_path.joinpath("out").glob(".report.html.*")), "temp file left behind"


def test_cluster_templates_are_masked_skeletons(store, result, tmp_path):
    page = write_report(store, result, tmp_path / "r.html").read_text(encoding="utf-8")
    block = page.split('id="cluster-c-dist"', 1)[1].split('id="cluster-c-pred"', 1)[0]
    assert "Prompt templates" in block
    skeleton = "solve step by step and show all your reasoning problem &lt;num&gt;"
    assert skeleton in block
    shared_id = result.clusters[0].shared["template"][0]
    assert f"{shared_id}</span> (shared by members)" in block
    # The pasted key leaves no fragment in its skeleton either.
    assert "live" not in block.split("Prompt templates", 1)[1].split("</table>", 1)[0]


def test_hostile_prompt_is_escaped_and_secrets_are_masked(store, result, tmp_path):
    page = write_report(store, result, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "onerror=alert" not in page.replace("&#x27;", "'").split("<body>")[0]
    assert "&lt;script&gt;window.__pwned" in page
    assert "<img src=x" not in page
    assert SECRET not in page
    assert "[api key]" in page


def test_report_is_self_contained(store, result, labels, tmp_path):
    page = write_report(store, result, tmp_path / "r.html", labels=labels).read_text("utf-8")
    refs = _parse(page)
    assert "script" not in refs.tags
    assert "link" not in refs.tags
    assert "iframe" not in refs.tags
    for tag, attr, url in refs.urls:
        # In-page anchors only: no http(s), protocol-relative, file or data-free fetches.
        assert url.startswith("#"), (tag, attr, url)
    styles = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    assert styles
    for css in styles:
        assert "url(" not in css
        assert "@import" not in css
        assert "@font-face" not in css
    assert "Content-Security-Policy" in page


def test_report_without_content_says_metadata_only(bare_store, tmp_path):
    result = make_result(content_available=False)
    page = write_report(bare_store, result, tmp_path / "r.html").read_text("utf-8")
    assert "Metadata only" in page
    assert "Most repeated prompts" not in page
    assert "Sample prompts" not in page
    assert "metadata only" in page  # the subtitle
    assert "truth" not in _parse(page).ids


def test_report_without_labels_has_no_ground_truth(store, result, tmp_path):
    page = write_report(store, result, tmp_path / "r.html").read_text("utf-8")
    refs = _parse(page)
    assert "truth" not in refs.ids
    assert "Ground truth" not in page


def test_ground_truth_section_reports_campaign_recall(store, result, tmp_path):
    labels = make_labels()
    # Unflag one distiller: its campaign's recall drops to 7/8 and the page must say so.
    missed = next(a for a in result.accounts if a.account_id == "acct-dist-07")
    accounts = tuple(
        replace(a, flagged=False) if a.account_id == missed.account_id else a
        for a in result.accounts
    )
    page = write_report(
        store, replace(result, accounts=accounts), tmp_path / "r.html", labels=labels
    ).read_text("utf-8")
    assert "camp-dist" in page and "camp-pred" in page
    assert f"{7 / 8:.3f}" in page
    assert "corporate_nat" in page


def test_overrides_are_listed(store, result, tmp_path):
    page = write_report(store, result, tmp_path / "r.html").read_text("utf-8")
    overrides = page.split('id="overrides"', 1)[1].split("</section>", 1)[0]
    assert CLEARED in overrides
    assert "University eval partner" in overrides
    assert "ana@t-and-s" in overrides


def test_same_input_gives_the_same_bytes(result, labels, tmp_path):
    a = write_report(make_store(), result, tmp_path / "a.html", labels=labels).read_bytes()
    b = write_report(make_store(), result, tmp_path / "b.html", labels=labels).read_bytes()
    assert a == b


def test_plot_element_ids_are_unique(store, result, labels, tmp_path):
    page = write_report(store, result, tmp_path / "r.html", labels=labels).read_text("utf-8")
    ids = _parse(page).ids
    assert len(ids) == len(set(ids))


def test_empty_log_still_renders(tmp_path):
    con = duckdb.connect(":memory:")
    con.execute(EVENTS_DDL)
    result = make_result()
    result = replace(result, accounts=(), clusters=())
    page = write_report(FakeStore(con), result, tmp_path / "r.html").read_text("utf-8")
    assert "The log holds no events." in page
    assert "No account was flagged." in page
    assert HOSTILE not in page


def test_write_report_replaces_an_existing_file(store, result, tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    write_report(store, result, Path(target))
    assert target.read_text("utf-8").startswith("<!DOCTYPE html>")


def test_replay_report_says_how_each_account_was_first_flagged(store, result, tmp_path):
    from distillguard.detect.verdicts import FlagPath

    paths = [FlagPath.ONLINE, FlagPath.AUDIT, FlagPath.CLUSTER_LINK]
    flagged = [a for a in result.accounts if a.flagged]
    by = {a.account_id: paths[i % 3] for i, a in enumerate(flagged)}
    accounts = tuple(
        replace(a, first_flagged_by=by[a.account_id]) if a.flagged else a for a in result.accounts
    )
    replayed = replace(result, accounts=accounts, stats=replace(result.stats, replay=True))
    page = write_report(store, replayed, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "(online scorer)" in page and "(periodic audit)" in page
    n_online = sum(1 for p in by.values() if p is FlagPath.ONLINE)
    assert f"online scorer {n_online}" in page
    plain = write_report(store, result, tmp_path / "p.html").read_text(encoding="utf-8")
    assert "(online scorer)" not in plain


def test_clusters_to_review_are_detailed_without_a_kind_badge(store, result, tmp_path):
    from dataclasses import replace

    from distillguard.detect.verdicts import Response

    review = tuple(
        replace(c, score=0.62, response=Response.WATCH, evidence=("61% do two of: ...",))
        if c.cluster_id == "c-nat"
        else c
        for c in result.clusters
    )
    page = write_report(store, replace(result, clusters=review), tmp_path / "r.html").read_text(
        encoding="utf-8"
    )
    assert "Clusters to review (1)" in page
    assert 'id="cluster-c-nat"' in page and "61% do two of" in page
    # a timeline for it too, as for the suspicious clusters
    assert page.count('<svg role="img"') == 3 + sum(c.flagged for c in result.clusters) + 1
    plain = write_report(store, result, tmp_path / "p.html").read_text(encoding="utf-8")
    assert "Clusters to review" not in plain and 'id="cluster-c-nat"' not in plain
