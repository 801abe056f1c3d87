"""What enters an analysis: the filter of ``review.json``, the scope, the admission rules for
proxies, other comparators and later studies, and one effect per study by a stated rule.

``review.json`` says, for the whole review (and an analysis may override it under ``"admit"``):

* ``"direct_measure": {"column": ..., "values": [...]}`` — rows whose column takes one of the
  values measure the outcome directly; any other value is a proxy;
* ``"comparator": {"column": ..., "values": [...]}`` — the comparison the review's question names;
  any other value is "another comparator";
* ``"search_end"`` (ISO date, or null where the paper does not state it) and ``"review_year"`` —
  studies published after the search's year (else after the review's year) could not have been in
  the review (:func:`last_eligible_year`);
* ``"design"`` on an analysis — the question it answers: ``"between_person"`` (an association
  across persons), ``"between_group"`` (a randomised or assigned contrast) or ``"within_group"``
  (change within the same people); only rows whose ``design`` (:data:`DESIGN_KINDS`) answers it
  are candidates, the others are not pooled there (they vote in their own design cell);
* an association estimated in a model with covariates (``adjusted`` "yes", or any standardised β),
  however few its predictors, is a partial association, not a bivariate one, whatever its
  statistic type (β, adjusted OR, an exact p): it is flagged ``partial``
  (:func:`partial_association`) and enters only where ``"adjusted_estimates"`` is admitted; it
  votes by its direction. Adjustment of a randomised between-arm or a pre–post contrast (ANCOVA
  on baseline) estimates the same effect and is not flagged;
* ``"admit": {"proxies": false, "other_comparators": false, "later_studies": false,
  "adjusted_estimates": false}`` — what the primary analysis admits. The defaults follow the published review; every variant enters the
  sensitivity table, and wherever one is admitted it is marked (``marks``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .sheets import Review

DEFAULT_ADMIT = {"proxies": False, "other_comparators": False, "later_studies": False, "adjusted_estimates": False}
FLAGS = {"proxy": ("proxies", "†", "proxy measure"),
         "other_comparator": ("other_comparators", "‡", "other comparator"),
         "later_study": ("later_studies", "§", "published after the review"),
         "partial": ("adjusted_estimates", "¶", "adjusted estimate (partial association)")}
EXCLUDED_VALUES = ("", "none")
DESIGN_KINDS = {"cross_sectional": "between_person", "longitudinal": "between_person",
                "experimental": "between_group", "pre_post": "within_group"}
COMPARISON_DESIGN = {"between": "experimental", "within": "pre_post"}  # intervention sheets: one trial's contrasts


def filter_rows(frame: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Rows whose columns take one of the listed values: ``{"column": [values], ...}``."""
    mask = pd.Series(True, index=frame.index)
    for column, values in spec.items():
        if column not in frame:
            raise KeyError(f"analysis filter names column {column!r}, which the sheet does not have")
        values = values if isinstance(values, list) else [values]
        mask &= frame[column].isin(values)
    return frame[mask]


def row_designs(frame: pd.DataFrame) -> pd.Series:
    """The design of each row's contrast: the sheet's ``design`` column, or for an intervention sheet
    (randomised trials) ``experimental`` for a between-arm row and ``pre_post`` for a within-arm
    row (:data:`COMPARISON_DESIGN`); "" where neither says."""
    if "design" in frame:
        return frame["design"].fillna("").astype(str)
    if "comparison" in frame:
        return frame["comparison"].map(COMPARISON_DESIGN).fillna("")
    return pd.Series("", index=frame.index)


def filter_design(frame: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Rows whose design answers the analysis's question (``spec["design"]``, see
    :data:`DESIGN_KINDS`); all rows when the analysis states no design."""
    wanted = spec.get("design")
    if not wanted or frame.empty:
        return frame
    if wanted not in set(DESIGN_KINDS.values()):
        raise ValueError(f"analysis {spec.get('name')!r}: design {wanted!r} is not one of "
                         f"{sorted(set(DESIGN_KINDS.values()))}")
    return frame[row_designs(frame).map(DESIGN_KINDS) == wanted]


def with_scope(frame: pd.DataFrame, studies: pd.DataFrame, core_only: bool) -> pd.DataFrame:
    """Drop edge-of-scope rows (study- or row-level ``scope_flag``) when ``core_only``."""
    if not core_only or "scope_flag" not in studies:
        return frame
    flagged = set(studies.loc[~studies["scope_flag"].isin(EXCLUDED_VALUES), "study_id"])
    keep = ~frame["study_id"].isin(flagged)
    if "scope_flag" in frame:
        keep &= frame["scope_flag"].isin(EXCLUDED_VALUES)
    return frame[keep]


def partial_association(rows: pd.DataFrame) -> pd.Series:
    """True where a row's estimate is a partial association: one rule for every statistic type.

    A between-person association (``design`` cross-sectional or longitudinal) estimated in a model
    with covariates — ``adjusted`` "yes", or a standardised β (a regression or path coefficient) —
    whatever the number of predictors (``predictors``): one covariate already makes it partial, so
    no model is let in as "nearly bivariate". Such an estimate answers "given the covariates", not
    the bivariate question a pooled r asks (Peterson & Brown 2005 on β; Borenstein et al. 2009,
    ch. 7 on mixing adjusted and unadjusted effects). ``adjusted`` "unclear" is not flagged (the
    "primary, unadjusted only" variant leaves it out; comparison.csv's ``why`` names such rows). False for rows of other designs and for sheets without an ``adjusted`` column.
    """
    if rows.empty or "adjusted" not in rows:
        return pd.Series(False, index=rows.index)
    model = rows["adjusted"].astype(str).eq("yes")
    if "statistic_type" in rows:
        model |= rows["statistic_type"].astype(str).eq("beta")
    between_person = row_designs(rows).map(DESIGN_KINDS).eq("between_person")
    return (model & between_person).astype(bool)


def admission_flags(rows: pd.DataFrame, meta: dict) -> pd.DataFrame:
    """Add ``proxy``, ``other_comparator``, ``later_study``, ``partial`` (booleans) and ``marks`` to ``rows``.

    A flag is False where ``review.json`` states no rule for it or the sheet lacks the column, so
    a drop-in sheet without these columns runs unchanged.
    """
    rows = rows.copy()
    for flag, key in (("proxy", "direct_measure"), ("other_comparator", "comparator")):
        rule = meta.get(key)
        if rule and rule["column"] in rows:
            rows[flag] = ~rows[rule["column"]].isin(rule["values"])
        else:
            rows[flag] = False
    year = last_eligible_year(meta)
    rows["later_study"] = (pd.to_numeric(rows["year"], errors="coerce") > year).fillna(False) \
        if year is not None and "year" in rows else False
    rows["partial"] = partial_association(rows)
    rows["marks"] = [
        "".join(FLAGS[f][1] for f in FLAGS if r[f]) for _, r in rows[list(FLAGS)].iterrows()
    ] if len(rows) else pd.Series(dtype=object)
    return rows


def last_eligible_year(meta: dict) -> int | None:
    """The last publication year a study could have to be found by the review's search: the year of
    ``"search_end"`` (ISO date) where review.json states it, else ``"review_year"`` (a study of that
    year may still postdate the search; the sheets hold years only, so a finer rule is not possible)."""
    end = meta.get("search_end")
    if end:
        return int(str(end)[:4])
    return meta.get("review_year")


def admit_rule(review: Review, spec: dict | None = None) -> dict:
    """The admission rule of one analysis: the defaults, then review.json's, then the analysis's own."""
    rule = {**DEFAULT_ADMIT, **review.meta.get("admit", {})}
    return {**rule, **((spec or {}).get("admit", {}))}


def admit(rows: pd.DataFrame, rule: dict) -> pd.DataFrame:
    """Rows that ``rule`` admits (``rows`` carries the flags of :func:`admission_flags`)."""
    keep = pd.Series(True, index=rows.index)
    for flag, (key, _, _) in FLAGS.items():
        if not rule.get(key, False):
            keep &= ~rows[flag].astype(bool)
    return rows[keep]


def describe_rule(rule: dict, review_year: int | None) -> str:
    """The rule in words, e.g. 'direct measures, named comparator, published up to 2023'."""
    parts = ["proxies admitted" if rule["proxies"] else "direct measures",
             "any comparator" if rule["other_comparators"] else "named comparator",
             "any year" if rule["later_studies"] or review_year is None else f"published up to {review_year}"]
    return ", ".join(parts)


# -- one effect per study -------------------------------------------------------------------------

SELECTION_RULE = (
    ("proxy", "direct measure before proxy"),
    ("other_comparator", "named comparator before another"),
    ("follow_up", "post before follow-up"),
    ("adjusted", "unadjusted before adjusted"),
    ("minus_n", "larger n"),
    ("row_id", "lower row id"),
)


NEAR_N = 0.01  # a convention: two ns within 1 % of each other do not make one effect the better
NEAR_N_WORDS = "larger n (by less than 1 %: a convention)"


def _row_id_column(rows: pd.DataFrame) -> str:
    return "effect_id" if "effect_id" in rows else "outcome_id"


def one_effect_per_study(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep one effect per study, so that no sample counts twice; say which was kept and why.

    The rule, in order: the construct measured directly before a proxy; the named comparator
    before another; post before follow-up; unadjusted before adjusted; the larger n; and only
    then the lower row id (:data:`SELECTION_RULE`). Where the larger n exceeds the runner-up's by
    less than :data:`NEAR_N` (1 %, e.g. 5854 vs 5849 in two models of one survey), ``decided_by``
    names it a convention, as the lower row id is: nothing of substance separates the two. Two papers on one sample (``sample_id``)
    count as one study. Returns (kept rows, choices), where choices
    has one row per study with more than one candidate: ``kept``, ``dropped`` and ``decided_by``
    (the first step of the rule that separated the kept row from the runner-up).
    """
    choice_cols = ["study_id", "kept", "dropped", "decided_by"]
    if rows.empty:
        return rows, pd.DataFrame(columns=choice_cols)
    id_col = _row_id_column(rows)
    keys = pd.DataFrame(index=rows.index)
    keys["proxy"] = rows["proxy"].astype(bool) if "proxy" in rows else False
    keys["other_comparator"] = rows["other_comparator"].astype(bool) if "other_comparator" in rows else False
    keys["follow_up"] = (rows["timepoint"] == "follow_up") if "timepoint" in rows else False
    keys["adjusted"] = (rows["adjusted"] == "yes") if "adjusted" in rows else False
    keys["minus_n"] = -pd.to_numeric(rows["n"], errors="coerce").fillna(0) if "n" in rows else 0
    keys["row_id"] = rows[id_col]
    order = [k for k, _ in SELECTION_RULE]
    ranked = keys.sort_values(order, kind="stable")
    unit = "sample_id" if "sample_id" in rows else "study_id"
    choices = []
    for study, block in ranked.groupby(rows.loc[ranked.index, unit], sort=True):
        if len(block) < 2:
            continue
        best, runner_up = block.iloc[0], block.iloc[1]
        decided = next(label for key, label in SELECTION_RULE if best[key] != runner_up[key])
        if decided == "larger n" and -best["minus_n"] > 0 and \
                (runner_up["minus_n"] - best["minus_n"]) / -best["minus_n"] < NEAR_N:
            decided = NEAR_N_WORDS
        choices.append({"study_id": study, "kept": best["row_id"],
                        "dropped": ", ".join(block["row_id"].iloc[1:]), "decided_by": decided})
    kept = rows.loc[ranked.index].drop_duplicates(unit).sort_values(id_col)
    return kept, pd.DataFrame(choices, columns=choice_cols)


def select_one_per_study(effects: pd.DataFrame) -> pd.DataFrame:
    """The rows :func:`one_effect_per_study` keeps (without the table of choices)."""
    if not effects.empty and "proxy" not in effects and "outcome_proxy" in effects:
        effects = effects.assign(proxy=~effects["outcome_proxy"].isin(["none", ""]))
    return one_effect_per_study(effects)[0]


def flag_counts(rows: pd.DataFrame) -> dict:
    """Studies with each flag among ``rows`` and the share of N that proxies carry."""
    out = {}
    for flag in FLAGS:
        out[flag] = int(rows.loc[rows[flag].astype(bool), "study_id"].nunique()) if flag in rows and len(rows) else 0
    if len(rows) and "proxy" in rows and "n" in rows:
        n = pd.to_numeric(rows["n"], errors="coerce")
        out["proxy_share"] = float(n[rows["proxy"].astype(bool)].sum() / n.sum()) if n.sum() > 0 else np.nan
    else:
        out["proxy_share"] = 0.0 if len(rows) else np.nan
    return out
