"""A comparison that says what it is: each published pooled result beside ours, with the flags a
reviewer needs before reading the two numbers side by side (notebook 03, the report's first table).

Without the authors' extraction sheets this is a comparison, not a reproduction: our open
extraction holds only what public reports print. Dropping the authors' sheets into ``data/raw/``
turns the same table into a reproduction check.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .admission import filter_rows
from .analyses import Analysis, fit_both, transform_of
from .bayes_view import fit_analysis_bayes
from .sheets import Review
from .small_k import RULES, SmallKRules, name_of_test

COLUMNS = ["review", "published_analysis", "metric", "published_estimate", "published_p", "published_included",
           "published_k", "our_analysis", "k", "n", "test", "estimate", "ci_low", "ci_high", "pval", "ci_low_z",
           "ci_high_z", "pval_z", "bayes_estimate", "bayes_ci_low", "bayes_ci_high", "bayes_p_positive", "k_le_3",
           "single_study", "studies_not_admitted", "mapping_uncertain", "why", "note"]
K_NOT_STATED = "published k not stated in the paper's reachable text"


def published_included(review: Review) -> float:
    """The number of studies the published review included (``review.json`` key
    ``published_included_row``: a ``count`` row of ``published_results.csv``), or NaN."""
    key = review.meta.get("published_included_row")
    pub = review.published
    row = pub[pub["analysis"] == key] if key else pub.iloc[0:0]
    return float(row["k"].iloc[0]) if len(row) and pd.notna(row["k"].iloc[0]) else np.nan


def published_k(p) -> float:
    """The number of studies in one published pooled analysis (its own ``k`` in
    ``published_results.csv``), NaN where the paper does not state it."""
    return float(p.k) if pd.notna(p.k) else np.nan


# The extractor's words (the sheets' ``notes``) for a model in which the outcome predicts help seeking:
# its coefficient answers another question than the association's, unlike a correlation or a 2×2 table.
REVERSE = re.compile(r"\breverse direction\b", re.IGNORECASE)
MODEL_WORDS = re.compile(r"\b(?:M?ANCOVA|MANOVA|repeated[- ]measures?|mixed[- ]models?|multilevel|GEE|regression|"
                         r"covariates?|adjusted for)\b", re.IGNORECASE)  # a model other than the two-sample test


def _ids(data: pd.DataFrame, mask: pd.Series) -> str:
    return ", ".join(sorted(set(data.loc[mask, "study_id"].astype(str))))


def _conversion_reasons(data: pd.DataFrame, design: str | None) -> list[str]:
    """The flags notebook 02 raises on the rows an analysis pools, named by study."""
    from .admission import DESIGN_KINDS, row_designs
    from .harmonise import plausibility_screen
    from .row_conversions import EQUAL_SPLIT
    why = []
    conversion = data["conversion"].fillna("").astype(str) if "conversion" in data else pd.Series("", index=data.index)
    equal = conversion == EQUAL_SPLIT
    if equal.any():
        why.append(f"odds ratio converted with equal groups assumed (group sizes not printed): {_ids(data, equal)}")
    if "adjusted" in data:
        unclear = (data["adjusted"].astype(str) == "unclear") & row_designs(data).map(DESIGN_KINDS).eq("between_person")
        if unclear.any():
            why.append(f"adjusted = unclear (a partial association not ruled out): {_ids(data, unclear)}")
    from_p = conversion.str.startswith("exact p")
    if from_p.any():
        text = (data.get("statistic_as_printed", pd.Series("", index=data.index)).fillna("").astype(str) + " "
                + data.get("notes", pd.Series("", index=data.index)).fillna("").astype(str))
        adjusted = data["adjusted"].astype(str).eq("yes") if "adjusted" in data else pd.Series(False, index=data.index)
        for i in data.index[from_p & (adjusted | text.str.contains(MODEL_WORDS))]:
            words = list(dict.fromkeys(m.group(0) for m in MODEL_WORDS.finditer(text[i])))
            words += ["adjusted = yes"] if adjusted[i] else []
            n1, n2 = (data.loc[i, c] if c in data else np.nan for c in
                      (("n_ig", "n_cg") if "n_ig" in data else ("n_group1", "n_group2")))
            sizes = f" with {n1:g}/{n2:g}" if pd.notna(n1) and pd.notna(n2) else ""
            why.append(f"{data.loc[i, 'study_id']}: the p of a model ({', '.join(words)}) converted as a two-sample "
                       f"t test{sizes}")
    if "vi_from_n" in data and "vi" in data:
        screen = plausibility_screen(data, design or ("correlational" if "r" in data else "intervention"))
        for study, check in zip(screen["study_id"], screen["check"]):
            checks = [c for c in check.split("; ") if not c.startswith("odds ratio without group sizes")]
            if checks:
                why.append(f"plausibility screen (notebook 02): {study} ({'; '.join(checks)})")
    if "probable_sample_id" in data and "sample_id" in data:
        pooled = set(data["sample_id"].astype(str))
        for _, row in data[data["probable_sample_id"] != data["sample_id"]].iterrows():
            partner = str(row["probable_sample_id"])
            where = ("both pooled here" if partner in pooled else f"{partner} not pooled here")
            why.append(f"{row['study_id']} probably shares its sample with {partner} (no source shows it; {where}; "
                       f"variant \"primary, probable same-sample pairs merged\")")
    return list(dict.fromkeys(why))


def mapping_reasons(data: pd.DataFrame, note: str | None, review_design: str | None = None) -> list[str]:
    """Why our pooled analysis may not be the published one, by stated rules on the rows it pools.

    * a pre–post change (``design`` pre_post) or an engagement contrast within one arm of a trial
      (``design`` longitudinal in a study of design ``rct``): not the between-person association;
    * a path or β from a regression model (``statistic_type`` beta): a partial association;
    * a model in the reverse direction (``notes`` say "reverse direction": the outcome predicts help
      seeking), whose coefficient is not the association the review pooled;
    * blended interventions or caregivers (``scope_flag`` of the row or the study);
    * mixed standardisations: effect sizes standardised by their authors (d, g, SMD as printed)
      pooled with ones we computed from means, t, F or p;
    * the flags notebook 02 raises, each naming its studies: an odds ratio converted with equal groups
      assumed (:data:`row_conversions.EQUAL_SPLIT`); a between-person row whose ``adjusted`` is
      "unclear" (a partial association not ruled out; adjustment of a randomised contrast estimates
      the same effect, as in :func:`admission.partial_association`); an effect converted from the p of
      a model other than the two-sample test (``adjusted`` "yes", or the printed statistic or notes
      name one, :data:`MODEL_WORDS`: the conversion takes p as a two-sample t, Borenstein et al. 2009
      ch. 7); a row the plausibility screen flags (:func:`harmonise.plausibility_screen`, design
      ``review_design`` or read from the columns); a probable same-sample pair (``probable_sample_id``), with
      the sensitivity variant that merges it;
    * the analysis's own ``mapping_note`` in ``review.json``.
    """
    why = []
    if len(data):
        design = data["design"].fillna("").astype(str) if "design" in data else pd.Series("", index=data.index)
        study_design = data["study_design"] if "study_design" in data else pd.Series("", index=data.index)
        if (design == "pre_post").any():
            why.append("pre–post change pooled")
        if ((design == "longitudinal") & (study_design == "rct")).any():
            why.append("engagement contrast within a trial arm")
        if "statistic_type" in data and (data["statistic_type"] == "beta").any():
            why.append("path or beta from a regression model")
        if "notes" in data:
            reverse = data["notes"].fillna("").astype(str).str.contains(REVERSE)
            if reverse.any():
                why.append(f"modelled in the reverse direction (the outcome predicts help seeking): {_ids(data, reverse)}")
        flags = set()
        for column in ("scope_flag", "study_scope_flag"):
            if column in data:
                flags |= {f for cell in data[column].fillna("").astype(str) for f in cell.split(";")}
        if "blended" in flags:
            why.append("blended intervention pooled")
        if "caregivers" in flags:
            why.append("caregiver trial pooled")
        if "conversion" in data:
            printed = data["conversion"].astype(str).str.contains("as printed")
            if printed.any() and not printed.all():
                why.append("mixed standardisations (printed d or g with ones computed from means, t, F or p)")
        why += _conversion_reasons(data, review_design)
    if note:
        why.append(note)
    return why


def _ours(data: pd.DataFrame, fits: dict, f, test: str, bayes=None, candidates: pd.DataFrame | None = None) -> dict:
    """Our k, n, the leading test's estimate, interval and p, the z interval and p beside them, the
    Bayesian posterior median, credible interval and P(μ > 0), and the studies not admitted."""
    out = {"k": len(data), "n": float(pd.to_numeric(data["n"], errors="coerce").sum(min_count=1)) if len(data) else 0.0}
    if fits:
        lead, z = fits[test], fits["z"]
        out.update(test=name_of_test(test), estimate=f(lead.estimate), ci_low=f(lead.ci_low), ci_high=f(lead.ci_high),
                   pval=lead.pval, ci_low_z=f(z.ci_low), ci_high_z=f(z.ci_high), pval_z=z.pval)
    elif len(data) == 1:
        out["estimate"] = f(float(data["yi"].iloc[0]))
    if bayes is not None:
        out.update(bayes_estimate=f(bayes.mu_median), bayes_ci_low=f(bayes.ci_low), bayes_ci_high=f(bayes.ci_high),
                   bayes_p_positive=bayes.p_mu_positive)
    left_out = (set(candidates["study_id"]) - set(data["study_id"] if len(data) else [])
                if candidates is not None and len(candidates) else set())
    out.update(k_le_3=len(data) <= 3, single_study=len(data) == 1, studies_not_admitted=len(left_out))
    return out


def comparison_table(review: Review, analyses: dict[str, Analysis], level: float = 0.95,
                     rules: SmallKRules = RULES) -> pd.DataFrame:
    """Every published pooled result of ``review`` beside our estimate under the leading test
    (``test``: the analyses' ``ci_method``), with the z interval and p beside it.

    A published subgroup result (``"published"`` on a subgroup of ``review.json`` with
    ``"published_group"``) is compared with our pool of that group. ``published_included`` is the
    number of studies the review included, ``published_k`` the number in that pooled analysis where
    the paper states it (otherwise empty, and ``note`` says so). ``mapping_uncertain`` is set by the
    rules of :func:`mapping_reasons`, which ``why`` lists. ``studies_not_admitted``: studies our
    filter found that the primary rule left out (proxies, other comparators, later studies).
    """
    f = transform_of(review)
    total = published_included(review)
    by_name = {a.published: a for a in analyses.values() if a.published}
    groups = {s["published"]: s for s in review.meta.get("subgroups", []) if s.get("published")}
    rows = []
    for p in review.published.itertuples():
        if p.metric == "count":
            continue
        row = {"review": review.review_id, "published_analysis": p.analysis, "metric": p.metric,
               "published_estimate": p.estimate, "published_p": p.p, "published_included": total,
               "published_k": published_k(p)}
        notes = [] if pd.notna(row["published_k"]) else [K_NOT_STATED]
        if pd.isna(p.estimate) and ":" in str(p.source):
            notes.append("published: " + str(p.source).split(":", 1)[1].strip())
        if p.analysis in by_name:
            a = by_name[p.analysis]
            row.update(our_analysis=a.label, **_ours(a.data, a.fits, f, a.test, a.bayes, a.candidates))
            data, mapping = a.data, a.spec.get("mapping_note")
        elif p.analysis in groups:
            spec = groups[p.analysis]
            a = analyses[spec["analysis"]]
            data = filter_rows(a.data, {spec["by"]: [spec["published_group"]]}) if len(a.data) else a.data
            fits = fit_both(data["yi"], data["vi"], a.method, level, rules) if len(data) else {}
            bayes = (fit_analysis_bayes(data["yi"], data["vi"], a.bayes.tau_scale, level=level, rules=rules)
                     if fits and a.bayes is not None else None)
            row.update(our_analysis=f"{a.label}, {spec['by']} = {spec['published_group']}",
                       **_ours(data, fits, f, a.test, bayes))
            mapping = spec.get("mapping_note")
        else:
            row.update(our_analysis="", k=0, n=0.0)
            data, mapping = pd.DataFrame(), "no matching analysis in review.json"
        why = mapping_reasons(data, mapping, review.design)
        row["mapping_uncertain"], row["why"] = bool(why), "; ".join(why)
        if row["k"] == 0:
            notes.append("no convertible study in our extraction")
        elif row["k"] == 1:
            notes.append("single study, shown not pooled")
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def comparison_all(reviews: dict[str, Review], results: dict[str, dict], level: float = 0.95) -> pd.DataFrame:
    """:func:`comparison_table` for every review, stacked."""
    frames = [comparison_table(r, results[name], level) for name, r in reviews.items()]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def what_this_comparison_is(comparison: pd.DataFrame) -> list[str]:
    """Two or three sentences, built from ``comparison.csv``, on how far our extraction goes.

    They open the report, so that no reader takes a comparison for a reproduction.
    """
    if comparison.empty:
        return ["No published pooled result is listed in any review's published_results.csv, so there is "
                "nothing to compare with."]
    n_pub = len(comparison)
    ours = comparison[comparison["k"] >= 1]
    pooled = comparison[comparison["k"] >= RULES.min_k_pool]
    reviews = comparison.drop_duplicates("review")
    totals = ", ".join(f"{int(t)} ({r})" for r, t in zip(reviews["review"], reviews["published_included"]) if pd.notna(t))
    stated = int(comparison["published_k"].notna().sum())
    k_range = (f"k = {int(pooled['k'].min())}–{int(pooled['k'].max())}" if len(pooled) > 1 and
               pooled["k"].min() != pooled["k"].max() else f"k = {int(pooled['k'].iloc[0])}" if len(pooled) else "")
    first = (f"Our open extraction sets an estimate beside {len(ours)} of the {n_pub} published pooled results; "
             f"{len(pooled)} of them pool two or more studies" + (f" ({k_range})" if k_range else "") +
             (f"; the published reviews included {totals} studies" if totals else "") +
             (f", and {stated} of their {n_pub} pooled results state how many studies they held." if stated else
              f", and none of their {n_pub} pooled results states, in the text we could reach, how many studies it held."))
    small = int(comparison["k_le_3"].fillna(False).astype(bool).sum())
    second = ((f"All {n_pub} comparisons" if small == n_pub else f"{small} of the {n_pub} comparisons") +
              " rest on three studies or fewer, and "
              f"{int(comparison['mapping_uncertain'].astype(bool).sum())} may not match the published analysis exactly "
              "(see the flags): these are comparisons, not reproductions.")
    third = ("Public study reports rarely print a convertible statistic; reproducing the published numbers needs the "
             "authors' extraction sheets, which drop into data/raw/ in the same schema (README, drop-in section).")
    return [first, second, third]
