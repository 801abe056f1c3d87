"""Harmonisation: every row of an extraction sheet to the review's metric with its variance, or to
the box score with the reason it could not be converted (notebook 02).
"""
from __future__ import annotations

import math
from typing import Sequence

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
    proportions_to_or,
    r_to_z_variance,
    t_to_d,
    t_to_r,
    variance_from_ci,
)
from meta_analysis.effect_sizes import d_to_g, hedges_g, smcr, smd_variance
from meta_analysis.models import fit_meta

from .admission import select_one_per_study
from .sheets import Review

_SIGN = {"positive": 1.0, "negative": -1.0}


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
    """One correlational-sheet row → (r, method). Raises NotConvertible with the reason."""
    kind, value = row["statistic_type"], row["value"]
    n = row["n_effect"]
    if kind in ("p_only", "direction_only"):
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
        return float(beta_to_r(_signed(value, row))[0]), "standardised beta → r (Peterson & Brown 2005)"
    if kind in ("or", "aor"):
        n1, n2 = row["n_group1"], row["n_group2"]
        d = or_to_d(value)[0]
        r = d_to_r(d, n1, n2)[0] if not (pd.isna(n1) or pd.isna(n2)) else d_to_r(d)[0]
        return _signed(float(r), row), "odds ratio → d (logit) → r"
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


def _frame(records: list[dict], sheet: pd.DataFrame, added: list[str]) -> pd.DataFrame:
    """Rows as a frame that keeps its columns when empty, so that an empty result writes a header."""
    return pd.DataFrame(records, columns=list(sheet.columns) + [c for c in added if c not in sheet.columns])


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


def harmonise_correlational(effects: pd.DataFrame, level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every row of a correlational ``effects`` sheet → r, Fisher z (``yi``) and its variance ``vi``.

    One variance rule: a printed 95% CI gives the variance on the z scale (see
    :func:`_ci_variance_z`); otherwise vi = 1/(n − 3) from the row's n. ``variance_from`` says
    which; ``vi_from_n`` keeps the formula's value for the plausibility screen. A row with neither
    a CI nor an n is not converted; a missing n stays missing (never 0).

    Returns (converted, not_converted). ``converted`` has ``r``, ``yi``, ``vi``, ``n`` and the
    ``conversion`` used; ``not_converted`` keeps each remaining row with its ``reason`` and goes to
    the box score. Sign convention: positive = more web-based help seeking goes with a higher
    outcome score. References: Borenstein et al. (2009) ch. 6–7; Peterson & Brown (2005).
    """
    done, left = [], []
    for _, row in effects.iterrows():
        try:
            r, method = _row_to_r(row)
            if abs(r) >= 1:
                raise NotConvertible(f"converted r = {r:g} is not a correlation")
            n = row["n_effect"]
            if pd.isna(n) and not (pd.isna(row["n_group1"]) or pd.isna(row["n_group2"])):
                n = row["n_group1"] + row["n_group2"]
            vi_n = 1 / (n - 3) if not pd.isna(n) and n > 3 else np.nan
            vi_ci = _ci_variance_z(row, r)
            if vi_ci is None and np.isnan(vi_n):
                raise NotConvertible("neither a sample size nor a confidence interval for this association")
            vi, source = (vi_ci, "95% CI as printed") if vi_ci is not None else (vi_n, "n")
            done.append({**row.to_dict(), "r": r, "yi": math.atanh(r), "vi": vi, "variance_from": source,
                         "vi_from_n": vi_n, "n": n, "conversion": method})
        except NotConvertible as why:
            left.append({**row.to_dict(), "reason": str(why)})
    added = ["r", "yi", "vi", "variance_from", "vi_from_n", "n", "conversion"]
    return _frame(done, effects, added), _frame(left, effects, ["reason"])


def _row_to_smd(row, prepost_r: float) -> tuple[float, float, str]:
    """One intervention-sheet outcome row → (yi, vi, method). Raises NotConvertible."""
    kind = row["statistic_type"]
    if kind in ("p_only", "direction_only"):
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
    df = row["df1"] if kind == "t" else row["df2"]
    if randomized and not pd.isna(df) and df != n1 + n2 - 2:
        raise NotConvertible(f"test df {df:g} does not match the randomized arms ({n1:g} + {n2:g}): analysed group sizes unknown")
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


def harmonise_intervention(outcomes: pd.DataFrame, prepost_r: float = 0.5,
                           studies: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every row of an intervention ``outcomes`` sheet → Hedges' g (between) or SMCR (within).

    Between groups: g = J·d with vi = 1/n1 + 1/n2 + g²/(2(n1+n2)) (escalc "SMD"); within groups:
    the standardised mean change with pre-test SD and an assumed pre–post correlation
    ``prepost_r`` (escalc "SMCR"; Morris 2008). Positive = more self-efficacy with the intervention.
    One variance rule: a d or g printed with its 95% CI takes its variance from the CI (times J²
    when d becomes g), otherwise the formula from n. ``variance_from`` says which.
    When a result row gives no group sizes, the numbers randomized per arm from ``studies`` are
    used (``n_basis`` = "randomised", and ``conversion`` says so), unless a printed test df shows
    that another sample was analysed. A missing n stays missing (``n_basis`` = "missing"), never 0.
    Returns (converted, not_converted) as :func:`harmonise_correlational`.
    """
    done, left = [], []
    if studies is not None:
        outcomes = outcomes.merge(studies[["study_id", "n_randomized_ig", "n_randomized_cg"]], on="study_id", how="left")
    for _, row in outcomes.iterrows():
        try:
            yi, vi, method = _row_to_smd(row, prepost_r)
            if row["comparison"] == "within":
                n, basis = row["n_within"], "analysed"
            elif not (pd.isna(row["n_ig"]) or pd.isna(row["n_cg"])):
                n, basis = row["n_ig"] + row["n_cg"], "analysed"
            else:
                n, basis = row.get("n_randomized_ig", np.nan) + row.get("n_randomized_cg", np.nan), "randomised"
            basis = "missing" if pd.isna(n) else basis
            from_ci = (row["statistic_type"] in ("d", "g", "smd")
                       and not (pd.isna(row["ci_low"]) or pd.isna(row["ci_high"])))
            n1, n2 = ((row["n_ig"], row["n_cg"]) if not (pd.isna(row["n_ig"]) or pd.isna(row["n_cg"])) else
                      (row.get("n_randomized_ig", np.nan), row.get("n_randomized_cg", np.nan)))
            vi_n = (float(smd_variance(yi, n1, n2)) if row["comparison"] == "between" and not (pd.isna(n1) or pd.isna(n2))
                    else (vi if not from_ci else np.nan))
            done.append({**row.to_dict(), "yi": yi, "vi": vi, "variance_from": "95% CI as printed" if from_ci else "n",
                         "vi_from_n": vi_n, "n": n, "n_basis": basis, "conversion": method})
        except NotConvertible as why:
            left.append({**row.to_dict(), "reason": str(why)})
    added = ["yi", "vi", "variance_from", "vi_from_n", "n", "n_basis", "conversion"]
    return _frame(done, outcomes, added), _frame(left, outcomes, ["reason"])


GENERIC_MEASURES = {"r": "ZCOR", "means_sds": "SMD", "yi_vi": None}


def harmonise_generic(effects: pd.DataFrame, effect_measure: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every row of a generic ``effects`` sheet → ``yi`` and ``vi`` on the review's one scale.

    ``effect_measure`` (``review.json``) names the scale: ``"ZCOR"`` takes r with n to Fisher z,
    yi = atanh(r), vi = 1/(n − 3); ``"SMD"`` takes two groups' means, SDs and ns to Hedges' g
    (escalc "SMD"); any other name takes yi and vi as given (rows of type ``yi_vi``). A row of
    another kind than the scale's, or with only a p value or a direction, is not converted and goes
    to the box score with its reason. References: Borenstein et al. (2009) ch. 4–6; Hedges (1981).
    """
    wanted = next((k for k, m in GENERIC_MEASURES.items() if m == effect_measure), "yi_vi")
    done, left = [], []
    for _, row in effects.iterrows():
        kind = row["statistic_type"]
        if kind in ("p_only", "direction_only"):
            left.append({**row.to_dict(), "reason": "only direction and significance are given"})
        elif kind != wanted:
            left.append({**row.to_dict(), "reason": f"statistic type {kind!r} does not give the review's "
                                                    f"effect measure {effect_measure!r} (needs {wanted!r})"})
        elif kind == "r" and (pd.isna(row["r"]) or pd.isna(row["n"])):
            left.append({**row.to_dict(), "reason": "r without its n (or n without r)"})
        elif kind == "means_sds" and any(pd.isna(row[c]) for c in ("m1", "sd1", "n1", "m2", "sd2", "n2")):
            left.append({**row.to_dict(), "reason": "means without SDs or ns for both groups"})
        elif kind == "yi_vi" and (pd.isna(row["yi"]) or pd.isna(row["vi"])):
            left.append({**row.to_dict(), "reason": "yi without its vi (or vi without yi)"})
        elif kind == "r":
            done.append({**row.to_dict(), "yi": math.atanh(row["r"]), "vi": 1 / (row["n"] - 3),
                         "variance_from": "n", "vi_from_n": 1 / (row["n"] - 3), "conversion": "r with n → Fisher z"})
        elif kind == "means_sds":
            g, vi = hedges_g(row["m1"], row["sd1"], row["n1"], row["m2"], row["sd2"], row["n2"])
            done.append({**row.to_dict(), "yi": float(g[0]), "vi": float(vi[0]), "n": row["n1"] + row["n2"],
                         "variance_from": "n", "vi_from_n": float(vi[0]), "conversion": "means and SDs → Hedges' g"})
        else:
            done.append({**row.to_dict(), "vi_from_n": np.nan, "variance_from": "vi as given",
                         "conversion": "yi and vi as given"})
    added = ["yi", "vi", "variance_from", "vi_from_n", "n", "conversion"]
    return _frame(done, effects, added), _frame(left, effects, ["reason"])


GENERATIONS = (("Baby Boomers", 1946, 1964), ("Generation X", 1965, 1980),
               ("Millennials", 1981, 1996), ("Generation Z", 1997, 2012))


def derive_generation(studies: pd.DataFrame) -> pd.DataFrame:
    """Birth year and generation of each study's sample (Pew Research Center cohorts).

    birth_year = survey year (publication year − 1 when no survey year is printed) − mean age
    (midpoint of the age range when no mean is printed). Generations: Baby Boomers 1946–64,
    Generation X 1965–80, Millennials 1981–96, Generation Z 1997–2012 (Dimock 2019).
    ``generation_basis`` says which inputs were used, so that derived values are never mistaken
    for printed ones.
    """
    rows = []
    for _, s in studies.iterrows():
        year, basis = (s["survey_year"], "survey year") if not pd.isna(s["survey_year"]) else (s["year"] - 1, "publication year − 1")
        if not pd.isna(s["mean_age"]):
            age, age_basis = s["mean_age"], "mean age"
        elif not pd.isna(s["age_min"]) and not pd.isna(s["age_max"]):
            age, age_basis = (s["age_min"] + s["age_max"]) / 2, "age-range midpoint"
        else:
            rows.append({"study_id": s["study_id"], "birth_year": np.nan, "generation": "unknown",
                         "generation_basis": "no age printed"})
            continue
        birth = int(round(year - age))
        label = next((name for name, lo, hi in GENERATIONS if lo <= birth <= hi), "other")
        rows.append({"study_id": s["study_id"], "birth_year": birth, "generation": label,
                     "generation_basis": f"{basis} − {age_basis}"})
    return pd.DataFrame(rows)


def converted_view(converted: pd.DataFrame) -> pd.DataFrame:
    """The converted rows as a reader checks them: statistic as printed → conversion → effect size."""
    if converted.empty:
        return converted
    id_col = "effect_id" if "effect_id" in converted else "outcome_id"
    cols = [id_col, "statistic_as_printed", "conversion", "n"] + (["r"] if "r" in converted else []) + ["yi", "vi"]
    view = converted[cols].copy()
    return view.reset_index(drop=True)


def not_converted_view(not_converted: pd.DataFrame) -> pd.DataFrame:
    """Rows that printed a number but could not be converted, each with its reason.

    Rows that print only direction and significance are counted in :func:`conversion_summary`
    and listed in ``not_converted.csv``; they are left out here to keep the table short. The statistic
    stays as printed, whole (the table wraps it; a cut quote would misquote the source).
    """
    if not_converted.empty:
        return not_converted
    id_col = "effect_id" if "effect_id" in not_converted else "outcome_id"
    rows = not_converted[~not_converted["statistic_type"].isin(["p_only", "direction_only"])]
    view = rows[[id_col, "statistic_type", "statistic_as_printed", "reason"]].copy()
    return view.reset_index(drop=True)


def generation_summary(review: Review) -> pd.DataFrame:
    """Studies per derived generation and per basis of the derivation (see :func:`derive_generation`)."""
    gen = derive_generation(review.sheets["studies"])
    table = gen.groupby(["generation", "generation_basis"]).size().rename("studies").reset_index()
    return table.sort_values(["generation", "generation_basis"]).reset_index(drop=True)


def sample_ids(studies: pd.DataFrame) -> pd.DataFrame:
    """``study_id`` → ``sample_id``: the study named in ``same_sample_as``, or the study itself.

    Two papers on the same participants count as one study in pooling and in vote counts.
    """
    same = studies["same_sample_as"] if "same_sample_as" in studies else pd.Series("", index=studies.index)
    return pd.DataFrame({"study_id": studies["study_id"], "sample_id": same.where(same != "", studies["study_id"])})


def harmonise(review: Review, prepost_r: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Convert a review's effect rows to its metric and attach study-level columns.

    Correlational reviews: :func:`harmonise_correlational` plus the derived generation, the
    study's year and design; intervention reviews: :func:`harmonise_intervention` plus the trial's
    year, guidance, control type and scope flags. Both get ``sample_id`` (:func:`sample_ids`).
    Returns (converted, not_converted).
    """
    studies = review.sheets["studies"]
    if review.design == "correlational":
        converted, left = harmonise_correlational(review.effects)
        extra = derive_generation(studies).merge(studies[["study_id", "year", "design"]], on="study_id")
    elif review.design == "generic":
        converted, left = harmonise_generic(review.effects, review.meta.get("effect_measure", "generic"))
        extra = studies[["study_id", "year"]]
    else:
        converted, left = harmonise_intervention(review.effects, prepost_r=prepost_r, studies=studies)
        extra = studies[["study_id", "year", "guidance", "control_type", "scope_flag"]].rename(
            columns={"scope_flag": "study_scope_flag"})
    extra = extra.merge(sample_ids(studies), on="study_id", how="left")
    frames = []
    for frame in (converted, left):
        frames.append(frame.merge(extra, on="study_id", how="left").assign(label=lambda d: d["study_id"]))
    return frames[0], frames[1]


def conversion_summary(converted: pd.DataFrame, not_converted: pd.DataFrame) -> pd.DataFrame:
    """How many rows each conversion handled, and how many could not be converted (by reason)."""
    done = converted.groupby("conversion").size().rename("rows").reset_index() if len(converted) else \
        pd.DataFrame(columns=["conversion", "rows"])
    left = not_converted.groupby("reason").size().rename("rows").reset_index().rename(columns={"reason": "conversion"}) \
        if len(not_converted) else pd.DataFrame(columns=["conversion", "rows"])
    done.insert(0, "status", "converted")
    left.insert(0, "status", "not converted (to box score)")
    return pd.concat([done, left], ignore_index=True).sort_values(["status", "rows", "conversion"],
                                                                  ascending=[True, False, True]).reset_index(drop=True)


def prepost_sensitivity(review: Review, correlations: Sequence[float] = (0.3, 0.5, 0.7), method: str = "REML",
                        test: str = "z") -> pd.DataFrame:
    """Pooled within-group effects (SMCR) under several assumed pre–post correlations."""
    rows = []
    for r in correlations:
        converted, _ = harmonise(review, prepost_r=r)
        within = converted[converted["comparison"] == "within"] if len(converted) else converted
        within = select_one_per_study(within) if len(within) else within
        row = {"prepost_r": r, "k": len(within)}
        if len(within) >= 2:
            fit = fit_meta(within["yi"], within["vi"], method=method, test=test)
            row.update(estimate=fit.estimate, ci_low=fit.ci_low, ci_high=fit.ci_high, tau2=fit.tau2)
        elif len(within) == 1:
            row.update(estimate=float(within["yi"].iloc[0]), note="single study")
        rows.append(row)
    return pd.DataFrame(rows)


PLAUSIBLE = {"max_abs_r": 0.7, "max_abs_g": 2.5, "variance_ratio": 2.0}


def plausibility_screen(converted: pd.DataFrame, design: str) -> pd.DataFrame:
    """Converted rows a reader should check against the source; none is dropped.

    Flags |r| > .7 (correlational) or |g| > 2.5 (intervention), and a printed CI whose variance
    differs from the variance the row's n implies by more than a factor of 2 (either way): a CI
    that disagrees with n often means an adjusted model, clustering, or a misread number.
    Thresholds in :data:`PLAUSIBLE`.
    """
    columns = ["study_id", "row_id", "statistic_as_printed", "estimate", "vi", "vi_from_n", "check"]
    if converted.empty:
        return pd.DataFrame(columns=columns)
    id_col = "effect_id" if "effect_id" in converted else "outcome_id"
    rows = []
    for _, row in converted.iterrows():
        is_r = design == "correlational" or row.get("statistic_type") == "r"
        estimate = row["r"] if is_r else row["yi"]
        checks = []
        if is_r and abs(estimate) > PLAUSIBLE["max_abs_r"]:
            checks.append(f"|r| > {PLAUSIBLE['max_abs_r']:g}")
        if (design == "intervention" or row.get("statistic_type") == "means_sds") and abs(estimate) > PLAUSIBLE["max_abs_g"]:
            checks.append(f"|g| > {PLAUSIBLE['max_abs_g']:g}")
        ratio = row["vi"] / row["vi_from_n"] if pd.notna(row.get("vi_from_n")) and row["vi_from_n"] > 0 else np.nan
        if row.get("variance_from") != "n" and pd.notna(ratio) and not (
                1 / PLAUSIBLE["variance_ratio"] <= ratio <= PLAUSIBLE["variance_ratio"]):
            checks.append(f"CI implies {ratio:.2g}× the variance that n gives")
        if checks:
            rows.append({"study_id": row["study_id"], "row_id": row[id_col],
                         "statistic_as_printed": row["statistic_as_printed"], "estimate": estimate, "vi": row["vi"],
                         "vi_from_n": row.get("vi_from_n", np.nan), "check": "; ".join(checks)})
    return pd.DataFrame(rows, columns=columns)
