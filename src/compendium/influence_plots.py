"""Figures of influence in the house style: the Baujat plot and the GOSH plot.

The numbers come from the engine (``meta_analysis.influence.baujat`` and ``meta_analysis.gosh.gosh``);
these functions only draw them, with the shared look of ``figures.set_style``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from meta_analysis.gosh import GoshResult

from .figures import PALETTE, set_style


def baujat_plot(table: pd.DataFrame, ax=None, title: str = "Baujat plot",
                xlabel: str = "Contribution to overall heterogeneity",
                ylabel: str = "Influence on overall result"):
    """A Baujat plot (Baujat et al. 2002), as metafor's ``baujat()``: each study's label at (x, y).

    ``table`` is the frame of :func:`meta_analysis.influence.baujat` (columns ``study``, ``x``, ``y``):
    x is the study's contribution to Cochran's Q (its squared Pearson residual outside FE), y the
    squared standardised change of the pooled estimate when it is left out. Studies to the upper
    right both add heterogeneity and move the result. Draws on ``ax`` if given; returns the figure.
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
    ax.scatter(x, y, s=10, color=PALETTE["light"], zorder=2)
    for xi, yi, label in zip(x, y, table["study"].astype(str)):
        ax.annotate(label, (xi, yi), ha="center", va="center", fontsize=7.5, color=PALETTE["accent"], zorder=3)
    pad_x, pad_y = 0.06 * (np.ptp(x) or 1.0), 0.06 * (np.ptp(y) or 1.0)
    ax.set_xlim(x.min() - pad_x, x.max() + pad_x)
    ax.set_ylim(y.min() - pad_y, y.max() + pad_y)
    ax.grid(color=PALETTE["light"], lw=0.5, zorder=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def _gosh_frame(table) -> pd.DataFrame:
    frame = table.to_frame() if isinstance(table, GoshResult) else table
    missing = {"estimate", "i2"} - set(frame.columns)
    if missing:
        raise ValueError(f"table lacks column(s) {sorted(missing)}: pass a gosh() result or its to_frame()")
    return frame


def gosh_plot(table, highlight: str | None = None, title: str = "GOSH plot", xlabel: str = "Pooled estimate"):
    """A GOSH plot (Olkin, Dahabreh & Trikalinos 2012): I² against the pooled estimate of every subset.

    ``table`` is a :class:`meta_analysis.gosh.GoshResult` or its ``to_frame()``; histograms of both
    quantities sit on the margins, as in metafor's ``plot.gosh.rma``. With ``highlight`` (a study
    label, i.e. a membership column) the subsets that contain that study are drawn in the second
    colour, so a study that moves the cloud shows as a separate cluster. Returns the figure.
    """
    import matplotlib.pyplot as plt

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
    if highlight is not None:
        ax.legend(loc="best", fontsize=7, frameon=False, markerscale=2)
    top.set_title(f"{title} ({len(frame):,} subsets)")
    return fig
