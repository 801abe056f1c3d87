"""One conversion table for both kinds of review: what a sheet row prints → r (correlational sheets)
or Hedges' g / SMCR (intervention sheets), with the reason when it cannot be converted.

The same statistics convert the same way in both reviews (exact p with n, t, F(1, df), means and
SDs, d, odds ratios of two groups, percentages with their 2×2 counts, a standardised β of a model
with few predictors); the formulas and references are in :mod:`meta_analysis.conversions` and
:mod:`meta_analysis.effect_sizes`. Used by :mod:`compendium.harmonise`.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from meta_analysis.conversions import (
    beta_to_r,
    chi2_to_r,
    d_to_r,
    d_to_r_variance,
    f_to_d,
    or_to_d,
    p_to_d,
    p_to_r,
    proportions_to_log_or_variance,
    proportions_to_or,
    r_to_z_variance,
    t_to_d,
    t_to_r,
    variance_from_ci,
)
from meta_analysis.effect_sizes import d_to_g, hedges_g, smcr, smd_variance

_SIGN = {"positive": 1.0, "negative": -1.0}


EQUAL_SPLIT = "odds ratio → d (logit) → r (group sizes not printed: equal groups assumed)"


class NotConvertible(Exception):
    """Raised inside a row converter: the printed statistic cannot give an effect size."""


def _signed(magnitude: float, row) -> float:
    """Magnitude from the statistic, sign from the coded direction (the printed sign if null)."""
    if row["direction"] in _SIGN:
        return abs(magnitude) * _SIGN[row["direction"]]
    if row["direction"] == "null":
        return magnitude
    raise NotConvertible(f"direction is {row['direction']!r}")


def _exact_p(row) -> float:
    if pd.isna(row["p_value"]) or row["p_operator"] not in ("=", ""):
        raise NotConvertible("p is printed only as a bound")
    return float(row["p_value"])


def _row_to_r(row) -> tuple[float, str]:
    """One correlational-sheet row → (r, method). Raises NotConvertible with the reason.

    A within-group change (``design`` pre_post) is never a between-person r; an odds ratio per unit
    of a continuous exposure (comparator ``continuous``) is not a two-group odds ratio. A β, an
    adjusted OR or any other estimate from a model with many covariates converts like any other
    row of its type; whether it is a partial association is decided for every type by one rule at
    admission (:func:`compendium.admission.partial_association`), not here. An odds ratio printed
    without its group sizes is converted with equal groups assumed (a = 4 in Borenstein's eq. 7.7),
    and the method says so: for a rare exposure this overstates r.
    """
    kind, value = row["statistic_type"], row["value"]
    n = row["n_effect"]
    if row.get("design", "") == "pre_post":
        raise NotConvertible("within-group (pre–post) change: not a between-person association")
    if kind in ("p_only", "direction_only"):
        if kind == "p_only" and row.get("p_operator") == "=" and not pd.isna(row.get("p_value")) and row["p_value"] < 1:
            if row["direction"] not in _SIGN:
                raise NotConvertible(f"exact p printed but the direction is {row['direction']!r}")
            n1, n2 = row["n_group1"], row["n_group2"]
            if not (pd.isna(n1) or pd.isna(n2)):
                d = p_to_d(row["p_value"], n1, n2)[0]
                return _signed(float(d_to_r(d, n1, n2)[0]), row), "exact p with group sizes → d → r"
            if not pd.isna(n):
                return _signed(float(p_to_r(row["p_value"], n)[0]), row), "exact p with n → r (Rosenthal)"
            raise NotConvertible("exact p printed without n")
        raise NotConvertible("only direction and significance are printed")
    if kind in ("means", "percent"):
        n1, n2 = row["n_group1"], row["n_group2"]
        if pd.isna(n1) or pd.isna(n2):
            raise NotConvertible("group comparison printed without both group sizes")
        if kind == "percent":
            odds = proportions_to_or(row["m_group1"], n1, row["m_group2"], n2)[0]
            return _signed(float(d_to_r(or_to_d(odds), n1, n2)[0]), row), "percentages → OR → d (logit) → r"
        if not (pd.isna(row["sd_group1"]) or pd.isna(row["sd_group2"])):
            g, _ = hedges_g(row["m_group1"], row["sd_group1"], n1, row["m_group2"], row["sd_group2"], n2)
            return _signed(float(d_to_r(g, n1, n2)[0]), row), "means and SDs → g → r"
        d = p_to_d(_exact_p(row), n1, n2)[0]
        return _signed(float(d_to_r(d, n1, n2)[0]), row), "exact p with group sizes → d → r"
    if pd.isna(value):
        raise NotConvertible(f"no value printed for statistic type {kind!r}")
    if kind in ("r", "rho"):
        return _signed(float(value), row), "r as printed" if kind == "r" else "Spearman rho taken as r"
    if kind == "beta":
        if abs(value) >= 0.5:
            raise NotConvertible(f"standardised beta {value:g} outside Peterson & Brown's range")
        return float(beta_to_r(_signed(value, row))[0]), "standardised beta → r (Peterson & Brown 2005: .98β + .05λ)"
    if kind in ("or", "aor"):
        if row.get("comparator") == "continuous":
            raise NotConvertible("odds ratio per unit of a continuous exposure: the two-group logit conversion "
                                 "does not apply")
        n1, n2 = row["n_group1"], row["n_group2"]
        d = or_to_d(value)[0]
        if pd.isna(n1) or pd.isna(n2):
            return _signed(float(d_to_r(d)[0]), row), EQUAL_SPLIT
        return _signed(float(d_to_r(d, n1, n2)[0]), row), "odds ratio → d (logit) → r (printed group sizes)"
    if kind == "d" or kind == "smd":
        n1, n2 = row["n_group1"], row["n_group2"]
        r = d_to_r(value, n1, n2)[0] if not (pd.isna(n1) or pd.isna(n2)) else d_to_r(value)[0]
        return _signed(float(r), row), "d → r"
    if kind == "t":
        if pd.isna(row["df1"]):
            raise NotConvertible("t printed without its degrees of freedom")
        return _signed(float(t_to_r(value, row["df1"])[0]), row), "t with df → r"
    if kind == "f":
        if row["df1"] != 1 or pd.isna(row["df2"]):
            raise NotConvertible("F is not F(1, df)")
        return _signed(float(t_to_r(math.sqrt(value), row["df2"])[0]), row), "F(1, df) → t → r"
    if kind == "chi2":
        if row["df1"] != 1 or pd.isna(n):
            raise NotConvertible("chi-square is not 1-df or n is missing")
        return _signed(float(chi2_to_r(value, n)[0]), row), "chi-square(1) with n → phi"
    if kind == "z":
        if pd.isna(n):
            raise NotConvertible("z printed without n")
        return _signed(float(value / math.sqrt(n)), row), "z / sqrt(n)"
    raise NotConvertible(f"statistic type {kind!r} ({'unstandardised b' if kind == 'b' else 'no conversion'}) does not give r")


def _counts_variance_z(row, r: float) -> float | None:
    """Variance of Fisher's z of a percentage row from its 2×2 counts, or None for other rows.

    v_lnOR = 1/a + 1/b + 1/c + 1/d (:func:`proportions_to_log_or_variance`), v_d = v_lnOR·3/π²,
    v_r = a'² v_d/(d² + a')³ with a' = (n1+n2)²/(n1 n2), v_z = v_r/(1 − r²)² (Borenstein et al.
    2009, eq. 5.10, 7.2, 7.8; delta method).
    """
    if row["statistic_type"] != "percent":
        return None
    n1, n2 = row["n_group1"], row["n_group2"]
    v_log_or = proportions_to_log_or_variance(row["m_group1"], n1, row["m_group2"], n2)[0]
    d = float(or_to_d(proportions_to_or(row["m_group1"], n1, row["m_group2"], n2))[0])
    return float(r_to_z_variance(r, d_to_r_variance(d, v_log_or * 3 / math.pi ** 2, n1, n2))[0])


def _ci_variance_z(row, r: float) -> float | None:
    """Variance of Fisher's z implied by the printed 95% CI of this row's statistic, or None.

    r, rho: the interval is symmetric on z; β: v_r = v_β; OR (logit): v_lnOR → v_d = v_lnOR·3/π²;
    d: v_d; then v_r = a² v_d/(d² + a)³ and v_z = v_r/(1 − r²)² (delta method, Borenstein et al.
    2009, ch. 6–7).
    """
    low, high, kind = row["ci_low"], row["ci_high"], row["statistic_type"]
    if pd.isna(low) or pd.isna(high) or kind not in ("r", "rho", "beta", "or", "aor", "d", "smd"):
        return None
    if kind in ("r", "rho"):
        return float(variance_from_ci(low, high, scale="atanh")[0])
    if kind == "beta":
        return float(r_to_z_variance(r, variance_from_ci(low, high))[0])
    n1, n2 = row["n_group1"], row["n_group2"]
    sizes = (n1, n2) if not (pd.isna(n1) or pd.isna(n2)) else (None, None)
    if kind in ("or", "aor"):
        d = float(or_to_d(row["value"])[0])
        vd = variance_from_ci(low, high, scale="log") * 3 / math.pi ** 2
    else:
        d, vd = row["value"], variance_from_ci(low, high)
    return float(r_to_z_variance(r, d_to_r_variance(d, vd, *sizes))[0])


def _row_to_smd(row, prepost_r: float) -> tuple[float, float, str]:
    """One intervention-sheet outcome row → (yi, vi, method). Raises NotConvertible."""
    kind = row["statistic_type"]
    exact_p = (kind == "p_only" and row["comparison"] == "between" and row["p_operator"] == "="
               and not pd.isna(row["p_value"]) and row["p_value"] < 1)
    if kind == "direction_only" or (kind == "p_only" and not exact_p):
        raise NotConvertible("only direction and significance are printed")
    if row["comparison"] == "within":
        cols = ("m_pre", "sd_pre", "m_post", "n_within")
        if kind != "prepost_means" or any(pd.isna(row[c]) for c in cols):
            raise NotConvertible("within-group row without pre and post means, pre SD and n")
        yi, vi = smcr(row["m_post"], row["m_pre"], row["sd_pre"], row["n_within"], prepost_r)
        if row["direction"] == "negative" and yi[0] > 0 or row["direction"] == "positive" and yi[0] < 0:
            raise NotConvertible("coded direction contradicts the printed means")
        return float(yi[0]), float(vi[0]), f"pre-post means → SMCR (r = {prepost_r:g})"
    n1, n2 = row["n_ig"], row["n_cg"]
    if kind == "means_sds":
        cols = ("m_ig", "sd_ig", "n_ig", "m_cg", "sd_cg", "n_cg")
        if any(pd.isna(row[c]) for c in cols):
            raise NotConvertible("means printed without SDs or ns for both arms")
        g, vi = hedges_g(row["m_ig"], row["sd_ig"], n1, row["m_cg"], row["sd_cg"], n2)
        if row["direction"] in _SIGN and np.sign(g[0]) != _SIGN[row["direction"]]:
            g = -g  # scale where lower scores mean more self-efficacy: orient by the coded direction
        return float(g[0]), float(vi[0]), "means and SDs → Hedges' g"
    randomized = pd.isna(n1) or pd.isna(n2)
    if randomized:
        n1, n2 = row.get("n_randomized_ig", np.nan), row.get("n_randomized_cg", np.nan)
    by_n = "" if not randomized else " (n randomized per arm)"
    if kind in ("d", "g", "smd"):
        if pd.isna(row["es_value"]):
            raise NotConvertible("effect size named but no value printed")
        d = _signed(row["es_value"], row)
        has_ci = not (pd.isna(row["ci_low"]) or pd.isna(row["ci_high"]))
        if pd.isna(n1) or pd.isna(n2):
            if not has_ci:
                raise NotConvertible("effect size printed without group sizes or a confidence interval")
            vi = variance_from_ci(row["ci_low"], row["ci_high"])[0]
            return float(d), float(vi), f"{kind} as printed (no group sizes: no small-sample correction)"
        if kind == "g":
            g, vi = float(d), float(smd_variance(d, n1, n2))
            method = "g as printed" + by_n
        else:
            g, vi = (float(x[0]) for x in d_to_g(d, n1, n2))
            method = "d as printed → g" + by_n
        if has_ci:  # one variance rule: the printed interval, rescaled by J² when d became g
            j2 = (g / d) ** 2 if d != 0 else 1.0
            vi = float(variance_from_ci(row["ci_low"], row["ci_high"])[0] * j2)
        return g, vi, method
    if pd.isna(n1) or pd.isna(n2):
        raise NotConvertible("group sizes of both arms are not printed")
    df = row["df1"] if kind == "t" else row["df2"] if kind == "f" else np.nan
    if randomized and not pd.isna(df) and df != n1 + n2 - 2:
        raise NotConvertible(f"test df {df:g} does not match the randomized arms ({n1:g} + {n2:g}): analysed group sizes unknown")
    if kind == "p_only":
        if row["direction"] not in _SIGN:
            raise NotConvertible(f"exact p printed but the direction is {row['direction']!r}")
        d = _signed(float(p_to_d(row["p_value"], n1, n2)[0]), row)
        g, vi = d_to_g(d, n1, n2)
        return float(g[0]), float(vi[0]), "exact p with group sizes → d → g" + by_n
    if kind == "t":
        if pd.isna(row["t_value"]):
            raise NotConvertible("t named but not printed")
        d = _signed(float(t_to_d(row["t_value"], n1, n2)[0]), row)
        g, vi = d_to_g(d, n1, n2)
        return float(g[0]), float(vi[0]), "t with group sizes → d → g" + by_n
    if kind == "f":
        if pd.isna(row["f_value"]) or row["df1"] != 1:
            raise NotConvertible("F is not F(1, df)")
        d = _signed(float(f_to_d(row["f_value"], n1, n2)[0]), row)
        g, vi = d_to_g(d, n1, n2)
        return float(g[0]), float(vi[0]), "F(1, df) with group sizes → d → g" + by_n
    raise NotConvertible(f"statistic type {kind!r} does not give an SMD")
