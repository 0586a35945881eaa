"""Plots: inline SVG, deterministic, self-contained, and safe to put several in one page."""

from __future__ import annotations

import re

import numpy as np

from distillguard.report import plots
from distillguard.report.queries import ModelTraffic, Traffic


def _traffic() -> Traffic:
    starts = np.arange(0, 86400, 3600, dtype=np.float64) + 1.77e9
    rng = np.random.default_rng(3)
    return Traffic(
        bucket_s=3600,
        starts=starts,
        suspicious=rng.integers(0, 50, len(starts)),
        normal=rng.integers(100, 300, len(starts)),
    )


def _all() -> list[str]:
    t = _traffic()
    m = ModelTraffic(
        ("a", "b"), np.vstack([t.suspicious, t.suspicious]), np.vstack([t.normal, 0 * t.normal])
    )
    return [
        plots.traffic_svg(t),
        plots.model_traffic_svg(t, m),
        plots.score_distribution_svg([0.1, 0.2, 0.9], 0.5),
        plots.score_distribution_svg([0.1, 0.2, 0.9], 0.5, [False, False, True]),
        plots.cluster_timeline_svg(t, t.suspicious, 'c"<1>'),
    ]


def test_svgs_are_inline_and_deterministic():
    first, second = _all(), _all()
    assert first == second
    for svg in first:
        assert svg.startswith("<svg ")
        assert "<?xml" not in svg and "<!DOCTYPE" not in svg
        assert "<metadata>" not in svg
        assert "<script" not in svg
        for url in re.findall(r'(?:href|src)="([^"]*)"', svg):
            assert url.startswith("#")
        assert "@font-face" not in svg and "url(http" not in svg


def test_ids_do_not_collide_between_plots():
    ids: list[str] = []
    for svg in _all()[:3] + _all()[4:]:
        ids += re.findall(r'\bid="([^"]+)"', svg)
    assert len(ids) == len(set(ids))


def test_references_point_at_ids_in_the_same_svg():
    for svg in _all():
        ids = set(re.findall(r'\bid="([^"]+)"', svg))
        refs = re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', svg)
        for a, b in refs:
            assert (a or b) in ids


def test_cluster_name_is_escaped_in_attributes():
    svg = _all()[-1]
    assert 'c"<1>' not in svg
    assert "c&quot;&lt;1&gt;" in svg


def test_empty_inputs_do_not_fail():
    t = _traffic()
    empty = ModelTraffic(
        (),
        np.zeros((0, len(t.starts)), dtype=np.int64),
        np.zeros((0, len(t.starts)), dtype=np.int64),
    )
    assert "no traffic" in plots.model_traffic_svg(t, empty)
    assert plots.score_distribution_svg([], 0.5).startswith("<svg ")
