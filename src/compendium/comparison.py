"""A comparison that says what it is: each published pooled result beside ours, with the flags a
reviewer needs before reading the two numbers side by side (notebook 03, the report's first table).

Without the authors' extraction sheets this is a comparison, not a reproduction: our open
extraction holds only what public reports print. Dropping the authors' sheets into ``data/raw/``
turns the same table into a reproduction check.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .admission import filter_rows, flag_counts
from .analyses import Analysis, fit_both, transform_of
from .sheets import Review
from .small_k import RULES, SmallKRules

COLUMNS = ["review", "published_analysis", "metric", "published_estimate", "published_p", "published_studies",
           "our_analysis", "k", "n", "estimate", "ci_low", "ci_high", "pval", "ci_low_knha", "ci_high_knha",
           "pval_knha", "k_le_3", "single_study", "later_studies", "proxy_share", "other_comparator",
           "mapping_uncertain", "note"]


def _published_studies(review: Review) -> float:
    """The number of studies the published review pooled (``review.json`` key ``published_k_row``)."""
    key = review.meta.get("published_k_row")
    pub = review.published
    row = pub[pub["analysis"] == key] if key else pub.iloc[0:0]
    return float(row["k"].iloc[0]) if len(row) and pd.notna(row["k"].iloc[0]) else np.nan


def _ours(data: pd.DataFrame, fits: dict, f) -> dict:
    out = {"k": len(data), "n": float(pd.to_numeric(data["n"], errors="coerce").sum(min_count=1)) if len(data) else 0.0}
    if fits:
        z, hk = fits["z"], fits["knha"]
        out.update(estimate=f(z.estimate), ci_low=f(z.ci_low), ci_high=f(z.ci_high), pval=z.pval,
                   ci_low_knha=f(hk.ci_low), ci_high_knha=f(hk.ci_high), pval_knha=hk.pval)
    elif len(data) == 1:
        out["estimate"] = f(float(data["yi"].iloc[0]))
    counts = flag_counts(data) if len(data) else {"later_study": 0, "other_comparator": 0, "proxy_share": np.nan}
    out.update(k_le_3=len(data) <= 3, single_study=len(data) == 1, later_studies=counts["later_study"],
               proxy_share=counts["proxy_share"], other_comparator=counts["other_comparator"])
    return out


def comparison_table(review: Review, analyses: dict[str, Analysis], level: float = 0.95,
                     rules: SmallKRules = RULES) -> pd.DataFrame:
    """Every published pooled result of ``review`` beside our estimate under z and Hartung–Knapp.

    A published subgroup result (``"published"`` on a subgroup of ``review.json`` with
    ``"published_group"``) is compared with our pool of that group. ``mapping_uncertain`` is set
    where ``review.json`` gives a ``"mapping_note"`` (our analysis may not be the one published).
    """
    f = transform_of(review)
    total = _published_studies(review)
    by_name = {a.published: a for a in analyses.values() if a.published}
    groups = {s["published"]: s for s in review.meta.get("subgroups", []) if s.get("published")}
    rows = []
    for p in review.published.itertuples():
        if p.metric == "count":
            continue
        row = {"review": review.review_id, "published_analysis": p.analysis, "metric": p.metric,
               "published_estimate": p.estimate, "published_p": p.p, "published_studies": total}
        notes = []
        if pd.isna(p.estimate) and ":" in str(p.source):
            notes.append("published: " + str(p.source).split(":", 1)[1].strip())
        if p.analysis in by_name:
            a = by_name[p.analysis]
            row.update(our_analysis=a.label, **_ours(a.data, a.fits, f))
            mapping = a.spec.get("mapping_note")
        elif p.analysis in groups:
            spec = groups[p.analysis]
            a = analyses[spec["analysis"]]
            data = filter_rows(a.data, {spec["by"]: [spec["published_group"]]}) if len(a.data) else a.data
            fits = fit_both(data["yi"], data["vi"], a.method, level, rules) if len(data) else {}
            row.update(our_analysis=f"{a.label}, {spec['by']} = {spec['published_group']}", **_ours(data, fits, f))
            mapping = spec.get("mapping_note")
        else:
            row.update(our_analysis="", k=0, n=0.0)
            mapping = "no matching analysis in review.json"
        row["mapping_uncertain"] = bool(mapping)
        notes += [m for m in (mapping,) if m]
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
    totals = ", ".join(f"{int(t)} ({r})" for r, t in zip(reviews["review"], reviews["published_studies"]) if pd.notna(t))
    k_range = (f"k = {int(pooled['k'].min())}–{int(pooled['k'].max())}" if len(pooled) > 1 and
               pooled["k"].min() != pooled["k"].max() else f"k = {int(pooled['k'].iloc[0])}" if len(pooled) else "")
    first = (f"Our open extraction sets an estimate beside {len(ours)} of the {n_pub} published pooled results; "
             f"{len(pooled)} of them pool two or more studies" + (f" ({k_range})" if k_range else "") +
             (f", against the {totals} studies the published reviews pooled." if totals else "."))
    small = int(comparison["k_le_3"].fillna(False).astype(bool).sum())
    second = ((f"All {n_pub} comparisons" if small == n_pub else f"{small} of the {n_pub} comparisons") +
              " rest on three studies or fewer, and "
              f"{int(comparison['mapping_uncertain'].astype(bool).sum())} may not match the published analysis exactly "
              "(see the flags): these are comparisons, not reproductions.")
    third = ("Public study reports rarely print a convertible statistic; reproducing the published numbers needs the "
             "authors' extraction sheets, which drop into data/raw/ in the same schema (README, drop-in section).")
    return [first, second, third]
