"""Harmonisation: every row of an extraction sheet to the review's metric with its variance, or to
the box score with the reason it could not be converted (notebook 02).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from meta_analysis.effect_sizes import hedges_g, smd_variance
from meta_analysis.models import fit_meta

from .admission import row_designs, select_one_per_study
from .row_conversions import EQUAL_SPLIT, NotConvertible, _ci_variance_z, _counts_variance_z, _row_to_r, _row_to_smd
from .sheets import Review


def _frame(records: list[dict], sheet: pd.DataFrame, added: list[str]) -> pd.DataFrame:
    """Rows as a frame that keeps its columns when empty, so that an empty result writes a header."""
    return pd.DataFrame(records, columns=list(sheet.columns) + [c for c in added if c not in sheet.columns])


def harmonise_correlational(effects: pd.DataFrame, level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every row of a correlational ``effects`` sheet → r, Fisher z (``yi``) and its variance ``vi``.

    One variance rule: a printed 95% CI gives the variance on the z scale (see
    :func:`_ci_variance_z`); a percentage row's variance comes from its 2×2 counts
    (:func:`_counts_variance_z`); otherwise vi = 1/(n − 3) from the row's n. ``variance_from`` says
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
            vi_ci, vi_counts = _ci_variance_z(row, r), _counts_variance_z(row, r)
            if vi_ci is None and vi_counts is None and np.isnan(vi_n):
                raise NotConvertible("neither a sample size nor a confidence interval for this association")
            vi, source = ((vi_ci, "95% CI as printed") if vi_ci is not None else
                          (vi_counts, "2×2 counts") if vi_counts is not None else (vi_n, "n"))
            done.append({**row.to_dict(), "r": r, "yi": math.atanh(r), "vi": vi, "variance_from": source,
                         "vi_from_n": vi_n, "n": n, "conversion": method})
        except NotConvertible as why:
            left.append({**row.to_dict(), "reason": str(why)})
    added = ["r", "yi", "vi", "variance_from", "vi_from_n", "n", "conversion"]
    return _frame(done, effects, added), _frame(left, effects, ["reason"])


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
    """``study_id`` → ``sample_id`` (the study named in ``same_sample_as``, or the study itself) and
    ``probable_sample_id`` (the same, with ``same_sample_probable`` pairs merged as well).

    Two papers on the same participants count as one study in pooling and in vote counts; papers on
    probably the same participants (no source shows it) count as one only in a sensitivity variant.
    """
    same = studies["same_sample_as"] if "same_sample_as" in studies else pd.Series("", index=studies.index)
    sample = same.where(same != "", studies["study_id"])
    links = dict(zip(studies["study_id"], sample))
    probable = studies["same_sample_probable"] if "same_sample_probable" in studies else pd.Series("", index=studies.index)
    merged = [links.get(p, p) if p else s for p, s in zip(probable, sample)]
    return pd.DataFrame({"study_id": studies["study_id"], "sample_id": sample, "probable_sample_id": merged})


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
        extra = derive_generation(studies).merge(studies[["study_id", "year", "design"]].rename(
            columns={"design": "study_design"}), on="study_id")
    elif review.design == "generic":
        converted, left = harmonise_generic(review.effects, review.meta.get("effect_measure", "generic"))
        extra = studies[["study_id", "year"]]
    else:
        converted, left = harmonise_intervention(review.effects, prepost_r=prepost_r, studies=studies)
        extra = studies[["study_id", "year", "guidance", "control_type", "scope_flag"]].rename(
            columns={"scope_flag": "study_scope_flag"})
        converted, left = (f.assign(design=row_designs(f)) if len(f) else f.assign(design=pd.Series(dtype=object))
                           for f in (converted, left))
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
    Thresholds in :data:`PLAUSIBLE`. Also flags every odds ratio converted without its group sizes
    (:data:`row_conversions.EQUAL_SPLIT`): r = d/sqrt(d² + a) with a = 4 assumes a 50:50 split, and
    for a rarer exposure a is larger and r smaller (Borenstein et al. 2009, eq. 7.7).
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
            source = "CI implies" if str(row.get("variance_from")).endswith("printed") else "2×2 counts imply"
            checks.append(f"{source} {ratio:.2g}× the variance that n gives")
        if row.get("conversion") == EQUAL_SPLIT:
            checks.append("odds ratio without group sizes: a 50:50 split assumed (r too large if the exposure is rare)")
        if checks:
            rows.append({"study_id": row["study_id"], "row_id": row[id_col],
                         "statistic_as_printed": row["statistic_as_printed"], "estimate": estimate, "vi": row["vi"],
                         "vi_from_n": row.get("vi_from_n", np.nan), "check": "; ".join(checks)})
    return pd.DataFrame(rows, columns=columns)
