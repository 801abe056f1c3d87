"""Appraisal of what is pooled: risk of bias per study (RoB 2 for randomised trials, the JBI checklist
for analytical cross-sectional studies), robvis-style figures, sensitivity variants by risk of bias,
GRADE certainty of every pooled analysis and a summary-of-findings table (notebooks 01 and 03).

The sheet ``data/raw/<review>/risk_of_bias.csv`` is optional: one row per study and domain, each
with the quote or fact it rests on. A study that is not in it is *not rated* (never low or high).
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from meta_analysis.small_study import egger_test

from .analyses import Analysis
from .display import sentence_number
from .sensitivity import _variant_row
from .small_k import RULES, SmallKRules

ROB2_DOMAINS = {"D1": "Randomisation process", "D2": "Deviations from intended interventions",
                "D3": "Missing outcome data", "D4": "Measurement of the outcome",
                "D5": "Selection of the reported result"}
JBI_ITEMS = {"Q1": "Inclusion criteria defined", "Q2": "Subjects and setting described",
             "Q3": "Exposure measured validly", "Q4": "Condition by objective criteria",
             "Q5": "Confounders identified", "Q6": "Confounding dealt with", "Q7": "Outcome measured validly",
             "Q8": "Appropriate statistics"}
TOOLS = {"rob2": (ROB2_DOMAINS, ("low", "some concerns", "high", "no information")),
         "jbi_cross_sectional": (JBI_ITEMS, ("yes", "no", "unclear", "not applicable", "no information"))}
TOOL_NAMES = {"rob2": "RoB 2 (Sterne et al. 2019)",
              "jbi_cross_sectional": "JBI checklist for analytical cross-sectional studies (Moola et al. 2020)"}
OVERALL_WORDS = ("low", "some concerns", "high")
# Every answer on robvis' common scale; JBI's answers read as the risk they point to, "not applicable" drops out.
LEVEL = {"low": "low", "some concerns": "some concerns", "high": "high", "no information": "no information",
         "yes": "low", "no": "high", "unclear": "some concerns", "not applicable": None}
# robvis (McGuinness & Higgins 2021): colours and symbols of its ROB2 template.
ROBVIS = {"low": ("#02C100", "+"), "some concerns": ("#E2DF07", "−"), "high": ("#BF0000", "×"),
          "no information": ("#4EA1F7", "?"), None: ("#FFFFFF", "")}
CERTAINTY = ["very low", "low", "moderate", "high"]
SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very low": "⊕◯◯◯"}
SMALL_EFFECT = {"r": math.atanh(0.1), "g": 0.2, "d": 0.2, "SMD": 0.2}  # Cohen's small effect, analysis scale
ROB_COLUMNS = ["study_id", "tool", "outcome", "domain", "judgement", "support", "source", "location", "notes"]


def _error(message: str) -> Exception:
    from .sheets import SheetError  # the sheets module calls this one: imported here, not at the top
    return SheetError(message)


def overall_judgement(judgements) -> str:
    """The overall risk of bias of one result from its domain judgements (RoB 2's algorithm).

    ``high`` if any domain is high; ``low`` only if every domain is low; otherwise ``some concerns``
    (a domain with ``no information`` is not low, so it counts as some concerns, as RoB 2's domain
    algorithms turn "no information" answers into some concerns). JBI answers are read as
    yes → low, no → high, unclear → some concerns; not applicable items drop out.
    RoB 2 also lets a reviewer judge *high* where some concerns in several domains "substantially
    lower confidence in the result": that is a judgement, not arithmetic, so it enters only through
    an ``overall`` row of the sheet (see :func:`check_risk_of_bias`).

    References
    ----------
    Sterne JAC et al. RoB 2: a revised tool for assessing risk of bias in randomised trials.
    BMJ 2019;366:l4898 (Table 2, overall risk-of-bias judgement).
    """
    levels = [LEVEL[j] for j in judgements if LEVEL.get(j)]
    if not levels:
        return "no information"
    if "high" in levels:
        return "high"
    return "low" if all(v == "low" for v in levels) else "some concerns"


def concerns_count(judgements) -> int:
    """How many domains are neither low nor not applicable (some concerns, no information, unclear)."""
    return sum(1 for j in judgements if LEVEL.get(j) in ("some concerns", "no information"))


def check_risk_of_bias(frame: pd.DataFrame, path: str) -> None:
    """Rules across the rows of a validated risk-of-bias sheet; one-line :class:`SheetError` on the first break.

    Each row's domain belongs to its tool (D1–D5 for ``rob2``, Q1–Q8 for ``jbi_cross_sectional``, or
    ``overall``) and its judgement is one of the tool's words (``low | some concerns | high`` for an
    overall row); one tool per study; every domain of the tool once. An ``overall`` row must agree
    with :func:`overall_judgement` of the domains, except that RoB 2's guidance allows ``high`` where
    two or more domains are not low (the reviewer's judgement).
    """
    def where(i: int, study: str) -> str:
        return f"{path}: study {study!r} (line {i + 2})"

    seen: dict[tuple, int] = {}
    tools: dict[str, str] = {}
    for i, row in enumerate(frame.to_dict("records")):
        study, tool, domain, word = row["study_id"], row["tool"], row["domain"], row["judgement"]
        domains, words = TOOLS[tool]
        if domain != "overall" and domain not in domains:
            raise _error(f"{where(i, study)}: column 'domain' value {domain!r} is not a {tool} domain: "
                         f"allowed {'|'.join(domains)}|overall")
        allowed = OVERALL_WORDS if domain == "overall" else words
        if word not in allowed:
            raise _error(f"{where(i, study)}: column 'judgement' value {word!r} is not a {tool} "
                         f"{'overall ' if domain == 'overall' else ''}judgement: allowed {'|'.join(allowed)}")
        if tools.setdefault(study, tool) != tool:
            raise _error(f"{where(i, study)}: column 'tool' value {tool!r} differs from the study's earlier rows "
                         f"({tools[study]!r}): one tool per study")
        if (study, domain) in seen:
            raise _error(f"{where(i, study)}: column 'domain' value {domain!r} occurs twice for this study "
                         f"(line {seen[(study, domain)] + 2})")
        seen[(study, domain)] = i
    for study, tool in tools.items():
        rows = frame[frame["study_id"] == study]
        first = int(rows.index[0])
        missing = [d for d in TOOLS[tool][0] if d not in set(rows["domain"])]
        if missing:
            raise _error(f"{where(first, study)}: column 'domain' value(s) {missing} missing: {tool} rates every "
                         f"domain ({'|'.join(TOOLS[tool][0])}); use 'no information' where the source does not say")
        given = rows.loc[rows["domain"] == "overall", "judgement"]
        if len(given):
            domains = rows.loc[rows["domain"] != "overall", "judgement"]
            derived, word = overall_judgement(domains), given.iloc[0]
            upgrade = word == "high" and derived == "some concerns" and concerns_count(domains) >= 2
            if word != derived and not upgrade:
                line = int(given.index[0])
                raise _error(f"{where(line, study)}: column 'judgement' value {word!r} of the overall row disagrees "
                             f"with the domains: RoB 2's algorithm gives {derived!r}")


def load_risk_of_bias(folder: Path | str, codebook: pd.DataFrame) -> pd.DataFrame:
    """Read and validate ``risk_of_bias.csv`` of a review folder (empty frame when there is none).

    The cells are checked against the codebook (:func:`sheets.validate_sheet`: columns, categories,
    required cells), study ids against ``studies.csv`` (the codebook's ``references``), then the rules
    of :func:`check_risk_of_bias`. Called by :func:`sheets.load_review`.
    """
    from .sheets import validate_sheet
    path = Path(folder) / "risk_of_bias.csv"
    columns = list(codebook.loc[codebook["sheet"] == "risk_of_bias", "column"]) or ROB_COLUMNS
    if not path.exists():
        return pd.DataFrame(columns=columns, dtype=object)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    if not (codebook["sheet"] == "risk_of_bias").any():
        raise _error(f"{path}: line 1: the codebook has no rows for sheet 'risk_of_bias'; copy them from "
                     "data/raw/behr2025/codebook.csv")
    frame = validate_sheet(raw, "risk_of_bias", codebook, str(path))
    check_risk_of_bias(frame, str(path))
    return frame


def study_judgements(rob: pd.DataFrame) -> pd.DataFrame:
    """One row per rated study: its tool, each domain's judgement, the ``overall`` and where it came from.

    ``overall_from`` is ``sheet`` when the sheet gives an overall row, else ``algorithm``
    (:func:`overall_judgement`).
    """
    rows = []
    for study, block in rob.groupby("study_id", sort=False):
        domains = block[block["domain"] != "overall"]
        given = block.loc[block["domain"] == "overall", "judgement"]
        row = {"study_id": study, "tool": block["tool"].iloc[0]}
        row.update(dict(zip(domains["domain"], domains["judgement"])))
        row["overall"] = given.iloc[0] if len(given) else overall_judgement(domains["judgement"])
        row["overall_from"] = "sheet" if len(given) else "algorithm"
        rows.append(row)
    return pd.DataFrame(rows)


def overall_of(rob: pd.DataFrame) -> dict[str, str]:
    """study_id → overall risk of bias (rated studies only)."""
    table = study_judgements(rob)
    return dict(zip(table["study_id"], table["overall"])) if len(table) else {}


def support_counts(rob: pd.DataFrame, studies_in_analyses=()) -> dict:
    """How many judgements rest on a quote (support with a quoted passage), how many are ``no information``.

    Counts domain rows (not derived overalls). ``not_rated`` lists the studies of the pooled analyses
    that have no row in the sheet.
    """
    domains = rob[rob["domain"] != "overall"]
    quoted = domains["support"].str.contains('"', regex=False) & (domains["judgement"] != "no information")
    rated = set(rob["study_id"])
    return {"studies_rated": len(rated), "judgements": len(domains), "quoted": int(quoted.sum()),
            "no_information": int((domains["judgement"] == "no information").sum()),
            "other_fact": int((~quoted & (domains["judgement"] != "no information")).sum()),
            "not_rated": sorted(set(studies_in_analyses) - rated)}


def support_sentence(counts: dict, review: str, with_not_rated: bool = True) -> str:
    """One sentence from :func:`support_counts`."""
    text = (f"{review}: {counts['studies_rated']} studies rated, {counts['judgements']} domain judgements; "
            f"{counts['quoted']} rest on a quote, {counts['other_fact']} on a stated fact without a quote, "
            f"{counts['no_information']} are 'no information'.")
    if with_not_rated:
        text += f" Studies of the pooled analyses not rated: {', '.join(counts['not_rated']) or 'none'}."
    return text


def participants_of(review) -> dict:
    """study_id → participants from ``studies.csv`` (``n``, else ``n_randomized_total``), the summary plot's weights."""
    studies = review.sheets["studies"]
    column = "n" if "n" in studies else "n_randomized_total" if "n_randomized_total" in studies else None
    if column is None:
        return {}
    n = pd.to_numeric(studies[column], errors="coerce")
    return {s: float(v) for s, v in zip(studies["study_id"], n) if pd.notna(v)}


# -- figures ---------------------------------------------------------------------------------------

def _legend(tool: str):
    words = {"rob2": {"low": "Low", "some concerns": "Some concerns", "high": "High", "no information": "No information"},
             "jbi_cross_sectional": {"low": "Yes (low)", "some concerns": "Unclear (some concerns)",
                                     "high": "No (high)", "no information": "No information"}}[tool]
    return [Patch(facecolor=ROBVIS[k][0], edgecolor="black", label=f"{ROBVIS[k][1]}  {v}") for k, v in words.items()]


def traffic_light_plot(rob: pd.DataFrame, title: str):
    """robvis' traffic-light plot: one row per study, one column per domain and the overall judgement.

    Colours and symbols as robvis (McGuinness & Higgins 2021, Res Synth Methods 12:55): green + low,
    yellow − some concerns, red × high, blue ? no information; a JBI answer is drawn on the same
    scale (yes → low, unclear → some concerns, no → high), not applicable left blank. One tool per
    figure (the first tool of the sheet).
    """
    table = study_judgements(rob)
    tool = table["tool"].iloc[0]
    table = table[table["tool"] == tool]
    domains = list(TOOLS[tool][0])
    columns = domains + ["overall"]
    n_rows = len(table)
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * len(columns) + 1.6, 1.4 + 0.45 * n_rows))
    for r, row in enumerate(table.itertuples(index=False)):
        values = row._asdict()
        for c, column in enumerate(columns):
            level = LEVEL.get(values.get(column)) if column != "overall" else values["overall"]
            colour, symbol = ROBVIS[level]
            ax.add_patch(plt.Circle((c, r), 0.36, facecolor=colour, edgecolor="black" if level else "#BBBBBB",
                                    linewidth=0.8))
            ax.text(c, r, symbol if level else "n/a", ha="center", va="center", fontsize=12 if level else 7,
                    fontweight="bold" if level else "normal")
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylim(n_rows - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks(range(len(columns)), [*domains, "Overall"])
    ax.xaxis.tick_top()
    ax.set_yticks(range(n_rows), list(table["study_id"]))
    ax.axvline(len(domains) - 0.5, color="#888888", linewidth=0.8)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    key = "; ".join(f"{d}: {name}" for d, name in TOOLS[tool][0].items())
    ax.set_xlabel(f"{TOOL_NAMES[tool]}. {key}", fontsize=7, wrap=True)
    ax.legend(handles=_legend(tool), loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8,
              title="Judgement", title_fontsize=8)
    ax.set_title(title, pad=28)
    fig.tight_layout()
    return fig


def summary_shares(rob: pd.DataFrame, weights: dict | None = None) -> pd.DataFrame:
    """Share of (weighted) studies at each level per domain and overall, as robvis' summary plot.

    ``weights``: study_id → weight (e.g. participants); equal weights when None. Not applicable
    answers drop out of their domain's denominator.
    """
    table = study_judgements(rob)
    tool = table["tool"].iloc[0]
    table = table[table["tool"] == tool]
    w = table["study_id"].map(weights or {}).fillna(1.0 if not weights else 0.0).astype(float)
    rows = []
    for column in [*TOOLS[tool][0], "overall"]:
        levels = table[column].map(LEVEL) if column != "overall" else table["overall"]
        keep = levels.notna()
        total = float(w[keep].sum())
        for level in ("low", "some concerns", "high", "no information"):
            share = float(w[keep & (levels == level)].sum()) / total if total else float("nan")
            rows.append({"domain": column, "level": level, "share": share})
    return pd.DataFrame(rows)


def summary_plot(rob: pd.DataFrame, title: str, weights: dict | None = None, weight_label: str = "studies"):
    """robvis' weighted summary plot: one stacked bar per domain and overall, share of weight at each level."""
    table = study_judgements(rob)
    tool = table["tool"].iloc[0]
    shares = summary_shares(rob, weights)
    order = [*TOOLS[tool][0], "overall"]
    names = {**TOOLS[tool][0], "overall": "Overall risk of bias"}
    fig, ax = plt.subplots(figsize=(8.0, 0.9 + 0.42 * len(order)))
    for r, domain in enumerate(order):
        left = 0.0
        for level in ("low", "some concerns", "high", "no information"):
            share = shares.loc[(shares["domain"] == domain) & (shares["level"] == level), "share"].iloc[0]
            if share > 0:
                ax.barh(r, share * 100, left=left, color=ROBVIS[level][0], edgecolor="black", linewidth=0.6)
            left += 0 if np.isnan(share) else share * 100
    ax.set_yticks(range(len(order)), [f"{d} {names[d]}" if d != "overall" else names[d] for d in order])
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"Share of {weight_label} (%)")
    ax.legend(handles=_legend(tool), loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


# -- risk of bias in the analyses ----------------------------------------------------------------

def rob_sensitivity_table(analyses: dict[str, Analysis], overall: dict[str, str], transform=None,
                          rules: SmallKRules = RULES) -> pd.DataFrame:
    """Each analysis as pooled, without studies at high risk of bias, and with low-risk studies only.

    "without high risk of bias" drops studies whose overall judgement is high (studies not rated
    stay, marked in ``not_rated``); "low risk only" keeps studies judged low (not-rated studies go).
    ``note`` says when nothing or one study is left. Estimates on the display scale.
    """
    f = transform or (lambda x: x)
    out = []
    for a in analyses.values():
        if not len(a.data):
            continue
        ids = set(a.data["study_id"])
        judged = a.data["study_id"].map(lambda study: overall.get(study, "not rated"))
        variants = [("as pooled", a.data), ("without high risk of bias", a.data[judged != "high"]),
                    ("low risk only", a.data[judged == "low"])]
        for name, rows in variants:
            row = _variant_row(a, name, rows, ids, rules, f)
            row["not_rated"] = ", ".join(sorted(set(rows["study_id"]) - set(overall)))
            row["note"] = ("nothing left" if row["k"] == 0 else "" if row["k"] > 1 else
                           "single study, not pooled" if name == "as pooled" else "one study left, not pooled")
            out.append(row)
    columns = ["analysis", "variant", "k", "n", "estimate", "ci_low", "ci_high", "pval", "ci_low_knha", "ci_high_knha",
               "pval_knha", "tau2", "i2", "studies_removed", "not_rated", "note"]
    return pd.DataFrame(out).reindex(columns=columns)


def study_overall_column(rows: pd.DataFrame, overall: dict[str, str]) -> pd.Series:
    """Each row's study's overall risk of bias, ``not rated`` where the sheet has no row for it."""
    return rows["study_id"].map(lambda study: overall.get(study, "not rated"))


# -- certainty of evidence (GRADE) ---------------------------------------------------------------

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
    from meta_analysis.distributions import norm_ppf
    z = float(norm_ppf(1 - alpha / 2)) + float(norm_ppf(power))
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
