"""Effect sizes and their sampling variances, as metafor's ``escalc()`` computes them.

Fisher's z for correlations (ZCOR), Hedges' g for two independent groups (SMD), and the
standardised mean change with raw-score (SMCR) or change-score (SMCC) standardisation.
"""
from __future__ import annotations

import numpy as np
from ._lazy import special

from ._checks import _as_array, _broadcast, _check_min


def cmicalc(m) -> np.ndarray:
    """Exact small-sample correction factor J(m) = Γ(m/2) / (sqrt(m/2) Γ((m−1)/2)).

    Hedges (1981); as metafor's internal ``.cmicalc``. ``m`` is the degrees of freedom.
    """
    m = np.asarray(m, dtype=float)
    return np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))


def r_to_z(r, n) -> tuple[np.ndarray, np.ndarray]:
    """Fisher's r-to-z transformation: yi = atanh(r), vi = 1/(n − 3).

    As metafor ``escalc("ZCOR")``. Borenstein et al. (2009), ch. 6.
    """
    a = _broadcast(r=r, n=n)
    bad = np.flatnonzero(np.abs(a["r"]) >= 1)
    if bad.size:
        raise ValueError(f"r[{bad[0]}] = {a['r'][bad[0]]:g}: |r| must be < 1")
    _check_min("n", a["n"], 4)
    return np.arctanh(a["r"]), 1.0 / (a["n"] - 3)


def z_to_r(z) -> np.ndarray:
    """Back-transform Fisher's z to r: r = tanh(z)."""
    return np.tanh(_as_array("z", z))


def smd_variance(g, n1, n2):
    """Large-sample variance of a standardised mean difference: 1/n1 + 1/n2 + g²/(2(n1 + n2)).

    As metafor ``escalc("SMD")`` (vtype "LS"); Hedges & Olkin (1985).
    """
    return 1 / n1 + 1 / n2 + g ** 2 / (2 * (n1 + n2))


def hedges_g(m1, sd1, n1, m2, sd2, n2) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected standardised mean difference (Hedges' g) and its large-sample variance.

    g = J(n1+n2−2) (m1 − m2) / s_pooled,  vi = 1/n1 + 1/n2 + g² / (2 (n1 + n2)).
    As metafor ``escalc("SMD")`` (vtype "LS"). Hedges (1981); Borenstein et al. (2009), ch. 4.
    """
    a = _broadcast(m1=m1, sd1=sd1, n1=n1, m2=m2, sd2=sd2, n2=n2)
    for name in ("sd1", "sd2"):
        _check_min(name, a[name], 0, strict=True)
    for name in ("n1", "n2"):
        _check_min(name, a[name], 2)
    df = a["n1"] + a["n2"] - 2
    sd_pooled = np.sqrt(((a["n1"] - 1) * a["sd1"] ** 2 + (a["n2"] - 1) * a["sd2"] ** 2) / df)
    g = cmicalc(df) * (a["m1"] - a["m2"]) / sd_pooled
    return g, smd_variance(g, a["n1"], a["n2"])


def d_to_g(d, n1, n2) -> tuple[np.ndarray, np.ndarray]:
    """Hedges' g and its variance from a printed Cohen's d with the two group sizes.

    g = J(n1+n2−2) d,  vi = 1/n1 + 1/n2 + g² / (2 (n1 + n2)) (the SMD variance, as escalc "SMD").
    """
    a = _broadcast(d=d, n1=n1, n2=n2)
    for name in ("n1", "n2"):
        _check_min(name, a[name], 2)
    g = cmicalc(a["n1"] + a["n2"] - 2) * a["d"]
    return g, smd_variance(g, a["n1"], a["n2"])


def smcr(m_post, m_pre, sd_pre, n, r) -> tuple[np.ndarray, np.ndarray]:
    """Standardised mean change with raw-score (pre-test SD) standardisation.

    yi = J(n−1) (m_post − m_pre) / sd_pre,  vi = 2 (1 − r)/n + yi² / (2n).
    As metafor ``escalc("SMCR")``. Becker (1988); Morris (2008).
    """
    a = _broadcast(m_post=m_post, m_pre=m_pre, sd_pre=sd_pre, n=n, r=r)
    _check_min("sd_pre", a["sd_pre"], 0, strict=True)
    _check_min("n", a["n"], 3)
    bad = np.flatnonzero(np.abs(a["r"]) >= 1)
    if bad.size:
        raise ValueError(f"r[{bad[0]}] = {a['r'][bad[0]]:g}: |r| must be < 1")
    yi = cmicalc(a["n"] - 1) * (a["m_post"] - a["m_pre"]) / a["sd_pre"]
    return yi, 2 * (1 - a["r"]) / a["n"] + yi ** 2 / (2 * a["n"])


def smcc(m_post, m_pre, sd_post, sd_pre, n, r) -> tuple[np.ndarray, np.ndarray]:
    """Standardised mean change with change-score standardisation.

    sd_change = sqrt(sd_post² + sd_pre² − 2 r sd_post sd_pre);
    yi = J(n−1) (m_post − m_pre) / sd_change,  vi = 1/n + yi² / (2n).
    As metafor ``escalc("SMCC")`` (vtype "LS"). Gibbons et al. (1993); Morris (2008).
    """
    a = _broadcast(m_post=m_post, m_pre=m_pre, sd_post=sd_post, sd_pre=sd_pre, n=n, r=r)
    _check_min("n", a["n"], 3)
    sd_change = np.sqrt(a["sd_post"] ** 2 + a["sd_pre"] ** 2 - 2 * a["r"] * a["sd_post"] * a["sd_pre"])
    _check_min("sd_change", sd_change, 0, strict=True)
    yi = cmicalc(a["n"] - 1) * (a["m_post"] - a["m_pre"]) / sd_change
    return yi, 1 / a["n"] + yi ** 2 / (2 * a["n"])
