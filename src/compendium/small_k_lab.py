"""Notebook 06, section 2b: the small-k lab. Few studies (k from ``small_k_values``), one of them more
precise than the others by a grid of variance ratios, τ² by REML: coverage of confidence intervals for μ
(z, Hartung–Knapp, modified Hartung–Knapp, Bayesian) and of prediction intervals for a new study's true
effect (z, t(k − 1), t(k − 2), Bayesian), the published findings on few studies beside them, and which
cells of the grid are nearest to notebook 03's pooled analyses (their k and largest within-analysis
variance ratio, read from ``analysis_rows.csv``); the grid's larger ratios are described as a stress test.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .figures import PALETTE, save_figure
from .simulation_lab import TEST_LABELS, _pct

_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}


def _few(ks) -> str:
    """"Two or three" for k = 2 and 3 (any k of a grid, in words up to ten)."""
    words = [_WORDS.get(int(k), str(int(k))) for k in sorted(set(int(k) for k in ks))]
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    return text[:1].upper() + text[1:]


# -- few studies of unequal precision, REML; and which cells match notebook 03's analyses -----------

CI_METHODS = ("z", "knha", "adhoc", "bayes")
PI_METHODS = ("z", "t(k-1)", "t(k-2)", "bayes")
PI_LABELS = {"z": "z", "t(k-1)": "t(k − 1), Hartung–Knapp SE", "t(k-2)": "t(k − 2), modified HK SE",
             "bayes": "Bayesian posterior predictive"}
CI_LABELS = {**TEST_LABELS, "bayes": "Bayesian (half-normal τ prior)"}


def small_k_intervals(yi, vi, method: str = "REML", level: float = 0.95, tau_scale: float | None = 0.25) -> dict:
    """Every interval the small-k lab compares, for m meta-analyses at once (rows of ``yi``, ``vi``).

    One REML fit per row (``fit_meta_batch``), then from its μ̂, SE and τ̂²: the confidence intervals
    for μ under z, Hartung–Knapp (SE·s, s² = Σwᵢ(yᵢ − μ̂)²/(k − 1), wᵢ = 1/(vᵢ + τ̂²), t(k − 1);
    Hartung & Knapp 2001) and modified Hartung–Knapp (SE·max(1, s); Röver et al. 2015), each equal
    to the engine's ``test="knha"``/``"adhoc"`` fit; and the prediction intervals μ̂ ± c·sqrt(SE'² + τ̂²)
    with c from z (SE' the z SE; metafor's default), t(k − 1) (Hartung–Knapp SE; metafor under knha)
    and t(k − 2) (modified SE; the compendium's rule, Higgins et al. 2009), the last only from k = 3;
    and, unless ``tau_scale`` is None, the Bayesian model's credible and posterior predictive
    intervals (``fit_bayes_batch``: μ uniform, τ half-normal(``tau_scale``); 0.25 is the Fisher z
    scale of notebook 03's default; Friede et al. 2017). Returns {("CI" | "PI", method): (low, high)}.
    """
    from scipy.stats import norm, t
    from meta_analysis.simulation import fit_meta_batch

    fit = fit_meta_batch(yi, vi, method=method, test="z", level=level)
    k = yi.shape[1]
    w = 1 / (vi + fit.tau2[:, None])
    s2 = np.sum(w * (yi - fit.estimate[:, None]) ** 2, axis=1) / (k - 1)
    se = {"z": fit.se, "knha": fit.se * np.sqrt(s2), "adhoc": fit.se * np.sqrt(np.maximum(s2, 1.0))}
    alpha = (1 - level) / 2
    crit = {"z": float(norm.isf(alpha)), "knha": float(t.isf(alpha, k - 1)), "adhoc": float(t.isf(alpha, k - 1))}
    out = {("CI", m): (fit.estimate - crit[m] * se[m], fit.estimate + crit[m] * se[m]) for m in ("z", "knha", "adhoc")}
    pis = [("z", crit["z"], se["z"]), ("t(k-1)", crit["knha"], se["knha"])]
    if k >= 3:
        pis.append(("t(k-2)", float(t.isf(alpha, k - 2)), se["adhoc"]))
    for name, c, s in pis:
        half = c * np.sqrt(s ** 2 + fit.tau2)
        out[("PI", name)] = (fit.estimate - half, fit.estimate + half)
    if tau_scale is not None:
        from meta_analysis.bayes_batch import fit_bayes_batch

        b = fit_bayes_batch(yi, vi, tau_prior="halfnormal", tau_scale=tau_scale, level=level, median=False)
        out[("CI", "bayes")] = (b.ci_low, b.ci_high)
        out[("PI", "bayes")] = (b.pi_low, b.pi_high)
    return out


def small_k_grid(k_values=(2, 3), ratios=(1, 10, 150), tau2_values=(0.0, 0.05, 0.2), replications: int = 10_000,
                 seed: int = 0, method: str = "REML", level: float = 0.95, n: int = 40,
                 tau_scale: float | None = 0.25) -> pd.DataFrame:
    """Coverage of every interval of :func:`small_k_intervals` on designs like ours.

    k studies of Fisher-z correlations, vᵢ = 1/(n − 3) known, except that the first study is
    ``ratio`` times as precise (its variance divided by ``ratio``; :func:`our_analyses` gives the
    ratios of notebook 03's analyses, :func:`nearest_cells` the cells nearest to them); true effects
    θᵢ ~ N(μ = 0, τ²). The Bayesian intervals use a half-normal τ prior of scale ``tau_scale`` (None
    leaves them out); they are computed in every cell, so that the cells nearest to our analyses
    carry them too, and take most of the time (about 5 s of the grid's 6 at 10,000 replications).
    A CI covers when it holds μ. A PI's coverage is
    the chance that a new study's true effect θ_new ~ N(μ, τ²) falls inside it, computed exactly for
    each meta-analysis, Φ((high − μ)/τ) − Φ((low − μ)/τ) (or whether it holds μ at τ² = 0), and
    averaged (Partlett & Riley 2017 average the same quantity). Monte Carlo SE: the SD of the
    per-meta-analysis coverage over sqrt(m) (Morris et al. 2019). One generator per cell from
    ``seed`` and the cell, so a cell does not depend on the grid around it. ``estimator`` is the τ²
    estimator of the fits (``method``).
    """
    from scipy.stats import norm

    rows = []
    for k in k_values:
        for ratio in ratios:
            vi = np.full(k, 1.0 / (n - 3))
            vi[0] /= ratio
            for tau2 in tau2_values:
                rng = np.random.default_rng([int(seed), int(k), int(round(ratio * 1000)), int(round(tau2 * 1e6))])
                theta = np.sqrt(tau2) * rng.standard_normal((replications, k))
                yi = theta + np.sqrt(vi) * rng.standard_normal((replications, k))
                v = np.broadcast_to(vi, yi.shape).copy()
                bayes = tau_scale  # every cell, so the cells nearest to our analyses carry it too
                for (kind, name), (low, high) in small_k_intervals(yi, v, method, level, bayes).items():
                    if kind == "CI" or tau2 == 0:
                        hit = ((low <= 0) & (0 <= high)).astype(float)
                    else:
                        tau = np.sqrt(tau2)
                        hit = norm.cdf(high / tau) - norm.cdf(low / tau)
                    rows.append({"k": k, "ratio": ratio, "tau2": float(tau2), "interval": kind, "method": name,
                                 "estimator": method, "replications": replications, "coverage": float(hit.mean()),
                                 "mcse": float(hit.std(ddof=1) / np.sqrt(replications)),
                                 "median_width": float(np.median(high - low))})
    return pd.DataFrame(rows)


def small_k_view(grid: pd.DataFrame) -> pd.DataFrame:
    """Coverage (%) of :func:`small_k_grid`: one row per k, variance ratio and τ²; one column per interval."""
    label = grid["interval"] + " " + grid["method"]
    wide = grid.assign(coverage=100 * grid["coverage"], column=label).pivot_table(
        index=["k", "ratio", "tau2"], columns="column", values="coverage", sort=False)
    return wide.reset_index()


def small_k_figure(grid: pd.DataFrame, figures_dir: Path | str, root: Path | None = None, level: float = 0.95):
    """Coverage against the variance ratio at each k of the grid: CIs for μ (top), PIs for a new study (bottom)."""
    import matplotlib.pyplot as plt

    ks, tau2s = sorted(grid["k"].unique()), sorted(t for t in grid["tau2"].unique() if t > 0)
    fig, axes = plt.subplots(2, len(ks) * len(tau2s), figsize=(2.2 * len(ks) * len(tau2s) + 0.6, 5.0),
                             sharey="row", squeeze=False)
    colours = {"z": PALETTE["negative"], "knha": PALETTE["accent"], "adhoc": PALETTE["muted"],
               "t(k-1)": PALETTE["accent"], "t(k-2)": PALETTE["muted"], "bayes": PALETTE["ink"]}
    for j, (k, tau2) in enumerate((a, b) for a in ks for b in tau2s):
        for i, kind in enumerate(("CI", "PI")):
            ax = axes[i][j]
            cell = grid[(grid["k"] == k) & (grid["tau2"] == tau2) & (grid["interval"] == kind)]
            for name, rows in cell.groupby("method", sort=False):
                rows = rows.sort_values("ratio")
                label = CI_LABELS.get(name, name) if kind == "CI" else PI_LABELS.get(name, name)
                ax.plot(rows["ratio"], 100 * rows["coverage"], marker="D" if name == "bayes" else "o",
                        ms=4 if name == "bayes" else 3, lw=1.2,
                        color=colours.get(name, PALETTE["ink"]), label=label)
            ax.axhline(100 * level, ls="--", lw=0.8, color=PALETTE["ink"])
            ax.set_xscale("log")
            ax.set_xticks(sorted(grid["ratio"].unique()))
            ax.set_xticklabels([f"{r:g}" for r in sorted(grid["ratio"].unique())])
            ax.minorticks_off()
            if i == 0:
                ax.set_title(f"k = {k}, τ² = {tau2:g}", fontsize=9)
            else:
                ax.set_xlabel("variance ratio")
            if j == 0:
                ax.set_ylabel(f"coverage of the {'CI for μ' if kind == 'CI' else 'PI'} (%)")
        for i in (0, 1):
            if j == len(ks) * len(tau2s) - 1:
                axes[i][j].legend(fontsize=6.5, frameon=False, loc="lower left")
    fig.suptitle(f"{_few(ks)} studies of unequal precision (REML)", fontsize=10, fontweight="bold")
    fig.tight_layout()
    caption = (f"Coverage of 95 % confidence and prediction intervals over {int(grid['replications'].min()):,} "
               f"simulated meta-analyses per point; one study up to {grid['ratio'].max():g} times as precise as the others")
    return save_figure(fig, "simulation_small_k", figures_dir, caption, root)


def _span(values: pd.Series) -> str:
    """"96.7 %" or "96.7 % to 96.8 %": the range of coverages, one number when they round alike."""
    low, high = _pct(values.min()), _pct(values.max())
    return low if low == high else f"{low} to {high}"


def _cell(grid: pd.DataFrame, **where) -> pd.DataFrame:
    sel = grid
    for key, value in where.items():
        sel = sel[sel[key] == value]
    return sel


def small_k_sentences(grid: pd.DataFrame, lead: str = "adhoc") -> list[str]:
    """Which interval the compendium leads with and why, in sentences built from :func:`small_k_grid`:
    the worst coverage of each CI at each k, which comes closest to 95 % and every cell with
    heterogeneity where the leading one still falls below it, the same designs without heterogeneity,
    what it costs in width, and the prediction intervals' coverage."""
    het = grid[(grid["tau2"] > 0) & (grid["interval"] == "CI")]
    out = []
    for k in sorted(het["k"].unique()):
        cells = het[het["k"] == k]
        worst = {m: cells[cells["method"] == m].loc[cells[cells["method"] == m]["coverage"].idxmin()]
                 for m in CI_METHODS if (cells["method"] == m).any()}
        bayes = (f"; the Bayesian interval's worst was {_pct(worst['bayes']['coverage'])} (ratio "
                 f"{worst['bayes']['ratio']:g})" if "bayes" in worst else "")
        out.append(f"k = {k}, with heterogeneity: the z interval covered μ in as few as {_pct(worst['z']['coverage'])} "
                   f"of meta-analyses (variance ratio {worst['z']['ratio']:g}, τ² = {worst['z']['tau2']:g}), "
                   f"Hartung–Knapp in {_pct(worst['knha']['coverage'])} and the modified Hartung–Knapp in "
                   f"{_pct(worst['adhoc']['coverage'])} (ratio {worst['adhoc']['ratio']:g}){bayes}.")
    frequentist = het[het["method"].isin(("z", "knha", "adhoc"))]
    worst_all = frequentist.groupby("method")["coverage"].min()
    best = worst_all.idxmax()
    balanced = het[het["ratio"] == het["ratio"].min()]
    held = balanced[balanced["method"] == lead]["coverage"].min()
    k2 = het[het["k"] == het["k"].min()]
    width = k2.pivot_table(index=["ratio", "tau2"], columns="method", values="median_width")
    factor = float((width[lead] / width["z"]).median())
    reason = (f"its worst coverage ({_pct(worst_all[lead])}) is the highest of the three frequentist intervals"
              if best == lead else
              f"although {TEST_LABELS[best]}'s worst coverage ({_pct(worst_all[best])}) is higher than its "
              f"{_pct(worst_all[lead])}")
    mine = het[het["method"] == lead]
    short = mine[mine["coverage"] < 0.95].sort_values("coverage")
    reason += (f", but it too fell below 95 % in {len(short)} of the {len(mine)} cells with heterogeneity ("
               + "; ".join(f"{_pct(r['coverage'])} at k = {r['k']}, ratio {r['ratio']:g}, τ² = {r['tau2']:g}"
                           for _, r in short.iterrows()) + ")"
               if len(short) else f", and it held 95 % in all {len(mine)} cells with heterogeneity")
    imbalanced = frequentist[frequentist["ratio"] == frequentist["ratio"].max()]
    top = imbalanced.loc[imbalanced["coverage"].idxmax()]
    ceiling = (f"With heterogeneity (τ² > 0), no frequentist interval held 95 % when one study was {top['ratio']:g} "
               f"times as precise as the others (at best {TEST_LABELS[top['method']]} covered {_pct(top['coverage'])} "
               f"at k = {top['k']}, τ² = {top['tau2']:g}, and less in the other cells): the fit then rests on one "
               f"study, and {_few(het['k'].unique()).lower()} studies cannot show how much true effects vary."
               if imbalanced["coverage"].max() < 0.95 else
               f"With heterogeneity (τ² > 0), at a variance ratio of {top['ratio']:g} the best interval still covered "
               f"{_pct(top['coverage'])}.")
    null = grid[(grid["tau2"] == 0) & (grid["interval"] == "CI") & (grid["ratio"] == top["ratio"])]
    if len(null):
        ceiling += (" Without heterogeneity (τ² = 0) the same designs gave " + " and ".join(
            f"{TEST_LABELS[m]} {_span(null[null['method'] == m]['coverage'])}" for m in dict.fromkeys((lead, "z"))
            if (null["method"] == m).any()) + ".")
    out.append(f"The compendium leads with {TEST_LABELS[lead]}: {reason}; with studies of equal precision it covered "
               f"at least {_pct(held)}; and it is never narrower than the z interval. {ceiling} The price at "
               f"k = {int(het['k'].min())}: a median width {factor:.1f} times the z interval's (t(1) has a 97.5th "
               "percentile of 12.7); the z interval is shown beside it, labelled.")
    pis = grid[(grid["interval"] == "PI") & (grid["tau2"] > 0)]
    if len(pis):
        by = pis.groupby("method")["coverage"].agg(["min", "max"])
        text = "; ".join(f"{PI_LABELS[m]} {_pct(by.loc[m, 'min'])} to {_pct(by.loc[m, 'max'])}" for m in PI_METHODS
                         if m in by.index)
        out.append(f"Prediction intervals, with heterogeneity, covered a new study's true effect in: {text}. "
                   "Of the frequentist intervals only t(k − 2) allows for estimating both μ and τ²; at k = 2 it does "
                   "not exist, and the compendium shows no prediction interval there.")
    if (het["method"] == "bayes").any():
        w = k2.pivot_table(index=["ratio", "tau2"], columns="method", values="median_width")
        shorter = float((w["bayes"] / w[lead]).median())
        worst_b = het[het["method"] == "bayes"]["coverage"].min()
        out.append(f"The Bayesian interval (half-normal τ prior) is shown beside the leading one, not instead of it: at "
                   f"k = {int(het['k'].min())} its median width is {shorter:.2f} times the {TEST_LABELS[lead]} interval's, "
                   f"and its worst coverage here is {_pct(worst_b)}, but its coverage depends on the prior matching the "
                   f"heterogeneity a field has, which the data of {_few(het['k'].unique()).lower()} studies cannot check.")
    return out


def small_k_published(grid: pd.DataFrame) -> pd.DataFrame:
    """Published findings on few studies (in our words) beside :func:`small_k_grid`'s numbers.

    Friede, Röver, Wandel & Neuenschwander (2017, Biom J 59:658-671): with two studies and
    heterogeneity, standard (z) intervals cover poorly and Hartung–Knapp-type intervals are very
    long; Röver, Knapp & Friede (2015): Hartung–Knapp exceeds the nominal error when precisions
    differ, the modification comes closer to it; Partlett & Riley (2017, Stat Med 36:301-317): with few
    studies and large heterogeneity the conventional (z) interval covers poorly and the modified
    methods better.
    """
    het = grid[(grid["tau2"] > 0) & (grid["interval"] == "CI")]
    k2 = het[het["k"] == het["k"].min()]
    z2 = k2[k2["method"] == "z"]["coverage"].min()
    width = k2.pivot_table(index=["ratio", "tau2"], columns="method", values="median_width")
    factor = float((width["adhoc"] / width["z"]).median())
    imbalanced = het[het["ratio"] == het["ratio"].max()]
    hk, mhk = (imbalanced[imbalanced["method"] == m]["coverage"].min() for m in ("knha", "adhoc"))
    big = het[het["tau2"] == het["tau2"].max()]
    z_big, m_big = (big[big["method"] == m]["coverage"].min() for m in ("z", "adhoc"))
    rows = [
        {"source": "Friede et al. 2017", "published": "with two studies the z interval covers far too little",
         "ours": f"k = 2: worst z coverage {_pct(z2)}", "agrees": bool(z2 < 0.90)},
        {"source": "Friede et al. 2017", "published": "with two studies Hartung–Knapp-type intervals are very long",
         "ours": f"k = 2: modified HK median width {factor:.1f} × z", "agrees": bool(factor > 3)},
        {"source": "Röver et al. 2015",
         "published": "when precisions differ, Hartung–Knapp falls below nominal and the modification comes closer",
         "ours": f"ratio {het['ratio'].max():g}: HK {_pct(hk)}, modified HK {_pct(mhk)}",
         "agrees": bool(hk < 0.95 and mhk > hk)},
        {"source": "Partlett & Riley 2017", "published": "few studies, large τ²: z covers poorly, modified methods better",
         "ours": f"τ² = {het['tau2'].max():g}: z {_pct(z_big)}, modified HK {_pct(m_big)}",
         "agrees": bool(z_big < 0.93 and m_big > z_big)},
    ]
    if (het["method"] == "bayes").any():
        b2 = k2[k2["method"] == "bayes"]["coverage"].min()
        shorter = float((width["bayes"] / width["adhoc"]).median())
        rows.append({"source": "Friede et al. 2017",
                     "published": "with two studies Bayesian intervals (weakly informative τ prior) are much shorter "
                                  "than Hartung–Knapp-type ones and cover better than z",
                     "ours": f"k = 2: Bayesian median width {shorter:.2f} × modified HK; worst coverage {_pct(b2)} vs "
                             f"z {_pct(z2)}",
                     "agrees": bool(shorter < 0.5 and b2 > z2)})
    return pd.DataFrame(rows)


# -- which cells of the small-k lab match notebook 03's pooled analyses ------------------------------

def our_analyses(rows, min_k_pool: int = 2) -> pd.DataFrame:
    """k and the largest within-analysis variance ratio of every pooled analysis of notebook 03.

    ``rows``: ``{review: analysis_rows.csv}`` (one row per study entering an analysis, columns
    ``analysis`` and ``vi``). An analysis counts with k = the number of its rows with a finite
    vᵢ > 0, and is pooled from k = ``min_k_pool`` (``SmallKRules.min_k_pool``; one study is shown,
    not pooled). Its variance ratio is max vᵢ / min vᵢ: how many times as precise its most precise
    study is as its least precise one, the quantity :func:`small_k_grid` varies (its ``ratio``).

    Returns
    -------
    DataFrame
        ``review``, ``analysis``, ``k``, ``vi_min``, ``vi_max``, ``ratio``: one row per pooled
        analysis, in the order of the reviews and of their rows.
    """
    found = []
    for review, table in rows.items():
        if table is None or not len(table):
            continue
        vi = pd.to_numeric(table["vi"], errors="coerce")
        usable = table.assign(vi=vi)[np.isfinite(vi) & (vi > 0)]
        for analysis, block in usable.groupby("analysis", sort=False):
            k = len(block)
            if k >= min_k_pool:
                low, high = float(block["vi"].min()), float(block["vi"].max())
                found.append({"review": str(review), "analysis": str(analysis), "k": k, "vi_min": low,
                              "vi_max": high, "ratio": high / low})
    return pd.DataFrame(found, columns=["review", "analysis", "k", "vi_min", "vi_max", "ratio"])


def nearest_cells(ours: pd.DataFrame, grid: pd.DataFrame) -> pd.DataFrame:
    """:func:`our_analyses` with the cell of :func:`small_k_grid` nearest to each analysis.

    ``k_cell``: the grid's k nearest to the analysis's k (a tie goes to the smaller k, the harder
    case); ``ratio_cell``: the grid's variance ratio nearest on the log scale,
    argmin |log(ratio_cell) − log(ratio)| (a ratio of 6.3 is nearer 10 than 1).
    """
    out = ours.copy()
    ks, ratios = np.sort(grid["k"].unique()), np.sort(grid["ratio"].unique())
    out["k_cell"] = [int(ks[np.argmin(np.abs(ks - k))]) for k in out["k"]] if len(out) else []
    out["ratio_cell"] = ([float(ratios[np.argmin(np.abs(np.log(ratios) - np.log(r)))]) for r in out["ratio"]]
                         if len(out) else [])
    return out


def our_situation_sentences(ours: pd.DataFrame, grid: pd.DataFrame, lead: str = "adhoc",
                            level: float = 0.95) -> list[str]:
    """Notebook 03's pooled analyses (k, largest variance ratio; :func:`our_analyses`) and what the
    lab's cells nearest to them (:func:`nearest_cells`) show with heterogeneity (τ² > 0): the coverage
    of the z, Hartung–Knapp and ``lead`` intervals for μ there, whether ``lead`` holds ``level`` (and
    is wider than it needs, conservative, or falls short), and the grid's larger ratios named a stress
    test when no analysis is nearest to them. Coverage: the share of simulated intervals holding μ
    (Morris, White & Crowther 2019); modified Hartung–Knapp: Röver, Knapp & Friede (2015).
    """
    if not len(ours):
        return ["Notebook 03 pooled no analysis (none has two or more studies with a variance), so no cell of "
                "this lab matches our situation: all of section 2b is about designs we do not have."]
    from .display import review_labels  # review.json's label of each analysis id, as the tables show it

    labels = review_labels()
    cells = nearest_cells(ours, grid)
    cells["name"] = [labels.get(a, a) for a in cells["analysis"]]
    top = cells.loc[cells["ratio"].idxmax()]
    listing = "; ".join(f"{r['name']} ({r['review']}): k = {r['k']}, variance ratio {r['ratio']:.1f}"
                        for _, r in cells.iterrows())
    plural = "analysis" if len(cells) == 1 else "analyses"
    out = [f"Notebook 03 pooled {len(cells)} {plural} ({listing}). The largest ratio of two sampling variances "
           f"within one analysis is {top['ratio']:.1f} ({top['name']}, {top['review']})."]
    het = grid[(grid["tau2"] > 0)]
    lead_low, z_span = [], []
    for (kc, rc), block in cells.groupby(["k_cell", "ratio_cell"], sort=True):
        cell = het[(het["k"] == kc) & (het["ratio"] == rc)]
        ci = cell[cell["interval"] == "CI"]
        if not len(ci):
            continue
        who = "; ".join(f"{r['name']} ({r['review']}, k = {r['k']}, ratio {r['ratio']:.1f})" for _, r in block.iterrows())
        off = sorted(set(int(k) for k in block["k"]) - {int(kc)})
        whom = "these analyses" if len(block) > 1 else "the analysis"
        note = (f"; the grid has no k = {', '.join(map(str, off))}, so these cells have "
                f"{'fewer' if max(off) > kc else 'more'} studies than {whom}" if off else "")
        spans = {m: ci[ci["method"] == m]["coverage"] for m in ("z", "knha", lead) if (ci["method"] == m).any()}
        mine = ci[ci["method"] == lead]
        low = mine.loc[mine["coverage"].idxmin()]
        lead_low.append(float(low["coverage"]))
        z_span.append(spans["z"])
        if low["coverage"] >= level:
            verdict = (f"held {_pct(level, 0)} in every one of them"
                       + (", wider than it needs (conservative)" if mine["coverage"].min() > level + 2 * mine["mcse"].max()
                          else ""))
        else:
            verdict = f"fell short of {_pct(level, 0)} (at worst {_pct(low['coverage'])}, τ² = {low['tau2']:g})"
        best = ci[ci["method"].isin(("z", "knha", lead))].groupby("method")["coverage"].min().idxmax()
        rank = ("the highest worst-case coverage of the three" if best == lead else
                f"but {TEST_LABELS[best]}'s worst case is higher")
        taus = ", ".join(f"{t:g}" for t in sorted(ci["tau2"].unique()))
        text = (f"Cells k = {kc}, ratio {rc:g}, τ² = {taus} (nearest to {who}{note}): the {TEST_LABELS[lead]} "
                f"interval covered μ in {_span(spans[lead])} of meta-analyses and {verdict}, {rank}; Hartung–Knapp "
                f"covered {_span(spans['knha'])} and z {_span(spans['z'])}.")
        bayes = ci[ci["method"] == "bayes"]["coverage"]
        if len(bayes):
            text += (f" The Bayesian credible interval (half-normal τ prior) covered μ in {_span(bayes)}, shown beside "
                     "the leading interval, not instead of it.")
        pi = cell[(cell["interval"] == "PI") & (cell["method"] == "t(k-2)")]
        if len(pi):
            text += f" The t(k − 2) prediction interval covered a new study's true effect in {_span(pi['coverage'])}."
        pb = cell[(cell["interval"] == "PI") & (cell["method"] == "bayes")]["coverage"]
        if len(pb):
            text += f" The Bayesian posterior predictive interval covered it in {_span(pb)}."
        out.append(text)
    if lead_low:
        zs = pd.concat(z_span)
        out.append(f"So in the cells nearest to our analyses the {TEST_LABELS[lead]} interval, which notebook 03 leads "
                   f"with, covered μ in at least {_pct(min(lead_low))} with heterogeneity, the z interval in "
                   f"{_span(zs)}.")
    stress = sorted(set(grid["ratio"].unique()) - set(cells["ratio_cell"]))
    stress = [r for r in stress if r > cells["ratio"].max()]
    if stress:
        out.append(f"The cells with ratio {' and '.join(f'{r:g}' for r in stress)} are a stress test, not our situation: "
                   f"no analysis of ours comes near (our largest ratio is {top['ratio']:.1f}); there the fit rests on "
                   "one study, and the sentences above say what that costs.")
    return out
