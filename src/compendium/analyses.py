"""The pooled analyses that a review's ``review.json`` lists (notebook 03): which studies enter,
the fits under z, Hartung–Knapp and modified Hartung–Knapp, the one the tables lead with
(``ci_method``), the prediction interval on t(k − 2), and the machine tables that notebook 04 reads
instead of refitting.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meta_analysis.heterogeneity import tau2_ci
from meta_analysis.influence import leave_one_out
from meta_analysis.models import MetaResult, compare_estimators, fit_meta
from meta_analysis.regression import subgroup_analysis

from .admission import (admission_flags, admit, admit_rule, filter_design, filter_rows, flag_counts,
                        one_effect_per_study, with_scope)
from .bayes_view import BAYES_COLUMNS, bayes_columns, fit_analysis_bayes, review_tau_scale
from .display import show
from .sheets import Review
from .small_k import LEAD_TESTS, RULES, SmallKRules, name_of_test

TRANSFORMS = {"tanh": np.tanh, None: None, "none": None}


def transform_of(review: Review):
    """The display transform of a review (Fisher z → r for ``"tanh"``), or the identity."""
    return TRANSFORMS[review.meta.get("transform")] or (lambda x: x)


@dataclass(frozen=True)
class Analysis:
    """One pooled analysis.

    ``candidates``: every row the filter and scope let in, with admission flags; ``data``: one row
    per study that the primary rule admits; ``choices``: which row was kept where a study had
    several; ``fits``: the model under each test of ``LEAD_TESTS`` (``"z"``, ``"knha"``,
    ``"adhoc"``; empty below ``min_k_pool``); ``test``: the one every table leads with; ``bayes``:
    the Bayesian random-effects fit (``meta_analysis.fit_bayes``; None when not pooled).
    """

    name: str
    label: str
    spec: dict
    rule: dict
    candidates: pd.DataFrame
    data: pd.DataFrame
    choices: pd.DataFrame
    fits: dict
    test: str
    method: str
    level: float
    note: str
    bayes: object = None

    @property
    def fit(self) -> MetaResult | None:
        """The fit under the chosen test (``ci_method``), None when not pooled."""
        return self.fits.get(self.test)

    @property
    def k(self) -> int:
        return len(self.data)

    @property
    def published(self) -> str | None:
        return self.spec.get("published")


def fit_both(yi, vi, method: str, level: float, rules: SmallKRules = RULES) -> dict:
    """The model under every test of ``LEAD_TESTS`` (z, Hartung–Knapp, modified Hartung–Knapp),
    keyed by test, or {} when k is below ``min_k_pool``. One τ² estimate; the tests differ only in
    the SE and the critical value (Hartung & Knapp 2001; Röver, Knapp & Friede 2015)."""
    if not rules.pooled(len(yi)):
        return {}
    return {test: fit_meta(yi, vi, method=method, test=test, level=level) for test in LEAD_TESTS}


def prediction_interval(estimate: float, se: float, tau2: float, k: int, level: float = 0.95) -> tuple:
    """The prediction interval for a new study's true effect on t(k − 2): (pi_low, pi_high, pi_dist).

    μ̂ ± t(k − 2; 1 − α/2)·sqrt(SE(μ̂)² + τ̂²) (Higgins, Thompson & Spiegelhalter 2009, eq. 12;
    Riley, Higgins & Deeks 2011; Cochrane Handbook 10.10.4.3): k − 2 degrees of freedom because
    μ and τ² are both estimated. ``se`` is the leading test's SE, so under modified Hartung–Knapp
    the interval is never narrower than Higgins et al.'s. Below k = 3 there is no such interval
    (t with 0 df): (nan, nan, "").
    """
    from scipy import stats

    if k < 3:
        return np.nan, np.nan, ""
    half = float(stats.t.isf((1 - level) / 2, k - 2)) * np.sqrt(se ** 2 + tau2)
    return estimate - half, estimate + half, f"t({k - 2})"


def run_analyses(review: Review, converted: pd.DataFrame, method: str = "REML", test: str = "adhoc",
                 level: float = 0.95, core_only: bool = False, rules: SmallKRules = RULES,
                 tau_scale_smd: float = 0.5) -> dict[str, Analysis]:
    """Fit every analysis of ``review.json`` under its admission rule, one effect per study.

    k = 0: nothing to fit; k = 1: the study is shown, not pooled; k ≥ 2: the model under z,
    Hartung–Knapp and modified Hartung–Knapp (all kept; ``test``, notebook 03's ``ci_method``,
    chooses the one every table, sentence and figure leads with; default the modified test,
    never narrower than z: Röver et al. 2015, Jackson et al. 2017), and the Bayesian model with a
    half-normal prior on τ of scale ``tau_scale_smd`` on the SMD scale (half of it on Fisher z:
    :func:`bayes_view.review_tau_scale`).
    """
    name_of_test(test)  # a ValueError naming the allowed tests
    tau_scale = review_tau_scale(review, tau_scale_smd)
    out = {}
    studies = review.sheets["studies"]
    flagged = admission_flags(converted, review.meta) if len(converted) else converted
    for spec in review.meta["analyses"]:
        rows = filter_design(filter_rows(flagged, spec["filter"]), spec) if len(flagged) else flagged
        rows = with_scope(rows, studies, core_only) if len(rows) else rows
        rule = admit_rule(review, spec)
        admitted = admit(rows, rule) if len(rows) else rows
        data, choices = one_effect_per_study(admitted)
        fits = fit_both(data["yi"], data["vi"], method, level, rules) if len(data) else {}
        note = ("no convertible study in our extraction" if len(data) == 0 else
                "single study, shown not pooled" if len(data) == 1 else "")
        bayes = fit_analysis_bayes(data["yi"], data["vi"], tau_scale, level=level, rules=rules) if fits else None
        out[spec["name"]] = Analysis(spec["name"], spec["label"], spec, rule, rows, data, choices, fits, test,
                                     method, level, note, bayes)
    return out


def _fit_columns(fits: dict, test: str, rules: SmallKRules) -> dict:
    main, z = fits[test], fits["z"]
    row = {"method": main.method, "test": test, "level": main.level, "estimate": main.estimate, "se": main.se,
           "ci_low": main.ci_low, "ci_high": main.ci_high, "pval": main.pval,
           "ci_low_z": z.ci_low, "ci_high_z": z.ci_high, "pval_z": z.pval,
           "tau2": main.tau2, "i2": main.i2, "h2": main.h2, "q": main.q, "q_df": main.q_df, "q_p": main.q_p}
    if rules.prediction(main.k):
        pi_low, pi_high, pi_dist = prediction_interval(main.estimate, main.se, main.tau2, main.k, main.level)
        row.update(pi_low=pi_low, pi_high=pi_high, pi_dist=pi_dist)
    return row


def fits_table(analyses: dict[str, Analysis], rules: SmallKRules = RULES, level: float = 0.95) -> pd.DataFrame:
    """One row per analysis on the analysis scale at full precision (``fits.csv``, read by notebook 04).

    Columns: k, n (studies with n), n_missing, ``test`` (the leading test), the estimate with the
    leading test's ``ci_low``, ``ci_high``, ``pval`` and the z test's ``ci_low_z``, ``ci_high_z``,
    ``pval_z`` beside them, heterogeneity, the prediction interval on t(k − 2) from
    ``min_k_prediction`` (``pi_dist`` says so; :func:`prediction_interval`), the Bayesian
    posterior (``bayes_*``: :func:`bayes_view.bayes_columns`), and the flag counts of
    :func:`admission.flag_counts`. A single study shows its own estimate and z interval (at
    ``level``), marked "not pooled".
    """
    from scipy import stats

    rows = []
    for a in analyses.values():
        n = pd.to_numeric(a.data["n"], errors="coerce") if len(a.data) else pd.Series(dtype=float)
        row = {"analysis": a.name, "label": a.label, "k": a.k, "n": float(n.sum(min_count=1)) if len(n) else 0.0,
               "n_missing": int(n.isna().sum())}
        if a.fits:
            row.update(_fit_columns(a.fits, a.test, rules))
            row.update(bayes_columns(a.bayes, rules))
        elif a.k == 1:  # the study's own estimate and interval, not a pooled one
            yi, se = float(a.data["yi"].iloc[0]), float(np.sqrt(a.data["vi"].iloc[0]))
            crit = stats.norm.isf((1 - level) / 2)
            row.update(estimate=yi, se=se, ci_low=yi - crit * se, ci_high=yi + crit * se, level=level)
        row.update(flag_counts(a.data))
        row["note"] = a.note
        rows.append(row)
    columns = ["analysis", "label", "k", "n", "n_missing", "method", "test", "level", "estimate", "se", "ci_low",
               "ci_high", "pval", "ci_low_z", "ci_high_z", "pval_z", "tau2", "i2", "h2", "q", "q_df", "q_p",
               "pi_low", "pi_high", "pi_dist", *BAYES_COLUMNS, "proxy", "other_comparator", "later_study",
               "partial", "proxy_share", "note"]
    return pd.DataFrame(rows).reindex(columns=columns)


def fit_of(fits: pd.DataFrame, analysis: str, group=None):
    """The row of a :func:`fits_table` (``fits.csv``) for one analysis (and subgroup), or None."""
    sel = fits[fits["analysis"] == analysis]
    if "group" in sel:
        sel = sel[sel["group"].fillna("").astype(str) == ("" if group is None else str(group))]
    return sel.iloc[0] if len(sel) else None


def analysis_rows(analyses: dict[str, Analysis]) -> pd.DataFrame:
    """The studies each analysis pooled (one row each), with flags and marks (``analysis_rows.csv``)."""
    frames = []
    for a in analyses.values():
        if len(a.data):
            frames.append(a.data.assign(analysis=a.name))
    if not frames:
        return pd.DataFrame(columns=["analysis", "study_id", "label", "yi", "vi", "n", "marks"])
    table = pd.concat(frames, ignore_index=True)
    first = ["analysis", "study_id", "label", "yi", "vi", "n", "marks", "proxy", "other_comparator", "later_study",
             "partial"]
    return table[first + [c for c in table.columns if c not in first]]


def choices_table(analyses: dict[str, Analysis]) -> pd.DataFrame:
    """Where a study had several effects in an analysis: which one was kept, which dropped, and why."""
    frames = [a.choices.assign(analysis=a.label) for a in analyses.values() if len(a.choices)]
    if not frames:
        return pd.DataFrame(columns=["analysis", "study_id", "kept", "dropped", "decided_by"])
    table = pd.concat(frames, ignore_index=True)
    return table[["analysis", "study_id", "kept", "dropped", "decided_by"]]


def display_table(fits: pd.DataFrame, transform=None) -> pd.DataFrame:
    """:func:`fits_table` on the display scale (e.g. r), with the columns a reader needs.

    ``test`` names the leading test; the z interval and p follow it. τ² stays on the analysis
    scale. Rounding is left to :func:`display.formatted`.
    """
    f = transform or (lambda x: x)
    shown = fits[["label", "k", "n", "test", "estimate", "ci_low", "ci_high", "pval", "ci_low_z", "ci_high_z",
                  "pval_z", "i2", "tau2", "pi_low", "pi_high", "pi_dist", "note"]].copy()
    for col in ("estimate", "ci_low", "ci_high", "ci_low_z", "ci_high_z", "pi_low", "pi_high"):
        shown[col] = f(shown[col].astype(float))
    shown["test"] = [name_of_test(t) if isinstance(t, str) else t for t in shown["test"]]
    return shown.rename(columns={"label": "analysis"})


def run_subgroups(review: Review, analyses: dict[str, Analysis], method: str = "REML", test: str = "z",
                  level: float = 0.95, transform=None, rules: SmallKRules = RULES) -> pd.DataFrame:
    """Subgroup tests that ``review.json`` lists, only when every group has ``min_k_group`` studies.

    Otherwise the groups are shown with their k and the row says which group was too small.
    ``test`` is the leading test; the subgroup model (metafor's mixed-effects model) has no
    modified Hartung–Knapp here, so under ``"adhoc"`` it uses Hartung–Knapp and ``test`` says so.
    """
    f = transform or (lambda x: x)
    test = "knha" if test == "adhoc" else test
    rows = []
    for spec in review.meta.get("subgroups", []):
        data = analyses[spec["analysis"]].data
        data = data[~data[spec["by"]].isin(["", "unknown", "unclear"])] if len(data) else data
        groups = data[spec["by"]].value_counts().sort_index() if len(data) else pd.Series(dtype=int)
        base = {"subgroup_test": spec["label"], "by": spec["by"]}
        small = [f"{g} (k = {k})" for g, k in groups.items() if k < rules.min_k_group]
        if len(groups) < 2 or small:
            why = (f"{len(groups)} group(s) with a known {spec['by']}" if len(groups) < 2 else
                   f"fewer than {rules.min_k_group} studies in " + ", ".join(small))
            rows.append({**base, "group": "; ".join(f"{g}: k = {k}" for g, k in groups.items()),
                         "note": f"not tested: {why}"})
            continue
        res = subgroup_analysis(data["yi"], data["vi"], data[spec["by"]], method=method, test=test, level=level)
        for g in res.groups.itertuples():
            rows.append({**base, "group": g.group, "k": g.k, "test": name_of_test(test), "estimate": f(g.estimate),
                         "ci_low": f(g.ci_low), "ci_high": f(g.ci_high), "q_between_separate": res.q_between_separate,
                         "p_separate": res.q_between_separate_p, "q_between_common": res.q_between_common,
                         "p_common": res.q_between_common_p, "note": ""})
    columns = ["subgroup_test", "by", "group", "k", "test", "estimate", "ci_low", "ci_high", "q_between_separate",
               "p_separate", "q_between_common", "p_common", "note"]
    return pd.DataFrame(rows, columns=columns)


def subgroup_fits(review: Review, analyses: dict[str, Analysis], level: float = 0.95,
                  rules: SmallKRules = RULES) -> pd.DataFrame:
    """Subtotal fits of each analysis drawn in blocks (``"forest_by"``), for notebook 04's forest plots."""
    rows = []
    for spec in review.meta["analyses"]:
        a, by = analyses[spec["name"]], spec.get("forest_by")
        if not by or not a.fits:
            continue
        for group, block in a.data.groupby(by, sort=True):
            fits = fit_both(block["yi"], block["vi"], a.method, level, rules)
            if fits:
                rows.append({"analysis": a.name, "group": group, "k": len(block), **_fit_columns(fits, a.test, rules)})
    return pd.DataFrame(rows)


def heterogeneity_table(analyses: dict[str, Analysis], level: float = 0.95) -> pd.DataFrame:
    """τ², I² and H² with Q-profile intervals for every random-effects analysis (k ≥ 2).

    An upper bound at the Q-profile search limit is not an estimate: ``tau2_ci_high_at_limit``
    says so, and the display shows it as "> limit".
    """
    rows = []
    for a in analyses.values():
        if a.fit is None or a.fit.method == "FE":
            continue
        ci = tau2_ci(a.fit, level=level)
        rows.append({"analysis": a.label, "k": a.fit.k, "tau2": ci.tau2, "tau2_ci_low": ci.tau2_low,
                     "tau2_ci_high": ci.tau2_high, "tau2_ci_high_at_limit": ci.tau2_high_at_limit,
                     "i2": a.fit.i2, "i2_ci_low": ci.i2_low, "i2_ci_high": ci.i2_high, "h2": a.fit.h2,
                     "q": a.fit.q, "q_p": a.fit.q_p})
    return pd.DataFrame(rows)


def heterogeneity_view(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`heterogeneity_table` for display: an upper τ² bound at the search limit reads
    "> limit (search limit)", not as a number; the flag column then goes."""
    if table.empty:
        return show(table)
    shown = show(table.drop(columns=["tau2_ci_high_at_limit"]))
    at_limit = table["tau2_ci_high_at_limit"].astype(bool).to_numpy()
    shown.loc[at_limit, "tau2 ci high"] = [f"> {x:g} (search limit)" for x in table.loc[at_limit, "tau2_ci_high"]]
    return shown


def leave_one_out_tables(analyses: dict[str, Analysis], level: float = 0.95, min_k: int = 3,
                         transform=None) -> list:
    """(label, table) of :func:`leave_one_out` for every analysis with at least ``min_k`` studies."""
    f = transform or (lambda x: x)
    out = []
    for a in analyses.values():
        if a.fit is None or a.k < min_k:
            continue
        table = leave_one_out(a.data["yi"], a.data["vi"], method=a.fit.method, test=a.test, level=level,
                              labels=a.data["label"])
        for col in ("estimate", "ci_low", "ci_high"):
            table[col] = f(table[col])
        out.append((a.label, table[["left_out", "estimate", "ci_low", "ci_high", "pval", "tau2", "i2"]]))
    return out


def estimator_table(analyses: dict[str, Analysis], level: float = 0.95, transform=None) -> pd.DataFrame:
    """:func:`compare_estimators` for every pooled analysis under each test, on the display scale.

    The fixed-effect (FE) model appears with z only: the Hartung–Knapp adjustment and its
    modification are random-effects methods, and metafor warns that they are not meant for a
    fixed-effect model (``rma(method="FE", test="knha")``; Hartung & Knapp 2001, Röver et al. 2015).
    """
    f = transform or (lambda x: x)
    frames = []
    for a in analyses.values():
        if a.fit is None:
            continue
        t = compare_estimators(a.data["yi"], a.data["vi"], tests=LEAD_TESTS, level=level)
        t = t[(t["method"] != "FE") | (t["test"] == "z")].reset_index(drop=True)
        for col in ("estimate", "ci_low", "ci_high"):
            t[col] = f(t[col])
        t.insert(0, "analysis", a.label)
        frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
