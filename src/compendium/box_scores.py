"""Box scores of the results that cannot be pooled: which rows vote and the vote-count tables
(notebook 05).
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Sequence

import pandas as pd

from meta_analysis.votes import vote_count

from .sheets import Review


def box_score_table(rows: pd.DataFrame, by: Sequence[str], level: float = 0.95) -> pd.DataFrame:
    """:func:`vote_count` for each group of ``rows`` (one row per study result, column ``direction``)."""
    out = []
    for key, group in rows.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        vc = vote_count(group["direction"], level=level)
        out.append({**dict(zip(by, key)), "studies": group["study_id"].nunique(), "results": len(group),
                    "significant": int((group["significant"] == "yes").sum()), **asdict(vc)})
    return pd.DataFrame(out)


def box_rows(review: Review, not_converted: pd.DataFrame) -> pd.DataFrame:
    """All results that enter the box score, one row each, with a common set of columns.

    Correlational reviews: every association that could not be converted (category =
    help-seeking type × outcome). Intervention reviews: the predictor/moderator/mediator rows of
    ``box_scores.csv`` and every outcome row that could not be converted (role "outcome").
    """
    columns = ["study_id", "category", "outcome", "direction", "significant", "statistic_as_printed", "source"]
    frames = []
    if review.design == "correlational":
        if len(not_converted):
            frames.append(not_converted.assign(category=not_converted["help_seeking_type"]))
    else:
        box = review.sheets["box_scores"]
        if len(box):
            frames.append(box.assign(category=box["role"]))
        if len(not_converted):
            frames.append(not_converted.assign(category="outcome (" + not_converted["comparison"] + ")",
                                               outcome="self-efficacy"))
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat([f[columns] for f in frames], ignore_index=True).sort_values(["category", "study_id"]).reset_index(drop=True)


def role_rows(box: pd.DataFrame, roles: Sequence[str] = ("mediator", "moderator", "predictor")) -> pd.DataFrame:
    """The box-score rows of the given roles, with what a reader checks: outcome, direction, statistic."""
    rows = box[box["category"].isin(roles)]
    return rows[["category", "study_id", "outcome", "direction", "significant", "statistic_as_printed"]].reset_index(drop=True)
