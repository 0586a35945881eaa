"""The report's plots, drawn with matplotlib and returned as inline SVG text.

No pyplot and no global backend switch: each figure is a bare :class:`Figure` attached to an
explicit Agg canvas, so importing this module changes nothing for the caller and it works on
a machine without a display. Output is deterministic (``svg.hashsalt`` fixed per plot, no date
in the metadata) and self-contained: text stays ``<text>`` in the page's own sans-serif font
(``svg.fonttype = none``), so there are no glyph definitions, font files or external links.
Each plot gets its own hash salt so that the element ids of two inline SVGs never collide.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.ticker as mticker
import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from distillguard.report.queries import ModelTraffic, Traffic

__all__ = [
    "NORMAL_COLOUR",
    "SUSPICIOUS_COLOUR",
    "cluster_timeline_svg",
    "model_traffic_svg",
    "score_distribution_svg",
    "traffic_svg",
]

SUSPICIOUS_COLOUR = "#c0392b"
NORMAL_COLOUR = "#5b7fa6"
_MODEL_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#9c755f", "#bab0ac")

# Typed loosely: matplotlib's stubs want a Literal key type no dict literal infers.
_RC: dict[Any, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "timezone": "UTC",
    # Pinned so that a date number is exactly days since 1970 (see _dates).
    "date.epoch": "1970-01-01T00:00:00",
}

_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_ID_ATTR = re.compile(r'\b(id)="([^"]+)"')
_ID_REF = re.compile(r'(url\(|xlink:href="|href=")#')
# matplotlib names the page font; let the HTML page's own sans-serif stack take over.
_FONT_NAME = re.compile(r"font-family:\s*'?DejaVu Sans'?")


def _figure(
    width_in: float,
    height_in: float,
    *,
    left_in: float = 0.75,
    right_in: float = 0.2,
    bottom_in: float = 0.55,
    top_in: float = 0.35,
    wspace: float = 0.12,
) -> Figure:
    # Fixed margins in inches instead of a layout engine: constrained layout draws every figure
    # twice, which doubled the report's time for no visible gain on these simple plots.
    fig = Figure(figsize=(width_in, height_in), dpi=100)
    fig.subplots_adjust(
        left=left_in / width_in,
        right=1.0 - right_in / width_in,
        bottom=bottom_in / height_in,
        top=1.0 - top_in / height_in,
        wspace=wspace,
    )
    FigureCanvasAgg(fig)
    return fig


def _svg(fig: Figure, salt: str, title: str) -> str:
    buf = io.StringIO()
    salted: dict[Any, Any] = {"svg.hashsalt": f"distillguard-{salt}"}
    with mpl.rc_context(salted):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = _XML_PROLOGUE.sub("", buf.getvalue(), count=1)
    text = _METADATA.sub("", text, count=1)
    # matplotlib numbers element ids per figure (figure_1, patch_1, …): prefix them with the
    # plot's name so that several plots inline in one page keep unique ids and references.
    prefix = re.sub(r"[^A-Za-z0-9_-]", "_", salt)
    text = _ID_ATTR.sub(lambda m: f'{m.group(1)}="{prefix}-{m.group(2)}"', text)
    text = _ID_REF.sub(lambda m: f"{m.group(1)}#{prefix}-", text)
    text = _FONT_NAME.sub("font-family: inherit", text)
    # An accessible name, and a class the page's stylesheet sizes the plot with.
    return text.replace(
        "<svg ",
        f'<svg role="img" aria-label="{_attr(title)}" class="plot" data-plot="{_attr(salt)}" ',
        1,
    )


def _attr(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


def _dates(starts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # Matplotlib date numbers are days since "date.epoch", pinned to 1970 in _RC.
    return np.asarray(starts, dtype=np.float64) / 86400.0


def _time_axis(ax: object) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)  # type: ignore[attr-defined]
    ax.xaxis.set_major_formatter(formatter)  # type: ignore[attr-defined]


def _count_label(value: float, _pos: object) -> str:
    return f"{value:,.0f}" if value >= 1 else ""


def _per_hour(counts: npt.NDArray[np.int64], bucket_s: int) -> npt.NDArray[np.float64]:
    return np.asarray(counts, dtype=np.float64) * (3600.0 / bucket_s)


def traffic_svg(traffic: Traffic) -> str:
    """Requests per hour over time, stacked: flagged accounts' traffic on top of the rest."""
    with mpl.rc_context(_RC):
        fig = _figure(9.0, 2.8)
        ax = fig.add_subplot()
        x = _dates(traffic.starts)
        normal = _per_hour(traffic.normal, traffic.bucket_s)
        suspicious = _per_hour(traffic.suspicious, traffic.bucket_s)
        ax.stackplot(
            x,
            normal,
            suspicious,
            labels=("normal", "judged suspicious"),
            colors=(NORMAL_COLOUR, SUSPICIOUS_COLOUR),
            alpha=0.85,
            step="post",
        )
        ax.set_ylabel("requests / hour")
        ax.set_title("Traffic over time")
        ax.set_ylim(bottom=0)
        ax.margins(x=0)
        _time_axis(ax)
        ax.legend(loc="upper left", ncols=2)
        return _svg(fig, "traffic", "Requests per hour over time, suspicious and normal")


def score_distribution_svg(
    scores: Sequence[float],
    threshold: float,
    malicious: Sequence[bool] | None = None,
) -> str:
    """Histogram of account scores (log count axis) with the operating threshold marked; with
    ground truth, benign and malicious accounts are drawn separately."""
    values = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    bins = [i / 40 for i in range(41)]
    with mpl.rc_context(_RC):
        fig = _figure(5.6, 3.4, bottom_in=0.95)
        ax = fig.add_subplot()
        if malicious is None:
            ax.hist(values, bins=bins, color=NORMAL_COLOUR, label="accounts")
        else:
            mask = np.asarray(malicious, dtype=bool)
            ax.hist(
                [values[~mask], values[mask]],
                bins=bins,
                color=(NORMAL_COLOUR, SUSPICIOUS_COLOUR),
                label=("benign (ground truth)", "malicious (ground truth)"),
                histtype="stepfilled",
                alpha=0.6,
            )
        ax.axvline(threshold, color="#222222", linestyle="--", linewidth=1.0)
        ax.annotate(
            f"flag ≥ {threshold:.2f}",
            xy=(threshold, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -10),
            textcoords="offset points",
        )
        if len(values):
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(mticker.FuncFormatter(_count_label))
            ax.yaxis.set_minor_formatter(mticker.NullFormatter())
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("account score")
        ax.set_ylabel("accounts")
        ax.set_title("Score distribution")
        fig.legend(loc="lower center", ncols=2)
        return _svg(fig, "scores", "Histogram of account scores with the flag threshold")


def model_traffic_svg(traffic: Traffic, models: ModelTraffic) -> str:
    """Share of each model in normal and in suspicious traffic over time, side by side: a
    campaign chasing a new release shows as its colour taking over the right panel first."""
    x = _dates(traffic.starts)
    with mpl.rc_context(_RC):
        fig = _figure(9.0, 3.2, bottom_in=0.85, top_in=0.3)
        axes = fig.subplots(1, 2, sharey=True)
        panels = (("normal traffic", models.normal), ("suspicious traffic", models.suspicious))
        for ax, (title, matrix) in zip(axes, panels, strict=True):
            totals = matrix.sum(axis=0)
            shares = np.divide(
                matrix,
                np.where(totals > 0, totals, 1),
                out=np.zeros(matrix.shape, dtype=np.float64),
                where=np.ones(matrix.shape, dtype=bool),
            )
            if matrix.size and totals.sum() > 0:
                ax.stackplot(
                    x,
                    *shares,
                    labels=models.models,
                    colors=_MODEL_COLOURS[: len(models.models)],
                    step="post",
                )
            else:
                ax.text(0.5, 0.5, "no traffic", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(f"Model share of {title}")
            ax.set_ylim(0.0, 1.0)
            ax.margins(x=0)
            _time_axis(ax)
        axes[0].set_ylabel("share of requests")
        handles, labels = axes[0].get_legend_handles_labels()
        if not handles:
            handles, labels = axes[1].get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="lower center", ncols=min(len(labels), 6))
        return _svg(fig, "models", "Share of each model in normal and suspicious traffic")


def cluster_timeline_svg(traffic: Traffic, counts: npt.NDArray[np.int64], cluster_id: str) -> str:
    """One cluster's requests per hour against all traffic (on its own scale, right axis)."""
    x = _dates(traffic.starts)
    with mpl.rc_context(_RC):
        fig = _figure(9.0, 2.2, right_in=0.75, top_in=0.4)
        ax = fig.add_subplot()
        total = _per_hour(traffic.normal + traffic.suspicious, traffic.bucket_s)
        mine = _per_hour(counts, traffic.bucket_s)
        ax.fill_between(x, mine, step="post", color=SUSPICIOUS_COLOUR, alpha=0.8, label="cluster")
        ax.set_ylabel("cluster req/h", color=SUSPICIOUS_COLOUR)
        ax.set_ylim(bottom=0)
        ax.margins(x=0)
        other = ax.twinx()
        other.spines["right"].set_visible(True)
        other.step(x, total, where="post", color="#555555", linewidth=1.0, label="all traffic")
        other.set_ylabel("all req/h", color="#555555")
        other.set_ylim(bottom=0)
        other.margins(x=0)
        _time_axis(ax)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = other.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2)
        return _svg(
            fig,
            f"cluster-{re.sub(r'[^A-Za-z0-9_-]', '_', cluster_id)}",
            f"Requests of cluster {cluster_id} over time against all traffic",
        )
