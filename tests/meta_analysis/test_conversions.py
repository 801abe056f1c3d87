"""Conversions between reported statistics (conversions.py), and bad input for both
effect_sizes.py and conversions.py.
"""
import math

import numpy as np
import pytest

import meta_analysis as ma


def close(a, b):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-6, atol=1e-12)


def test_t_and_f_and_p_give_the_same_d():
    n1, n2, t = 60, 58, 2.41
    d_t = ma.t_to_d(t, n1, n2)
    close(d_t, t * math.sqrt(1 / 60 + 1 / 58))
    close(ma.f_to_d(t ** 2, n1, n2), d_t)
    close(ma.f_to_d(t ** 2, n1, n2, sign=-1), -d_t)
    p = 2 * (1 - __import__("scipy").stats.t.cdf(t, n1 + n2 - 2))
    close(ma.p_to_d(p, n1, n2), d_t)


def test_or_to_d_logit_and_its_variance():
    d = ma.or_to_d(2.36)
    close(d, math.log(2.36) * math.sqrt(3) / math.pi)
    d, vi = ma.or_to_d(2.36, 1.36, 4.09)
    se_log = (math.log(4.09) - math.log(1.36)) / (2 * 1.959963984540054)
    close(vi, se_log ** 2 * 3 / math.pi ** 2)


def test_beta_to_r_peterson_brown():
    # Peterson & Brown (2005): r = .98 beta + .05 lambda, lambda = 1 for beta >= 0
    close(ma.beta_to_r([0.2, -0.2, 0.0]), [0.246, -0.196, 0.05])


def test_two_by_two_variance_by_hand():
    # 29 of 676 vs 30 of 2324 (4.29 % and 1.29 %): Woolf's 1/a + 1/b + 1/c + 1/d
    p1, p2 = 100 * 29 / 676, 100 * 30 / 2324
    close(ma.proportions_to_log_or_variance(p1, 676, p2, 2324), 1 / 29 + 1 / 647 + 1 / 30 + 1 / 2294)
    with pytest.raises(ValueError, match="percentage"):
        ma.proportions_to_log_or_variance(0, 10, 50, 10)


def test_d_r_round_trip():
    r = np.array([-0.6, -0.1, 0.0, 0.3, 0.8])
    close(ma.d_to_r(ma.r_to_d(r)), r)
    close(ma.d_to_r(0.5, 50, 50), 0.5 / math.sqrt(0.25 + 4))
    close(ma.d_to_r(0.5, 30, 70), 0.5 / math.sqrt(0.25 + 100 ** 2 / (30 * 70)))


def test_t_chi2_p_to_r():
    close(ma.t_to_r(2.0, 96), 2 / math.sqrt(4 + 96))
    close(ma.chi2_to_r(3.8, 519), math.sqrt(3.8 / 519))
    close(ma.chi2_to_r(3.8, 519, sign=-1), -math.sqrt(3.8 / 519))
    close(ma.p_to_r(0.05, 100), 1.959963984540054 / 10)


def test_proportions_to_or():
    close(ma.proportions_to_or(16.1, 100, 9.1, 100), (0.161 / 0.839) / (0.091 / 0.909))


@pytest.mark.parametrize("call,message", [
    (lambda: ma.r_to_z([0.2, 1.0], [50, 50]), r"r\[1\] = 1: \|r\| must be < 1"),
    (lambda: ma.r_to_z(0.2, 3), r"n\[0\] = 3: must be >= 4"),
    (lambda: ma.r_to_z([0.1, 0.2], [10, 20, 30]), "differ in length"),
    (lambda: ma.hedges_g(1, 0, 10, 2, 1, 10), r"sd1\[0\] = 0: must be > 0"),
    (lambda: ma.hedges_g(1, 1, 1, 2, 1, 10), r"n1\[0\] = 1: must be >= 2"),
    (lambda: ma.smcr(1, 2, 1, 2, 0.5), r"n\[0\] = 2: must be >= 3"),
    (lambda: ma.smcr(1, 2, 1, 20, 1.0), r"r\[0\] = 1: \|r\| must be < 1"),
    (lambda: ma.smcc(1, 2, 1, 1, 20, 1.0), r"sd_change\[0\] = 0: must be > 0"),
    (lambda: ma.p_to_d(0.0, 10, 10), r"p\[0\] = 0: must be in \(0, 1\)"),
    (lambda: ma.p_to_r(1.2, 10), r"p\[0\] = 1.2: must be in \(0, 1\)"),
    (lambda: ma.or_to_d(-1.0), r"odds_ratio\[0\] = -1: must be > 0"),
    (lambda: ma.or_to_d(2.0, 3.0, 1.0), r"ci_high - ci_low\[0\] = -1.09861: must be > 0"),
    (lambda: ma.beta_to_r(0.7), r"beta\[0\] = 0.7: Peterson & Brown's formula needs \|beta\| < 0.5"),
    (lambda: ma.r_to_d(-1.0), r"r\[0\] = -1: \|r\| must be < 1"),
    (lambda: ma.t_to_r(2.0, 0), r"df\[0\] = 0: must be >= 1"),
    (lambda: ma.chi2_to_r(-1, 100), r"chi2\[0\] = -1: must be >= 0"),
    (lambda: ma.f_to_d(-2.0, 10, 10), r"F\[0\] = -2: must be >= 0"),
    (lambda: ma.proportions_to_or(0, 10, 50, 10), r"p1\[0\] = 0: percentage must be in \(0, 100\)"),
    (lambda: ma.t_to_d(np.nan, 10, 10), r"t\[0\] = nan is not a finite number"),
])
def test_conversions_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- variances from a printed interval and through a conversion (delta method) ---------------------

def test_variance_from_ci_on_each_scale():
    z = 1.959963984540054
    assert math.isclose(ma.variance_from_ci(0.1, 0.5)[0], (0.4 / (2 * z)) ** 2, rel_tol=1e-12)
    assert math.isclose(ma.variance_from_ci(1.36, 4.09, scale="log")[0],
                        ((math.log(4.09) - math.log(1.36)) / (2 * z)) ** 2, rel_tol=1e-12)
    assert math.isclose(ma.variance_from_ci(0.1, 0.5, scale="atanh")[0],
                        ((math.atanh(0.5) - math.atanh(0.1)) / (2 * z)) ** 2, rel_tol=1e-12)
    z90 = 1.6448536269514722
    assert math.isclose(ma.variance_from_ci(0.1, 0.5, level=0.90)[0], (0.4 / (2 * z90)) ** 2, rel_tol=1e-12)


@pytest.mark.parametrize("call,message", [
    (lambda: ma.variance_from_ci(0.5, 0.1), r"ci_high - ci_low\[0\] = -0.4: must be > 0"),
    (lambda: ma.variance_from_ci(0.0, 2.0, scale="log"), r"ci_low\[0\] = 0: must be > 0"),
    (lambda: ma.variance_from_ci(-0.2, 1.0, scale="atanh"), r"ci_high\[0\] = 1: \|r\| must be < 1"),
    (lambda: ma.variance_from_ci(0.1, 0.2, scale="logit"), "scale = 'logit'"),
])
def test_variance_from_ci_rejects_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_delta_method_variances_match_numerical_derivatives():
    d, vd, n1, n2 = 0.6, 0.04, 30, 50
    h = 1e-6
    slope = (ma.d_to_r(d + h, n1, n2)[0] - ma.d_to_r(d - h, n1, n2)[0]) / (2 * h)
    assert math.isclose(ma.d_to_r_variance(d, vd, n1, n2)[0], slope ** 2 * vd, rel_tol=1e-8)
    slope4 = (ma.d_to_r(d + h)[0] - ma.d_to_r(d - h)[0]) / (2 * h)
    assert math.isclose(ma.d_to_r_variance(d, vd)[0], slope4 ** 2 * vd, rel_tol=1e-8)
    r, vr = 0.3, 0.005
    assert math.isclose(ma.r_to_z_variance(r, vr)[0], vr / (1 - r ** 2) ** 2, rel_tol=1e-12)
    # with the variance of r implied by n (≈ (1 − r²)²/(n − 1)), v_z comes close to 1/(n − 3)
    n = 400
    assert math.isclose(ma.r_to_z_variance(r, (1 - r ** 2) ** 2 / (n - 1))[0], 1 / (n - 3), rel_tol=0.01)
