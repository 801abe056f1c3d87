"""Every within-study choice as a multiverse (notebook 03): where a study gave more than one
admissible effect to an analysis, the analysis is refitted under every combination of choices, so
that the primary rule's pick ("lower row id" at its last step, a convention) is one specification
among all (Simonsohn, Simmons & Nelson 2020, specification curve; Voracek, Kossmeier & Tran 2019,
multiverse meta-analysis).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from .admission import _row_id_column, admit
from .analyses import Analysis, _fit_columns, fit_both
from .small_k import RULES, SmallKRules

MAX_ENUMERATED = 100_000   # above this many combinations a fixed number is sampled
SAMPLED = 10_000           # that number
SEED = 20_260_522          # fixed, so the sample is the same on every run
COLUMNS = ["analysis", "label", "specifications", "combinations", "sampled", "studies_with_choices", "min_estimate",
           "median_estimate", "max_estimate", "share_p_below_05", "primary_estimate", "primary_rank", "primary_rule"]


def choice_sets(a: Analysis) -> list[pd.DataFrame]:
    """The admitted rows of analysis ``a`` grouped by study (``sample_id`` where papers share a
    sample), one frame per study, in study order: the rows among which one is chosen."""
    rows = admit(a.candidates, a.rule) if len(a.candidates) else a.candidates
    if rows.empty:
        return []
    unit = "sample_id" if "sample_id" in rows else "study_id"
    id_col = _row_id_column(rows)
    return [block.sort_values(id_col) for _, block in rows.groupby(unit, sort=True)]


def specifications(sets: list[pd.DataFrame], max_enumerated: int = MAX_ENUMERATED, sampled: int = SAMPLED,
                   seed: int = SEED) -> tuple[list[tuple[int, ...]], int]:
    """The combinations of choices, one row index per study: all of them when their number
    (∏ nᵢ, nᵢ the admissible effects of study i) is at most ``max_enumerated``, else ``sampled``
    distinct ones drawn with ``numpy.random.default_rng(seed)``. Returns (combinations, ∏ nᵢ)."""
    sizes = [len(s) for s in sets]
    total = math.prod(sizes) if sizes else 0
    if total <= max_enumerated:
        return list(itertools.product(*[range(n) for n in sizes])), total
    rng = np.random.default_rng(seed)
    seen: dict[tuple[int, ...], None] = {}
    while len(seen) < sampled:
        seen.setdefault(tuple(int(rng.integers(n)) for n in sizes), None)
    return list(seen), total


def multiverse(a: Analysis, transform=None, rules: SmallKRules = RULES, max_enumerated: int = MAX_ENUMERATED,
               sampled: int = SAMPLED, seed: int = SEED) -> tuple[dict, pd.DataFrame]:
    """Analysis ``a`` refitted under every specification of :func:`specifications`.

    Each specification keeps one admitted row per study and is fitted as the primary is (its τ²
    estimator and level, z and Hartung–Knapp), the p value taken from the column the fits table
    leads with (``pval``). Returns (summary row, one row per specification: ``estimate`` and
    ``ci_low``/``ci_high`` on the display scale, ``pval``, ``primary`` and the chosen row of each
    study with choices). The primary's rank is its place among the estimates sorted from the
    smallest (ties share the lowest rank). Nothing is returned for analyses below ``min_k_pool``.
    """
    f = transform or (lambda x: x)
    sets = choice_sets(a)
    combos, total = specifications(sets, max_enumerated, sampled, seed)
    if not combos or not rules.pooled(len(sets)) or not a.fits:
        return {}, pd.DataFrame()
    id_col = _row_id_column(sets[0])
    primary_ids = set(a.data[id_col])
    varying = [i for i, s in enumerate(sets) if len(s) > 1]
    records = []
    for combo in combos:
        chosen = pd.concat([sets[i].iloc[[j]] for i, j in enumerate(combo)])
        fits = fit_both(chosen["yi"].to_numpy(), chosen["vi"].to_numpy(), a.method, a.level, rules)
        row = _fit_columns(fits, a.test, rules)
        records.append({"estimate": f(row["estimate"]), "ci_low": f(row["ci_low"]), "ci_high": f(row["ci_high"]),
                        "pval": row["pval"], "primary": set(chosen[id_col]) == primary_ids,
                        **{str(sets[i]["study_id"].iloc[0]): sets[i][id_col].iloc[combo[i]] for i in varying}})
    specs = pd.DataFrame(records)
    primary = specs.loc[specs["primary"], "estimate"]
    primary_estimate = float(primary.iloc[0]) if len(primary) else np.nan
    rank = int((specs["estimate"] < primary_estimate).sum()) + 1 if len(primary) else np.nan
    summary = {"analysis": a.name, "label": a.label, "specifications": len(specs), "combinations": total,
               "sampled": len(specs) < total, "studies_with_choices": len(varying),
               "min_estimate": float(specs["estimate"].min()), "median_estimate": float(specs["estimate"].median()),
               "max_estimate": float(specs["estimate"].max()),
               "share_p_below_05": float((specs["pval"] < 0.05).mean()), "primary_estimate": primary_estimate,
               "primary_rank": rank, "primary_rule": primary_rule_words(a)}
    return summary, specs


def primary_rule_words(a: Analysis) -> str:
    """Which step of the one-effect-per-study rule decided the primary's choices; "lower row id", and
    "larger n" by less than 1 % (:data:`admission.NEAR_N`), are named as the conventions they are."""
    if a.choices.empty:
        return "no study had a choice"
    steps = list(dict.fromkeys(a.choices["decided_by"]))
    return "; ".join(s + (" (a convention)" if s == "lower row id" else "") for s in steps)


def multiverse_table(analyses: dict[str, Analysis], transform=None, rules: SmallKRules = RULES,
                     **kwargs) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """:func:`multiverse` for every analysis that pools: the summary table
    (``<review>_multiverse.csv``) and the specifications of each analysis with more than one."""
    rows, curves = [], {}
    for a in analyses.values():
        summary, specs = multiverse(a, transform, rules, **kwargs)
        if summary:
            rows.append(summary)
            if summary["specifications"] > 1:
                curves[a.name] = specs
    return pd.DataFrame(rows, columns=COLUMNS), curves


def multiverse_sentences(table: pd.DataFrame, metric: str) -> list[str]:
    """One sentence per analysis with more than one specification, built from the table."""
    from .display import count_text, percent_text, sentence_number as num

    out = []
    for _, r in table[table["specifications"] > 1].iterrows():
        how = "sampled" if r["sampled"] else "all"
        out.append(f"{r['label']}: over {how} {r['specifications']:,} specifications "
                   f"({count_text(r['studies_with_choices'], 'study', 'studies')} with a choice) the pooled {metric} ranges from {num(r['min_estimate'])} to "
                   f"{num(r['max_estimate'])} (median {num(r['median_estimate'])}); the primary, chosen by "
                   f"{r['primary_rule']}, gives {num(r['primary_estimate'])}, rank {r['primary_rank']} of "
                   f"{r['specifications']:,}; p < .05 in {percent_text(r['share_p_below_05'], 0, fraction=True)} "
                   "of them.")
    return out


def specification_curve(specs: pd.DataFrame, title: str, ylabel: str):
    """Specification curve (Simonsohn et al. 2020): the pooled estimate of every specification,
    sorted, with its interval (filled where p < .05) and the primary marked; below, which row of
    each study with a choice the specification keeps."""
    import matplotlib.pyplot as plt

    from .figures import PALETTE

    specs = specs.sort_values("estimate", kind="stable").reset_index(drop=True)
    studies = [c for c in specs.columns if c not in ("estimate", "ci_low", "ci_high", "pval", "primary")]
    x = np.arange(len(specs))
    n_lines = sum(specs[s].nunique() for s in studies)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 2.6 + 0.2 * n_lines + 0.6), sharex=True,
                                      gridspec_kw={"height_ratios": [2.6, 0.2 * n_lines + 0.6]})
    significant = specs["pval"] < 0.05
    top.vlines(x, specs["ci_low"], specs["ci_high"], color=PALETTE["light"], lw=1.2)
    for sig, colour in ((True, PALETTE["accent"]), (False, PALETTE["muted"])):
        sel = significant == sig
        if not sel.any():
            continue
        top.scatter(x[sel], specs.loc[sel, "estimate"], s=22, color=colour, zorder=3,
                    label="p < .05" if sig else "p ≥ .05")
    primary = specs.index[specs["primary"]]
    top.scatter(x[primary], specs.loc[primary, "estimate"], s=90, facecolor="none", edgecolor=PALETTE["accent2"],
                lw=1.4, zorder=4, label="primary rule")
    top.axhline(0, color=PALETTE["ink"], lw=0.6)
    top.set_ylabel(ylabel, fontsize=8)
    top.legend(fontsize=7, frameon=False, loc="upper left")
    top.set_title(title, fontsize=10, loc="left", fontweight="bold")
    lines = [(study, row_id) for study in studies for row_id in sorted(specs[study].unique())]
    for i, (study, row_id) in enumerate(lines):
        sel = (specs[study] == row_id).to_numpy()
        bottom.scatter(x[sel], np.full(int(sel.sum()), i), s=12, marker="s", color=PALETTE["ink"])
    bottom.set_yticks(range(len(lines)))
    bottom.set_yticklabels([row_id for _, row_id in lines], fontsize=7)
    bottom.set_ylim(len(lines) - 0.5, -0.5)
    bottom.set_ylabel("row kept", fontsize=8)
    bottom.set_xlabel("specification (sorted by estimate)", fontsize=8)
    ticks = x if len(x) <= 20 else np.linspace(0, len(x) - 1, 6).astype(int)
    bottom.set_xticks(ticks, [str(t + 1) for t in ticks])
    fig.tight_layout()
    return fig
