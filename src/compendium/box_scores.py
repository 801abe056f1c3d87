"""Box scores that are vote counts (notebook 05): one vote per study per cell, outcomes of opposite
meaning never in one test, converted studies voting too, and a sign test only where enough
studies vote.

The cells are the ``box_score_by`` columns of ``review.json``; ``outcome`` is always among them.
A review's ``"box_score_admit"`` says whether proxies, other comparators and later studies vote
(the defaults follow the review's ``"admit"``); every admitted one is counted in the table.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from meta_analysis.votes import study_direction, vote_count

from .admission import DEFAULT_ADMIT, FLAGS, admission_flags, admit, filter_rows
from .harmonise import sample_ids
from .sheets import Review
from .small_k import RULES, SmallKRules

ROW_COLUMNS = ["study_id", "sample_id", "result_id", "outcome", "direction", "significant", "basis", "statistic_as_printed",
               "source", "location", "proxy", "other_comparator", "later_study", "marks"]
VOTE_COLUMNS = ["k_studies", "positive", "negative", "null", "mixed", "sign_test_p", "ci_low", "ci_high",
                "results", "converted_studies", "proxy", "other_comparator", "later_study", "note"]


def cells_of(review: Review) -> list[str]:
    """The cell columns of the review's box score, with ``outcome`` always among them."""
    by = list(review.meta.get("box_score_by", []))
    return by if "outcome" in by else by + ["outcome"]


def _direction_from_estimate(yi: float, vi: float, level: float, crit: float | None = None) -> tuple[str, str]:
    """Direction from the sign of a converted estimate; significance from its CI excluding 0
    (``crit``, the normal quantile of ``level``, may be passed in once for many rows)."""
    half = (stats.norm.isf((1 - level) / 2) if crit is None else crit) * math.sqrt(vi)
    direction = "positive" if yi > 0 else "negative" if yi < 0 else "null"
    return direction, "yes" if abs(yi) > half else "no"


def vote_rows(review: Review, converted: pd.DataFrame, not_converted: pd.DataFrame,
              level: float = 0.95) -> pd.DataFrame:
    """Every result that votes, one row each, with its cell columns and admission flags.

    Converted rows vote with the sign of their estimate (``basis`` = "estimate and CI"), the
    others with their coded direction (``basis`` = "as coded"). Correlational reviews: every
    association, cell = help-seeking type × outcome. Intervention reviews: self-efficacy results
    of the intervention arms (role "effect, between groups" / "effect, within group", outcome
    "self-efficacy") and the predictor/moderator/mediator rows of ``box_scores.csv`` (outcome
    "benefit on mental-health outcomes": the codebook codes their direction as benefit).
    """
    frames = []
    effect_filter = review.meta.get("box_score_filter", {})
    for frame, basis in ((converted, "estimate and CI"), (not_converted, "as coded")):
        if not len(frame):
            continue
        frame = filter_rows(frame, effect_filter) if effect_filter else frame
        frame = frame.copy()
        if basis == "estimate and CI":
            crit = stats.norm.isf((1 - level) / 2)
            pairs = [_direction_from_estimate(y, v, level, crit) for y, v in zip(frame["yi"], frame["vi"])]
            frame["direction"] = [p[0] for p in pairs]
            frame["significant"] = [p[1] for p in pairs]
        frame["basis"] = basis
        frame["result_id"] = frame["effect_id" if "effect_id" in frame else "outcome_id"]
        if review.design == "intervention":
            frame["role"] = np.where(frame["comparison"] == "between", "effect, between groups", "effect, within group")
            frame["outcome"] = "self-efficacy"
        frames.append(frame)
    if review.design == "intervention" and len(review.sheets.get("box_scores", [])):
        box = review.sheets["box_scores"].merge(review.sheets["studies"][["study_id", "year"]], on="study_id", how="left")
        box = box.merge(sample_ids(review.sheets["studies"]), on="study_id", how="left")
        frames.append(box.assign(basis="as coded", result_id=box["box_id"], outcome_as_printed=box["outcome"],
                                 outcome="benefit on mental-health outcomes"))
    if not frames:
        return pd.DataFrame(columns=ROW_COLUMNS)
    rows = pd.concat(frames, ignore_index=True)
    rows = admission_flags(rows, review.meta)
    cells = cells_of(review)
    rows["sample_id"] = rows["sample_id"].fillna(rows["study_id"]) if "sample_id" in rows else rows["study_id"]
    keep = [c for c in cells if c not in ROW_COLUMNS] + ROW_COLUMNS
    return rows[keep].sort_values(cells + ["study_id", "result_id"]).reset_index(drop=True)


def box_admit_rule(review: Review) -> dict:
    """What votes: ``"box_score_admit"`` of review.json over its ``"admit"`` over the defaults."""
    return {**DEFAULT_ADMIT, **review.meta.get("admit", {}), **review.meta.get("box_score_admit", {})}


def study_votes(rows: pd.DataFrame, cells: list[str], threshold: float = 0.7) -> pd.DataFrame:
    """One vote per study per cell by :func:`meta_analysis.votes.study_direction` (the 70 % rule).

    ``significant`` is "yes" when at least one of the study's results in the cell was
    significant; ``results`` counts them. Papers on one sample (``sample_id``) vote once, under
    "A + B".
    """
    columns = cells + ["study_id", "vote", "results", "significant", "converted", "results_as_printed", "source",
                       "proxy", "other_comparator", "later_study", "marks"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    unit = "sample_id" if "sample_id" in rows else "study_id"
    out = []
    for key, block in rows.groupby(cells + [unit], sort=True):
        out.append({**dict(zip(cells, key)), "study_id": " + ".join(dict.fromkeys(block["study_id"])),
                    "vote": study_direction(block["direction"], threshold=threshold),
                    "results": len(block), "significant": "yes" if (block["significant"] == "yes").any() else "no",
                    "converted": bool((block["basis"] == "estimate and CI").any()),
                    "results_as_printed": " | ".join(block["statistic_as_printed"].astype(str)),
                    "source": " | ".join(dict.fromkeys(block["source"].astype(str))),
                    **{flag: bool(block[flag].any()) for flag in FLAGS},
                    "marks": "".join(dict.fromkeys("".join(block["marks"])))})
    return pd.DataFrame(out, columns=columns)


def vote_count_table(votes: pd.DataFrame, cells: list[str], level: float = 0.95,
                     rules: SmallKRules = RULES) -> pd.DataFrame:
    """Counts of study votes per cell; the sign test and Wilson interval only where enough studies vote.

    The vote columns (positive, negative, null, mixed) add up to ``k_studies``. The exact sign
    test (positive against negative) and the Wilson interval of the positive share are computed
    when at least ``rules.min_studies_sign_test`` studies vote positive or negative; otherwise
    they are left empty and ``note`` says why. Counts of studies with each admission flag say
    where proxies, other comparators or later studies voted.
    """
    rows = []
    for key, block in votes.groupby(cells, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        counts = {d: int((block["vote"] == d).sum()) for d in ("positive", "negative", "null", "mixed")}
        row = {**dict(zip(cells, key)), "k_studies": len(block), **counts, "results": int(block["results"].sum()),
               "converted_studies": int(block["converted"].sum()),
               **{flag: int(block[flag].sum()) for flag in FLAGS}}
        voting = counts["positive"] + counts["negative"]
        if rules.sign_test(voting):
            vc = vote_count(["positive"] * counts["positive"] + ["negative"] * counts["negative"], level=level)
            row.update(sign_test_p=vc.sign_test_p, ci_low=vc.ci_low, ci_high=vc.ci_high, note="")
        else:
            row["note"] = f"not tested: {voting} studies with a direction (< {rules.min_studies_sign_test})"
        rows.append(row)
    return pd.DataFrame(rows, columns=cells + VOTE_COLUMNS)


def role_table(votes: pd.DataFrame, roles=("mediator", "moderator", "predictor")) -> pd.DataFrame:
    """Self-efficacy as mediator, moderator or predictor: one row per study with its results and source."""
    if votes.empty or "role" not in votes:
        return pd.DataFrame(columns=["role", "outcome", "study_id", "vote", "results", "significant",
                                     "results_as_printed", "source"])
    rows = votes[votes["role"].isin(roles)]
    return rows[["role", "outcome", "study_id", "vote", "results", "significant", "results_as_printed",
                 "source"]].sort_values(["role", "study_id"]).reset_index(drop=True)


def admitted_votes(review: Review, rows: pd.DataFrame) -> pd.DataFrame:
    """The vote rows that :func:`box_admit_rule` admits."""
    return admit(rows, box_admit_rule(review)) if len(rows) else rows


def vote_sentences(table: pd.DataFrame, cells: list[str]) -> list[str]:
    """One sentence per cell of :func:`vote_count_table`, built from its numbers."""
    from .display import count_text, p_text

    out = []
    for _, row in table.iterrows():
        cell = " · ".join(str(row[c]).replace("_", " ") for c in cells)
        tested = "" if row["note"] else f", sign test p {p_text(row['sign_test_p'])}"
        out.append(f"{cell}: {count_text(row['k_studies'], 'study')}, {row['positive']} positive, "
                   f"{row['negative']} negative, {row['null']} null, {row['mixed']} mixed{tested}.")
    return out
