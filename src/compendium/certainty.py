"""Certainty of evidence (GRADE) for every pooled analysis, from the numbers and the risk-of-bias
sheet, and the summary-of-findings table in GRADEpro's layout (notebook 03, the report's landing page).
"""
from __future__ import annotations

import html
import math
from pathlib import Path

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


def _inconsistency(fit: pd.Series) -> tuple[int, str]:
    i2, tau = fit["i2"], math.sqrt(fit["tau2"]) if pd.notna(fit["tau2"]) else float("nan")
    pi = _spans_null(fit.get("pi_low"), fit.get("pi_high"))
    pi_text = ("prediction interval spans 0" if pi else "prediction interval excludes 0" if pd.notna(fit.get("pi_low"))
               else "no prediction interval (k < 3)")
    text = f"I² = {sentence_number(i2, 0)}%, τ = {sentence_number(tau, 3)}, {pi_text}"
    if i2 >= 75 and (pi or pd.isna(fit.get("pi_low"))):
        return 2, f"very serious: {text}"
    if i2 >= 50 or pi:
        return 1, f"serious: {text}"
    return 0, f"not serious: {text}"


def _indirectness(a: Analysis) -> tuple[int, str]:
    flags = [name for name in ("proxy", "other_comparator", "later_study")
             if name in a.data and a.data[name].astype(bool).any()]
    note = a.spec.get("mapping_note")
    if flags or note:
        what = ", ".join([f"{f.replace('_', ' ')} admitted" for f in flags] + ([f"mapping note: {note}"] if note else []))
        return 1, f"serious: {what}"
    return 0, "not serious: direct measures, the named comparison, no mapping note"


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


def _imprecision(fit: pd.Series, metric: str) -> tuple[int, str]:
    low, high, n = fit["ci_low"], fit["ci_high"], fit["n"]
    small = SMALL_EFFECT.get(metric)
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


def _publication_bias(a: Analysis, min_k: int = 10) -> tuple[int, str]:
    if a.k < min_k:
        return 0, f"not assessable: k = {a.k} < {min_k} (funnel asymmetry tests need 10 studies)"
    from meta_analysis.small_study import egger_test
    egger = egger_test(a.data["yi"].to_numpy(float), a.data["vi"].to_numpy(float))
    if egger.pval < 0.10:
        return 1, f"serious: Egger's test p = {sentence_number(egger.pval, 3)}"
    return 0, f"not serious: Egger's test p = {sentence_number(egger.pval, 3)}"


def certainty_table(review, analyses: dict[str, Analysis], fits: pd.DataFrame, overall: dict[str, str]) -> pd.DataFrame:
    """GRADE certainty of every pooled analysis (k ≥ 2), each domain with its reason.

    Start: high for randomised comparisons (an ``intervention`` review), low for observational
    designs. Downgrades (levels): risk of bias from the share of random-effects weight at high risk
    (≥ 50 % → 2; ≥ 25 %, or high plus some concerns / no information / not rated ≥ 50 % → 1);
    inconsistency (I² ≥ 75 % with a prediction interval spanning 0 or none → 2; I² ≥ 50 % or a
    prediction interval spanning 0 → 1); indirectness (proxies, other comparators, later studies
    admitted, or a mapping note → 1); imprecision (the leading interval ``ci_low``–``ci_high`` from a
    small harm to a small benefit → 2; spanning 0 or N below the optimal information size → 1);
    publication bias (not assessable below k = 10; Egger p < .10 → 1). Certainty = start − downgrades,
    not below very low.

    References
    ----------
    Guyatt GH et al. GRADE guidelines 1–9. J Clin Epidemiol 2011;64. Schünemann HJ et al. Cochrane
    Handbook for Systematic Reviews of Interventions, ch. 14 (2023).
    """
    metric = review.meta.get("display_metric", "")
    start = "high" if review.design == "intervention" else "low"
    rows = []
    for a in analyses.values():
        if not a.fits:
            continue
        fit = fits[fits["analysis"] == a.name].iloc[0]
        domains = {"risk_of_bias": _rob_domain(a.data, fit["tau2"], overall), "inconsistency": _inconsistency(fit),
                   "indirectness": _indirectness(a), "imprecision": _imprecision(fit, metric),
                   "publication_bias": _publication_bias(a)}
        down = sum(level for level, _ in domains.values())
        certainty = CERTAINTY[max(0, CERTAINTY.index(start) - down)]
        row = {"analysis": a.name, "label": a.label, "k": a.k, "n": fit["n"], "start": start}
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
