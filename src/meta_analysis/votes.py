"""Vote counting of effect directions with a sign test (Cochrane Handbook 12.4.2.3).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from ._checks import _frozen_frame


@dataclass(frozen=True)
class VoteCount:
    """Vote count of effect directions with a sign test and a Wilson interval."""

    n_positive: int
    n_negative: int
    n_null: int
    n_unclear: int
    proportion_positive: float
    ci_low: float
    ci_high: float
    sign_test_p: float

    def to_frame(self) -> pd.DataFrame:
        return _frozen_frame(self)


def vote_count(directions: Iterable[str], level: float = 0.95) -> VoteCount:
    """Count directions and test whether positive and negative are equally likely.

    Following the Cochrane Handbook (McKenzie & Brennan 2023, 12.4.2.3): every study with a
    direction counts, regardless of significance. Sign test: two-sided exact binomial test of
    #positive among #positive + #negative against 1/2; Wilson score interval for that proportion.
    Null and unclear results are reported but do not enter the test.
    """
    directions = list(directions)
    allowed = {"positive", "negative", "null", "mixed", "unclear"}
    for i, d in enumerate(directions):
        if d not in allowed:
            raise ValueError(f"directions[{i}] = {d!r}: use one of {sorted(allowed)}")
    pos, neg = directions.count("positive"), directions.count("negative")
    null = directions.count("null")
    unclear = len(directions) - pos - neg - null
    if pos + neg == 0:
        return VoteCount(pos, neg, null, unclear, np.nan, np.nan, np.nan, np.nan)
    # binomtest has no special-function form; imported here, as scipy.stats takes 0.7 s to import
    from scipy import stats

    test = stats.binomtest(pos, pos + neg, 0.5)
    ci = test.proportion_ci(confidence_level=level, method="wilson")
    return VoteCount(pos, neg, null, unclear, pos / (pos + neg), float(ci.low), float(ci.high), float(test.pvalue))


STUDY_DIRECTIONS = ("positive", "negative", "null", "mixed")


def study_direction(directions: Iterable[str], threshold: float = 0.7) -> str:
    """One vote for one study from its results in one cell of a box score.

    The study votes for the direction that at least ``threshold`` of its results share
    (``positive``, ``negative`` or ``null``); otherwise, or when most results are unclear, it
    votes ``mixed``. The 70 % rule follows Boon & Thomson (2021) and Thomson & Thomas (2013).
    A study with a single result votes with that result (``unclear`` → ``mixed``).
    """
    directions = list(directions)
    if not directions:
        raise ValueError("a study needs at least one result to vote")
    if not 0.5 < threshold <= 1:
        raise ValueError(f"threshold = {threshold!r}: must be in (0.5, 1]")
    allowed = {"positive", "negative", "null", "mixed", "unclear"}
    for i, d in enumerate(directions):
        if d not in allowed:
            raise ValueError(f"directions[{i}] = {d!r}: use one of {sorted(allowed)}")
    for candidate in ("positive", "negative", "null"):
        if directions.count(candidate) >= threshold * len(directions):
            return candidate
    return "mixed"
