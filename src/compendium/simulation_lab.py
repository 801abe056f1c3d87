"""Notebook 06, the simulation lab: display tables, figures and sentences built from the grids of
``meta_analysis.simulation`` (coverage of z, Hartung–Knapp and modified Hartung–Knapp intervals;
bias and RMSE of τ² estimators; Egger's test and trim-and-fill with nothing missing), and the
published findings they echo, each with our number beside it. Section 2b, the small-k lab and the
cells nearest to notebook 03's analyses, is ``small_k_lab.py``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .figures import PALETTE, save_figure
from .small_k import TEST_NAMES

TEST_LABELS = TEST_NAMES  # one name per test (small_k.py), in the lab as in the tables
TEST_COLOURS = {"z": PALETTE["negative"], "knha": PALETTE["accent"], "adhoc": PALETTE["muted"]}
ESTIMATOR_MARKS = {"DL": "o", "HE": "s", "SJ": "^", "ML": "v", "REML": "D", "PM": "P"}


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f} %"


def coverage_view(grid: pd.DataFrame) -> pd.DataFrame:
    """Coverage (%) of the 95 % CI: one row per design and k, one column per τ² and test ("τ² = 0.05,
    Hartung–Knapp")."""
    wide = grid.assign(coverage=100 * grid["coverage"]).pivot_table(
        index=["sizes", "k"], columns=["tau2", "test"], values="coverage", sort=False)
    wide.columns = [f"τ² = {t:g}, {TEST_LABELS.get(test, test)}" for t, test in wide.columns]
    return wide.reset_index()


def coverage_figure(grid: pd.DataFrame, figures_dir: Path | str, root: Path | None = None, level: float = 0.95):
    """Coverage against k, one panel per design × τ², one line per test; the nominal level dashed."""
    import matplotlib.pyplot as plt

    designs, tau2s = list(dict.fromkeys(grid["sizes"])), sorted(grid["tau2"].unique())
    fig, axes = plt.subplots(len(designs), len(tau2s), figsize=(2.5 * len(tau2s) + 0.6, 2.4 * len(designs) + 0.5),
                             sharey=True, sharex=True, squeeze=False)
    for (i, sizes), (j, tau2) in ((a, b) for a in enumerate(designs) for b in enumerate(tau2s)):
        ax = axes[i][j]
        cell = grid[(grid["sizes"] == sizes) & (grid["tau2"] == tau2)]
        for test, rows in cell.groupby("test", sort=False):
            rows = rows.sort_values("k")
            ax.errorbar(rows["k"], 100 * rows["coverage"], yerr=196 * rows["mcse_coverage"], marker="o", ms=3,
                        lw=1.2, capsize=2, color=TEST_COLOURS.get(test, PALETTE["ink"]), label=TEST_LABELS.get(test, test))
        ax.axhline(100 * level, ls="--", lw=0.8, color=PALETTE["ink"])
        ax.set_xscale("log")
        ax.set_xticks(sorted(cell["k"].unique()))
        ax.set_xticklabels(sorted(cell["k"].unique()))
        ax.minorticks_off()
        ax.set_title(f"{sizes} sizes, τ² = {tau2:g}", fontsize=9)
        if i == len(designs) - 1:
            ax.set_xlabel("studies (k)")
    for row in axes:
        row[0].set_ylabel("coverage (%)")
    axes[-1][-1].legend(fontsize=7, frameon=False, loc="lower right")
    fig.suptitle("How often the 95 % confidence interval holds the true mean effect", fontsize=10, fontweight="bold")
    fig.tight_layout()
    m = int(grid["replications"].min())
    caption = (f"Coverage of the 95 % CI (DerSimonian–Laird τ²) over {m:,} simulated meta-analyses per point; "
               "bars: ±1.96 Monte Carlo SE")
    return save_figure(fig, "simulation_coverage", figures_dir, caption, root)


def tau2_view(grid: pd.DataFrame) -> pd.DataFrame:
    """Bias and RMSE of each τ² estimator by k (one row per k, two columns per estimator)."""
    wide = grid.pivot_table(index="k", columns="method", values=["bias_tau2", "rmse_tau2"], sort=False)
    wide.columns = [f"{stat.replace('_tau2', '')} {method}" for stat, method in wide.columns]
    return wide.reset_index()


def tau2_figure(grid: pd.DataFrame, figures_dir: Path | str, root: Path | None = None):
    """Bias and RMSE of the τ² estimators against k, one line per estimator."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.0))
    for method, rows in grid.groupby("method", sort=False):
        rows = rows.sort_values("k")
        for ax, column in zip(axes, ("bias_tau2", "rmse_tau2")):
            ax.plot(rows["k"], rows[column], marker=ESTIMATOR_MARKS.get(method, "o"), ms=4, lw=1.0, label=method)
    axes[0].axhline(0, lw=0.8, color=PALETTE["ink"])
    for ax, label in zip(axes, ("bias of τ̂² (estimate − true)", "RMSE of τ̂²")):
        ax.set_xscale("log")
        ax.set_xticks(sorted(grid["k"].unique()))
        ax.set_xticklabels(sorted(grid["k"].unique()))
        ax.minorticks_off()
        ax.set_xlabel("studies per meta-analysis (k)")
        ax.set_ylabel(label)
    axes[1].legend(fontsize=7, frameon=False, ncol=2)
    tau2 = grid["tau2"].iloc[0]
    fig.suptitle(f"Six estimators of the between-study variance (true τ² = {tau2:g})", fontsize=10, fontweight="bold")
    fig.tight_layout()
    caption = (f"Bias and RMSE of τ̂² over {int(grid['replications'].min()):,} simulated meta-analyses "
               f"per point ({grid['measure'].iloc[0]}, {grid['sizes'].iloc[0]} study sizes)")
    return save_figure(fig, "simulation_tau2", figures_dir, caption, root)


def _worst(grid: pd.DataFrame, test: str, heterogeneous: bool = True) -> pd.Series:
    rows = grid[(grid["test"] == test) & ((grid["tau2"] > 0) if heterogeneous else (grid["tau2"] == 0))]
    return rows.loc[rows["coverage"].idxmin()]


def coverage_sentences(grid: pd.DataFrame) -> list[str]:
    """What the coverage grid shows, in sentences built from its numbers."""
    z, hk, mhk = (_worst(grid, t) for t in ("z", "knha", "adhoc"))
    null = grid[(grid["tau2"] == 0) & (grid["test"] == "adhoc")]
    most = null.loc[null["coverage"].idxmax()]
    return [
        f"With heterogeneity (τ² = {z['tau2']:g}) the z interval covered the true mean in as few as "
        f"{_pct(z['coverage'])} of meta-analyses (k = {z['k']}, {z['sizes']} sizes): an error rate of "
        f"{_pct(z['type1_error'])}, {z['type1_error'] / 0.05:.1f} times the nominal 5 %.",
        f"Hartung–Knapp's worst coverage was {_pct(hk['coverage'])} (k = {hk['k']}, {hk['sizes']} sizes), an error "
        f"rate {hk['type1_error'] / 0.05:.1f} times the nominal one; the modified Hartung–Knapp's worst was "
        f"{_pct(mhk['coverage'])} (k = {mhk['k']}, {mhk['sizes']} sizes).",
        f"The price of the modification shows without heterogeneity: at τ² = 0 it covered up to "
        f"{_pct(most['coverage'], 2)} (k = {most['k']}, {most['sizes']} sizes), wider intervals than 95 % needs.",
    ]


def tau2_sentences(grid: pd.DataFrame) -> list[str]:
    """What the τ² grid shows: the most biased estimators each way, the smallest RMSE, DL at the largest k."""
    by_method = grid.groupby("method")
    bias = by_method["bias_tau2"].mean()
    kmax = grid["k"].max()
    at_kmax = grid[grid["k"] == kmax].set_index("method")
    best = at_kmax["rmse_tau2"].idxmin()
    return [
        f"Averaged over k, {bias.idxmin()} underestimated τ² the most (mean bias {bias.min():+.4f}) and "
        f"{bias.idxmax()} overestimated it the most ({bias.max():+.4f}); the true τ² was {grid['tau2'].iloc[0]:g}.",
        f"At k = {kmax}, DerSimonian–Laird's bias was {at_kmax.loc['DL', 'bias_tau2']:+.4f} and REML's "
        f"{at_kmax.loc['REML', 'bias_tau2']:+.4f}; the smallest RMSE was {best}'s ({at_kmax.loc[best, 'rmse_tau2']:.4f}), "
        f"a biased estimator that varies less.",
        f"At k = {grid['k'].min()} every estimator's RMSE ({grid[grid['k'] == grid['k'].min()]['rmse_tau2'].min():.3f} "
        f"or more) was of the order of τ² itself: a single meta-analysis of few studies says little about τ².",
    ]


def small_study_sentences(table: pd.DataFrame) -> list[str]:
    """Egger's type-I error and trim-and-fill's false imputations, from :func:`small_study_grid`."""
    egger, fill = table["egger_type1_error"], table["trimfill_any"]
    return [
        f"With nothing missing, Egger's test rejected symmetry in {_pct(egger.min())} to {_pct(egger.max())} of "
        f"meta-analyses (nominal 5 %); the highest rate was at τ² = {table.loc[egger.idxmax(), 'tau2']:g}.",
        f"Trim-and-fill imputed at least one study that was never missing in {_pct(fill.min())} to {_pct(fill.max())} "
        f"of meta-analyses (on average {table['trimfill_mean_k0'].min():.2f} to {table['trimfill_mean_k0'].max():.2f} studies).",
    ]


def published_comparison(coverage: pd.DataFrame, tau2: pd.DataFrame) -> pd.DataFrame:
    """Published findings (in our words) beside our numbers, with whether ours point the same way.

    IntHout, Ioannidis & Borm (2014, BMC Med Res Methodol 14:25); Röver, Knapp & Friede (2015,
    BMC Med Res Methodol 15:99); Langan et al. (2019, Res Synth Methods 10:83-98).
    """
    z, hk = _worst(coverage, "z"), _worst(coverage, "knha")
    few = coverage[(coverage["tau2"] > 0) & (coverage["sizes"] == "unequal") & (coverage["k"] <= 5)]
    gap = few.assign(gap=(few["coverage"] - 0.95).abs()).pivot_table(index="k", columns="test", values="gap")
    closer = bool((gap["adhoc"] <= gap["knha"]).all())
    kmax = tau2["k"].max()
    dl_bias = float(tau2[(tau2["k"] == kmax) & (tau2["method"] == "DL")]["bias_tau2"].iloc[0])
    rows = [
        {"source": "IntHout et al. 2014", "published": "DL error rates can exceed 30 %",
         "ours": f"worst DL z error rate {_pct(z['type1_error'])} (k = {z['k']}, {z['sizes']})",
         "agrees": bool(z["type1_error"] > INTHOUT_ERROR)},
        {"source": "IntHout et al. 2014", "published": "Hartung–Knapp error rates at most about double the nominal 5 %",
         "ours": f"worst Hartung–Knapp error rate {_pct(hk['type1_error'])} ({hk['type1_error'] / 0.05:.1f} × 5 %)",
         "agrees": bool(hk["type1_error"] <= 0.10 + 2 * hk["mcse_coverage"])},
        {"source": "Röver et al. 2015", "published": "modified HK closer to nominal with few studies of unequal size",
         "ours": "coverage gap " + ", ".join(f"k = {k}: {_pct(r['adhoc'])} vs {_pct(r['knha'])}" for k, r in gap.iterrows()),
         "agrees": closer},
        {"source": "Langan et al. 2019", "published": "DL underestimates τ² in meta-analyses of small studies",
         "ours": f"DL bias at k = {kmax}: {dl_bias:+.4f}", "agrees": dl_bias < 0},
    ]
    return pd.DataFrame(rows)


INTHOUT_ERROR = 0.30
"""IntHout et al. (2014): DerSimonian–Laird (z) error rates can exceed 30 % (the row of :func:`published_comparison`)."""


def published_agreement_sentences(published: pd.DataFrame, coverage: pd.DataFrame,
                                  small_k: pd.DataFrame | None = None, ours: pd.DataFrame | None = None) -> list[str]:
    """How far section 2's grid points the way of the published findings (:func:`published_comparison`),
    which findings it does not reproduce and with what number, and what section 2b's designs
    (:func:`small_k_grid`: few studies, unequal precision, REML) add: the z interval's worst error rate
    there beside IntHout et al.'s 30 % for DerSimonian–Laird, with the cell and the estimator named (a
    cell at the grid's largest ratio is called a stress test when ``ours`` (:func:`our_analyses`)
    holds no analysis whose nearest ratio it is)."""
    agree, total = int(published["agrees"].sum()), len(published)
    methods = ", ".join(dict.fromkeys(coverage["method"].astype(str)))
    scope = (f"{methods} τ², k = {coverage['k'].min()}–{coverage['k'].max()}, τ² up to {coverage['tau2'].max():g}, "
             f"{' and '.join(dict.fromkeys(coverage['sizes'].astype(str)))} study sizes")
    text = f"Section 2's grid ({scope}) points the same way as {agree} of {total} published findings"
    missed = published[~published["agrees"].astype(bool)]
    if len(missed):
        text += "; not as " + "; ".join(f"{r['source']} (“{r['published']}”: ours, {r['ours']})"
                                        for _, r in missed.iterrows())
    out = [text + "."]
    if small_k is not None and len(small_k):
        z = small_k[(small_k["tau2"] > 0) & (small_k["interval"] == "CI") & (small_k["method"] == "z")]
        if len(z):
            w = z.loc[z["coverage"].idxmin()]
            estimator = small_k["estimator"].iloc[0] if "estimator" in small_k else "REML"
            error = 1 - w["coverage"]
            side = "above" if error > INTHOUT_ERROR else "not above"
            from .small_k_lab import nearest_cells

            stress = ""
            if ours is not None and w["ratio"] not in set(nearest_cells(ours, small_k)["ratio_cell"]):
                stress = (f", a stress test: no pooled analysis of ours is nearest to ratio {w['ratio']:g}"
                          + (f", our largest ratio being {ours['ratio'].max():.1f}" if len(ours) else ""))
            out.append(f"Section 2b (k = {small_k['k'].min()}–{small_k['k'].max()}, one study up to "
                       f"{small_k['ratio'].max():g} times as precise, {estimator} τ²) goes further: there the z interval "
                       f"covered μ in as few as {_pct(w['coverage'])} of meta-analyses (k = {w['k']}, ratio "
                       f"{w['ratio']:g}, τ² = {w['tau2']:g}{stress}), an error rate of {_pct(error)}, {side} the "
                       f"{_pct(INTHOUT_ERROR, 0)} IntHout et al. report for DerSimonian–Laird; the τ² estimator there is "
                       f"{estimator}{'' if estimator == 'DL' else ', not DerSimonian–Laird'}.")
    return out
