"""Figures in one style: PRISMA flow, forest and funnel plots, effect-direction plots.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from meta_analysis.models import MetaResult, fit_meta
from meta_analysis.small_study import TrimFillResult, trim_and_fill

from .analyses import TRANSFORMS, Analysis
from .sheets import Review

PALETTE = {"ink": "#222222", "muted": "#777777", "accent": "#1f5a96", "accent2": "#b8572b",
           "light": "#d9d9d9", "positive": "#1f5a96", "negative": "#b8572b", "null": "#8c8c8c"}


def set_style() -> None:
    """One look for every figure: serif-free fonts, readable sizes, deterministic SVG output."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10, "axes.titleweight": "bold",
        "axes.labelsize": 9, "axes.spines.top": False, "axes.spines.right": False,
        "axes.edgecolor": PALETTE["ink"], "xtick.color": PALETTE["ink"], "ytick.color": PALETTE["ink"],
        "savefig.dpi": 150, "figure.dpi": 100, "svg.hashsalt": "compendium", "svg.fonttype": "path",
    })


class FigureOutput:
    """What a notebook shows for a figure: the PNG, and as text only its caption and file names.

    Keeping the text stable (no figure repr, no memory address) lets nbval compare outputs.
    """

    def __init__(self, png: Path, svg: Path, caption: str, root: Path | None = None):
        self.png, self.svg, self.caption = Path(png), Path(svg), caption
        self.root = root

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root)) if self.root else path.name
        except ValueError:
            return path.name

    def _repr_png_(self) -> bytes:
        return self.png.read_bytes()

    def __repr__(self) -> str:
        return f"Figure: {self.caption} [{self._rel(self.png)}, {self._rel(self.svg)}]"


def save_figure(fig, name: str, figures_dir: Path | str, caption: str, root: Path | None = None) -> FigureOutput:
    """Write ``fig`` as PNG and SVG without timestamps or software tags, close it, return a FigureOutput."""
    import matplotlib.pyplot as plt

    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    png, svg = figures_dir / f"{name}.png", figures_dir / f"{name}.svg"
    fig.savefig(png, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(svg, bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return FigureOutput(png, svg, caption, root)


def plot_prisma(counts: pd.DataFrame, title: str):
    """A PRISMA-style flow diagram of our own extraction from :func:`prisma_counts`."""
    import matplotlib.pyplot as plt

    def total(stage, box=None):
        sel = counts[(counts["stage"] == stage) & ((counts["box"] == box) if box else True)]
        return int(sel["n"].sum())

    excluded = counts[counts["stage"] == "excluded"]
    fig, ax = plt.subplots(figsize=(7.2, 5.2))
    ax.set_axis_off()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    boxes = [
        (9.0, f"Records identified\nleads: {total('identified', 'calibration leads')}, "
              f"own search: {total('identified', 'own search and citations')}"),
        (6.8, f"Records screened (after removing {total('removed')} duplicates)\nn = {total('screened')}"),
        (4.2, f"Studies included\nn = {total('included', 'studies included')}"),
        (1.8, f"with a printed numeric statistic\nn = {total('included', 'with a numeric statistic')}"),
    ]
    for y, text in boxes:
        ax.text(2.9, y, text, ha="center", va="center", fontsize=8.5,
                bbox=dict(boxstyle="round,pad=0.5", fc="white", ec=PALETTE["ink"], lw=0.8))
    for (y0, _), (y1, _) in zip(boxes, boxes[1:]):
        ax.annotate("", xy=(2.9, y1 + 0.75), xytext=(2.9, y0 - 0.75),
                    arrowprops=dict(arrowstyle="->", color=PALETTE["ink"], lw=0.8))
    lines = [f"{row.box}: {row.n}" for row in excluded.itertuples()]
    ax.text(6.0, 5.5, f"Records excluded (n = {int(excluded['n'].sum())})\n" + "\n".join(lines),
            ha="left", va="center", fontsize=8,
            bbox=dict(boxstyle="round,pad=0.5", fc="#f4f4f4", ec=PALETTE["muted"], lw=0.8))
    ax.annotate("", xy=(5.95, 5.5), xytext=(4.9, 6.8), arrowprops=dict(arrowstyle="->", color=PALETTE["muted"], lw=0.8))
    ax.set_title(title)
    return fig


def _fmt_ci(est: float, low: float, high: float, digits: int = 2) -> str:
    return f"{est:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def forest_plot(studies: pd.DataFrame, result: MetaResult, title: str, xlabel: str,
                transform=None, group_col: str | None = None, group_results: dict | None = None):
    """A forest plot in the manner of metafor's ``forest()``.

    ``studies`` has columns ``label``, ``yi``, ``vi`` (and ``group_col`` for subgroup blocks).
    Each study is a square sized by its random-effects weight with its CI; the pooled estimate is
    a diamond, the prediction interval a bar beneath it, the dashed line marks no effect. Numbers
    and weights stand in aligned columns. ``transform`` (e.g. ``np.tanh`` for Fisher z → r) is
    applied to everything drawn and printed.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    f = transform or (lambda x: np.asarray(x, float))
    crit = stats.norm.isf((1 - result.level) / 2)
    w = 1 / (studies["vi"].to_numpy() + result.tau2)
    studies = studies.assign(weight=100 * w / w.sum(), low=studies["yi"] - crit * np.sqrt(studies["vi"]),
                             high=studies["yi"] + crit * np.sqrt(studies["vi"]))
    rows = []  # (kind, label, payload)
    blocks = [(None, studies)] if group_col is None else list(studies.groupby(group_col, sort=True))
    for group, block in blocks:
        if group is not None:
            rows.append(("header", str(group).replace("_", " ").capitalize(), None))
        rows.extend(("study", r.label, r) for r in block.itertuples())
        if group is not None and group_results and group in group_results:
            rows.append(("diamond", f"Subtotal (k = {len(block)})", group_results[group]))
        rows.append(("gap", "", None))
    rows.append(("diamond", f"RE model, {result.method} (k = {result.k})" if result.method != "FE"
                 else f"Common-effect model (k = {result.k})", result))
    if result.k > 1 and result.method != "FE":
        rows.append(("pi", "Prediction interval", result))
    height = 1.2 + 0.26 * len(rows)
    fig = plt.figure(figsize=(9.0, height))
    grid = fig.add_gridspec(1, 3, width_ratios=[3.1, 3.6, 2.3], wspace=0.02)
    ax_lab, ax, ax_num = (fig.add_subplot(grid[0, i]) for i in range(3))
    n = len(rows)
    max_w = studies["weight"].max()
    xs = []
    for i, (kind, label, obj) in enumerate(rows):
        y = n - i
        weight_text = ""
        if kind == "study":
            lo, est, hi = f(obj.low), f(obj.yi), f(obj.high)
            ax.plot([lo, hi], [y, y], color=PALETTE["ink"], lw=0.9)
            size = 4 + 10 * math.sqrt(obj.weight / max_w)
            ax.plot(est, y, marker="s", ms=size, color=PALETTE["accent"], mec=PALETTE["ink"], mew=0.4)
            text, weight_text, xs = _fmt_ci(est, lo, hi), f"{obj.weight:.1f}%", xs + [lo, hi]
        elif kind == "diamond":
            lo, est, hi = f(obj.ci_low), f(obj.estimate), f(obj.ci_high)
            ax.add_patch(Polygon([[lo, y], [est, y + 0.32], [hi, y], [est, y - 0.32]], closed=True,
                                 fc=PALETTE["ink"] if obj is result else PALETTE["muted"], ec=PALETTE["ink"]))
            text, xs = _fmt_ci(est, lo, hi), xs + [lo, hi]
            weight_text = "100%" if obj is result else ""
        elif kind == "pi":
            lo, hi = f(obj.pi_low), f(obj.pi_high)
            ax.plot([lo, hi], [y, y], color=PALETTE["accent2"], lw=2.2, solid_capstyle="butt")
            text, xs = f"[{lo:.2f}, {hi:.2f}]", xs + [lo, hi]
        else:
            text = ""
        weight = "bold" if kind in ("header", "diamond") else "normal"
        ax_lab.text(0.0, y, label, ha="left", va="center", fontsize=8.5, fontweight=weight)
        ax_num.text(0.62, y, text, ha="right", va="center", fontsize=8.5, family="DejaVu Sans Mono")
        ax_num.text(0.98, y, weight_text, ha="right", va="center", fontsize=8.5, family="DejaVu Sans Mono")
    top = n + 1
    ax_lab.text(0.0, top, "Study", fontweight="bold", va="center")
    ax_num.text(0.62, top, "Estimate [95% CI]", fontweight="bold", va="center", ha="right")
    ax_num.text(0.98, top, "Weight", fontweight="bold", va="center", ha="right")
    for a in (ax_lab, ax_num):
        a.set_xlim(0, 1)
        a.set_axis_off()
    for a in (ax_lab, ax, ax_num):
        a.set_ylim(0.3, top + 0.6)
    span = (min(xs + [0.0]), max(xs + [0.0]))
    pad = 0.08 * (span[1] - span[0] or 1)
    ax.set_xlim(span[0] - pad, span[1] + pad)
    ax.axvline(float(f(0.0)), color=PALETTE["muted"], ls="--", lw=0.8)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(xlabel)
    fig.subplots_adjust(top=1 - 0.42 / height, bottom=0.5 / height, left=0.02, right=0.98)
    fig.suptitle(title, x=0.02, y=1 - 0.12 / height, ha="left", va="top", fontsize=10, fontweight="bold")
    return fig


def funnel_plot(yi, vi, result: MetaResult, title: str, xlabel: str, filled: TrimFillResult | None = None):
    """Contour-enhanced funnel plot (Peters et al. 2008): effect against its SE (inverted axis).

    Shaded bands mark where a study's two-sided p against 0 lies in (.10, .05], (.05, .01] and
    ≤ .01; asymmetry that follows the bands hints at selective reporting rather than other causes.
    Studies added by trim-and-fill are drawn as open circles.
    """
    import matplotlib.pyplot as plt

    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    sei = np.sqrt(vi)
    se_max = max(sei.max(), *(np.sqrt(filled.filled_vi) if filled and filled.k0 else [0])) * 1.08
    se_grid = np.linspace(0, se_max, 100)
    fig, ax = plt.subplots(figsize=(7.4, 4.6))
    shades = [(0.10, "#ffffff"), (0.05, "#e6e6e6"), (0.01, "#c8c8c8")]
    reach = max(np.abs(yi).max(), stats.norm.isf(0.005) * se_max) * 1.15
    ax.fill_betweenx(se_grid, -reach, reach, color="#a9a9a9", lw=0, label="p ≤ .01")
    for p, colour in reversed(shades):
        z = stats.norm.isf(p / 2)
        label = {0.10: "p > .10", 0.05: ".05 < p ≤ .10", 0.01: ".01 < p ≤ .05"}[p]
        ax.fill_betweenx(se_grid, -z * se_grid, z * se_grid, color=colour, lw=0, label=label)
    ax.axvline(result.estimate, color=PALETTE["ink"], lw=0.9, label="pooled estimate")
    ax.axvline(0, color=PALETTE["muted"], ls="--", lw=0.7)
    ax.scatter(yi, sei, s=26, color=PALETTE["accent"], edgecolor=PALETTE["ink"], lw=0.4, zorder=3, label="studies")
    if filled is not None and filled.k0:
        ax.scatter(filled.filled_yi, np.sqrt(filled.filled_vi), s=26, facecolor="white",
                   edgecolor=PALETTE["accent2"], lw=1.0, zorder=3, label="filled (trim-and-fill)")
    ax.set_ylim(se_max, 0)
    ax.set_xlim(-reach, reach)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Standard error")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    return fig


def forest_plots(review: Review, analyses: dict[str, Analysis], figures_dir: Path, root: Path | None = None) -> list:
    """A forest plot for every analysis of ``review`` with at least two studies (see :func:`forest_plot`).

    An analysis spec with ``"forest_by": column`` is drawn in subgroup blocks with subtotals.
    """
    transform = TRANSFORMS[review.meta.get("transform")]
    specs = {s["name"]: s for s in review.meta["analyses"]}
    out = []
    for name, a in analyses.items():
        if a.fit is None or a.fit.k < 2:
            continue
        by = specs[name].get("forest_by")
        group_results = None
        if by:
            group_results = {g: fit_meta(d["yi"], d["vi"], method=a.fit.method if len(d) > 1 else "FE",
                                         level=a.fit.level)
                             for g, d in a.data.groupby(by)}
        fig = forest_plot(a.data, a.fit, f"{a.label} ({review.review_id})", review.meta["xlabel"],
                          transform=transform, group_col=by, group_results=group_results)
        out.append(save_figure(fig, f"{review.review_id}_forest_{name}", figures_dir, f"forest plot, {a.label}", root))
    return out


def funnel_plots(review: Review, analyses: dict[str, Analysis], figures_dir: Path, root: Path | None = None,
                 method: str = "REML", min_k: int = 3) -> list:
    """A contour-enhanced funnel plot with trim-and-fill for every analysis with at least ``min_k`` studies."""
    scale = "Fisher z" if review.meta.get("transform") == "tanh" else review.meta.get("display_metric", "effect")
    out = []
    for name, a in analyses.items():
        if a.fit is None or a.fit.k < min_k:
            continue
        filled = trim_and_fill(a.data["yi"], a.data["vi"], method=method)
        fig = funnel_plot(a.data["yi"], a.data["vi"], a.fit, f"{a.label} ({review.review_id})",
                          f"Effect size ({scale})", filled=filled)
        out.append(save_figure(fig, f"{review.review_id}_funnel_{name}", figures_dir, f"funnel plot, {a.label}", root))
    return out


def effect_direction_plot(rows: pd.DataFrame, column: str, title: str, row_label: str = "study_id"):
    """Effect-direction plot (Thomson & Thomas 2013): one row per study, one column per category.

    ▲ positive, ▼ negative, ● no effect, ◆ mixed or unclear; filled = statistically significant,
    open = not significant or not reported.
    """
    import matplotlib.pyplot as plt

    categories = sorted(rows[column].unique())
    labels = sorted(rows[row_label].unique(), key=str.lower, reverse=True)
    marker = {"positive": "^", "negative": "v", "null": "o", "mixed": "D", "unclear": "D"}
    colour = {"positive": PALETTE["positive"], "negative": PALETTE["negative"], "null": PALETTE["null"],
              "mixed": PALETTE["muted"], "unclear": PALETTE["muted"]}
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(categories), 1.0 + 0.2 * len(labels)))
    offsets = {}
    for r in rows.itertuples():
        key = (getattr(r, row_label), getattr(r, column))
        offsets[key] = offsets.get(key, -1) + 1
        x = categories.index(getattr(r, column)) + 0.18 * offsets[key]
        y = labels.index(getattr(r, row_label))
        filled = r.significant == "yes"
        ax.scatter(x, y, marker=marker[r.direction], s=42, edgecolor=colour[r.direction],
                   facecolor=colour[r.direction] if filled else "white", lw=1.0, zorder=3)
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels([c.replace("_", " ") for c in categories], rotation=30, ha="right")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlim(-0.6, len(categories) - 0.2)
    ax.set_ylim(-0.8, len(labels) - 0.2)
    ax.grid(axis="y", color="#eeeeee", lw=0.6)
    handles = [plt.Line2D([], [], marker=m, ls="", color=PALETTE["ink"], mfc="white", label=l)
               for m, l in (("^", "positive"), ("v", "negative"), ("o", "no effect"), ("D", "mixed / unclear"))]
    handles.append(plt.Line2D([], [], marker="s", ls="", color=PALETTE["ink"], label="filled = significant"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    ax.set_title(title)
    return fig
