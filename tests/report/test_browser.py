"""The report in a real browser (Debian chromium): renders its sections and plots, runs no
script (a hostile prompt stays text), logs no console error and fetches nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillguard.report.html import write_report

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "install Debian's chromium: apt-get install -y chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    console: list[tuple[str, str]] = []
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: console.append((m.type, m.text)))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, console, errors, requests


def test_report_renders_offline_with_no_script_and_no_errors(
    browser, store, result, labels, tmp_path
):
    path = write_report(store, result, tmp_path / "report.html", labels=labels)
    page, console, errors, requests = _open(browser, path)
    try:
        assert requests == [path.as_uri()], "the report fetched something beyond itself"
        assert [m for m in console if m[0] in {"error", "warning"}] == []
        assert errors == []
        # The hostile prompt in the fixture would set these if it ran.
        assert page.evaluate("window.__pwned") is None
        assert page.title() == "distillguard audit report"
        assert page.locator("script").count() == 0
        assert page.locator("img").count() == 0
        samples = page.locator("ol.samples li")
        assert any("<script>window.__pwned" in t for t in samples.all_inner_texts())
        for anchor in ("summary", "clusters", "accounts", "overrides", "plots", "truth"):
            section = page.locator(f"section#{anchor}")
            assert section.is_visible(), anchor
            assert section.bounding_box()["height"] > 50, anchor
        plots = page.locator("svg.plot")
        assert plots.count() >= 5
        for i in range(plots.count()):
            box = plots.nth(i).bounding_box()
            if box is None:  # inside a closed <details>
                continue
            assert box["width"] > 300 and box["height"] > 80
            # Each plot drew something: paths for the axes and the data.
            assert plots.nth(i).locator("path").count() > 5
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 50_000
    finally:
        page.close()


def test_metadata_only_report_in_browser(browser, bare_store, tmp_path):
    from tests.report.conftest import make_result

    path = write_report(bare_store, make_result(content_available=False), tmp_path / "r.html")
    page, console, errors, requests = _open(browser, path)
    try:
        assert requests == [path.as_uri()]
        assert console == [] and errors == []
        notice = page.locator(".notice.warn")
        assert notice.first.is_visible()
        assert "Metadata only" in notice.first.inner_text()
        assert page.locator("section#truth").count() == 0
    finally:
        page.close()
