"""The analyses that a review's ``review.json`` lists: which rows enter, the fits, and the tables
of notebooks 03 and 04.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meta_analysis.heterogeneity import tau2_ci
from meta_analysis.influence import leave_one_out
from meta_analysis.models import MetaResult, compare_estimators, fit_meta
from meta_analysis.regression import subgroup_analysis
from meta_analysis.small_study import egger_test, trim_and_fill

from .sheets import Review


def select_one_per_study(effects: pd.DataFrame) -> pd.DataFrame:
    """Keep one effect per study for a pooled analysis, so that no sample counts twice.

    Priority: the construct measured directly over a proxy; post over follow-up; unadjusted over
    adjusted; then the lowest effect id. (The rule is stated, not tuned.)
    """
    if effects.empty:
        return effects
    keys = pd.DataFrame(index=effects.index)
    keys["proxy"] = (effects["outcome_proxy"] != "none") if "outcome_proxy" in effects else False
    keys["follow"] = (effects["timepoint"] == "follow_up") if "timepoint" in effects else False
    keys["adjusted"] = (effects["adjusted"] == "yes") if "adjusted" in effects else False
    id_col = "effect_id" if "effect_id" in effects else "outcome_id"
    keys["id"] = effects[id_col]
    order = keys.sort_values(["proxy", "follow", "adjusted", "id"]).index
    return effects.loc[order].drop_duplicates("study_id").sort_values(id_col)


def filter_rows(frame: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Rows whose columns take one of the listed values: ``{"column": [values], ...}``."""
    mask = pd.Series(True, index=frame.index)
    for column, values in spec.items():
        if column not in frame:
            raise KeyError(f"analysis filter names column {column!r}, which the sheet does not have")
        values = values if isinstance(values, list) else [values]
        mask &= frame[column].isin(values)
    return frame[mask]


def with_scope(frame: pd.DataFrame, studies: pd.DataFrame, core_only: bool) -> pd.DataFrame:
    """Drop edge-of-scope rows (study- or row-level ``scope_flag``) when ``core_only``."""
    if not core_only or "scope_flag" not in studies:
        return frame
    flagged = set(studies.loc[~studies["scope_flag"].isin(["", "none"]), "study_id"])
    keep = ~frame["study_id"].isin(flagged)
    if "scope_flag" in frame:
        keep &= frame["scope_flag"].isin(["", "none"])
    return frame[keep]


TRANSFORMS = {"tanh": np.tanh, None: None, "none": None}


@dataclass(frozen=True)
class Analysis:
    """One pooled analysis: its specification, the studies it pooled and the fit (None if k = 0)."""

    name: str
    label: str
    data: pd.DataFrame
    fit: MetaResult | None
    published: str | None
    note: str


def run_analyses(review: Review, converted: pd.DataFrame, method: str = "REML", test: str = "z",
                 level: float = 0.95, core_only: bool = False) -> dict[str, Analysis]:
    """Fit every analysis that ``review.json`` lists, one effect per study (:func:`select_one_per_study`).

    k = 0: nothing to fit; k = 1: the single study is reported as a common-effect "pool" of one;
    k = 2 under HKSJ falls back to nothing special (t with 1 df), as metafor would.
    """
    out = {}
    studies = review.sheets["studies"]
    for spec in review.meta["analyses"]:
        rows = filter_rows(converted, spec["filter"]) if len(converted) else converted
        rows = with_scope(rows, studies, core_only) if len(rows) else rows
        rows = select_one_per_study(rows) if len(rows) else rows
        note = ""
        if len(rows) == 0:
            fit, note = None, "no convertible study in our extraction"
        elif len(rows) == 1:
            fit, note = fit_meta(rows["yi"], rows["vi"], method="FE", level=level), "single study, not pooled"
        else:
            fit = fit_meta(rows["yi"], rows["vi"], method=method, test=test, level=level)
        out[spec["name"]] = Analysis(spec["name"], spec["label"], rows, fit, spec.get("published"), note)
    return out


def analyses_table(analyses: dict[str, Analysis], transform: str | None = None, digits: int = 3) -> pd.DataFrame:
    """Tidy table of all analyses: k, N, estimate with CI, p, Q, I², τ², prediction interval.

    Estimates and intervals are shown on the display scale (``transform``, e.g. Fisher z → r);
    τ² stays on the analysis scale.
    """
    f = TRANSFORMS[transform] or (lambda x: x)
    rows = []
    for a in analyses.values():
        fit = a.fit
        row = {"analysis": a.label, "k": 0 if fit is None else fit.k,
               "n": int(a.data["n"].sum()) if len(a.data) else 0}
        if fit is not None:
            row.update(estimate=f(fit.estimate), ci_low=f(fit.ci_low), ci_high=f(fit.ci_high), pval=fit.pval,
                       q=fit.q, i2=fit.i2, tau2=fit.tau2, pi_low=f(fit.pi_low), pi_high=f(fit.pi_high))
        row["note"] = a.note
        rows.append(row)
    return pd.DataFrame(rows).round(digits)


def reproduction_table(review: Review, analyses: dict[str, Analysis], transform: str | None = None) -> pd.DataFrame:
    """Every published headline number of the review beside ours, with k and CI."""
    f = TRANSFORMS[transform] or (lambda x: x)
    published = review.published
    by_name = {a.published: a for a in analyses.values() if a.published}
    subgroup_specs = {s.get("published"): s for s in review.meta.get("subgroups", []) if s.get("published")}
    rows = []
    for p in published.itertuples():
        if p.metric == "count":
            continue
        row = {"review": review.review_id, "analysis": p.analysis, "metric": p.metric,
               "published_estimate": p.estimate, "published_p": p.p}
        a = by_name.get(p.analysis)
        if a is None and p.analysis in subgroup_specs:
            row["note"] = "subgroup: see the subgroup table"
        elif a is None or a.fit is None:
            row["note"] = "no convertible study in our extraction" if a else "no matching analysis"
        else:
            row.update(our_k=a.fit.k, our_n=int(a.data["n"].sum()), our_estimate=f(a.fit.estimate),
                       our_ci_low=f(a.fit.ci_low), our_ci_high=f(a.fit.ci_high), our_p=a.fit.pval,
                       our_i2=a.fit.i2, note=a.note)
        if pd.isna(p.estimate) and ":" in str(p.source):
            published_note = "published: " + str(p.source).split(":", 1)[1].strip()
            row["note"] = "; ".join(x for x in (published_note, row.get("note", "")) if x)
        rows.append(row)
    columns = ["review", "analysis", "metric", "published_estimate", "published_p", "our_k", "our_n",
               "our_estimate", "our_ci_low", "our_ci_high", "our_p", "our_i2", "note"]
    return pd.DataFrame(rows, columns=columns)


def run_subgroups(review: Review, analyses: dict[str, Analysis], method: str = "REML", test: str = "z",
                  level: float = 0.95, transform: str | None = None) -> pd.DataFrame:
    """Subgroup tests that ``review.json`` lists; rows say why a test was not possible."""
    f = TRANSFORMS[transform] or (lambda x: x)
    rows = []
    for spec in review.meta.get("subgroups", []):
        data = analyses[spec["analysis"]].data
        data = data[~data[spec["by"]].isin(["", "unknown", "unclear"])] if len(data) else data
        groups = data[spec["by"]].value_counts() if len(data) else pd.Series(dtype=int)
        base = {"subgroup_test": spec["label"], "by": spec["by"]}
        if len(groups) < 2 or len(data) < 3:
            rows.append({**base, "note": f"not estimable: {len(data)} studies in {len(groups)} group(s) with a known {spec['by']}"})
            continue
        res = subgroup_analysis(data["yi"], data["vi"], data[spec["by"]], method=method, test=test, level=level)
        for g in res.groups.itertuples():
            rows.append({**base, "group": g.group, "k": g.k, "estimate": f(g.estimate), "ci_low": f(g.ci_low),
                         "ci_high": f(g.ci_high), "q_between_separate": res.q_between_separate,
                         "p_separate": res.q_between_separate_p, "q_between_common": res.q_between_common,
                         "p_common": res.q_between_common_p, "note": ""})
    return pd.DataFrame(rows)


def heterogeneity_table(analyses: dict[str, Analysis], level: float = 0.95) -> pd.DataFrame:
    """τ², I² and H² with Q-profile confidence intervals for every random-effects analysis (k ≥ 2)."""
    rows = []
    for a in analyses.values():
        if a.fit is None or a.fit.k < 2 or a.fit.method == "FE":
            continue
        ci = tau2_ci(a.fit, level=level)
        rows.append({"analysis": a.label, "k": a.fit.k, "tau2": ci.tau2, "tau2_ci_low": ci.tau2_low,
                     "tau2_ci_high": ci.tau2_high, "i2": a.fit.i2, "i2_ci_low": ci.i2_low,
                     "i2_ci_high": ci.i2_high, "h2": a.fit.h2, "q": a.fit.q, "q_p": a.fit.q_p})
    return pd.DataFrame(rows)


def leave_one_out_tables(analyses: dict[str, Analysis], method: str = "REML", test: str = "z",
                         level: float = 0.95, min_k: int = 3, digits: int = 3) -> list:
    """(label, table) of :func:`leave_one_out` for every analysis with at least ``min_k`` studies."""
    out = []
    for a in analyses.values():
        if a.fit is None or a.fit.k < min_k:
            continue
        table = leave_one_out(a.data["yi"], a.data["vi"], method=method, test=test, level=level, labels=a.data["label"])
        out.append((a.label, table[["left_out", "estimate", "ci_low", "ci_high", "pval", "tau2", "i2"]].round(digits)))
    return out


def estimator_table(analyses: dict[str, Analysis], level: float = 0.95, transform: str | None = None) -> pd.DataFrame:
    """:func:`compare_estimators` for every analysis with k ≥ 2, on the display scale."""
    f = TRANSFORMS[transform] or (lambda x: x)
    frames = []
    for a in analyses.values():
        if a.fit is None or a.fit.k < 2:
            continue
        t = compare_estimators(a.data["yi"], a.data["vi"], level=level)
        for col in ("estimate", "ci_low", "ci_high"):
            t[col] = f(t[col])
        t.insert(0, "analysis", a.label)
        frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def reproduction_all(reviews: dict[str, Review], results: dict[str, dict]) -> pd.DataFrame:
    """:func:`reproduction_table` for every review, stacked."""
    frames = [reproduction_table(r, results[name], r.meta.get("transform")) for name, r in reviews.items()]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else reproduction_table(next(iter(reviews.values())), {})


def small_study_table(analyses: dict, method: str = "REML", min_k: int = 3, transform: str | None = None) -> pd.DataFrame:
    """Egger's test (rma form) and trim-and-fill for every analysis with at least ``min_k`` studies.

    With fewer than 10 studies both have little power (Sterne et al. 2011): the table says so
    rather than leaving the numbers to speak alone.
    """
    f = TRANSFORMS[transform] or (lambda x: x)
    rows = []
    for a in analyses.values():
        k = 0 if a.fit is None else a.fit.k
        if k < min_k:
            rows.append({"analysis": a.label, "k": k, "note": f"not tested: k < {min_k}"})
            continue
        eg = egger_test(a.data["yi"], a.data["vi"], model="rma", method=method)
        tf = trim_and_fill(a.data["yi"], a.data["vi"], method=method)
        rows.append({"analysis": a.label, "k": k, "egger_z": eg.stat, "egger_p": eg.pval,
                     "limit_estimate": f(eg.limit_estimate), "k0_filled": tf.k0, "side": tf.side,
                     "adjusted_estimate": f(tf.fit.estimate), "adjusted_ci_low": f(tf.fit.ci_low),
                     "adjusted_ci_high": f(tf.fit.ci_high),
                     "note": "low power: k < 10" if k < 10 else ""})
    return pd.DataFrame(rows)
