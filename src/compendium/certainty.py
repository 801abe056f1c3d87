"""Certainty of evidence (GRADE) for every pooled analysis, from the numbers and the risk-of-bias
sheet, and the summary-of-findings table in GRADEpro's layout (notebook 03, the report's landing page).
"""
from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .analyses import Analysis
from .display import sentence_number
from .small_k import name_of_test

CERTAINTY = ["very low", "low", "moderate", "high"]
SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very low": "⊕◯◯◯"}
SMALL_EFFECT = {"r": math.atanh(0.1), "g": 0.2, "d": 0.2, "SMD": 0.2}  # Cohen's small effect, analysis scale

def _re_weights(data: pd.DataFrame, tau2: float) -> pd.Series:
    w = 1.0 / (data["vi"].astype(float) + (0.0 if pd.isna(tau2) else float(tau2)))
    return w / w.sum()


def _rob_domain(data: pd.DataFrame, tau2: float, overall: dict[str, str]) -> tuple[int, str]:
    w = _re_weights(data, tau2)
    judged = data["study_id"].map(lambda study: overall.get(study, "not rated"))
    high = float(w[judged == "high"].sum())
    concerns = float(w[judged.isin(["some concerns", "no information", "not rated"])].sum())
    shares = (f"{sentence_number(100 * high, 0)}% of the weight at high risk, {sentence_number(100 * concerns, 0)}% "
              f"at some concerns or not rated")
    if high >= 0.5:
        return 2, f"very serious: {shares}"
    if high >= 0.25 or high + concerns >= 0.5:
        return 1, f"serious: {shares}"
    return 0, f"not serious: {shares}"


def _spans_null(low, high) -> bool:
    return pd.notna(low) and pd.notna(high) and low <= 0 <= high


def _two_studies(data: pd.DataFrame, level: float) -> tuple[int, str]:
    """Inconsistency of two studies from their own estimates: direction (sides of 0) and overlap of their CIs."""
    from scipy.stats import norm
    yi, vi = data["yi"].to_numpy(float), data["vi"].to_numpy(float)
    half = float(norm.ppf(0.5 + level / 2)) * np.sqrt(vi)
    low, high = yi - half, yi + half
    same_side = bool(np.sign(yi[0]) * np.sign(yi[1]) > 0)
    no_direction = bool((low <= 0).all() and (high >= 0).all())  # neither study shows a direction
    overlap = bool(max(low) <= min(high))
    ids = list(data["study_id"].astype(str))
    side = ("same side of 0" if same_side else "opposite sides of 0, both CIs include 0" if no_direction
            else "opposite sides of 0")
    same_side = same_side or no_direction
    text = (f"k = 2: {ids[0]} {sentence_number(yi[0])} ({sentence_number(low[0])} to {sentence_number(high[0])}), "
            f"{ids[1]} {sentence_number(yi[1])} ({sentence_number(low[1])} to {sentence_number(high[1])}); "
            f"{side}, CIs {'overlap' if overlap else 'do not overlap'}")
    return (0 if same_side and overlap else 2 if not (same_side or overlap) else 1), text


def _inconsistency(fit: pd.Series, data: pd.DataFrame | None = None) -> tuple[int, str]:
    i2, tau = fit["i2"], math.sqrt(fit["tau2"]) if pd.notna(fit["tau2"]) else float("nan")
    stats = f"I² = {sentence_number(i2, 0)}%, τ = {sentence_number(tau, 3)}"
    if pd.isna(fit.get("pi_low")) and data is not None and len(data) == 2:  # no prediction interval: read the two studies
        level, text = _two_studies(data, float(fit.get("level", 0.95)) if pd.notna(fit.get("level")) else 0.95)
        return level, f"{('not serious', 'serious', 'very serious')[level]}: {text} ({stats})"
    pi = _spans_null(fit.get("pi_low"), fit.get("pi_high"))
    pi_text = ("prediction interval spans 0" if pi else "prediction interval excludes 0" if pd.notna(fit.get("pi_low"))
               else "no prediction interval (k < 3)")
    text = f"{stats}, {pi_text}"
    if i2 >= 75 and (pi or pd.isna(fit.get("pi_low"))):
        return 2, f"very serious: {text}"
    if i2 >= 50 or pi:
        return 1, f"serious: {text}"
    return 0, f"not serious: {text}"


def _indirectness(a: Analysis, review_design: str | None = None) -> tuple[int, str]:
    # the same mapping flags as comparison.csv (``mapping_uncertain`` and ``why``), so the two tables agree
    from .comparison import mapping_reasons
    flags = [name for name in ("proxy", "other_comparator", "later_study")
             if name in a.data and a.data[name].astype(bool).any()]
    why = mapping_reasons(a.data, a.spec.get("mapping_note"), review_design)
    if flags or why:
        what = "; ".join([f"{f.replace('_', ' ')} admitted" for f in flags] + [f"mapping: {w}" for w in why])
        return 1, f"serious: {what}"
    return 0, "not serious: direct measures, the named comparison, no mapping flag"


def optimal_information_size(small: float, metric: str, alpha: float = 0.05, power: float = 0.8) -> float:
    """Participants a single trial would need to detect a small effect (GRADE's optimal information size).

    SMD: N = 4 (z₁₋α/₂ + z₁₋β)² / δ² (two equal arms); correlation on Fisher's z: N = ((z₁₋α/₂ + z₁₋β)/ζ)² + 3.

    References
    ----------
    Guyatt GH et al. GRADE guidelines 6: rating the quality of evidence—imprecision.
    J Clin Epidemiol 2011;64:1283–1293.
    """
    from scipy.stats import norm
    z = float(norm.ppf(1 - alpha / 2)) + float(norm.ppf(power))
    return (z / small) ** 2 + 3 if metric == "r" else 4 * z ** 2 / small ** 2


def _common_effect_interval(data: pd.DataFrame, level: float) -> tuple[float, float]:
    """The common-effect (τ² = 0) z interval: sampling error alone, no heterogeneity in its width."""
    from meta_analysis.models import fit_meta
    fit = fit_meta(data["yi"].to_numpy(float), data["vi"].to_numpy(float), method="FE", test="z", level=level)
    return fit.ci_low, fit.ci_high


def _imprecision(fit: pd.Series, metric: str, data: pd.DataFrame | None = None,
                 inconsistent: bool = False) -> tuple[int, str]:
    low, high, n = fit["ci_low"], fit["ci_high"], fit["n"]
    small = SMALL_EFFECT.get(metric)
    if inconsistent and data is not None and len(data) >= 2:  # heterogeneity already counted: not twice
        level = float(fit["level"]) if pd.notna(fit.get("level")) else 0.95
        low, high = _common_effect_interval(data, level)
        parts = [f"common-effect interval {sentence_number(low)} to {sentence_number(high)} (analysis scale; "
                 f"the leading interval {sentence_number(fit['ci_low'])} to {sentence_number(fit['ci_high'])} is widened "
                 f"by the heterogeneity that inconsistency already counts)"]
    else:
        parts = [f"interval {sentence_number(low)} to {sentence_number(high)} (analysis scale)"]
    spans = _spans_null(low, high)
    parts.append("spans 0" if spans else "excludes 0")
    short = False
    if small is not None:
        ois = optimal_information_size(small, metric)
        short = pd.notna(n) and n < ois
        parts.append(f"N = {int(n)} {'<' if short else '≥'} optimal information size {math.ceil(ois)}")
        if low <= -small and high >= small:
            return 2, "very serious: " + ", ".join(parts) + f", from a small harm to a small benefit (±{sentence_number(small)})"
    if spans or short:
        return 1, "serious: " + ", ".join(parts)
    return 0, "not serious: " + ", ".join(parts)


SIGNIFICANCE_ONLY = "only direction and significance are printed"  # row_conversions' reason for such rows


def non_reporting(review, a: Analysis, not_converted: pd.DataFrame | None) -> dict:
    """What the extraction shows about the results an analysis could not pool (its question, not its pool).

    The rows notebook 02 could not convert (``not_converted``) pass the analysis's own filter, design
    and admission rule (:mod:`admission`); the studies among them that the analysis does not pool
    answer its question without a number we can use. Counted per study: ``pooled`` (k), ``unpooled``,
    ``significance_only`` (every row in the question prints only direction or significance),
    ``number_not_usable`` (a number is printed but cannot be converted), and by the printed
    significance: ``pooled_significant`` (of the pooled), ``unpooled_null`` and ``unpooled_stated``
    (unpooled studies whose rows all say not significant / that state a significance at all).
    """
    from .admission import admission_flags, admit, filter_design, filter_rows
    pooled = set(a.data["study_id"]) if len(a.data) else set()
    sig = a.data["significant"].astype(str) if "significant" in a.data else pd.Series(dtype=str)
    counts = {"pooled": len(pooled), "pooled_significant": int((sig == "yes").sum()), "unpooled": 0,
              "significance_only": 0, "number_not_usable": 0, "unpooled_null": 0, "unpooled_stated": 0}
    if not_converted is None or not len(not_converted):
        return counts
    try:
        rows = filter_design(filter_rows(admission_flags(not_converted, review.meta), a.spec["filter"]), a.spec)
    except KeyError:  # a filter column the unconverted rows lack: nothing to count
        return counts
    rows = admit(rows, a.rule) if len(rows) else rows
    rows = rows[~rows["study_id"].isin(pooled)]
    for _, block in rows.groupby("study_id", sort=True):
        counts["unpooled"] += 1
        only = (block["reason"] == SIGNIFICANCE_ONLY).all() if "reason" in block else False
        counts["significance_only" if only else "number_not_usable"] += 1
        stated = block["significant"].astype(str).isin(["yes", "no"]) if "significant" in block else block["study_id"] == ""
        if stated.any():
            counts["unpooled_stated"] += 1
            counts["unpooled_null"] += int((block.loc[stated, "significant"] == "no").all())
    return counts


def _publication_bias(a: Analysis, counts: dict | None = None, min_k: int = 10) -> tuple[int, str]:
    reasons, down = [], 0
    if a.k < min_k:
        reasons.append(f"k = {a.k} < {min_k} (funnel asymmetry tests need 10 studies)")
    else:
        from meta_analysis.small_study import egger_test
        egger = egger_test(a.data["yi"].to_numpy(float), a.data["vi"].to_numpy(float))
        reasons.append(f"Egger's test p = {sentence_number(egger.pval, 3)}")
        down = int(egger.pval < 0.10)
    if counts is not None:
        c = counts
        reasons.append(f"of {c['pooled'] + c['unpooled']} studies in the question {c['pooled']} give a number we pool, "
                       f"{c['significance_only']} print only direction or significance, {c['number_not_usable']} a number "
                       f"we cannot convert")
        more_unusable = c["significance_only"] > c["pooled"]
        if c["unpooled_stated"]:
            reasons.append(f"{c['pooled_significant']} of {c['pooled']} pooled significant, {c['unpooled_null']} of "
                           f"{c['unpooled_stated']} unpooled with a stated significance not significant")
        skewed = (c["pooled"] and c["pooled_significant"] > c["pooled"] / 2 and c["unpooled_stated"]
                  and c["unpooled_null"] > c["unpooled_stated"] / 2)
        if more_unusable or skewed:
            down = 1
            reasons.append("selective non-reporting suspected: "
                           + " and ".join(w for w, flag in (("more studies report only significance than a usable number",
                                                             more_unusable),
                                                            ("the pooled are mostly significant, the unpooled mostly null",
                                                             skewed)) if flag))
    return down, ("serious: " if down else "not serious: " if counts is not None or a.k >= min_k
                  else "not assessable: ") + "; ".join(reasons)


START_REASONS = {
    "high": "randomised trials (between-arm comparisons of an intervention review) start high (Guyatt et al. 2011, GRADE 1)",
    "low": ("observational associations start low: the question is whether help seeking and symptoms are related as "
            "an exposure and its effect, which GRADE starts low from observational designs (Balshem et al. 2011, "
            "GRADE 3); GRADE starts observational evidence high only for prognostic questions answered by cohorts "
            "(Iorio et al. 2015; Foroutan et al. 2020), and most of these studies are cross-sectional, without the "
            "follow-up a prognostic estimate needs"),
}


def certainty_table(review, analyses: dict[str, Analysis], fits: pd.DataFrame, overall: dict[str, str],
                    not_converted: pd.DataFrame | None = None) -> pd.DataFrame:
    """GRADE certainty of every pooled analysis (k ≥ 2), each domain with its reason.

    Start (``start``, with ``start_reason``): high for randomised comparisons (an ``intervention``
    review); low for observational associations (a ``correlational`` or ``generic`` review): an
    exposure–outcome question answered from observational designs starts low (Balshem et al. 2011);
    GRADE's start at high for observational evidence is for prognostic questions answered by
    cohorts (Iorio et al. 2015; Foroutan et al. 2020), and review A's studies are mostly
    cross-sectional. Downgrades (levels): risk of bias from the share of random-effects weight at
    high risk (≥ 50 % → 2; ≥ 25 %, or high plus some concerns / no information / not rated ≥ 50 % → 1);
    inconsistency from k = 3 (I² ≥ 75 % with a prediction interval spanning 0 → 2; I² ≥ 50 % or a
    prediction interval spanning 0 → 1); at k = 2, where there is no prediction interval and I² rests
    on one degree of freedom, from the two studies' own estimates and CIs (level of the fit):
    the two agree in direction (point estimates on the same side of 0, or both CIs include 0, so
    neither shows a direction) and their CIs overlap → 0; one of the two → 1; neither → 2 (GRADE 7:
    similarity of point estimates and overlap of CIs); indirectness (proxies, other
    comparators, later studies admitted, or any mapping flag of :func:`comparison.mapping_reasons`,
    the ``why`` of comparison.csv → 1); imprecision (the interval from a small harm to a small benefit
    → 2; spanning 0 or N below the optimal information size → 1), read on the leading interval
    ``ci_low``–``ci_high``, except where inconsistency is downgraded: the random-effects interval is
    then widened by the heterogeneity already counted, so imprecision is read on the common-effect
    (τ² = 0) z interval, sampling error alone, and one concern is not counted twice (Schünemann et al.,
    Cochrane Handbook ch. 14; Guyatt et al. 2011, GRADE 6); publication bias
    (→ 1): Egger's test p < .10 from k = 10, and at any k selective non-reporting read from the
    extraction (:func:`non_reporting`, given ``not_converted``): more studies in the analysis's
    question print only direction or significance than give a number we pool, or the pooled
    studies are mostly significant while the unpooled ones with a stated significance are mostly
    not. Certainty = start − downgrades, not below very low.

    References
    ----------
    Guyatt GH et al. GRADE guidelines 1–9. J Clin Epidemiol 2011;64 (5: publication bias; 6: imprecision;
    7: inconsistency).
    Balshem H et al. GRADE guidelines 3: rating the quality of evidence. J Clin Epidemiol 2011;64:401.
    Iorio A et al. Use of GRADE for assessment of evidence about prognosis. BMJ 2015;350:h870.
    Foroutan F et al. GRADE Guidelines 28: prognostic factors. J Clin Epidemiol 2020;121:62.
    Page MJ, Higgins JPT, Sterne JAC. Cochrane Handbook ch. 13 (missing evidence); Schünemann HJ et
    al. ch. 14 (2023).
    """
    metric = review.meta.get("display_metric", "")
    start = "high" if review.design == "intervention" else "low"
    rows = []
    for a in analyses.values():
        if not a.fits:
            continue
        fit = fits[fits["analysis"] == a.name].iloc[0]
        counts = non_reporting(review, a, not_converted) if not_converted is not None else None
        inconsistency = _inconsistency(fit, a.data)
        domains = {"risk_of_bias": _rob_domain(a.data, fit["tau2"], overall), "inconsistency": inconsistency,
                   "indirectness": _indirectness(a, review.design),
                   "imprecision": _imprecision(fit, metric, a.data, inconsistent=inconsistency[0] > 0),
                   "publication_bias": _publication_bias(a, counts)}
        down = sum(level for level, _ in domains.values())
        certainty = CERTAINTY[max(0, CERTAINTY.index(start) - down)]
        row = {"analysis": a.name, "label": a.label, "k": a.k, "n": fit["n"], "start": start,
               "start_reason": START_REASONS[start]}
        for name, (level, reason) in domains.items():
            row[name] = -level
            row[f"{name}_reason"] = reason
        row.update(downgrades=down, certainty=certainty, symbols=SYMBOLS[certainty])
        rows.append(row)
    return pd.DataFrame(rows)


_PHRASES = {"high": "{label}: {metric} = {est} ({lo} to {hi}) from {k} studies; the true effect is probably close to this.",
            "moderate": "{label}: {metric} = {est} ({lo} to {hi}) from {k} studies; the true effect is probably close to this, but may differ.",
            "low": "{label}: {metric} may be {est} ({lo} to {hi}), from {k} studies; the true effect may be substantially different.",
            "very low": "{label}: we are very uncertain; {metric} = {est} ({lo} to {hi}) from {k} studies."}


def summary_of_findings(review, certainty: pd.DataFrame, fits: pd.DataFrame) -> pd.DataFrame:
    """The summary-of-findings table in GRADEpro's layout, one row per pooled analysis.

    Columns: outcome, studies, participants, the effect and its interval under the leading test
    (``ci_low``, ``ci_high`` of :func:`analyses.fits_table`) on the display scale, certainty with its
    ⊕ symbols, a plain-language sentence built from the numbers (GRADE's wording by certainty:
    Santesso et al. 2020, J Clin Epidemiol 119:126) and comments (the domains downgraded).
    """
    from .analyses import transform_of
    f = transform_of(review)
    metric = review.meta.get("display_metric", "the estimate")
    rows = []
    for c in certainty.itertuples(index=False):
        fit = fits[fits["analysis"] == c.analysis].iloc[0]
        est, lo, hi = f(fit["estimate"]), f(fit["ci_low"]), f(fit["ci_high"])
        sentence = _PHRASES[c.certainty].format(label=c.label, metric=metric, est=sentence_number(est),
                                                lo=sentence_number(lo), hi=sentence_number(hi), k=c.k)
        down = [f"{name.replace('_', ' ')} ({getattr(c, name)})" for name in
                ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias") if getattr(c, name) < 0]
        rows.append({"outcome": c.label, "studies": c.k, "participants": c.n, "metric": metric, "estimate": est,
                     "ci_low": lo, "ci_high": hi, "test": fit["test"], "certainty": c.certainty, "symbols": c.symbols,
                     "plain_language": sentence,
                     "comments": ("downgraded for " + ", ".join(down)) if down else "not downgraded"})
    return pd.DataFrame(rows)


def findings_html(tables_dir: Path | str, names: dict[str, str] | None = None) -> str:
    """The summary-of-findings tables of every review (``<review>_summary_of_findings.csv``) for the landing
    page, each headed by its review's name (``names``: folder → "Author et al. year") and its leading test named
    in words."""
    from .display import show, table_html
    from .files import read_table
    parts = []
    for path in sorted(Path(tables_dir).glob("*_summary_of_findings.csv")):
        table = read_table(path)
        if not len(table):
            continue
        review = path.name[: -len("_summary_of_findings.csv")]
        view = table.assign(certainty=table["symbols"] + " " + table["certainty"],
                            test=table["test"].map(lambda t: name_of_test(t) if isinstance(t, str) else t)
                            ).drop(columns=["symbols", "metric"])
        parts.append(f"<h3>{html.escape((names or {}).get(review, review))}</h3>" + table_html(show(view)))
    if not parts:
        return ""
    return ("<h2>How sure can we be: summary of findings</h2><p>GRADE certainty of every pooled analysis (notebook 03; "
            "each domain's reason in <code>tables/&lt;review&gt;_certainty.csv</code>), with the estimate and the interval "
            "of the leading test on each review's display scale.</p>" + "".join(parts))
