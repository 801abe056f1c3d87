"""Sensitivity, not a single number: every pooled analysis under the variants a reviewer asks for,
and sentences built from those numbers (notebook 03).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from meta_analysis.influence import leave_one_out

from .admission import FLAGS, admit, one_effect_per_study
from .analyses import Analysis, fit_both
from .display import sentence_number as _fmt  # the one place that rounds
from .small_k import RULES, SmallKRules, name_of_test

# every label names its base: "all admitted, ..." removes one kind from all admitted studies, "primary, ..." changes
# the primary rule
WITHOUT = {"proxy": "all admitted, without proxies", "other_comparator": "all admitted, without other comparators",
           "later_study": "all admitted, without later studies", "partial": "all admitted, without adjusted estimates"}
ADJUSTED_IN, UNADJUSTED_ONLY = "primary, adjusted estimates admitted", "primary, unadjusted only"
PAIRS_MERGED = "primary, probable same-sample pairs merged"
VARIANT_COLUMNS = ["analysis", "variant", "k", "n", "test", "estimate", "ci_low", "ci_high", "pval", "ci_low_z",
                   "ci_high_z", "pval_z", "tau2", "i2", "studies_added", "studies_removed"]


def most_influential(a: Analysis) -> str | None:
    """The study whose omission moves the pooled estimate most (leave-one-out), for k ≥ 3."""
    if a.fit is None or a.k < 3:
        return None
    loo = leave_one_out(a.data["yi"], a.data["vi"], method=a.fit.method, test=a.test, level=a.fit.level,
                        labels=a.data["study_id"])
    shift = (loo["estimate"] - a.fit.estimate).abs()
    return str(loo["left_out"].iloc[int(np.argmax(shift.to_numpy()))])


def _variant_row(a: Analysis, name: str, rows: pd.DataFrame, primary_ids: set, rules: SmallKRules,
                 transform) -> dict:
    data, _ = one_effect_per_study(rows)
    ids = set(data["study_id"]) if len(data) else set()
    row = {"analysis": a.label, "variant": name, "k": len(data),
           "n": float(pd.to_numeric(data["n"], errors="coerce").sum(min_count=1)) if len(data) else 0.0,
           "studies_added": ", ".join(sorted(ids - primary_ids)),
           "studies_removed": ", ".join(sorted(primary_ids - ids))}
    fits = fit_both(data["yi"], data["vi"], a.method, a.level, rules) if len(data) else {}
    if fits:
        lead, z = fits[a.test], fits["z"]
        row.update(test=name_of_test(a.test), estimate=transform(lead.estimate), ci_low=transform(lead.ci_low),
                   ci_high=transform(lead.ci_high), pval=lead.pval, ci_low_z=transform(z.ci_low),
                   ci_high_z=transform(z.ci_high), pval_z=z.pval, tau2=lead.tau2, i2=lead.i2)
    elif len(data) == 1:
        row.update(estimate=transform(float(data["yi"].iloc[0])))
    return row


def sensitivity_table(analyses: dict[str, Analysis], transform=None, rules: SmallKRules = RULES) -> pd.DataFrame:
    """For every analysis: the primary rule and the variants around it, each under the leading test
    (the analyses' ``ci_method``) with the z interval beside it.

    Variants, each label naming its base: the primary analysis; all admitted studies (proxies, other
    comparators, later studies and adjusted estimates in); "all admitted, without proxies" (and
    without other comparators, later studies, adjusted estimates: all admitted studies minus one
    kind, so they may add studies to the primary); "primary, unadjusted only" (the primary rule,
    rows whose ``adjusted`` is "no"; "unclear" is left out); "primary, probable same-sample pairs
    merged" (``same_sample_probable``; only where such a pair enters); "primary, adjusted estimates
    admitted" (the primary rule with the partial associations of
    :func:`admission.partial_association` in; only where the analysis has one); the primary
    without its most influential study (named). ``studies_added`` / ``studies_removed`` say how
    each variant differs from the primary. Estimates and intervals on the display scale.
    """
    f = transform or (lambda x: x)
    out = []
    everything = {key: True for key, _, _ in FLAGS.values()}
    for a in analyses.values():
        primary_ids = set(a.data["study_id"]) if len(a.data) else set()
        pool = a.candidates
        variants = [("primary: " + _rule_words(a.rule), admit(pool, a.rule) if len(pool) else pool),
                    ("all admitted studies", pool)]
        for flag, (key, _, _) in FLAGS.items():
            variants.append((WITHOUT[flag], admit(pool, {**everything, key: False}) if len(pool) else pool))
        if len(pool) and "partial" in pool and pool["partial"].astype(bool).any():  # the primary rule, partial associations in
            variants.append((ADJUSTED_IN, admit(pool, {**a.rule, "adjusted_estimates": True})))
        if len(pool) and "adjusted" in pool:  # the primary rule, estimates not adjusted for covariates only
            primary = admit(pool, a.rule)
            variants.append((UNADJUSTED_ONLY, primary[primary["adjusted"] == "no"]))
        if len(pool) and "probable_sample_id" in pool and (pool["probable_sample_id"] != pool["sample_id"]).any():
            primary = admit(pool, a.rule)  # probable same-sample pairs counted as one study
            variants.append((PAIRS_MERGED, primary.assign(sample_id=primary["probable_sample_id"])))
        top = most_influential(a)
        if top is not None:
            variants.append((f"primary without the most influential study ({top})",
                             a.data[a.data["study_id"] != top]))
        for name, rows in variants:
            out.append(_variant_row(a, name, rows, primary_ids, rules, f))
    return pd.DataFrame(out, columns=VARIANT_COLUMNS)


def _rule_words(rule: dict) -> str:
    admitted = [words for flag, (key, _, words) in FLAGS.items() if rule.get(key)]
    return "as published" if not admitted else "with " + ", ".join(admitted)



def sensitivity_sentences(table: pd.DataFrame, metric: str) -> list[str]:
    """One sentence per distinct change of studies that moves an estimate, built from the table.

    E.g. "Online support groups: adding Klemm2002 (all admitted studies; all admitted, without proxies) moves r
    from −.01 to .32 (k 2 → 3); under modified Hartung–Knapp its CI runs from −.97 to .99, and
    includes 0." A point estimate alone says nothing at k = 2: every variant that is pooled gets its
    leading interval (the ``test`` column) and whether that interval includes 0. Variants with the
    same studies as the primary, or with nothing to pool, give no sentence; variants with the same
    studies share one sentence.
    """
    sentences = []
    for label, block in table.groupby("analysis", sort=False):
        primary = block.iloc[0]
        if pd.isna(primary["estimate"]):
            continue
        changes: dict[tuple, list] = {}
        for _, v in block.iloc[1:].iterrows():
            if (v["studies_added"] or v["studies_removed"]) and pd.notna(v["estimate"]):
                changes.setdefault((v["studies_added"], v["studies_removed"]), []).append(v)
        for (added, removed), variants in changes.items():
            v = variants[0]
            what = " and ".join(([f"adding {added}"] if added else []) + ([f"leaving out {removed}"] if removed else []))
            # the variant's name without the study ids the sentence names already ("... study (X)" → "... study")
            names = "; ".join(x["variant"].removesuffix(f" ({removed})").removesuffix(f" ({added})") for x in variants)
            sentences.append(f"{label}: {what} ({names}) moves {metric} from {_fmt(primary['estimate'])} to "
                             f"{_fmt(v['estimate'])} (k = {primary['k']} → {v['k']}){_interval_words(v)}.")
    return sentences


def _interval_words(v) -> str:
    """"; under modified Hartung–Knapp its CI runs from −.97 to .99, and includes 0" (empty when not pooled)."""
    if pd.isna(v.get("ci_low")) or pd.isna(v.get("ci_high")):
        return "; one study, not pooled" if v["k"] == 1 else ""
    verdict = ("includes 0" if v["ci_low"] <= 0 <= v["ci_high"]
               else f"lies {'above' if v['ci_low'] > 0 else 'below'} 0")
    return f"; under {v['test']} its CI runs from {_fmt(v['ci_low'])} to {_fmt(v['ci_high'])}, and {verdict}"


def sensitivity_view(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The sensitivity table as a reader needs it: the primary row of each analysis and every variant that
    admits other studies (``studies_added`` or ``studies_removed`` not empty), and one sentence naming the
    variants that admit the same studies as the primary analysis and so repeat its numbers.

    ``sensitivity.csv`` keeps every row; only the display leaves the repeats out.
    """
    moved = (table["studies_added"].fillna("").astype(str) != "") | (table["studies_removed"].fillna("").astype(str) != "")
    primary = table["variant"].astype(str).str.startswith("primary: ")
    same = table[~(moved | primary)]
    if same.empty:
        return table.reset_index(drop=True), "Every variant admits other studies than the primary analysis."
    names = "; ".join(f"{label}: {', '.join(block['variant'])}" for label, block in same.groupby("analysis", sort=False))
    return (table[moved | primary].reset_index(drop=True),
            f"Left out of the table because they admit the same studies as the primary analysis, and so repeat its "
            f"numbers: {names}.")
