"""Vote counting of effect directions with a sign test (Cochrane Handbook 12.4.2.3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd
from ._lazy import stats

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


def sign_test_p(positive: int, negative: int) -> float:
    """Two-sided exact sign test: the binomial test of ``positive`` among ``positive + negative`` against 1/2.

    With n = positive + negative and m = min(positive, negative), the distribution is symmetric, so
    the two-sided p (the probability of a split at least as uneven) is

        p = min(1, 2 · Σ_{i=0}^{m} C(n, i) / 2^n),   and p = 1 when m = n / 2,

    summed in integers and divided once (Python's integer division rounds to the nearest float):
    the exact value, where ``scipy.stats.binomtest(positive, n, 0.5).pvalue`` (a sum of two
    floating-point tails) can be a unit or two in the last place away. R: ``binom.test(positive,
    n, 0.5)$p.value``. The same sum, over the other tail, is written out for teaching in
    ``compendium.teaching.sign_test_by_hand``.
    """
    n, m = positive + negative, min(positive, negative)
    if n == 0:
        return math.nan
    if 2 * m == n:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(m + 1)) / 2 ** n)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (Wilson 1927; Newcombe 1998, method 3), no continuity correction.

    With p̂ = x/n and z = Φ⁻¹((1 + level)/2):

        centre = (2 n p̂ + z²) / (2 (n + z²)),   half-width = z / (2 (n + z²)) · sqrt(4 n p̂ (1 − p̂) + z²),

    the lower end 0 when x = 0 and the upper end 1 when x = n; computed as
    ``scipy.stats.binomtest(x, n).proportion_ci(level, method="wilson")`` computes it, bit for bit.
    """
    z = float(stats.norm.ppf(0.5 + 0.5 * level))
    p = successes / n
    denom = 2 * (n + z ** 2)
    centre = (2 * n * p + z ** 2) / denom
    delta = z / denom * math.sqrt(4 * n * p * (1 - p) + z ** 2)
    return (0.0 if successes == 0 else centre - delta), (1.0 if successes == n else centre + delta)


STUDY_DIRECTIONS = ("positive", "negative", "null", "mixed", "unclear")  # a result's or a study's direction


def vote_count(directions: Iterable[str], level: float = 0.95) -> VoteCount:
    """Count directions and test whether positive and negative are equally likely.

    Following the Cochrane Handbook (McKenzie & Brennan 2023, 12.4.2.3): every study with a
    direction counts, regardless of significance. Sign test: two-sided exact binomial test of
    #positive among #positive + #negative against 1/2 (:func:`sign_test_p`); Wilson score interval
    for that proportion (:func:`wilson_interval`). Null and unclear results are reported but do not
    enter the test.
    """
    directions = list(directions)
    allowed = set(STUDY_DIRECTIONS)
    for i, d in enumerate(directions):
        if d not in allowed:
            raise ValueError(f"directions[{i}] = {d!r}: use one of {sorted(allowed)}")
    pos, neg = directions.count("positive"), directions.count("negative")
    null = directions.count("null")
    unclear = len(directions) - pos - neg - null
    if pos + neg == 0:
        return VoteCount(pos, neg, null, unclear, np.nan, np.nan, np.nan, np.nan)
    ci_low, ci_high = wilson_interval(pos, pos + neg, level)
    return VoteCount(pos, neg, null, unclear, pos / (pos + neg), ci_low, ci_high, sign_test_p(pos, neg))


def study_direction(directions: Iterable[str], threshold: float = 0.7) -> str:
    """One vote for one study from its results in one cell of a box score.

    Results without a direction say nothing about it and are set aside: ``unclear`` ones, and
    ``null`` ones (a source that prints only "no significant difference", no estimate, shows no
    direction; a printed estimate, whatever its p, is coded by its sign instead). The study votes
    for the direction that at least ``threshold`` of its remaining results share (``positive`` or
    ``negative``; a ``mixed`` result counts against both), otherwise ``mixed``. A study with no
    directional result votes ``null`` if any of its results is null, else ``unclear``; never
    ``mixed`` (SWiM: Campbell et al. 2020; Cochrane Handbook 12.4.2.3). The 70 % rule follows
    Boon & Thomson (2021) and Thomson & Thomas (2013).
    """
    directions = list(directions)
    if not directions:
        raise ValueError("a study needs at least one result to vote")
    if not 0.5 < threshold <= 1:
        raise ValueError(f"threshold = {threshold!r}: must be in (0.5, 1]")
    allowed = set(STUDY_DIRECTIONS)
    for i, d in enumerate(directions):
        if d not in allowed:
            raise ValueError(f"directions[{i}] = {d!r}: use one of {sorted(allowed)}")
    known = [d for d in directions if d not in ("unclear", "null")]
    if not known:
        return "null" if "null" in directions else "unclear"
    for candidate in ("positive", "negative"):
        if known.count(candidate) >= threshold * len(known):
            return candidate
    return "mixed"
