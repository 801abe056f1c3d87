"""Sentences that read a result aloud, built from the numbers so that they stay true after a rebuild
with other data, and the small worked examples notebooks 02–05 teach with (weights, τ vs I² vs the
prediction interval, leave-one-out, Egger's test at small k, a sign test by hand).

Numbers are formatted as in the compendium's other sentences (".12", "−0.56", p as "= .032" or "< .001").
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from meta_analysis.small_study import egger_test

from .display import count_text, p_text, sentence_number as _fmt  # the one place that rounds

__all__ = ["EGGER_INSTABILITY_MAX_K", "conversion_sentence", "egger_instability", "egger_instability_not_shown",
           "egger_instability_of", "egger_instability_sentence", "forest_reading", "heterogeneity_sentences", "true_effect_range",
           "high_risk_only", "high_risk_sentence", "i2_at_variance", "i2_tau_example", "i2_tau_sentence",
           "i2_tau_table", "interval_widths", "largest_pooled",
           "leave_one_out_sentence", "leave_one_out_sentences", "pooled_sentences", "rows_named", "scale_of",
           "screen_sentence", "sign_test_by_hand", "vote_reading", "weights_for", "weights_sentence",
           "weights_table"]



def scale_of(review) -> str:
    """"z" for a review pooled as Fisher z (``transform`` "tanh"), else "g"."""
    return "z" if review.meta.get("transform") == "tanh" else "g"


def _pooled(fits: pd.DataFrame) -> pd.DataFrame:
    return fits[(fits["k"] >= 2) & fits["estimate"].notna()]


def _reading(low: float, high: float, metric: str) -> str:
    if low > 0 or high < 0:
        return f"the whole interval lies {'above' if low > 0 else 'below'} 0"
    far = high if abs(high) > abs(low) else low
    return f"the interval includes 0 as well as effects as far from it as {metric} = {_fmt(far)}"


def pooled_sentences(fits: pd.DataFrame, metric: str, transform=None) -> list[str]:
    """One sentence per pooled analysis of ``fits.csv``: the estimate with the leading test's interval
    and p (``test``, notebook 03's ``ci_method``), what that interval allows, and the z interval beside
    it with how much narrower it is (an interval ratio on the analysis scale). "Lies above 0" is
    said only when the leading interval does."""
    from .small_k import name_of_test

    f = transform or (lambda x: x)
    out = []
    for _, r in _pooled(fits).iterrows():
        low, high = f(r["ci_low"]), f(r["ci_high"])
        level = f"{100 * float(r.get('level', 0.95)):g}%"
        text = (f"{r['label']}: {metric} = {_fmt(f(r['estimate']))} ({level} CI {_fmt(low)} to {_fmt(high)}, "
                f"{name_of_test(r['test'])}, p {p_text(r['pval'])}) from {count_text(r['k'], 'study')}; "
                f"{_reading(low, high, metric)}.")
        if r["test"] != "z":
            ratio = (r["ci_high_z"] - r["ci_low_z"]) / (r["ci_high"] - r["ci_low"])
            text += (f" The z interval ({_fmt(f(r['ci_low_z']))} to {_fmt(f(r['ci_high_z']))}, p {p_text(r['pval_z'])}) "
                     f"is {ratio:.2f} times as wide: it treats τ² as known and uses the normal distribution "
                     f"instead of t with {int(r['k']) - 1} df.")
        else:
            text += (f" This is the z interval, which treats τ² as known: with {count_text(r['k'], 'study')} it "
                     "is too narrow (notebook 06).")
        out.append(text)
    return out


def true_effect_range(estimate: float, tau2: float, level: float = 0.95, transform=None) -> tuple[float, float]:
    """Where ``level`` of the true effects lie if μ and τ were known: μ ± z·τ on the analysis scale,
    z the normal quantile (1.96 at 95%), then ``transform`` (Fisher z → r). It says what τ means on
    the effect's scale (Borenstein et al. 2017; IntHout et al. 2016); unlike a prediction interval it
    ignores the uncertainty in μ̂ and τ̂, so it is a reading of τ, not an interval to report."""
    from scipy.stats import norm

    f = transform or (lambda x: x)
    half = float(norm.isf((1 - level) / 2)) * math.sqrt(tau2)
    return float(f(estimate - half)), float(f(estimate + half))


def _tau_reading(r, metric: str, transform) -> str:
    """"τ = 0.131 on the analysis scale (95% of true effects within μ ± 1.96τ: r = .13 to .57)"."""
    tau = math.sqrt(r["tau2"])
    if tau == 0:
        return "τ = 0 on the analysis scale (no spread of true effects estimated)"
    low, high = true_effect_range(r["estimate"], r["tau2"], transform=transform)
    return (f"τ = {tau:.3f} on the analysis scale (95% of true effects within μ ± 1.96τ: {metric} = {_fmt(low)} "
            f"to {_fmt(high)})")


def heterogeneity_sentences(fits: pd.DataFrame, metric: str, transform=None) -> list[str]:
    """τ, I² and the prediction interval (on t(k − 2), from k = 3) of each pooled analysis, read
    together: what τ implies on the effect's scale (:func:`true_effect_range`), how wide the
    prediction interval is, and why (k − 2 degrees of freedom)."""
    f = transform or (lambda x: x)
    out = []
    for _, r in _pooled(fits).iterrows():
        text = f"{r['label']}: {_tau_reading(r, metric, transform)}, I² = {r['i2']:.0f}%"
        k = int(r["k"])
        if pd.notna(r.get("pi_low")):
            low, high = f(r["pi_low"]), f(r["pi_high"])
            text += (f"; a new study's true effect is expected between {metric} = {_fmt(low)} and {_fmt(high)} "
                     f"(95% prediction interval on {r['pi_dist']}, {_fmt(high - low)} wide: once μ and τ² are "
                     f"estimated, {count_text(k - 2, 'degree')} of freedom {'is' if k == 3 else 'are'} left)")
        else:
            text += (f"; no prediction interval with k = {k}: t(k − 2) has no degrees of freedom left once μ and τ² "
                     "are estimated, and a z interval would pretend τ² were known")
        out.append(text + ".")
    return out


SCALES = {"z": (lambda n: 1 / (n - 3), lambda v: 3 + 1 / v),  # Fisher z: v = 1/(n − 3)
          "g": (lambda n: 4 / n, lambda v: 4 / v)}               # g near 0, two equal arms: v ≈ 4/n


def i2_at_variance(tau2: float, v_typical: float) -> float:
    """I² (%) = 100·τ²/(τ² + ṽ) for a typical within-study variance ṽ (Higgins & Thompson 2002)."""
    return 100 * tau2 / (tau2 + v_typical)


def i2_tau_table(fits: pd.DataFrame, scale: str = "z", n_small: int = 100, transform=None) -> pd.DataFrame:
    """τ, I² and the prediction interval of every pooled analysis with I² > 0, and what I² would be
    with smaller studies.

    ṽ = τ²(100 − I²)/I² is the typical within-study variance that I² = 100·τ²/(τ² + ṽ) compares τ² with
    (Higgins & Thompson 2002); ``n_typical`` is the n of one study with that variance (``scale`` "z":
    v = 1/(n − 3); "g": v ≈ 4/n), and ``i2_small_n`` the I² the same τ² gives when every study has
    ``n_small`` participants. ``true_low``/``true_high`` is what τ implies on the effect's scale, μ ± 1.96τ
    (:func:`true_effect_range`), around ``estimate``. Estimates, ranges and the prediction interval are on
    the display scale (``transform``).
    """
    if scale not in SCALES:
        raise ValueError(f"scale = {scale!r}: use 'z' or 'g'")
    f = transform or (lambda x: x)
    v_of_n, n_of_v = SCALES[scale]
    pooled = _pooled(fits)
    pooled = pooled[pooled["i2"] > 0]
    v_typical = pooled["tau2"] * (100 - pooled["i2"]) / pooled["i2"]
    ranges = [true_effect_range(e, t, transform=transform) for e, t in zip(pooled["estimate"], pooled["tau2"])]
    return pd.DataFrame({"analysis": pooled["label"], "k": pooled["k"], "tau": np.sqrt(pooled["tau2"]),
                         "i2": pooled["i2"], "v_typical": v_typical, "n_typical": n_of_v(v_typical).round(),
                         "i2_small_n": i2_at_variance(pooled["tau2"], v_of_n(n_small)),
                         "estimate": f(pooled["estimate"]), "true_low": [lo for lo, _ in ranges],
                         "true_high": [hi for _, hi in ranges],
                         "pi_low": f(pooled["pi_low"]), "pi_high": f(pooled["pi_high"])}).reset_index(drop=True)


def i2_tau_example(table: pd.DataFrame) -> pd.Series:
    """The row of :func:`i2_tau_table` where I² says most more than τ: the largest drop from its I² to
    the I² that studies of ``n_small`` would give with the same τ."""
    if table.empty:
        raise ValueError("table: no pooled analysis with I² > 0")
    return table.loc[(table["i2"] - table["i2_small_n"]).idxmax()]


def i2_tau_sentence(row: pd.Series, metric: str, n_small: int = 100) -> str:
    """Why I² can be high while τ is small: ṽ is tiny when the studies are large (``row`` from
    :func:`i2_tau_example`). Where smaller studies would hardly change I², the sentence says so."""
    spread = (f"; the size of the spread is τ, and the prediction interval ({metric} = {_fmt(row['pi_low'])} to "
              f"{_fmt(row['pi_high'])}) puts it on the scale of the effect" if pd.notna(row.get("pi_low")) else "")
    if row["i2"] - row["i2_small_n"] < 10:
        return (f"{row['analysis']}: I² = {row['i2']:.0f}% and τ = {row['tau']:.3f}; studies of n = {n_small} "
                f"would give I² = {row['i2_small_n']:.0f}%, so here I² and τ tell the same story{spread}.")
    implied = (f"; that τ puts 95% of true effects within μ ± 1.96τ, {metric} = {_fmt(row['true_low'])} to "
               f"{_fmt(row['true_high'])} around {metric} = {_fmt(row['estimate'])}"
               if pd.notna(row.get("true_low")) else "")
    return (f"{row['analysis']} has I² = {row['i2']:.0f}% with τ = {row['tau']:.3f} on the analysis scale{implied}. "
            f"I² is that high because its studies are large (typical within-study variance {row['v_typical']:.5f}, "
            f"as from one study of n ≈ {row['n_typical']:,.0f}), so the spread of true effects is most of the "
            f"observed variance. With studies of n = {n_small} the same τ would give I² = {row['i2_small_n']:.0f}%. "
            f"I² is a share, not a size{spread}.")


def forest_reading(fits, min_k_prediction: int = 3) -> str:
    """How to read notebook 04's forest plots, built from the ``test`` that ``fits.csv`` leads with
    (notebook 03's ``ci_method``), so the words match what ``forest_plot`` draws: the filled diamond is
    the leading test's interval, the thin bracket beneath it the z interval (only when z does not
    lead), the open diamond the Bayesian posterior, the thick bar the prediction interval. ``fits``:
    one ``fits.csv`` table or a list of them (one per review)."""
    from .small_k import name_of_test

    frames = [fits] if isinstance(fits, pd.DataFrame) else list(fits)
    tests = list(dict.fromkeys(t for f in frames if "test" in f for t in _pooled(f)["test"].dropna().astype(str)))
    if not tests:
        return "Nothing is pooled, so the forest plots show the studies only."
    names = " or ".join(name_of_test(t) for t in tests)
    lead = (f"the filled diamond is the pooled estimate with its {names} interval (the leading test, notebook 03's "
            f"`ci_method`)")
    z = ("; the thin bracket beneath it is the z interval, which treats τ² as known" if any(t != "z" for t in tests)
         else "; there is no separate z bracket, because z leads")
    return (f"Squares sized by the random-effects weight; {lead}{z}; the open diamond is the Bayesian posterior "
            f"median with its 95% credible interval; the thick bar is the prediction interval (from k = "
            f"{min_k_prediction}, on t(k − 2)). A mark after a study's name says it entered by a stated rule "
            "(† proxy, ‡ other comparator, § published after the review).")


def interval_widths(fits: pd.DataFrame) -> pd.DataFrame:
    """How many times as wide as the z interval the leading interval of each pooled analysis is.

    From ``fits.csv`` (analysis scale): ``ratio`` = (ci_high − ci_low) / (ci_high_z − ci_low_z), and
    ``floor`` = t(k − 1; 1 − α/2) / z(1 − α/2), the least that ratio can be under the modified
    Hartung–Knapp test, whose SE is SE_z·max(1, s) on t(k − 1) (Röver, Knapp & Friede 2015); under
    plain Hartung–Knapp (SE_z·s) the ratio is s times the floor and can fall below 1 when s² < 1
    (Hartung & Knapp 2001). ``floor`` is empty where z leads (the ratio is 1).
    """
    from scipy.stats import norm, t

    pooled = _pooled(fits)
    level = pooled["level"].astype(float) if "level" in pooled else pd.Series(0.95, index=pooled.index)
    alpha = (1 - level) / 2
    floor = [float(t.isf(a, k - 1) / norm.isf(a)) if test != "z" else np.nan
             for a, k, test in zip(alpha, pooled["k"].astype(int), pooled["test"].astype(str))]
    return pd.DataFrame({"analysis": pooled["label"].to_numpy(), "k": pooled["k"].astype(int).to_numpy(),
                         "test": pooled["test"].to_numpy(),
                         "ratio": ((pooled["ci_high"] - pooled["ci_low"]) / (pooled["ci_high_z"] - pooled["ci_low_z"])).to_numpy(),
                         "floor": floor})


def high_risk_only(rows: pd.DataFrame, fits: pd.DataFrame, overall: dict[str, str]) -> pd.DataFrame:
    """The pooled analyses (k ≥ 2 with an estimate in ``fits.csv``) whose every study is at high
    overall risk of bias, with their studies.

    ``rows``: ``analysis_rows.csv``; ``overall``: study id → overall judgement (``appraisal.overall_of``;
    a study not in the sheet is *not rated*, which is not high). An analysis qualifies when
    {overall(study) : study in the analysis} = {high} (RoB 2, Sterne et al. 2019; JBI checklists with
    the compendium's overall rule).
    """
    from .appraisal import study_overall_column

    pooled = _pooled(fits)
    judged = rows.assign(rob=study_overall_column(rows, overall)) if len(rows) else rows.assign(rob=[])
    found = []
    for _, fit in pooled.iterrows():
        block = judged[judged["analysis"] == fit["analysis"]]
        if len(block) and (block["rob"] == "high").all():
            found.append({"analysis": fit["analysis"], "label": fit["label"], "k": int(fit["k"]),
                          "studies": ", ".join(block["study_id"].astype(str))})
    return pd.DataFrame(found, columns=["analysis", "label", "k", "studies"])


def high_risk_sentence(table: pd.DataFrame, review: str) -> str:
    """What :func:`high_risk_only` found for one review, as a sentence (its count, labels and studies)."""
    if not len(table):
        return f"{review}: no pooled analysis rests only on studies at high risk of bias."
    items = "; ".join(f"{r['label']} (k = {r['k']}: {r['studies']})" for _, r in table.iterrows())
    n = len(table)
    return (f"{review}: {n} pooled {'analysis rests' if n == 1 else 'analyses rest'} only on studies at high risk of "
            f"bias: {items}.")


def weights_table(rows: pd.DataFrame, tau2: float) -> pd.DataFrame:
    """Each study's fixed-effect and random-effects weight (%), largest first.

    Fixed effect wᵢ = 1/vᵢ, random effects wᵢ* = 1/(vᵢ + τ²), each as 100·w/Σw (metafor ``weights()``).
    """
    vi = rows["vi"].to_numpy(float)
    fe, re = 1 / vi, 1 / (vi + tau2)
    out = pd.DataFrame({"study": rows["label"].to_numpy(), "n": rows["n"].to_numpy(), "vi": vi,
                        "weight_fe": 100 * fe / fe.sum(), "weight_re": 100 * re / re.sum()})
    return out.sort_values("weight_fe", ascending=False, kind="stable").reset_index(drop=True)


def weights_sentence(table: pd.DataFrame, tau2: float, label: str) -> str:
    """What the weights of :func:`weights_table` say: the largest study's share under both models."""
    top = table.iloc[0]
    even = 100 / len(table)
    return (f"{label}: {top['study']} has the smallest variance ({top['vi']:.5f}) and carries "
            f"{top['weight_fe']:.0f}% of the fixed-effect weight but {top['weight_re']:.0f}% of the "
            f"random-effects weight. τ² = {tau2:.4f} is added to every vᵢ; where it is large next to them, "
            f"the weights move towards equal ({even:.0f}% each with {len(table)} studies).")


def leave_one_out_sentence(table: pd.DataFrame, estimate: float, metric: str, label: str) -> str:
    """Which single study moves the pooled estimate most (``table`` on the display scale)."""
    shift = (table["estimate"] - estimate).abs()
    top = table.loc[shift.idxmax()]
    others = table.drop(index=shift.idxmax())
    return (f"{label}: leaving out {top['left_out']} moves {metric} from {_fmt(estimate)} to "
            f"{_fmt(top['estimate'])}; leaving out any other study gives {_fmt(others['estimate'].min())} "
            f"to {_fmt(others['estimate'].max())}. With {count_text(len(table), 'study')} one study is a "
            f"large share of the evidence, and a study with a large weight that lies away from the others "
            f"pulls the estimate towards itself.")


EGGER_INSTABILITY_MAX_K = 100  # k refits of k studies each: shown up to this k, where one study can matter


def egger_instability_not_shown(k: int, label: str) -> str:
    """Why :func:`egger_instability` is not shown for an analysis of more than :data:`EGGER_INSTABILITY_MAX_K` studies."""
    return (f"{label}: Egger's test without each study in turn is shown up to k = {EGGER_INSTABILITY_MAX_K} "
            f"studies; this analysis has k = {k:,}, where it would take {k:,} refits of {k - 1:,} studies each. "
            f"The test on all studies is in the small-study table above.")


def egger_instability(yi, vi, labels, method: str = "REML") -> pd.DataFrame:
    """Egger's test (rma form) on all studies, then with each study left out in turn.

    Shows how little a small-k test of funnel asymmetry can carry: its verdict can hinge on one
    study. Egger et al. (1997); Sterne et al. (2011) advise at least 10 studies.
    """
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    labels = list(labels)
    if len(yi) < 4:
        raise ValueError(f"k = {len(yi)} studies: Egger's test without one study needs at least 4")
    rows = []
    for i, name in [(None, "none (all studies)"), *enumerate(labels)]:
        keep = np.ones(len(yi), bool) if i is None else np.arange(len(yi)) != i
        eg = egger_test(yi[keep], vi[keep], model="rma", method=method)
        rows.append({"left_out": name, "k": int(keep.sum()), "egger_z": eg.stat, "egger_p": eg.pval})
    return pd.DataFrame(rows)


def egger_instability_sentence(table: pd.DataFrame, label: str, alpha: float = 0.10) -> str:
    """Reads :func:`egger_instability`: the range of p values and how often the verdict flips."""
    full, loo = table.iloc[0], table.iloc[1:]
    flips = int(((loo["egger_p"] < alpha) != (full["egger_p"] < alpha)).sum())
    return (f"{label}: with all {full['k']} studies Egger's p {p_text(full['egger_p'])}; leaving out one "
            f"study at a time gives p from {_fmt(loo['egger_p'].min(), 3)} to {_fmt(loo['egger_p'].max(), 3)}, "
            f"and {count_text(flips, 'omission')} change the verdict at p < {_fmt(alpha)}. A funnel of "
            f"{full['k']} points cannot tell asymmetry from chance.")


def egger_instability_of(fits: pd.DataFrame, rows: pd.DataFrame) -> tuple | None:
    """The largest pooled analysis of ``fits.csv`` (:func:`largest_pooled`) and Egger's test without
    each of its studies (``analysis_rows.csv`` as ``rows``): (label, table, sentence). The table is None
    above :data:`EGGER_INSTABILITY_MAX_K` studies (the sentence says why); below 4 studies, or with
    nothing pooled, there is nothing to show: None."""
    top = largest_pooled(fits)
    if top is None or top["k"] < 4:
        return None
    if top["k"] > EGGER_INSTABILITY_MAX_K:
        return top["label"], None, egger_instability_not_shown(int(top["k"]), top["label"])
    data = rows[rows["analysis"] == top["analysis"]]
    table = egger_instability(data["yi"], data["vi"], data["label"], method=top["method"])
    return top["label"], table, egger_instability_sentence(table, top["label"])


def conversion_sentence(name: str, converted: pd.DataFrame, left: pd.DataFrame) -> str:
    """How much of a review's extraction became an effect size, and the commonest reason it did not."""
    total = len(converted) + len(left)
    if total == 0:
        return f"{name}: no rows."
    text = f"{name}: {len(converted)} of {total} rows ({100 * len(converted) / total:.0f}%) gave an effect size"
    if len(left) and "reason" in left:
        reason, count = left["reason"].value_counts().index[0], left["reason"].value_counts().iloc[0]
        text += f"; the commonest reason for the rest is “{reason}” ({count} rows)"
    return text + "."


def screen_sentence(name: str, screen: pd.DataFrame) -> str:
    """What the plausibility screen found, the largest variance ratio first."""
    if screen.empty:
        return f"{name}: no converted row needs a second look."
    checks = screen["check"].astype(str)
    ratios = checks.str.extract(r"([0-9.]+)×")[0].astype(float)
    text = f"{name}: {count_text(len(screen), 'row')} to check by hand"
    if ratios.notna().any():
        i = ratios.idxmax()
        text += f"; the largest mismatch is {screen.loc[i, 'row_id']}, whose printed CI implies {ratios[i]:g}× the variance its n gives"
    big = int(checks.str.startswith("|").sum())
    if big:
        text += f"; {count_text(big, 'row')} with an implausibly large effect"
    return text + "."


WITHIN_WORDS = (" These votes describe change within the same people over time (pre–post, no comparison group), "
                "not an effect of the exposure or intervention: symptoms may fall, or scores rise, for other reasons.")


def _within_group_cell(r, cells: list[str]) -> bool:
    return any(str(r[c]) in ("pre_post", "effect, within group") for c in cells if c in ("design", "role"))


def vote_reading(table: pd.DataFrame, cells: list[str], alpha: float = 0.05) -> list[str]:
    """For each tested cell of a vote count: the share of directional votes that agree, whether the
    sign test tells that majority from chance, and what no count can say; a within-group (pre–post)
    cell says that its votes describe change within people, not an effect (:data:`WITHIN_WORDS`)."""
    out = []
    for _, r in table[table["note"].fillna("") == ""].iterrows():
        directional = int(r["positive"] + r["negative"])
        majority = max(r["positive"], r["negative"])
        side = "positive" if r["positive"] >= r["negative"] else "negative"
        cell = " · ".join(str(r[c]).replace("_", " ") for c in cells)
        verdict = ("more agreement than chance would give" if r["sign_test_p"] < alpha
                   else "a majority the sign test cannot tell from chance")
        out.append(f"{cell}: {majority} of {directional} studies with a direction vote {side} "
                   f"({100 * majority / directional:.0f}%; sign test p {p_text(r['sign_test_p'])}), {verdict}"
                   + (f"; {int(r['null'] + r['mixed'])} more vote null or mixed" if r["null"] + r["mixed"] else "") + "."
                   + (WITHIN_WORDS if _within_group_cell(r, cells) else ""))
    if out:
        out.append("No count says how large an effect is: a vote weighs a trial of 30 like a trial of 3,000.")
    return out


def largest_pooled(fits: pd.DataFrame) -> pd.Series | None:
    """The row of ``fits.csv`` with the most studies among pooled analyses (None if nothing is pooled)."""
    pooled = _pooled(fits)
    return None if pooled.empty else pooled.loc[pooled["k"].idxmax()]


def weights_for(rows: pd.DataFrame, fits: pd.DataFrame) -> tuple[str, float, pd.DataFrame] | None:
    """(label, τ², :func:`weights_table`) of the pooled analysis with the most studies, from
    ``analysis_rows.csv`` and ``fits.csv``; None if nothing is pooled."""
    top = largest_pooled(fits)
    if top is None:
        return None
    return top["label"], float(top["tau2"]), weights_table(rows[rows["analysis"] == top["analysis"]], top["tau2"])


def leave_one_out_sentences(analyses: dict, metric: str, transform=None, level: float = 0.95) -> list[str]:
    """:func:`leave_one_out_sentence` for every analysis of notebook 03 with at least three studies."""
    from .analyses import leave_one_out_tables

    f = transform or (lambda x: x)
    by_label = {a.label: a for a in analyses.values()}
    return [leave_one_out_sentence(table, float(f(by_label[label].fit.estimate)), metric, label)
            for label, table in leave_one_out_tables(analyses, level=level, transform=transform)]


def rows_named(tables: dict, study_ids, columns=None) -> pd.DataFrame:
    """The rows of the studies ``study_ids`` from every review's table (empty when no review has them),
    so an exercise about one study runs whatever reviews are loaded."""
    frames = [t[t["study_id"].isin(list(study_ids))] for t in tables.values() if "study_id" in t]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return out[[c for c in columns if c in out]] if columns is not None and len(out.columns) else out


def sign_test_by_hand(positive: int, negative: int) -> float:
    """The two-sided exact sign test, written out: p = min(1, 2·Σ_{i ≥ max} C(n, i)/2ⁿ), n = positive +
    negative (ties and null votes left out). Cochrane Handbook 12.4.2.3; the engine's
    ``meta_analysis.sign_test_p`` sums the other tail, to the same value."""
    n, top = positive + negative, max(positive, negative)
    if n == 0:
        raise ValueError("positive + negative = 0: a sign test needs at least one vote with a direction")
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(top, n + 1)) / 2 ** n)
