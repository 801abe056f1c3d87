"""What the extraction holds: study characteristics, rows per analysis, the PRISMA flow of our
own screening and the published results beside them (notebook 01).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .admission import filter_rows
from .sheets import Review


NOT_RETRIEVED = ("no_reachable_text",)
NUMERIC_ABSENT = ("p_only", "direction_only")


def prisma_counts(screening: pd.DataFrame, effects: pd.DataFrame, studies: pd.DataFrame | None = None) -> pd.DataFrame:
    """Counts for a PRISMA 2020 flow of our own extraction: records, reports and studies apart.

    Identification: records by route, duplicate records removed. Screening: records screened;
    reports sought for retrieval; reports not retrieved (reason ``no_reachable_text``); reports
    assessed; reports excluded, by reason. Included: studies (unique ``study_id``), the reports of
    included studies (``included`` + ``further_report``: a second paper, registry entry,
    dissertation or preprint linked to its study), and studies with a numeric statistic. Title and
    abstract are screened together with the report (we read public copies), so records excluded
    at screening are not counted apart: reports sought = records screened. With ``studies``, papers
    on one sample (``same_sample_as``) count as one study. Page et al. (2021).
    """
    sample = {} if studies is None or "same_sample_as" not in studies else {
        s: t for s, t in zip(studies["study_id"], studies["same_sample_as"]) if t}
    numeric = effects.loc[~effects["statistic_type"].isin(NUMERIC_ABSENT), "study_id"].map(lambda s: sample.get(s, s)).nunique()
    if screening.empty:  # no screening.csv: only what the effect rows show can be counted
        return pd.DataFrame([("included", "studies with a result", int(effects["study_id"].map(lambda s: sample.get(s, s)).nunique())),
                             ("included", "studies with a numeric statistic", int(numeric))], columns=["stage", "box", "n"])
    rows = [("identification", "records: calibration leads", int((screening["found_via"] == "lead").sum())),
            ("identification", "records: own search and citations", int((screening["found_via"] != "lead").sum())),
            ("identification", "duplicate records removed", int((screening["decision"] == "duplicate").sum()))]
    screened = screening[screening["decision"] != "duplicate"]
    excluded = screened[screened["decision"] == "excluded"]
    not_retrieved = excluded[excluded["reason"].isin(NOT_RETRIEVED)]
    assessed_out = excluded[~excluded["reason"].isin(NOT_RETRIEVED)]
    reports_in = screened[screened["decision"].isin(["included", "further_report"])]
    rows += [("screening", "records screened", len(screened)),
             ("screening", "reports sought for retrieval", len(screened)),
             ("screening", "reports not retrieved", len(not_retrieved)),
             ("screening", "reports assessed for eligibility", len(screened) - len(not_retrieved))]
    for reason, n in assessed_out["reason"].value_counts().sort_index().items():
        rows.append(("excluded", reason.replace("_", " "), int(n)))
    rows += [("included", "studies included", int(reports_in["study_id"].map(lambda s: sample.get(s, s)).nunique())),
             ("included", "reports of included studies", len(reports_in))]
    rows.append(("included", "studies with a numeric statistic", int(numeric)))
    table = pd.DataFrame(rows, columns=["stage", "box", "n"])
    assessed = len(screened) - len(not_retrieved)
    if assessed != len(assessed_out) + len(reports_in):
        unknown = sorted(set(screened["decision"]) - {"included", "further_report", "excluded"})
        raise ValueError(f"PRISMA counts do not add up: {assessed} reports assessed, {len(assessed_out)} excluded, "
                         f"{len(reports_in)} of included studies; decisions not counted: {unknown}")
    return table


def study_characteristics(review: Review) -> pd.DataFrame:
    """A compact table of included studies: id, year, country, design, n and what was extracted."""
    studies = review.sheets["studies"]
    effects = review.effects
    per_study = effects.groupby("study_id").agg(
        rows=("study_id", "size"),
        numeric=("statistic_type", lambda s: int((~s.isin(["p_only", "direction_only"])).sum())))
    columns = {"correlational": ["study_id", "year", "country", "design", "n", "mean_age", "population"],
               "intervention": ["study_id", "year", "country", "target_problem", "guidance", "control_type",
                                "n_randomized_total"],
               "generic": ["study_id", "year", "population"]}[review.design]
    table = studies[columns].merge(per_study, left_on="study_id", right_index=True, how="left")
    if review.design == "intervention" and "box_scores" in review.sheets:
        box = review.sheets["box_scores"].groupby("study_id").size().rename("box_rows")
        table = table.merge(box, left_on="study_id", right_index=True, how="left")
    count_cols = [c for c in ("rows", "numeric", "box_rows") if c in table]
    table[count_cols] = table[count_cols].fillna(0).astype(int)
    return table.sort_values(["year", "study_id"]).reset_index(drop=True)


def extraction_summary(review: Review) -> pd.DataFrame:
    """Rows per analysis slice and statistic kind: what the public reports let us extract."""
    effects = review.effects
    by = {"correlational": ["help_seeking_type", "outcome"], "intervention": ["comparison", "timepoint"],
          "generic": ["outcome"]}[review.design]
    kind = np.where(effects["statistic_type"].isin(["p_only", "direction_only"]), "significance only", "numeric")
    table = effects.assign(kind=kind).pivot_table(index=by, columns="kind", values="study_id",
                                                  aggfunc="count", fill_value=0)
    table.columns.name = None
    return table.reset_index()


def extraction_overview(reviews: dict[str, Review]) -> pd.DataFrame:
    """One row per validated review: design, studies, effect rows, box-score rows, screening records."""
    rows = []
    for name, r in reviews.items():
        rows.append({"review": name, "design": r.design, "studies": len(r.sheets["studies"]),
                     "effect_rows": len(r.effects),
                     "box_score_rows": len(r.sheets["box_scores"]) if "box_scores" in r.sheets else 0,
                     "screening_records": len(r.sheets["screening"])})
    return pd.DataFrame(rows)


def published_overview(review: Review) -> pd.DataFrame:
    """Published headline results beside how many rows our extraction holds for each analysis."""
    effects = review.effects
    if review.design == "intervention":
        effects = effects.merge(review.sheets["studies"][["study_id", "guidance", "control_type"]], on="study_id")
    published = review.published.set_index("analysis")
    rows = []
    for spec in review.meta["analyses"]:
        sel = filter_rows(effects, spec["filter"])
        numeric = sel[~sel["statistic_type"].isin(["p_only", "direction_only"])]
        pub = published.loc[spec["published"]] if spec.get("published") in published.index else None
        rows.append({"analysis": spec["label"],
                     "published": "" if pub is None else (f"{pub['metric']} = {pub['estimate']:g}" if pd.notna(pub["estimate"])
                                                          else "not significant, value not given"),
                     "studies_extracted": sel["study_id"].nunique(), "rows": len(sel),
                     "rows_with_numbers": len(numeric), "studies_with_numbers": numeric["study_id"].nunique()})
    return pd.DataFrame(rows)


def flow_sentence(review_id: str, counts: pd.DataFrame, studies: pd.DataFrame | None = None) -> str:
    """One sentence on the flow of :func:`prisma_counts`, built from its numbers.

    With the review's ``studies`` sheet, a study table that lists more ids than PRISMA counts studies is
    explained: papers linked by ``same_sample_as`` report a sample already counted (Page et al. 2021).
    """
    from .display import count_text

    n = dict(zip(counts["box"], counts["n"]))
    if "records screened" not in n:
        return (f"{review_id}: no screening records (screening.csv missing or empty), so records and reports cannot be counted; "
                f"{count_text(n['studies with a result'], 'study')} have a result row.")
    text = (f"{review_id}: {count_text(n['records screened'], 'record')} screened led to "
            f"{count_text(n['studies included'], 'study')} in {count_text(n['reports of included studies'], 'report')}; "
            f"{count_text(n['reports not retrieved'], 'report')} could not be retrieved, and "
            f"{count_text(n['studies with a numeric statistic'], 'study')} with a numeric statistic.")
    if studies is not None and len(studies) != n["studies included"]:
        ids = len(studies)
        linked = int(studies["same_sample_as"].fillna("").astype(str).str.strip().ne("").sum()) \
            if "same_sample_as" in studies else 0
        cause = (f": {linked} of the ids {'is a paper' if linked == 1 else 'are papers'} on a sample already counted "
                 "(linked by same_sample_as), so each sample counts once" if linked and ids - linked == n["studies included"]
                 else "")
        text += f" The study table lists {ids} ids and PRISMA counts {count_text(n['studies included'], 'study')}{cause}."
    return text
