"""Figures of influence in the house style: the Baujat plot and the GOSH plot.

The numbers come from the engine (``meta_analysis.influence.baujat`` and ``meta_analysis.gosh.gosh``);
these functions only draw them, with the shared look of ``figures.set_style``.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from meta_analysis.gosh import GoshResult

from .analyses import fit_of
from .figures import PALETTE, room_for, set_style


BAUJAT_MAX_LABELS = 30  # more studies than this: every study a point, only the most extreme labelled


def baujat_plot(table: pd.DataFrame, ax=None, title: str = "Baujat plot",
                xlabel: str = "Contribution to overall heterogeneity",
                ylabel: str = "Influence on overall result", max_labels: int = BAUJAT_MAX_LABELS):
    """A Baujat plot (Baujat et al. 2002), as metafor's ``baujat()``: each study's label at (x, y).

    ``table`` is the frame of :func:`meta_analysis.influence.baujat` (columns ``study``, ``x``, ``y``):
    x is the study's contribution to Cochran's Q (its squared Pearson residual outside FE), y the
    squared standardised change of the pooled estimate when it is left out. Studies to the upper
    right both add heterogeneity and move the result. With more than ``max_labels`` studies only
    the ``max_labels`` with the largest x/max(x) + y/max(y) are labelled (the title says so); every
    study stays a point. Draws on ``ax`` if given; returns the figure.
    """
    import matplotlib.pyplot as plt

    missing = {"study", "x", "y"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks column(s) {sorted(missing)}: pass the frame of baujat()")
    set_style()
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.6, 4.4))
    else:
        fig = ax.figure
    x, y = table["x"].to_numpy(float), table["y"].to_numpy(float)
    ax.scatter(x, y, s=10, color=PALETTE["light"], zorder=2, rasterized=len(x) > 1000)
    labelled = np.arange(len(x))
    if len(x) > max_labels:
        score = x / (x.max() or 1.0) + y / (y.max() or 1.0)
        labelled = np.sort(np.argsort(-score, kind="stable")[:max_labels])
        title = f"{title}\n(the {max_labels} most extreme of {len(x):,} studies labelled)"
    pad_x, pad_y = 0.15 * (np.ptp(x) or 1.0), 0.08 * (np.ptp(y) or 1.0)  # room for the labels
    ax.set_xlim(x.min() - pad_x, x.max() + pad_x)
    ax.set_ylim(y.min() - pad_y, y.max() + pad_y)
    ax.grid(color=PALETTE["light"], lw=0.5, zorder=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    place_labels(ax, x[labelled], y[labelled], table["study"].astype(str).to_numpy()[labelled].tolist())
    return fig


# where a label may go, in points from its point: on it, then the nearest places of a grid (a label is
# about 9 points tall), nearest first
_OFFSETS = sorted(((float(dx), float(dy)) for dx in range(-90, 91, 30) for dy in range(-70, 71, 10)),
                  key=lambda o: (o[0] ** 2 + (2.5 * o[1]) ** 2, o))


def place_labels(ax, x, y, labels, fontsize: float = 7.5) -> list:
    """Label each point (x, y) of ``ax`` so that no two labels overlap: on the point where it is free,
    else at the nearest free place of :data:`_OFFSETS` (inside the axes), with a thin line back to its
    point. Labels are placed from the top down (largest y first; ties by label), so the layout is
    deterministic. Returns the text artists.
    """
    from matplotlib.text import Text

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed, texts = [], []
    for i in sorted(range(len(labels)), key=lambda j: (-y[j], labels[j])):
        chosen = None
        for dx, dy in _OFFSETS:
            line = None if (dx, dy) == (0.0, 0.0) else dict(arrowstyle="-", lw=0.5, color=PALETTE["muted"],
                                                              shrinkA=0, shrinkB=2)
            text = ax.annotate(labels[i], (x[i], y[i]), xytext=(dx, dy), textcoords="offset points", ha="center",
                               va="center", fontsize=fontsize, color=PALETTE["accent"], zorder=3, arrowprops=line)
            text.update_positions(renderer)
            box = Text.get_window_extent(text, renderer).expanded(1.04, 1.15)  # the words, not the line back
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not any(box.overlaps(b) for b in placed):
                chosen = (text, box)
                break
            text.remove()
        if chosen is None:  # nowhere free: on the point, as metafor draws it
            text = ax.annotate(labels[i], (x[i], y[i]), ha="center", va="center", fontsize=fontsize,
                               color=PALETTE["accent"], zorder=3)
            chosen = (text, Text.get_window_extent(text, renderer))
        texts.append(chosen[0])
        placed.append(chosen[1])
    return texts


def _gosh_frame(table) -> pd.DataFrame:
    frame = table.to_frame() if isinstance(table, GoshResult) else table
    missing = {"estimate", "i2"} - set(frame.columns)
    if missing:
        raise ValueError(f"table lacks column(s) {sorted(missing)}: pass a gosh() result or its to_frame()")
    return frame


def gosh_plot(table, highlight: str | None = None, title: str = "GOSH plot", xlabel: str = "Pooled estimate",
              total: int | None = None):
    """A GOSH plot (Olkin, Dahabreh & Trikalinos 2012): I² against the pooled estimate of every subset.

    ``table`` is a :class:`meta_analysis.gosh.GoshResult` or its ``to_frame()``; histograms of both
    quantities sit on the margins, as in metafor's ``plot.gosh.rma``. With ``highlight`` (a study
    label, i.e. a membership column) the subsets that contain that study are drawn in the second
    colour, so a study that moves the cloud shows as a separate cluster. ``total`` (the number of
    non-empty subsets, 2^k − 1), or a sampled :class:`GoshResult`, makes the title say that the cloud
    is a random sample and of how many subsets. Returns the figure.
    """
    import matplotlib.pyplot as plt

    if isinstance(table, GoshResult) and not table.exact:
        total = table.total
    frame = _gosh_frame(table)
    if highlight is not None and highlight not in frame.columns:
        raise ValueError(f"highlight = {highlight!r}: no membership column of that name")
    set_style()
    fig = plt.figure(figsize=(6.0, 5.2))
    grid = fig.add_gridspec(2, 2, width_ratios=(4, 1), height_ratios=(1, 4), wspace=0.05, hspace=0.05)
    ax = fig.add_subplot(grid[1, 0])
    top = fig.add_subplot(grid[0, 0], sharex=ax)
    right = fig.add_subplot(grid[1, 1], sharey=ax)
    est, i2 = frame["estimate"].to_numpy(float), frame["i2"].to_numpy(float)
    size = 4 if len(frame) > 2000 else 10
    groups = [(np.ones(len(frame), bool), PALETTE["accent"], "all subsets")]
    if highlight is not None:
        inside = frame[highlight].to_numpy(bool)
        groups = [(~inside, PALETTE["accent"], f"without {highlight}"),
                  (inside, PALETTE["accent2"], f"with {highlight}")]
    bins_x = np.histogram_bin_edges(est, bins=40)
    bins_y = np.histogram_bin_edges(i2, bins=40)
    for rows, colour, label in groups:
        ax.scatter(est[rows], i2[rows], s=size, color=colour, alpha=0.35, lw=0, rasterized=True, label=label)
        top.hist(est[rows], bins=bins_x, color=colour, alpha=0.6)
        right.hist(i2[rows], bins=bins_y, color=colour, alpha=0.6, orientation="horizontal")
    for axis in (top, right):
        axis.set_axis_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("I² (%)")
    if highlight is not None:  # in the empty corner: loc="best" would search every point (seconds for 2^16)
        corner = fig.add_subplot(grid[0, 1])
        corner.set_axis_off()
        corner.legend(*ax.get_legend_handles_labels(), loc="lower left", bbox_to_anchor=(0.0, 0.0), fontsize=7,
                      frameon=False, markerscale=2)
    count = f"({len(frame):,} subsets)" if total is None else f"(a random sample of {len(frame):,} of {_count(total)} subsets)"
    lines = textwrap.wrap(title, 40) or [""]  # centred over the cloud, within the canvas
    if len(lines[-1]) + 1 + len(count) <= 54:
        lines[-1] += f" {count}"
    else:
        lines.append(count)
    top.set_title("\n".join(lines))
    if highlight is not None:
        room_for(fig, right=1.0)  # the legend in the corner, with the study's label, on the canvas
    return fig


def _count(total: int) -> str:
    """A number of subsets in words a reader can take in: 1,048,575 or 2^2000 − 1."""
    return f"{total:,}" if total < 10 ** 12 else f"2^{total.bit_length()} − 1"


MIN_K_INFLUENCE = 3  # case deletion needs at least two studies left
MIN_K_GOSH = 5       # from 5 studies the 2^k − 1 subsets (31) begin to show a shape
GOSH_METHOD = "DL"   # closed form for every subset: REML over 2^k − 1 subsets takes minutes from k ≈ 15
GOSH_SUBSETS = 100_000  # at most this many fits: every subset up to k = 16 (65,535), a random sample beyond
GOSH_CELLS = 20_000_000  # and at most this many subset × study cells (a sample of 1,000 at k = 20,000)


def gosh_subsets(k: int) -> int:
    """How many subsets the GOSH plot of k studies fits: min(:data:`GOSH_SUBSETS`, :data:`GOSH_CELLS` / k),
    at least 1,000; all 2^k − 1 when there are no more than that."""
    return max(1_000, min(GOSH_SUBSETS, GOSH_CELLS // k))


def _rows_of(rows: pd.DataFrame, fits: pd.DataFrame):
    """(name, label, method, data) per pooled analysis, in the order of ``fits``."""
    for name, data in rows.groupby("analysis", sort=False):
        fit = fit_of(fits, name)
        if fit is not None and not pd.isna(fit["estimate"]):
            yield name, fit["label"], fit["method"], data


def influence_table(rows: pd.DataFrame, fits: pd.DataFrame) -> pd.DataFrame:
    """Case-deletion diagnostics (metafor ``influence()``) for every analysis with k ≥ 3, one row per study.

    Columns as :func:`meta_analysis.influence.influence_diagnostics` (rstudent, dffits, Cook's
    distance, covariance ratio, τ² and Q without the study, hat, weight, metafor's ``influential``
    flag; Viechtbauer & Cheung 2010), on the analysis scale, under the analysis's τ² estimator.
    """
    from meta_analysis.influence import influence_diagnostics

    parts = []
    for name, label, method, data in _rows_of(rows, fits):
        if len(data) < MIN_K_INFLUENCE:
            continue
        table = influence_diagnostics(data["yi"], data["vi"], method=method, labels=list(data["label"]))
        table.insert(0, "analysis", label)
        parts.append(table)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["analysis", "study"])


def influence_sentence(table: pd.DataFrame, fits: pd.DataFrame) -> str:
    """Which studies metafor's rule flags as influential, and where the rule could not look, built from the numbers."""
    flagged = table[table.get("influential", pd.Series(dtype=bool)).astype(bool)] if len(table) else table
    small = [f"{r.label} (k = {int(r.k)})" for r in fits.itertuples()
             if not pd.isna(r.estimate) and r.k < MIN_K_INFLUENCE]
    said = (f"{len(flagged)} of {len(table)} study rows are flagged as influential: "
            + "; ".join(f"{r.study} in {r.analysis}" for r in flagged.itertuples()) + "." if len(flagged)
            else f"None of the {len(table)} study rows is flagged as influential by metafor's rule.")
    return said + (f" Not examined (fewer than {MIN_K_INFLUENCE} studies): {', '.join(small)}." if small else "")


def influence_figures(review_id: str, rows: pd.DataFrame, fits: pd.DataFrame, figures_dir, root=None,
                      transform=None, metric: str = "estimate") -> list:
    """A Baujat plot for every analysis with k ≥ 3 and a GOSH plot from k ≥ 5, saved as PNG and SVG.

    GOSH fits every subset of studies (all 2^k − 1 up to :func:`gosh_subsets`, a seeded random sample of
    that many beyond, which the title says) with the DerSimonian–Laird estimator (:data:`GOSH_METHOD`,
    closed form, so 65,535 subsets take a fraction of a second where REML would take minutes); its
    x axis is on the display scale (``transform``) of ``metric``.
    """
    from meta_analysis.gosh import gosh
    from meta_analysis.influence import baujat

    from .figures import save_figure

    f = transform or (lambda x: x)
    out = []
    for name, label, method, data in _rows_of(rows, fits):
        if len(data) < MIN_K_INFLUENCE:
            continue
        labels = list(data["label"])
        fig = baujat_plot(baujat(data["yi"], data["vi"], method=method, labels=labels), title=f"Baujat plot: {label}")
        out.append(save_figure(fig, f"{review_id}_baujat_{name}", figures_dir, f"Baujat plot, {label}", root))
        if len(data) >= MIN_K_GOSH:
            result = gosh(data["yi"], data["vi"], method=GOSH_METHOD, labels=labels, subsets=gosh_subsets(len(data)),
                          members=False)
            frame = result.to_frame()
            frame["estimate"] = f(frame["estimate"].to_numpy())
            fig = gosh_plot(frame, title=f"GOSH plot: {label}", xlabel=f"Pooled {metric} of the subset ({GOSH_METHOD})",
                            total=None if result.exact else result.total)
            out.append(save_figure(fig, f"{review_id}_gosh_{name}", figures_dir, f"GOSH plot, {label}", root))
    return out
