"""The Bayesian random-effects row of every pooled analysis (notebook 03): the prior each review
gets, the posterior beside the leading test, a prior-sensitivity table, τ's posterior drawn, and
sentences built from the numbers. The model itself is the engine's ``fit_bayes`` (bayesmeta's
normal–normal model by numerical integration; Röver 2020).

The default prior for τ is half-normal with scale 0.5 on the SMD scale (Röver et al. 2021); on the
Fisher z scale the corresponding scale is 0.25 (``tau_scale_fisher_z``: dz/dd = 1/2 near d = 0).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from meta_analysis.bayes import fit_bayes, tau_scale_fisher_z

from .display import p_text, probability_text, sentence_number as _fmt
from .figures import PALETTE, save_figure
from .small_k import RULES, SmallKRules, name_of_test

BAYES_COLUMNS = ["bayes_tau_prior", "bayes_estimate", "bayes_ci_low", "bayes_ci_high", "bayes_pi_low",
                 "bayes_pi_high", "bayes_tau_median", "bayes_tau_upper", "bayes_p_positive"]
SENSITIVITY_PRIORS = (("halfnormal", 0.5), ("halfnormal", 1.0), ("halfnormal", 2.0), ("halfcauchy", 1.0))
"""The priors of :func:`prior_sensitivity_table`: (family, multiple of the default scale)."""


def review_tau_scale(review, tau_scale_smd: float = 0.5) -> float:
    """The half-normal scale of τ on a review's analysis scale: ``tau_scale_smd`` for SMDs, and
    ``tau_scale_fisher_z(tau_scale_smd)`` (half of it) for a review pooled as Fisher z."""
    return tau_scale_fisher_z(tau_scale_smd) if review.meta.get("transform") == "tanh" else float(tau_scale_smd)


PRIOR_NAMES = {"halfnormal": "half-normal", "halfcauchy": "half-Cauchy", "loguniform": "log-uniform"}


def prior_text(tau_prior: str, scale: float) -> str:
    """"half-normal(0.25)": a τ prior in words."""
    return f"{PRIOR_NAMES.get(tau_prior, tau_prior)}({scale:g})"


def fit_analysis_bayes(yi, vi, tau_scale: float, tau_prior: str = "halfnormal", level: float = 0.95,
                       rules: SmallKRules = RULES):
    """``fit_bayes`` of one analysis from ``rules.min_k_pool`` studies on (μ uniform), or None below it."""
    if len(yi) < rules.min_k_pool:
        return None
    return fit_bayes(np.asarray(yi, float), np.asarray(vi, float), tau_prior=tau_prior, tau_scale=tau_scale,
                     level=level)


def bayes_columns(fit, rules: SmallKRules = RULES) -> dict:
    """The ``bayes_*`` columns of ``fits.csv`` (analysis scale, full precision): the τ prior, the posterior
    median of μ with its equal-tailed interval, the posterior predictive interval (only from
    ``rules.min_k_prediction``, as every prediction interval), τ's posterior median and upper bound,
    and P(μ > 0)."""
    if fit is None:
        return {}
    shown = rules.prediction(fit.k)
    return {"bayes_tau_prior": prior_text(fit.tau_prior, fit.tau_scale), "bayes_estimate": fit.mu_median,
            "bayes_ci_low": fit.ci_low, "bayes_ci_high": fit.ci_high,
            "bayes_pi_low": fit.pi_low if shown else np.nan, "bayes_pi_high": fit.pi_high if shown else np.nan,
            "bayes_tau_median": fit.tau_median, "bayes_tau_upper": fit.tau_upper, "bayes_p_positive": fit.p_mu_positive}


def bayes_table(fits: pd.DataFrame, transform=None, sensitivity: pd.DataFrame | None = None) -> pd.DataFrame:
    """Two rows per pooled analysis of ``fits.csv``, on the display scale: the leading test's and the
    Bayesian posterior's estimate, interval, prediction interval and τ (``<review>_bayes.csv``).

    With ``sensitivity`` (:func:`prior_sensitivity_table`), the Bayesian row's ``prior_dependent`` says
    whether its credible interval's verdict about 0 (excludes it or not) changes over the priors of
    that table; the leading test's row leaves it empty (it has no prior)."""
    f = transform or (lambda x: x)
    depends = {} if sensitivity is None else {label: bool(block["prior_dependent"].iloc[0])
                                              for label, block in sensitivity.groupby("analysis", sort=False)}
    rows = []
    for _, r in fits[fits["k"].ge(2) & fits["bayes_estimate"].notna()].iterrows():
        base = {"analysis": r["label"], "k": int(r["k"])}
        rows.append({**base, "model": f"{r['method']}, {name_of_test(r['test'])}", "estimate": f(r["estimate"]),
                     "ci_low": f(r["ci_low"]), "ci_high": f(r["ci_high"]), "pval": r["pval"], "p_positive": np.nan,
                     "tau": np.sqrt(r["tau2"]), "pi_low": f(r["pi_low"]), "pi_high": f(r["pi_high"]),
                     "pi_dist": r["pi_dist"], "prior_dependent": pd.NA})
        rows.append({**base, "model": f"Bayesian, τ ~ {r['bayes_tau_prior']}", "estimate": f(r["bayes_estimate"]),
                     "ci_low": f(r["bayes_ci_low"]), "ci_high": f(r["bayes_ci_high"]), "pval": np.nan,
                     "p_positive": r["bayes_p_positive"], "tau": r["bayes_tau_median"], "pi_low": f(r["bayes_pi_low"]),
                     "pi_high": f(r["bayes_pi_high"]),
                     "pi_dist": "posterior predictive" if pd.notna(r["bayes_pi_low"]) else "",
                     "prior_dependent": depends.get(r["label"], pd.NA)})
    columns = ["analysis", "k", "model", "estimate", "ci_low", "ci_high", "pval", "p_positive", "tau", "pi_low",
               "pi_high", "pi_dist"] + (["prior_dependent"] if sensitivity is not None else [])
    return pd.DataFrame(rows, columns=columns)


def prior_sensitivity_table(analyses: dict, tau_scale: float, transform=None, level: float = 0.95) -> pd.DataFrame:
    """Every pooled analysis under the default τ prior, its scale halved and doubled, and a
    half-Cauchy of the default scale (:data:`SENSITIVITY_PRIORS`): posterior median of μ, its
    interval, τ's posterior median and P(μ > 0), on the display scale. How much the answer depends
    on the prior is what a referee asks first at k = 2 (Röver et al. 2021; Friede et al. 2017)."""
    f = transform or (lambda x: x)
    rows = []
    for a in analyses.values():
        if a.fit is None:
            continue
        for family, multiple in sorted(SENSITIVITY_PRIORS, key=lambda p: (p[0] != "halfnormal", p[1])):
            scale = tau_scale * multiple
            fit = fit_bayes(a.data["yi"].to_numpy(float), a.data["vi"].to_numpy(float), tau_prior=family,
                            tau_scale=scale, level=level)
            rows.append({"analysis": a.label, "k": a.k, "tau_prior": prior_text(family, scale),
                         "default": bool(family == "halfnormal" and multiple == 1.0),
                         "estimate": f(fit.mu_median), "ci_low": f(fit.ci_low), "ci_high": f(fit.ci_high),
                         "tau_median": fit.tau_median, "p_positive": fit.p_mu_positive,
                         "excludes_0": bool(fit.ci_low > 0 or fit.ci_high < 0)})
    table = pd.DataFrame(rows, columns=["analysis", "k", "tau_prior", "default", "estimate", "ci_low", "ci_high",
                                        "tau_median", "p_positive", "excludes_0"])
    return with_prior_dependence(table)


def with_prior_dependence(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (:func:`prior_sensitivity_table`) with ``prior_dependent``: True for every row of an
    analysis whose credible interval excludes 0 under some priors and not under others, i.e. the
    conclusion about no effect is the prior's, not the data's. ``excludes_0`` is computed on the
    analysis scale (ci_low > 0 or ci_high < 0); the display transforms (tanh) keep 0 at 0."""
    verdicts = table.groupby("analysis", sort=False)["excludes_0"].transform("nunique")
    return table.assign(prior_dependent=verdicts.gt(1).astype(bool))


def prior_dependence_sentence(block: pd.DataFrame) -> str:
    """What the priors of one analysis (its rows of :func:`prior_sensitivity_table`) say about 0: under
    which the credible interval excludes 0 and under which it does not, or that all agree."""
    excluding = block[block["excludes_0"]]["tau_prior"].tolist()
    including = block[~block["excludes_0"]]["tau_prior"].tolist()
    if not including:
        return f"the credible interval excludes 0 under all {len(block)} priors of the sensitivity table"
    if not excluding:
        return f"the credible interval includes 0 under all {len(block)} priors of the sensitivity table"
    return (f"the credible interval excludes 0 under {_listed(excluding, 'and')} but not under "
            f"{_listed(including, 'or')}: whether the data rule out no effect depends on the prior")


def _listed(names: list[str], last: str) -> str:
    """"a", "a and b", "a, b and c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"


def _span_text(low: float, high: float, one: str, many: str) -> str:
    """"a median of .11" when both ends round alike, else "medians from .10 to .12"."""
    return f"{one} {_fmt(low)}" if _fmt(low) == _fmt(high) else f"{many} {_fmt(low)} to {_fmt(high)}"


def prior_sensitivity_sentences(table: pd.DataFrame, metric: str) -> list[str]:
    """One sentence per analysis: how far the posterior median and interval move over the priors."""
    out = []
    for label, block in table.groupby("analysis", sort=False):
        default = block[block["default"]].iloc[0]
        others = block[~block["default"]]
        out.append(f"{label}: under the default prior {metric} = {_fmt(default['estimate'])} "
                   f"({_fmt(default['ci_low'])} to {_fmt(default['ci_high'])}); the other priors give "
                   f"{_span_text(others['estimate'].min(), others['estimate'].max(), 'a median of', 'medians from')} "
                   "and intervals from "
                   f"{_fmt(others['ci_low'].min())} to {_fmt(others['ci_high'].max())} at their widest, "
                   f"P(μ > 0) from {probability_text(block['p_positive'].min())} to "
                   f"{probability_text(block['p_positive'].max())}; {prior_dependence_sentence(block)}.")
    return out


def bayes_sentences(fits: pd.DataFrame, metric: str, transform=None,
                    sensitivity: pd.DataFrame | None = None) -> list[str]:
    """One sentence per pooled analysis: the posterior beside the leading test, and what it allows.

    P(μ > 0) is shown as the tables show it (:func:`~compendium.display.probability_text`). With
    ``sensitivity`` (:func:`prior_sensitivity_table`) the sentence says under which priors the credible
    interval excludes 0 when that changes with the prior (:func:`prior_dependence_sentence`)."""
    f = transform or (lambda x: x)
    blocks = {} if sensitivity is None else dict(tuple(sensitivity.groupby("analysis", sort=False)))
    out = []
    for _, r in fits[fits["k"].ge(2) & fits["bayes_estimate"].notna()].iterrows():
        low, high = f(r["bayes_ci_low"]), f(r["bayes_ci_high"])
        text = (f"{r['label']}: with τ ~ {r['bayes_tau_prior']} the posterior median is {metric} = "
                f"{_fmt(f(r['bayes_estimate']))} (95% credible interval {_fmt(low)} to {_fmt(high)}; "
                f"P(μ > 0) {probability_text(r['bayes_p_positive'], sentence=True)}), beside {metric} = {_fmt(f(r['estimate']))} "
                f"({_fmt(f(r['ci_low']))} to {_fmt(f(r['ci_high']))}, p {p_text(r['pval'])}) under "
                f"{name_of_test(r['test'])}")
        if pd.notna(r["bayes_pi_low"]):
            text += (f"; a new study's true effect lies between {_fmt(f(r['bayes_pi_low']))} and "
                     f"{_fmt(f(r['bayes_pi_high']))} with 95% posterior probability")
        else:
            text += f"; no prediction interval with k = {int(r['k'])}"
        if r["k"] <= 3:
            text += ". The prior rules out implausibly large heterogeneity, which two or three studies cannot"
        block = blocks.get(r["label"])
        if block is not None and bool(block["prior_dependent"].iloc[0]):
            text += f". Over the priors of the sensitivity table, {prior_dependence_sentence(block)}"
        out.append(text + ".")
    return out


def tau_posterior_figure(review_id: str, analyses: dict, tau_scale: float, figures_dir: Path | str,
                         root: Path | None = None, scale_name: str = "analysis scale"):
    """τ's posterior density for every pooled analysis of one review (a panel each), with the
    half-normal prior's density dashed and the REML estimate marked; None when nothing is pooled."""
    import matplotlib.pyplot as plt

    pooled = [a for a in analyses.values() if a.bayes is not None]
    if not pooled:
        return None
    fig, axes = plt.subplots(1, len(pooled), figsize=(2.6 * len(pooled) + 0.4, 2.6), squeeze=False)
    for ax, a in zip(axes[0], pooled):
        b = a.bayes
        grid = np.asarray(b.tau_grid)
        keep = grid <= max(4 * tau_scale, b.tau_upper * 1.2)
        ax.plot(grid[keep], np.asarray(b.tau_density)[keep], color=PALETTE["accent"], lw=1.4, label="posterior")
        prior = np.sqrt(2 / np.pi) / tau_scale * np.exp(-grid[keep] ** 2 / (2 * tau_scale ** 2))
        ax.plot(grid[keep], prior, color=PALETTE["muted"], ls="--", lw=1.0, label=f"prior, half-normal({tau_scale:g})")
        ax.axvline(a.fit.tau, color=PALETTE["negative"], lw=0.9, label=f"REML τ̂ = {a.fit.tau:.3f}")
        ax.set_title("\n".join(_wrap(f"{a.label} (k = {a.k})")), fontsize=8)
        ax.set_xlabel(f"τ ({scale_name})", fontsize=8)
        ax.set_xlim(0, None)
        ax.set_ylim(0, None)
        ax.legend(fontsize=6, frameon=False)
    axes[0][0].set_ylabel("density")
    fig.suptitle(f"Between-study SD τ: prior and posterior ({review_id})", fontsize=10, fontweight="bold")
    fig.tight_layout()
    return save_figure(fig, f"{review_id}_tau_posterior", figures_dir,
                       f"posterior of τ for each pooled analysis of {review_id}, with its prior", root)


def _wrap(text: str, width: int = 30) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)
