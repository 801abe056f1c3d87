"""Forest and funnel plots and the small-study table (notebook 04), drawn from what notebook 03
wrote: ``analysis_rows.csv`` (the studies of each analysis) and ``fits.csv`` (the fits), so that
nothing is refitted here.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from meta_analysis.models import fit_meta
from meta_analysis.small_study import TrimFillResult, egger_test, trim_and_fill

from .analyses import fit_of
from .appraisal import ROBVIS
from .display import number_text, p_value_text, percent_text
from .figures import PALETTE, room_for, save_figure
from .small_k import RULES, SmallKRules, name_of_test


SHORT_NAMES = {"knha": "HK", "adhoc": "mod. HK"}  # the leading test in a forest plot's row label


def _fmt_ci(est: float, low: float, high: float, digits: int = 2) -> str:
    return f"{number_text(est, digits)} [{number_text(low, digits)}, {number_text(high, digits)}]"


def _marks(row) -> str:
    marks = getattr(row, "marks", "")
    return marks if isinstance(marks, str) else ""


def heterogeneity_line(result) -> str:
    """The heterogeneity statistics under a forest plot's pooled diamond, as metafor's ``forest()`` prints
    them: "Heterogeneity: τ² = 0.043, I² = 57.6%, Q(2) = 4.67, p = .097" (τ² only for random effects)."""
    q = getattr(result, "q", np.nan)
    if pd.isna(q):
        return ""
    tau = "" if result.method == "FE" else f"τ² = {number_text(result.tau2, 3)}, "
    p = p_value_text(result.q_p)
    return (f"Heterogeneity: {tau}I² = {percent_text(result.i2)}, Q({int(result.q_df)}) = {number_text(q, 2)}, "
            f"p {p if p[0] in '<>' else '= ' + p}")


def subgroup_difference_line(groups: list, group_results: dict | None) -> str:
    """The test for subgroup differences under the subtotals: Q between the subgroup estimates, each
    with its own τ² (a common-effect model of the subtotals; Borenstein et al. 2009, ch. 19):
    Q = Σ w_g (θ_g − θ̄)², w_g = 1/SE_g², df = G − 1. Only when every group has a subtotal."""
    fitted = [group_results[g] for g in groups if group_results and g in group_results]
    if len(groups) < 2:
        return ""
    if len(fitted) < len(groups):
        return "Test for subgroup differences: not tested (a group has too few studies to pool)"
    fit = fit_meta([r.estimate for r in fitted], [r.se ** 2 for r in fitted], method="FE")
    p = p_value_text(fit.q_p)
    return (f"Test for subgroup differences (separate τ²): Q({fit.q_df}) = {number_text(fit.q, 2)}, "
            f"p {p if p[0] in '<>' else '= ' + p}")


FOREST_MAX_ROWS = 60  # more studies than this: the forest plot shows FOREST_SHOWN of them and a density strip of all
FOREST_SHOWN = 50


def most_influential_rows(studies: pd.DataFrame, tau2: float, n: int) -> np.ndarray:
    """Positions of the ``n`` studies whose omission moves the pooled estimate most, τ² held at its value:
    |μ̂ − μ̂₍₋ᵢ₎| = w_i |y_i − μ̂| / (Σw − w_i), w = 1/(v + τ²) (the leave-one-out shift without refitting
    τ²; Viechtbauer & Cheung 2010), in the order of the data (ties by position)."""
    yi, vi = studies["yi"].to_numpy(float), studies["vi"].to_numpy(float)
    w = 1 / (vi + tau2)
    mu = (w @ yi) / w.sum()
    shift = w * np.abs(yi - mu) / (w.sum() - w)
    return np.sort(np.argsort(-shift, kind="stable")[:n])


def forest_plot(studies: pd.DataFrame, result, title: str, xlabel: str,
                transform=None, group_col: str | None = None, group_results: dict | None = None,
                max_rows: int = FOREST_MAX_ROWS, shown: int = FOREST_SHOWN, table_name: str = "analysis_rows.csv"):
    """A forest plot in the manner of metafor's ``forest()``.

    ``studies`` has columns ``label``, ``yi``, ``vi`` (optional ``marks``, and ``group_col`` for
    subgroup blocks); ``result`` is a fitted model or a row of ``fits.csv`` (anything with
    ``estimate``, ``ci_low``, ``ci_high``, ``tau2``, ``k``, ``method``, ``level`` and, where shown,
    ``test``, ``ci_low_z``/``ci_high_z`` and ``pi_low``/``pi_high``). Each study is a square sized by
    its random-effects weight with its CI; the pooled estimate is a diamond over the leading test's
    interval (``test``), the z interval a thin bar and the prediction interval (only from k = 3, on
    t(k − 2)) a thick bar beneath it; the Bayesian posterior of μ (``bayes_*`` columns, where given)
    an open diamond; the dashed line marks no effect. The axis spans the studies'
    intervals, the z interval and 0; a pooled interval that runs beyond it (Hartung–Knapp on t(1)
    at k = 2) is cut at the axis with an arrowhead, its numbers printed in full. Studies admitted by a stated rule carry their
    mark († proxy, ‡ other comparator, § published after the review), explained in a footnote.
    ``transform`` (e.g. ``np.tanh`` for Fisher z → r) is applied to everything drawn and printed.
    With more than ``max_rows`` studies the plot is a summary: the ``shown`` studies whose omission
    moves the estimate most (:func:`most_influential_rows`), without subgroup blocks, and a density
    strip of all k estimates; the figure says so and names ``table_name``, which holds every study.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon
    from scipy import stats

    f = transform or (lambda x: np.asarray(x, float))
    crit = stats.norm.isf((1 - result.level) / 2)
    w = 1 / (studies["vi"].to_numpy() + result.tau2)
    studies = studies.assign(weight=100 * w / w.sum(), low=studies["yi"] - crit * np.sqrt(studies["vi"]),
                             high=studies["yi"] + crit * np.sqrt(studies["vi"]))
    everyone = None
    if len(studies) > max_rows:  # a summary: the most influential studies, a density strip of all
        everyone = f(studies["yi"].to_numpy(float))
        studies = studies.iloc[most_influential_rows(studies, result.tau2, shown)]
        group_col = None
    rows = []  # (kind, label, payload)
    blocks = [(None, studies)] if group_col is None else list(studies.groupby(group_col, sort=True))
    for group, block in blocks:
        if group is not None:
            rows.append(("header", str(group).replace("_", " ").capitalize(), None))
        rows.extend(("study", f"{r.label} {_marks(r)}".strip(), r) for r in block.itertuples())
        if group is not None and group_results and group in group_results:
            rows.append(("diamond", f"Subtotal (k = {len(block)})", group_results[group]))
        rows.append(("gap", "", None))
    test = getattr(result, "test", None)
    led = isinstance(test, str) and test != "z"
    lead = f", {SHORT_NAMES.get(test, test)}" if led else ""
    if everyone is not None:
        rows.append(("strip", f"All {len(everyone):,} studies (density)", everyone))
    rows.append(("diamond", f"RE model, {result.method}{lead} (k = {result.k})" if result.method != "FE"
                 else f"Common-effect model (k = {result.k})", result))
    lines = [heterogeneity_line(result)]
    if led:
        lines.append(f"Diamond: {name_of_test(test)} interval (t with {result.k - 1} df); an arrowhead marks an "
                     "interval that runs beyond the axis")
    if group_col is not None and group_results is not None:
        lines.append(subgroup_difference_line([g for g, _ in blocks], group_results))
    lines = [line for line in lines if line]
    if pd.notna(getattr(result, "ci_low_z", np.nan)) and getattr(result, "test", "z") != "z":
        rows.append(("z", "z CI (treats τ² as known)", result))
    if pd.notna(getattr(result, "bayes_estimate", np.nan)):
        rows.append(("bayes", f"Bayesian posterior, τ ~ {result.bayes_tau_prior}", result))
    if result.method != "FE" and pd.notna(getattr(result, "pi_low", np.nan)):
        dist = getattr(result, "pi_dist", "")
        rows.append(("pi", f"Prediction interval, {dist}" if isinstance(dist, str) and dist else "Prediction interval",
                     result))
    used = "".join(studies["marks"].fillna("").astype(str)) if "marks" in studies else ""
    notes = [f"{mark} {words}" for mark, words in (("†", "proxy measure"), ("‡", "other comparator"),
                                                   ("§", "published after the review")) if mark in used]
    if "rob" in studies:
        notes.append("RoB: overall risk of bias (+ low, − some concerns, × high, ? no information, n/r not rated)")
    if everyone is not None:
        lines += textwrap.wrap(f"Summary of {len(everyone):,} studies: the {len(studies)} whose omission moves the "
                               f"estimate most (τ² held), in data order, and a density strip of all; every study "
                               f"is in {table_name}.", 120)
    height = 1.4 + 0.26 * len(rows) + 0.2 * (len(lines) + bool(notes))
    fig = plt.figure(figsize=(9.0, height))
    grid = fig.add_gridspec(1, 3, width_ratios=[3.1, 3.6, 2.3], wspace=0.02)
    ax_lab, ax, ax_num = (fig.add_subplot(grid[0, i]) for i in range(3))
    n = len(rows)
    max_w = studies["weight"].max()
    xs = [*f(studies["low"]), *f(studies["high"]), float(f(0.0))]
    if pd.notna(getattr(result, "ci_low_z", np.nan)):
        xs += [f(result.ci_low_z), f(result.ci_high_z)]
    span = (min(xs), max(xs))
    pad = 0.08 * (span[1] - span[0] or 1)
    lim = (span[0] - pad, span[1] + pad)

    def clipped(lo, hi, y, colour):
        """The interval cut at the axis, with an arrowhead where it runs beyond it."""
        a, b = max(lo, lim[0]), min(hi, lim[1])
        for end, cut, mark in ((a, lo < lim[0], "<"), (b, hi > lim[1], ">")):
            if cut:
                ax.plot(end, y, mark, ms=5, color=colour, clip_on=False)
        return a, b

    for i, (kind, label, obj) in enumerate(rows):
        y = n - i
        weight_text = ""
        if kind == "study":
            lo, est, hi = f(obj.low), f(obj.yi), f(obj.high)
            ax.plot([lo, hi], [y, y], color=PALETTE["ink"], lw=0.9)
            size = 4 + 10 * math.sqrt(obj.weight / max_w)
            ax.plot(est, y, marker="s", ms=size, color=PALETTE["accent"], mec=PALETTE["ink"], mew=0.4)
            text, weight_text = _fmt_ci(est, lo, hi), f"{obj.weight:.1f}%"
            if "rob" in studies:  # overall risk of bias, robvis' colours and symbols (compendium/appraisal.py)
                colour, symbol = ROBVIS.get(obj.rob, ("#FFFFFF", "n/r"))
                ax_lab.plot(0.95, y, marker="o", ms=10, mfc=colour, mec=PALETTE["ink"], mew=0.5)
                ax_lab.text(0.95, y, symbol, ha="center", va="center", fontsize=8 if obj.rob in ROBVIS else 5,
                            fontweight="bold")
        elif kind == "diamond":
            lo, est, hi = f(obj.ci_low), f(obj.estimate), f(obj.ci_high)
            a, b = clipped(lo, hi, y, PALETTE["ink"])
            ax.add_patch(Polygon([[a, y], [est, y + 0.32], [b, y], [est, y - 0.32]], closed=True,
                                 fc=PALETTE["ink"] if obj is result else PALETTE["muted"], ec=PALETTE["ink"]))
            text = _fmt_ci(est, lo, hi)
            weight_text = "100%" if obj is result else ""
        elif kind == "z":
            lo, hi = f(obj.ci_low_z), f(obj.ci_high_z)
            ax.plot([lo, hi], [y, y], color=PALETTE["ink"], lw=1.0)
            ax.plot([lo, lo, hi, hi], [y - 0.15, y, y, y - 0.15], color=PALETTE["ink"], lw=1.0)
            text = f"[{number_text(lo, 2)}, {number_text(hi, 2)}]"
        elif kind == "bayes":  # an open diamond: the posterior median and its credible interval
            lo, est, hi = f(obj.bayes_ci_low), f(obj.bayes_estimate), f(obj.bayes_ci_high)
            a, b = clipped(lo, hi, y, PALETTE["accent"])
            ax.add_patch(Polygon([[a, y], [est, y + 0.28], [b, y], [est, y - 0.28]], closed=True, fc="white",
                                 ec=PALETTE["accent"], lw=1.2))
            text = _fmt_ci(est, lo, hi)
        elif kind == "strip":  # the density of all estimates, a histogram filling the row
            counts, edges = np.histogram(obj, bins=60)
            ax.stairs(y - 0.35 + 0.7 * counts / counts.max(), edges, baseline=y - 0.35, fill=True,
                      color=PALETTE["accent"], alpha=0.6, lw=0)
            text = ""
        elif kind == "pi":
            lo, hi = f(obj.pi_low), f(obj.pi_high)
            a, b = clipped(lo, hi, y, PALETTE["accent2"])
            ax.plot([a, b], [y, y], color=PALETTE["accent2"], lw=2.2, solid_capstyle="butt")
            text = f"[{number_text(lo, 2)}, {number_text(hi, 2)}]"
        else:
            text = ""
        weight = "bold" if kind in ("header", "diamond") else "normal"
        ax_lab.text(0.0, y, label, ha="left", va="center", fontsize=8.5, fontweight=weight)
        ax_num.text(0.62, y, text, ha="right", va="center", fontsize=8.5, family="DejaVu Sans Mono")
        ax_num.text(0.98, y, weight_text, ha="right", va="center", fontsize=8.5, family="DejaVu Sans Mono")
    top = n + 1
    ax_lab.text(0.0, top, "Study", fontweight="bold", va="center")
    if "rob" in studies:
        ax_lab.text(0.95, top, "RoB", fontweight="bold", va="center", ha="center")
    ax_num.text(0.62, top, "Estimate [95% CI]", fontweight="bold", va="center", ha="right")
    ax_num.text(0.98, top, "Weight", fontweight="bold", va="center", ha="right")
    for a in (ax_lab, ax_num):
        a.set_xlim(0, 1)
        a.set_axis_off()
    for a in (ax_lab, ax, ax_num):
        a.set_ylim(0.3, top + 0.6)
    ax.set_xlim(*lim)
    ax.axvline(float(f(0.0)), color=PALETTE["muted"], ls="--", lw=0.8)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.xaxis.set_major_locator(plt.MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    ax.set_xlabel("\n".join(textwrap.wrap(xlabel, 46)), fontsize=8.5)
    footer = lines + (["; ".join(notes)] if notes else [])
    for i, line in enumerate(reversed(footer)):  # statistics under the plot, as metafor prints them
        fig.text(0.02, (0.12 + 0.2 * i) / height, line, fontsize=7.5,
                 color=PALETTE["muted"] if notes and i == 0 else PALETTE["ink"])
    fig.subplots_adjust(top=1 - 0.42 / height, bottom=(0.7 + 0.2 * len(footer)) / height, left=0.02, right=0.98)
    fig.suptitle(title, x=0.02, y=1 - 0.12 / height, ha="left", va="top", fontsize=10, fontweight="bold")
    return fig


def funnel_plot(yi, vi, result, title: str, xlabel: str, filled: TrimFillResult | None = None,
                descriptive: bool = False, transform=None, display_metric: str = "r"):
    """Contour-enhanced funnel plot (Peters et al. 2008): effect against its SE (inverted axis).

    Shaded bands mark where a study's two-sided p against 0 lies in (.10, .05], (.05, .01] and
    ≤ .01; asymmetry that follows the bands hints at selective reporting rather than other causes.
    Studies added by trim-and-fill are drawn as open circles. ``descriptive`` labels a plot drawn
    below the small-study rule's k (no test, no trim-and-fill). With ``transform`` (Fisher z → r)
    the plot stays on the analysis scale, where the standard error is defined (SE = 1/√(n − 3)),
    and a top axis gives the display scale of the forest plots; the figure says so.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from scipy import stats

    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    sei = np.sqrt(vi)
    se_max = max(sei.max(), *(np.sqrt(filled.filled_vi) if filled and filled.k0 else [0])) * 1.08
    se_grid = np.linspace(0, se_max, 100)
    fig, ax = plt.subplots(figsize=(7.4, 4.9 if transform else 4.6))
    bands = [(0.10, "#ffffff", "p > .10"), (0.05, "#e6e6e6", ".05 < p ≤ .10"), (0.01, "#c8c8c8", ".01 < p ≤ .05")]
    reach = max(np.abs(yi).max(), stats.norm.isf(0.005) * se_max) * 1.15
    ax.fill_betweenx(se_grid, -reach, reach, color="#a9a9a9", lw=0)
    for p, colour, _ in reversed(bands):
        z = stats.norm.isf(p / 2)
        ax.fill_betweenx(se_grid, -z * se_grid, z * se_grid, color=colour, lw=0)
    ax.axvline(result.estimate, color=PALETTE["ink"], lw=0.9)
    ax.axvline(0, color=PALETTE["muted"], ls="--", lw=0.7)
    ax.scatter(yi, sei, s=26, color=PALETTE["accent"], edgecolor=PALETTE["ink"], lw=0.4, zorder=3,
               rasterized=len(yi) > 1000)  # thousands of points: one image in the SVG, not a circle each
    handles = [Patch(fc=colour, ec=PALETTE["muted"], lw=0.6, label=label) for _, colour, label in bands]
    handles += [Patch(fc="#a9a9a9", ec=PALETTE["muted"], lw=0.6, label="p ≤ .01"),
                plt.Line2D([], [], color=PALETTE["ink"], lw=0.9, label="pooled estimate"),
                plt.Line2D([], [], color=PALETTE["muted"], ls="--", lw=0.7, label="no effect"),
                plt.Line2D([], [], marker="o", ls="", ms=5, mfc=PALETTE["accent"], mec=PALETTE["ink"], mew=0.4,
                           label="studies")]
    if filled is not None and filled.k0:
        ax.scatter(filled.filled_yi, np.sqrt(filled.filled_vi), s=26, facecolor="white",
                   edgecolor=PALETTE["accent2"], lw=1.0, zorder=3)
        handles.append(plt.Line2D([], [], marker="o", ls="", ms=5, mfc="white", mec=PALETTE["accent2"], mew=1.0,
                                  label="filled (trim-and-fill)"))
    ax.set_ylim(se_max, 0)
    ax.set_xlim(-reach, reach)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Standard error")
    if transform is not None:
        top = ax.secondary_xaxis("top", functions=(lambda z: transform(z),
                                                   lambda r: np.arctanh(np.clip(r, -0.999999, 0.999999))))
        top.set_xlabel(f"{display_metric} (display scale of the forest plots)", fontsize=8)
        top.tick_params(labelsize=8)
        fig.text(0.01, 0.01, f"Drawn on the analysis scale (Fisher z), where the standard error is defined; "
                 f"{display_metric} = tanh(z) on the top axis.", fontsize=7.5, color=PALETTE["muted"])
    ax.set_title(title + ("\ndescriptive only: k below the small-study rule, no test" if descriptive else ""),
                 pad=30 if transform else 6, loc="left", fontsize=9.5)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    room_for(fig, right=1.0, top=0.25 if transform is not None else 0.0)  # the legend and the top axis on the canvas
    return fig


def forest_plots(review_id: str, meta: dict, rows: pd.DataFrame, fits: pd.DataFrame, subtotals: pd.DataFrame,
                 figures_dir: Path, root: Path | None = None, transform=None, overall: dict | None = None,
                 max_rows: int = FOREST_MAX_ROWS) -> list:
    """A forest plot for every pooled analysis of one review (see :func:`forest_plot`).

    An analysis spec with ``"forest_by": column`` is drawn in subgroup blocks with the subtotals
    that notebook 03 fitted (``subgroup_fits.csv``). ``overall`` (study_id → overall risk of bias,
    :func:`appraisal.overall_of`) adds each study's judgement, as RevMan and ``meta::forest`` do.
    An analysis of more than ``max_rows`` studies is drawn as a summary; every study stays in
    ``data/processed/<review>/analysis_rows.csv``.
    """
    out = []
    specs = {s["name"]: s for s in meta["analyses"]}
    for name, data in rows.groupby("analysis", sort=False):
        fit = fit_of(fits, name)
        if fit is None or pd.isna(fit.get("ci_low_z")):  # not pooled (k < 2)
            continue
        by = specs[name].get("forest_by")
        groups = None
        if by and len(subtotals):
            groups = {r.group: r for r in subtotals[subtotals["analysis"] == name].itertuples()}
        if overall:
            data = data.assign(rob=data["study_id"].map(lambda study: overall.get(study, "not rated")))
        fig = forest_plot(data, fit, f"{fit['label']} ({review_id})", meta["xlabel"], transform=transform,
                          group_col=by, group_results=groups, max_rows=max_rows,
                          table_name=f"data/processed/{review_id}/analysis_rows.csv")
        out.append(save_figure(fig, f"{review_id}_forest_{name}", figures_dir, f"forest plot, {fit['label']}", root))
    return out


def small_study_table(rows: pd.DataFrame, fits: pd.DataFrame, transform=None,
                      rules: SmallKRules = RULES) -> pd.DataFrame:
    """Egger's test (rma form) and trim-and-fill, only from ``rules.min_k_small_study`` studies.

    Below it the row says "not tested" (Sterne et al. 2011: with fewer than 10 studies the tests
    cannot tell asymmetry from chance).
    """
    f = transform or (lambda x: x)
    out = []
    for name, data in rows.groupby("analysis", sort=False):
        fit = fit_of(fits, name)
        k = len(data)
        row = {"analysis": fit["label"], "k": k}
        if not rules.small_study_tests(k):
            out.append({**row, "note": f"not tested: k < {rules.min_k_small_study}"})
            continue
        eg = egger_test(data["yi"], data["vi"], model="rma", method=fit["method"])
        tf = trim_and_fill(data["yi"], data["vi"], method=fit["method"])
        out.append({**row, "egger_z": eg.stat, "egger_p": eg.pval, "limit_estimate": f(eg.limit_estimate),
                    "k0_filled": tf.k0, "side": tf.side, "adjusted_estimate": f(tf.fit.estimate),
                    "adjusted_ci_low": f(tf.fit.ci_low), "adjusted_ci_high": f(tf.fit.ci_high), "note": ""})
    columns = ["analysis", "k", "egger_z", "egger_p", "limit_estimate", "k0_filled", "side", "adjusted_estimate",
               "adjusted_ci_low", "adjusted_ci_high", "note"]
    return pd.DataFrame(out, columns=columns)


def funnel_plots(review_id: str, meta: dict, rows: pd.DataFrame, fits: pd.DataFrame, figures_dir: Path,
                 root: Path | None = None, min_k_funnel: int = 3, rules: SmallKRules = RULES) -> list:
    """A contour-enhanced funnel plot for every analysis with at least ``min_k_funnel`` studies.

    Trim-and-fill is added only from ``rules.min_k_small_study``; below it the plot is labelled
    descriptive.
    """
    scale = "Fisher z" if meta.get("transform") == "tanh" else meta.get("display_metric", "effect")
    out = []
    for name, data in rows.groupby("analysis", sort=False):
        fit = fit_of(fits, name)
        if fit is None or len(data) < min_k_funnel or pd.isna(fit.get("ci_low_z")):
            continue
        tested = rules.small_study_tests(len(data))
        filled = trim_and_fill(data["yi"], data["vi"], method=fit["method"]) if tested else None
        fig = funnel_plot(data["yi"], data["vi"], fit, f"{fit['label']} ({review_id})", f"Effect size ({scale})",
                          filled=filled, descriptive=not tested,
                          transform=np.tanh if meta.get("transform") == "tanh" else None,
                          display_metric=meta.get("display_metric", "r"))
        out.append(save_figure(fig, f"{review_id}_funnel_{name}", figures_dir, f"funnel plot, {fit['label']}", root))
    return out


def small_study_sentence(tables: list[pd.DataFrame], rules: SmallKRules = RULES) -> str:
    """How many analyses the small-study rule lets be tested, built from :func:`small_study_table`."""
    tested = sum(int((t["note"].fillna("") == "").sum()) for t in tables)
    total = sum(len(t) for t in tables)
    return (f"{tested} of {total} analyses have at least {rules.min_k_small_study} studies and are tested; the "
            "others are drawn below as descriptive funnel plots only.")
