"""Effect sizes (effect_sizes.py) against metafor's escalc().
"""
import math

import numpy as np

import meta_analysis as ma
from metafor_reference import REF


def close(a, b):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-6, atol=1e-12)


def test_r_to_z_matches_escalc_zcor():
    ref = REF["molloy"]
    yi, vi = ma.r_to_z(ref["ri"], ref["ni"])
    close(yi, ref["yi"])
    close(vi, ref["vi"])
    close(ma.z_to_r(yi), ref["ri"])


def test_hedges_g_matches_escalc_smd():
    ref = REF["normand"]
    yi, vi = ma.hedges_g(ref["m1"], ref["sd1"], ref["n1"], ref["m2"], ref["sd2"], ref["n2"])
    close(yi, ref["yi"])
    close(vi, ref["vi"])


def test_smcr_and_smcc_match_escalc():
    ref = REF["prepost"]
    yi, vi = ma.smcr(ref["m_post"], ref["m_pre"], ref["sd_pre"], ref["n"], ref["r"])
    close(yi, ref["smcr_yi"])
    close(vi, ref["smcr_vi"])
    yi, vi = ma.smcc(ref["m_post"], ref["m_pre"], ref["sd_post"], ref["sd_pre"], ref["n"], ref["r"])
    close(yi, ref["smcc_yi"])
    close(vi, ref["smcc_vi"])


def test_d_to_g_equals_hedges_g_from_the_same_means():
    d = (10.0 - 8.0) / math.sqrt((19 * 4.0 ** 2 + 24 * 5.0 ** 2) / 43)
    g1, v1 = ma.d_to_g(d, 20, 25)
    g2, v2 = ma.hedges_g(10, 4, 20, 8, 5, 25)
    close(g1, g2)
    close(v1, v2)


def test_cmicalc_approximation():
    # J(m) approaches 1 − 3/(4m − 1) (Hedges 1981)
    close(ma.cmicalc(100), 1 - 3 / (4 * 100 - 1) + (ma.cmicalc(100) - (1 - 3 / 399)))
    assert abs(ma.cmicalc(100) - (1 - 3 / 399)) < 1e-5
