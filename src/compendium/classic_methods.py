"""Notebook 00, beyond the basics: influence, Baujat and GOSH, PET-PEESE and the selection model on
Molloy 2014 (k = 16), and several effects per study on Konstantopoulos 2011 (56 schools in 11
districts), each beside the value R metafor (or clubSandwich) gives for the same data
(``data/classic/metafor_values.json``; ``tests/test_worked_example.py``).

Every ``*_beside`` function returns the table of :func:`~compendium.classic.beside_metafor` and the
engine's result, so the notebook can show the agreement and then read the result aloud.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from meta_analysis.dependence import MultilevelResult, aggregate_within, fit_multilevel
from meta_analysis.gosh import GoshResult, gosh
from meta_analysis.influence import baujat, influence_diagnostics
from meta_analysis.models import MetaResult, fit_meta
from meta_analysis.robust import RobustResult, robust_test
from meta_analysis.selection import PetPeeseResult, SelectionResult, pet_peese, selection_model

from .classic import beside_metafor
from .display import p_text
from .display import sentence_number as _fmt  # the one place that rounds

__all__ = ["INFLUENCE_FIELDS", "aggregate_beside", "baujat_beside", "baujat_sentence", "che_beside",
           "che_sentence", "gosh_beside", "gosh_sentence", "gosh_separating_study", "influence_beside",
           "influence_sentence_classic", "multilevel_beside", "multilevel_sentence", "one_per_study_sentence",
           "pet_peese_beside", "pet_peese_sentence", "rows_about", "selection_beside", "selection_sentence"]

INFLUENCE_FIELDS = ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "dfbetas")
FIT_KEYS = ("estimate", "se", "ci_low", "ci_high", "pval")


def rows_about(table: pd.DataFrame, *words: str) -> pd.DataFrame:
    """The rows of a :func:`beside_metafor` table whose quantity contains any of ``words`` (for display)."""
    keep = table["quantity"].map(lambda q: any(w in q for w in words))
    return table[keep].reset_index(drop=True)


# -------------------------------------------------------------------------------- influence, Baujat, GOSH
def influence_beside(yi, vi, labels, ref: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Case-deletion diagnostics (REML) beside metafor ``influence()``: every field of
    :data:`INFLUENCE_FIELDS` for every study, and the number of studies metafor's rule flags."""
    ours = influence_diagnostics(yi, vi, labels=list(labels))
    theirs = ref["influence"]
    mine = {f"{f}: {s}": ours[f].iloc[i] for i, s in enumerate(ours["study"]) for f in INFLUENCE_FIELDS}
    other = {f"{f}: {s}": theirs[f][i] for i, s in enumerate(ours["study"]) for f in INFLUENCE_FIELDS}
    mine["studies flagged as influential"] = int(ours["influential"].sum())
    other["studies flagged as influential"] = int(sum(bool(x) for x in theirs["influential"]))
    return beside_metafor(mine, other), ours


def influence_sentence_classic(diag: pd.DataFrame, fit: MetaResult) -> str:
    """Which studies metafor's rule flags (Viechtbauer & Cheung 2010), and the one with the largest
    Cook's distance with what leaving it out does to τ² and Q, built from the numbers."""
    flagged = list(diag.loc[diag["influential"], "study"])
    top = diag.loc[diag["cook_d"].idxmax()]
    said = (f"Under metafor's rule {len(flagged)} of {len(diag)} studies are influential ({', '.join(flagged)})"
            if flagged else f"Under metafor's rule none of the {len(diag)} studies is influential")
    change = "falls" if top.tau2_del < fit.tau2 else "rises"
    return (f"{said}. The largest Cook's distance is {top.study}'s ({top.cook_d:.2f}): "
            f"without it τ² {change} from {fit.tau2:.4f} to {top.tau2_del:.4f} and Q from {fit.q:.1f} to "
            f"{top.qe_del:.1f}" + (", yet it stays below every threshold of the rule." if not top.influential
                                   else "."))


def baujat_beside(yi, vi, labels, ref: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Baujat coordinates (common-effect model, as metafor's default) beside metafor ``baujat()``."""
    ours = baujat(yi, vi, method="FE", labels=list(labels))
    theirs = ref["baujat"]
    mine = {f"{a}: {s}": ours[a].iloc[i] for i, s in enumerate(ours["study"]) for a in ("x", "y")}
    other = {f"{a}: {s}": theirs[a][i] for i, s in enumerate(ours["study"]) for a in ("x", "y")}
    return beside_metafor(mine, other), ours


def baujat_sentence(points: pd.DataFrame) -> str:
    """The study that adds most to Q, and its share of Q (the x values sum to Q under FE); its number is its
    row in the data, as the plot labels the studies (metafor's ``baujat()`` does the same)."""
    i = int(np.argmax(points["x"].to_numpy()))
    top = points.iloc[i]
    moves = points.loc[points["y"].idxmax(), "study"]
    also = "and it also moves the pooled estimate most" if moves == top.study else f"while {moves} moves the estimate most"
    return (f"{top.study} (number {i + 1} in the plot) contributes {top.x:.1f} of Q = {points['x'].sum():.1f} "
            f"({100 * top.x / points['x'].sum():.0f}%), {also} (y = {points['y'].max():.2f}).")


def _gosh_summary(g: GoshResult) -> dict:
    inc = g.incl.astype(float)
    with_est = inc.T @ g.estimate / inc.sum(axis=0)
    with_i2, without_i2 = inc.T @ g.i2 / inc.sum(axis=0), (1 - inc).T @ g.i2 / (1 - inc).sum(axis=0)
    return {"n_subsets": len(g.estimate), "estimate_mean": g.estimate.mean(), "estimate_min": g.estimate.min(),
            "estimate_max": g.estimate.max(), "i2_mean": g.i2.mean(), "i2_max": g.i2.max(),
            "estimate_with": with_est, "i2_with": with_i2, "i2_without": without_i2}


def gosh_beside(yi, vi, labels, ref: dict) -> tuple[pd.DataFrame, GoshResult]:
    """GOSH over every subset under the common-effect model, beside metafor ``gosh()``: the cloud's
    size, extremes and means, and per study the mean estimate and I² of the subsets with (and I²
    without) it. Each per-study mean sums half of all fits, so it checks every one of them."""
    g = gosh(yi, vi, method="FE", labels=list(labels))
    ours, theirs = _gosh_summary(g), ref["gosh"]
    scalars = {"all subsets: count": "n_subsets", "all subsets: mean estimate": "estimate_mean",
               "all subsets: smallest estimate": "estimate_min", "all subsets: largest estimate": "estimate_max",
               "all subsets: mean I²": "i2_mean", "all subsets: largest I²": "i2_max"}
    mine = {name: ours[key] for name, key in scalars.items()}
    other = {name: theirs[key] for name, key in scalars.items()}
    for i, s in enumerate(g.labels):
        for name, key in (("mean estimate with", "estimate_with"), ("mean I² with", "i2_with"),
                          ("mean I² without", "i2_without")):
            mine[f"{name} {s}"], other[f"{name} {s}"] = ours[key][i], theirs[key][i]
    return beside_metafor(mine, other), g


def gosh_separating_study(g: GoshResult) -> str:
    """The study whose presence changes the subsets' mean I² most: the one a GOSH plot splits on."""
    s = _gosh_summary(g)
    return g.labels[int(np.argmax(np.abs(s["i2_with"] - s["i2_without"])))]


def gosh_sentence(g: GoshResult, study: str, transform=None, metric: str = "estimate") -> str:
    """What the subsets with and without ``study`` look like, on the display scale ``transform``."""
    f = transform or (lambda x: x)
    inside = g.incl[:, list(g.labels).index(study)]
    return (f"The {len(g.estimate):,} subsets fall in two clouds: with {study} their mean I² is "
            f"{g.i2[inside].mean():.0f}% and their mean {metric} {_fmt(f(g.estimate[inside].mean()))}; without it "
            f"{g.i2[~inside].mean():.0f}% and {_fmt(f(g.estimate[~inside].mean()))}.")


# ------------------------------------------------------------------------------ PET-PEESE, selection model
def pet_peese_beside(yi, vi, ref: dict) -> tuple[pd.DataFrame, PetPeeseResult]:
    """PET and PEESE (weighted least squares, the literature's form) beside R ``lm(yi ~ sqrt(vi),
    weights = 1/vi)`` and ``lm(yi ~ vi, weights = 1/vi)`` (= metafor FE with Knapp–Hartung)."""
    res = pet_peese(yi, vi)
    mine, other = {}, {}
    for name in ("pet", "peese"):
        for key in (*FIT_KEYS, "slope"):
            mine[f"{name.upper()} {key}"] = getattr(res, f"{name}_{key}")
            other[f"{name.upper()} {key}"] = ref["pet_peese"][name][key]
    return beside_metafor(mine, other), res


def pet_peese_sentence(res: PetPeeseResult, fit: MetaResult, transform=None, metric: str = "estimate") -> str:
    """The conditional PET-PEESE rule read aloud, beside the random-effects estimate."""
    f = transform or (lambda x: x)
    keep = "PEESE" if res.chosen == "PEESE" else "PET"
    verdict = "below" if res.rule_pval < res.alpha else "not below"
    return (f"PET's intercept, the expected effect of a study with standard error 0, has one-sided p "
            f"{p_text(res.rule_pval)}, {verdict} {_fmt(res.alpha)}, so the conditional rule reports {keep}: "
            f"{metric} = {_fmt(f(res.estimate))} (95% CI {_fmt(f(res.ci_low))} to {_fmt(f(res.ci_high))}), "
            f"against {_fmt(f(fit.estimate))} from the random-effects model.")


def selection_beside(yi, vi, ref: dict, steps=(0.025,)) -> tuple[pd.DataFrame, SelectionResult]:
    """The step-function selection model (ML, one-sided p cut at ``steps``) beside metafor
    ``selmodel(rma(yi, vi, method = "ML"), type = "stepfun", steps = .025)`` taken to the optimum."""
    res, r = selection_model(yi, vi, steps=steps), ref["selmodel"]
    keys = (*FIT_KEYS, "tau2", "se_tau2", "ll", "ll0", "lrt", "lrt_p")
    mine = {key: getattr(res, key) for key in keys}
    other = {key: r[key] for key in keys}
    name = f"delta (p > {_fmt(res.steps[0], 3)})"
    mine.update({name: res.delta[1], "se of delta": res.se_delta[1]})
    other.update({name: r["delta"][1], "se of delta": r["se_delta"][1]})
    return beside_metafor(mine, other), res


def selection_sentence(res: SelectionResult, fit: MetaResult, transform=None, metric: str = "estimate") -> str:
    """The selection model read aloud: how many studies were 'significant', δ, the adjusted estimate, the LRT."""
    f = transform or (lambda x: x)
    return (f"{res.counts[0]} of {res.k} studies have one-sided p ≤ {_fmt(res.steps[0], 3)}. The model estimates that a "
            f"study with a larger p is published with {res.delta[1]:.2f} times the probability of one below it "
            f"(δ), and adjusts {metric} to {_fmt(f(res.estimate))} (95% CI {_fmt(f(res.ci_low))} to "
            f"{_fmt(f(res.ci_high))}), against {_fmt(f(fit.estimate))} without adjustment (REML); the "
            f"likelihood-ratio test of no selection has p {p_text(res.lrt_p)}.")


# ---------------------------------------------------------------------------- several effects per study
def one_per_study_sentence(study, what: str = "study") -> str:
    """How much one effect per ``what`` would throw away."""
    counts = pd.Series(study).value_counts()
    k, j = int(counts.sum()), len(counts)
    return (f"{k} effects come from {j} {what}s ({counts.min()} to {counts.max()} per {what}). One effect per "
            f"{what} would keep {j} of {k} ({100 * j / k:.0f}%) and drop {k - j}, and which one to keep would "
            f"be an arbitrary choice; treating all {k} as independent would count each {what} several times.")


def aggregate_beside(yi, vi, study, ref: dict, rho: float = 0.6) -> tuple[pd.DataFrame, pd.DataFrame, MetaResult]:
    """Effects averaged within study (``aggregate_within``, ρ) beside metafor ``aggregate()``, and the
    REML fit of the averages beside ``rma()`` on them; quantities of that fit start with "averaged:"."""
    agg = aggregate_within(yi, vi, study, rho=rho)
    fit = fit_meta(agg["yi"], agg["vi"])
    r, rf = ref["aggregate"], ref["aggregate_fit"]
    if len(agg) != len(r["study"]):
        raise ValueError(f"{len(agg)} studies here but {len(r['study'])} in metafor's aggregate(): not the same data")
    mine = {f"{c} of {s}": agg[c].iloc[i] for i, s in enumerate(agg["study"]) for c in ("yi", "vi")}
    other = {f"{c} of {s}": r[c][i] for i, s in enumerate(agg["study"]) for c in ("yi", "vi")}
    for key in (*FIT_KEYS, "tau2", "i2"):
        mine[f"averaged: {key}"], other[f"averaged: {key}"] = getattr(fit, key), rf[key]
    return beside_metafor(mine, other), agg, fit


ML_KEYS = (*FIT_KEYS, "sigma2_between", "sigma2_within", "i2_between", "i2_within", "i2_total", "q", "logLik",
           "pi_low", "pi_high")


def multilevel_beside(yi, vi, study, es_id, ref: dict) -> tuple[pd.DataFrame, MultilevelResult]:
    """The three-level model (REML) beside metafor ``rma.mv(yi, vi, random = ~ 1 | district/school)``
    (σ² taken to the optimum) and the multilevel I² of Cheung (2014)."""
    res, r = fit_multilevel(yi, vi, study, es_id=es_id), ref["three_level"]
    other = {key: r["beta" if key == "estimate" else key] for key in ML_KEYS}
    return beside_metafor({key: getattr(res, key) for key in ML_KEYS}, other), res


def multilevel_sentence(res: MultilevelResult, what: str = "studies") -> str:
    """The two variance components and the split of the total variance, read aloud."""
    rest = 100 - res.i2_total
    return (f"σ² between {what} = {res.sigma2_between:.4f} and within = {res.sigma2_within:.4f}: of the total "
            f"variance, {res.i2_between:.0f}% lies between {what}, {res.i2_within:.0f}% between effects within "
            f"them and {rest:.0f}% is sampling error. Pooled estimate {_fmt(res.estimate, 3)} (95% CI "
            f"{_fmt(res.ci_low, 3)} to {_fmt(res.ci_high, 3)}).")


def che_beside(yi, vi, study, es_id, ref: dict, rho: float = 0.6
               ) -> tuple[pd.DataFrame, MultilevelResult, RobustResult]:
    """The CHE working model (ρ) beside metafor ``rma.mv(yi, vcalc(vi, district, school, rho))`` and its
    CR2 test beside clubSandwich ``coef_test(vcov = "CR2")`` (= metafor ``robust(clubSandwich = TRUE)``)."""
    che = fit_multilevel(yi, vi, study, es_id=es_id, rho=rho)
    rob = robust_test(che)
    r, rr = ref["che"], ref["che"]["robust"]["CR2"]
    mine = {"CHE estimate": che.estimate, "CHE sigma2_between": che.sigma2_between,
            "CHE sigma2_within": che.sigma2_within, "CHE model-based se": che.se}
    other = {"CHE estimate": r["beta"], "CHE sigma2_between": r["sigma2_between"],
             "CHE sigma2_within": r["sigma2_within"], "CHE model-based se": r["se"]}
    for key in ("se", "df", "stat", "pval", "ci_low", "ci_high"):
        mine[f"CR2 {key}"], other[f"CR2 {key}"] = getattr(rob, key), rr[key]
    return beside_metafor(mine, other), che, rob


def che_sentence(che: MultilevelResult, rob: RobustResult, what: str = "studies") -> str:
    """The CHE estimate with its model-based and its robust (CR2) test, read aloud."""
    small = " (few clusters: the robust test is the honest one)" if rob.df < 20 else ""
    return (f"CHE (ρ = {che.rho:g}) estimate {_fmt(che.estimate, 3)}, model-based p {p_text(che.pval)}. The CR2 test "
            f"treats the {rob.n_clusters} {what} as clusters and lets the working model be wrong: SE "
            f"{rob.se:.4f} on {rob.df:.1f} Satterthwaite df, p {p_text(rob.pval)}, 95% CI {_fmt(rob.ci_low, 3)} "
            f"to {_fmt(rob.ci_high, 3)}{small}.")
