"""Vote counting (votes.py).
"""
import math

import pytest

import meta_analysis as ma


def test_vote_count_sign_test_and_wilson_interval():
    vc = ma.vote_count(["positive"] * 8 + ["negative"] * 2 + ["null"] * 3 + ["unclear"])
    assert (vc.n_positive, vc.n_negative, vc.n_null, vc.n_unclear) == (8, 2, 3, 1)
    assert vc.sign_test_p == pytest.approx(0.109375)  # 2 * P(X <= 2), X ~ Bin(10, 0.5)
    z = 1.959963984540054
    p, n = 0.8, 10
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert vc.ci_low == pytest.approx(centre - half) and vc.ci_high == pytest.approx(centre + half)


def test_vote_count_rejects_unknown_direction():
    with pytest.raises(ValueError, match=r"directions\[1\] = 'up'"):
        ma.vote_count(["positive", "up"])


def test_vote_count_without_directions():
    vc = ma.vote_count(["null", "null"])
    assert vc.n_null == 2 and math.isnan(vc.sign_test_p)


@pytest.mark.parametrize("directions,vote", [
    (["positive"], "positive"),
    (["unclear"], "unclear"),                               # no direction is not "mixed"
    (["unclear", "unclear"], "unclear"),
    (["unclear", "negative", "negative"], "negative"),       # an unclear result says nothing either way
    (["null", "null"], "null"),
    (["positive", "negative"], "mixed"),
    (["positive", "positive", "null"], "positive"),         # a null result (no estimate) has no direction: set aside
    (["negative", "null", "null", "null"], "negative"),     # nulls never turn a directional result into "mixed"
    (["null", "unclear"], "null"),
    (["positive", "positive", "negative"], "mixed"),        # 2/3 < 70 %
    (["positive"] * 7 + ["negative"] * 3, "positive"),      # exactly 70 %
    (["negative"] * 3 + ["null"], "negative"),
    (["mixed", "positive", "positive", "positive"], "positive"),
])
def test_one_vote_per_study_by_the_70_percent_rule(directions, vote):
    assert ma.study_direction(directions) == vote


def test_study_direction_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one result"):
        ma.study_direction([])
    with pytest.raises(ValueError, match=r"directions\[1\] = 'up'"):
        ma.study_direction(["positive", "up"])
    with pytest.raises(ValueError, match="threshold"):
        ma.study_direction(["positive"], threshold=0.5)


def test_sign_test_is_the_exact_binomial_sum_and_agrees_with_scipy():
    """Exact rational sums, rounded once; scipy's binomtest (two floating-point tails) is within a few ulps."""
    from fractions import Fraction

    from scipy import stats

    for n in range(1, 26):
        for positive in range(n + 1):
            negative, m = n - positive, min(positive, n - positive)
            exact = Fraction(2 * sum(math.comb(n, i) for i in range(m + 1)), 2 ** n)
            p = ma.sign_test_p(positive, negative)
            assert p == (1.0 if 2 * m == n else float(min(exact, 1))), (positive, negative)
            assert p == pytest.approx(stats.binomtest(positive, n, 0.5).pvalue, rel=1e-15, abs=0)
    assert ma.sign_test_p(3, 0) == 0.25 and math.isnan(ma.sign_test_p(0, 0))


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_wilson_interval_is_scipys_bit_for_bit(level):
    from scipy import stats

    for n in range(1, 16):
        for x in range(n + 1):
            ci = stats.binomtest(x, n, 0.5).proportion_ci(confidence_level=level, method="wilson")
            assert ma.wilson_interval(x, n, level) == (ci.low, ci.high), (x, n)
