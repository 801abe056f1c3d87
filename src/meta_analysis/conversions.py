"""Conversions between reported statistics: t, F(1, df), p, odds ratios, β, χ², d and r.

Formulas from Borenstein et al. (2009), ch. 5 and 7, Lipsey & Wilson (2001), Rosenthal (1994) and
Peterson & Brown (2005). The compendium uses one table of them for both kinds of review:

========================  ==================================  ===========================
printed                   to d (two groups)                    to r (association)
========================  ==================================  ===========================
exact p with n            :func:`p_to_d` (group sizes)         :func:`p_to_r` (total n)
t with df                 :func:`t_to_d` (group sizes)         :func:`t_to_r`
F(1, df)                  :func:`f_to_d`                       :func:`t_to_r` of √F
odds ratio (two groups)   :func:`or_to_d` (logit)              :func:`d_to_r`
percentages with n        :func:`proportions_to_or`, variance  :func:`d_to_r`
                          :func:`proportions_to_log_or_variance`
standardised β            —                                    :func:`beta_to_r` (few predictors)
========================  ==================================  ===========================
"""
from __future__ import annotations

import math

import numpy as np
from ._lazy import stats

from ._checks import _as_array, _broadcast, _check_min


def t_to_d(t, n1, n2) -> np.ndarray:
    """Cohen's d from an independent-groups t statistic: d = t sqrt(1/n1 + 1/n2).

    Borenstein et al. (2009), ch. 7; Lipsey & Wilson (2001).
    """
    a = _broadcast(t=t, n1=n1, n2=n2)
    for name in ("n1", "n2"):
        _check_min(name, a[name], 1)
    return a["t"] * np.sqrt(1 / a["n1"] + 1 / a["n2"])


def f_to_d(f, n1, n2, sign=1.0) -> np.ndarray:
    """Cohen's d from F(1, df) comparing two groups: t = sign · sqrt(F), then :func:`t_to_d`.

    Only valid for a one-numerator-df F; the sign comes from the reported direction.
    """
    a = _broadcast(f=f, sign=sign)
    _check_min("F", a["f"], 0)
    return t_to_d(np.sign(a["sign"]) * np.sqrt(a["f"]), n1, n2)


def p_to_d(p, n1, n2, sign=1.0) -> np.ndarray:
    """Cohen's d from an exact two-sided p of a two-group t test with group sizes.

    t = sign · t⁻¹(1 − p/2; n1+n2−2), then :func:`t_to_d`. Only exact p values convert; a bound
    ("p < .05") does not give a number and belongs in the box score.
    """
    a = _broadcast(p=p, n1=n1, n2=n2, sign=sign)
    bad = np.flatnonzero((a["p"] <= 0) | (a["p"] >= 1))
    if bad.size:
        raise ValueError(f"p[{bad[0]}] = {a['p'][bad[0]]:g}: must be in (0, 1)")
    t = np.sign(a["sign"]) * stats.t.isf(a["p"] / 2, a["n1"] + a["n2"] - 2)
    return t_to_d(t, a["n1"], a["n2"])


def p_to_r(p, n, sign=1.0) -> np.ndarray:
    """Correlation from an exact two-sided p and the sample size: r = sign · z(1 − p/2) / sqrt(n).

    Rosenthal (1994), r = Z / sqrt(N). Only exact p values convert.
    """
    a = _broadcast(p=p, n=n, sign=sign)
    bad = np.flatnonzero((a["p"] <= 0) | (a["p"] >= 1))
    if bad.size:
        raise ValueError(f"p[{bad[0]}] = {a['p'][bad[0]]:g}: must be in (0, 1)")
    _check_min("n", a["n"], 4)
    return np.sign(a["sign"]) * stats.norm.isf(a["p"] / 2) / np.sqrt(a["n"])


def or_to_d(odds_ratio, ci_low=None, ci_high=None, level: float = 0.95):
    """Cohen's d from an odds ratio by the logit method: d = ln(OR) · sqrt(3)/π.

    With a confidence interval also returns vi = v_lnOR · 3/π², where
    v_lnOR = ((ln ci_high − ln ci_low) / (2 z_{1−α/2}))². Hasselblad & Hedges (1995);
    Borenstein et al. (2009), ch. 7. Returns d, or (d, vi) when the CI is given.
    """
    odds = _as_array("odds_ratio", odds_ratio)
    _check_min("odds_ratio", odds, 0, strict=True)
    d = np.log(odds) * math.sqrt(3) / math.pi
    if ci_low is None:
        return d
    a = _broadcast(ci_low=ci_low, ci_high=ci_high)
    _check_min("ci_low", a["ci_low"], 0, strict=True)
    width = np.log(a["ci_high"]) - np.log(a["ci_low"])
    _check_min("ci_high - ci_low", width, 0, strict=True)
    v_log_or = (width / (2 * stats.norm.isf((1 - level) / 2))) ** 2
    return d, v_log_or * 3 / math.pi ** 2


def beta_to_r(beta) -> np.ndarray:
    """Correlation from a standardised regression coefficient: r = 0.98 β + 0.05 λ, λ = 1 if β ≥ 0 else 0.

    Peterson & Brown (2005, J Appl Psychol 90:175-181), their fitted imputation formula; intended
    for |β| < 0.5 (a ValueError otherwise). A β or a path from a model with many predictors is a
    partial association, not a bivariate r: the compendium converts it but keeps it out of its
    primary pools (``compendium.admission.partial_association``).
    """
    b = _as_array("beta", beta)
    bad = np.flatnonzero(np.abs(b) >= 0.5)
    if bad.size:
        raise ValueError(f"beta[{bad[0]}] = {b[bad[0]]:g}: Peterson & Brown's formula needs |beta| < 0.5")
    return 0.98 * b + 0.05 * (b >= 0)


def d_to_r(d, n1=None, n2=None) -> np.ndarray:
    """Point-biserial r from d: r = d / sqrt(d² + a), a = (n1+n2)² / (n1 n2) (a = 4 if sizes unknown).

    Borenstein et al. (2009), eq. 7.7.
    """
    d = _as_array("d", d)
    if n1 is None or n2 is None:
        a = np.full_like(d, 4.0)
    else:
        s = _broadcast(n1=n1, n2=n2)
        for name in ("n1", "n2"):
            _check_min(name, s[name], 1)
        a = (s["n1"] + s["n2"]) ** 2 / (s["n1"] * s["n2"])
    return d / np.sqrt(d ** 2 + a)


def r_to_d(r) -> np.ndarray:
    """Cohen's d from r: d = 2r / sqrt(1 − r²). Borenstein et al. (2009), eq. 7.5."""
    r = _as_array("r", r)
    bad = np.flatnonzero(np.abs(r) >= 1)
    if bad.size:
        raise ValueError(f"r[{bad[0]}] = {r[bad[0]]:g}: |r| must be < 1")
    return 2 * r / np.sqrt(1 - r ** 2)


def t_to_r(t, df) -> np.ndarray:
    """Correlation from a t statistic with its df (e.g. a regression or correlation test):
    r = t / sqrt(t² + df). Rosenthal (1994)."""
    a = _broadcast(t=t, df=df)
    _check_min("df", a["df"], 1)
    return a["t"] / np.sqrt(a["t"] ** 2 + a["df"])


def chi2_to_r(chi2, n, sign=1.0) -> np.ndarray:
    """Phi coefficient from a 1-df chi-square and the sample size: r = sign · sqrt(χ² / n).
    Rosenthal (1994); Lipsey & Wilson (2001)."""
    a = _broadcast(chi2=chi2, n=n, sign=sign)
    _check_min("chi2", a["chi2"], 0)
    _check_min("n", a["n"], 1, strict=True)
    return np.sign(a["sign"]) * np.sqrt(a["chi2"] / a["n"])


def proportions_to_or(p1, n1, p2, n2) -> np.ndarray:
    """Odds ratio from two printed percentages (0–100) with their group sizes.

    The cell counts are p·n/100; OR = (a/b)/(c/d). Used only when counts are implied by the print.
    """
    a = _broadcast(p1=p1, n1=n1, p2=p2, n2=n2)
    for name in ("p1", "p2"):
        bad = np.flatnonzero((a[name] <= 0) | (a[name] >= 100))
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}] = {a[name][bad[0]]:g}: percentage must be in (0, 100)")
    x1, x2 = a["p1"] / 100, a["p2"] / 100
    return (x1 / (1 - x1)) / (x2 / (1 - x2))


def proportions_to_log_or_variance(p1, n1, p2, n2) -> np.ndarray:
    """Sampling variance of ln(OR) from two printed percentages (0–100) with their group sizes.

    The 2×2 cell counts are a = p1·n1/100, b = n1 − a, c = p2·n2/100, d = n2 − c, and
    v_lnOR = 1/a + 1/b + 1/c + 1/d (Woolf 1955; Borenstein et al. 2009, eq. 5.10). On the d
    scale (logit method) v_d = v_lnOR · 3/π² (Borenstein et al. 2009, eq. 7.2).
    """
    a = _broadcast(p1=p1, n1=n1, p2=p2, n2=n2)
    for name in ("p1", "p2"):
        bad = np.flatnonzero((a[name] <= 0) | (a[name] >= 100))
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}] = {a[name][bad[0]]:g}: percentage must be in (0, 100)")
    for name in ("n1", "n2"):
        _check_min(name, a[name], 1)
    e1, e2 = a["p1"] * a["n1"] / 100, a["p2"] * a["n2"] / 100
    return 1 / e1 + 1 / (a["n1"] - e1) + 1 / e2 + 1 / (a["n2"] - e2)


# -- variances: from a printed confidence interval, and carried through a conversion ------------

def variance_from_ci(ci_low, ci_high, level: float = 0.95, scale: str = "identity") -> np.ndarray:
    """Sampling variance implied by a symmetric Wald confidence interval.

    v = ((g(ci_high) − g(ci_low)) / (2 z_{1−α/2}))², with g the scale on which the interval is
    symmetric: ``"identity"`` (d, g, β), ``"log"`` (odds and risk ratios), ``"atanh"`` (r, whose
    interval is symmetric on Fisher's z). Higgins et al. (2023), Cochrane Handbook 6.3.1.
    """
    a = _broadcast(ci_low=ci_low, ci_high=ci_high)
    transforms = {"identity": lambda x: x, "log": np.log, "atanh": np.arctanh}
    if scale not in transforms:
        raise ValueError(f"scale = {scale!r}: use one of {sorted(transforms)}")
    if scale == "log":
        _check_min("ci_low", a["ci_low"], 0, strict=True)
    if scale == "atanh":
        for name in ("ci_low", "ci_high"):
            bad = np.flatnonzero(np.abs(a[name]) >= 1)
            if bad.size:
                raise ValueError(f"{name}[{bad[0]}] = {a[name][bad[0]]:g}: |r| must be < 1")
    width = transforms[scale](a["ci_high"]) - transforms[scale](a["ci_low"])
    _check_min("ci_high - ci_low", width, 0, strict=True)
    return (width / (2 * stats.norm.isf((1 - level) / 2))) ** 2


def d_to_r_variance(d, vd, n1=None, n2=None) -> np.ndarray:
    """Variance of the point-biserial r from d and its variance (delta method).

    v_r = a² v_d / (d² + a)³, a = (n1+n2)²/(n1 n2) (a = 4 if sizes unknown). Borenstein et al.
    (2009), eq. 7.8.
    """
    d = _as_array("d", d)
    vd = _as_array("vd", vd)
    _check_min("vd", vd, 0, strict=True)
    if n1 is None or n2 is None:
        a = np.full_like(d, 4.0)
    else:
        s = _broadcast(n1=n1, n2=n2)
        a = (s["n1"] + s["n2"]) ** 2 / (s["n1"] * s["n2"])
    return a ** 2 * vd / (d ** 2 + a) ** 3


def r_to_z_variance(r, vr) -> np.ndarray:
    """Variance of Fisher's z from r and its variance (delta method): v_z = v_r / (1 − r²)².

    Used when the variance of r comes from a printed interval rather than from n
    (otherwise v_z = 1/(n − 3)); Borenstein et al. (2009), ch. 6.
    """
    r = _as_array("r", r)
    vr = _as_array("vr", vr)
    bad = np.flatnonzero(np.abs(r) >= 1)
    if bad.size:
        raise ValueError(f"r[{bad[0]}] = {r[bad[0]]:g}: |r| must be < 1")
    _check_min("vr", vr, 0, strict=True)
    return vr / (1 - r ** 2) ** 2
