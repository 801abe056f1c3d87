"""Risk of bias per study: the sheet's rules, RoB 2's overall algorithm, what the judgements rest on,
and sensitivity variants by risk of bias (RoB 2 for randomised trials, the JBI checklist for analytical
cross-sectional studies; notebooks 01 and 03). Figures: ``rob_figures.py``; GRADE: ``certainty.py``.

The sheet ``data/raw/<review>/risk_of_bias.csv`` is optional: one row per study and domain, each
with the quote or fact it rests on. A study that is not in it is *not rated* (never low or high).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .analyses import Analysis
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
    columns = ["analysis", "variant", "k", "n", "test", "estimate", "ci_low", "ci_high", "pval", "ci_low_z", "ci_high_z",
               "pval_z", "tau2", "i2", "studies_removed", "not_rated", "note"]
    return pd.DataFrame(out).reindex(columns=columns)


def study_overall_column(rows: pd.DataFrame, overall: dict[str, str]) -> pd.Series:
    """Each row's study's overall risk of bias, ``not rated`` where the sheet has no row for it."""
    return rows["study_id"].map(lambda study: overall.get(study, "not rated"))


def votes_by_risk_of_bias(votes: pd.DataFrame, cells: list[str], overall: dict[str, str]) -> pd.DataFrame:
    """Per cell of the vote count and overall risk of bias: how many studies vote each way.

    ``votes`` is one vote per study per cell (:func:`box_scores.study_votes`); a study without a row in
    the risk-of-bias sheet counts under ``not rated``. Votes are counted, not weighted (Boon & Thomson
    2021 mark each study's risk of bias in the effect-direction plot for the same reason: a reader can
    see whether the direction holds among the studies at lower risk).
    """
    if not len(votes):
        return pd.DataFrame(columns=[*cells, "risk_of_bias", "studies", "positive", "negative", "null", "mixed"])
    table = votes.assign(risk_of_bias=study_overall_column(votes, overall))
    counts = (table.groupby([*cells, "risk_of_bias"], sort=True)["vote"].value_counts().unstack(fill_value=0)
              .reindex(columns=["positive", "negative", "null", "mixed"], fill_value=0))
    counts.insert(0, "studies", counts.sum(axis=1))
    counts.columns.name = None
    return counts.reset_index()
