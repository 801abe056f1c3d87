"""Sentences built from the numbers and the small worked examples of notebooks 02-05 (compendium/teaching.py)."""
import math

import numpy as np
import pandas as pd
import pytest

import helpers as h
from compendium.display import sentence_number


def fits_frame(**over):
    row = dict(analysis="a", label="A ~ B", k=3, test="adhoc", level=0.95, estimate=0.2, ci_low=0.0, ci_high=0.4,
               pval=0.04, ci_low_z=0.1, ci_high_z=0.3, pval_z=0.0001, tau2=0.0025, i2=80.0, pi_low=-0.05,
               pi_high=0.45, pi_dist="t(1)", method="REML")
    row.update(over)
    return pd.DataFrame([row])


def test_pooled_sentence_leads_with_the_leading_interval_and_sets_z_beside_it():
    s = h.pooled_sentences(fits_frame(ci_low=0.1, ci_high=0.3, ci_low_z=0.15, ci_high_z=0.25), "r", np.tanh)[0]
    assert "r = .20 (95% CI .10 to .29, modified Hartung–Knapp, p = .040)" in s and "lies above 0" in s
    assert "z interval (.15 to .24, p < .001) is 0.50 times as wide" in s
    s = h.pooled_sentences(fits_frame(ci_low=-0.1), "g")[0]
    assert "includes 0" in s and "g = .40" in s and "lies above" not in s, "z lies above 0, the leading one does not"
    s = h.pooled_sentences(fits_frame(test="z", ci_low=0.1, ci_high=0.3, pval=0.0001), "g")[0]
    assert "z (Wald), p < .001" in s and "lies above 0" in s and "too narrow" in s
    assert h.pooled_sentences(fits_frame(k=1), "r") == []


def test_heterogeneity_sentence_says_how_wide_the_prediction_interval_is_and_why():
    s = h.heterogeneity_sentences(fits_frame(), "g")[0]
    assert "between g = −.05 and .45 (95% prediction interval on t(1), .50 wide" in s and "1 degree of freedom is" in s
    s = h.heterogeneity_sentences(fits_frame(k=2, pi_low=np.nan, pi_high=np.nan, pi_dist=np.nan), "g")[0]
    assert "no prediction interval with k = 2" in s and "t(k − 2)" in s


def test_i2_tau_table_recovers_the_typical_variance():
    # I² = 100 τ²/(τ² + ṽ): with τ² = 0.0025 and I² = 80 %, ṽ = 0.000625, i.e. n = 3 + 1/ṽ = 1603
    table = h.i2_tau_table(fits_frame(), "z")
    assert table["v_typical"][0] == pytest.approx(0.000625)
    assert table["n_typical"][0] == 1603
    assert table["i2_small_n"][0] == pytest.approx(100 * 0.0025 / (0.0025 + 1 / 97))
    s = h.i2_tau_sentence(h.i2_tau_example(table), "r")
    assert "I² = 80% with τ = 0.050" in s and f"I² = {100 * 0.0025 / (0.0025 + 1 / 97):.0f}%" in s


def test_tau_is_described_by_the_true_effects_it_implies_not_by_an_adjective():
    # μ = 0.2, τ = 0.05: 95% of true effects within 0.2 ± 1.95996·0.05 = 0.102 to 0.298 (Fisher z), tanh → r
    low, high = h.true_effect_range(0.2, 0.0025, transform=np.tanh)
    assert (low, high) == pytest.approx((math.tanh(0.2 - 1.959964 * 0.05), math.tanh(0.2 + 1.959964 * 0.05)), rel=1e-6)
    table = h.i2_tau_table(fits_frame(), "z", transform=np.tanh)
    s = h.i2_tau_sentence(h.i2_tau_example(table), "r")
    assert "small" not in s and "μ ± 1.96τ, r = .10 to .29 around r = .20" in s
    wider = h.i2_tau_sentence(h.i2_tau_example(h.i2_tau_table(fits_frame(tau2=0.04, i2=98.0), "z", transform=np.tanh)), "r")
    assert "r = −.19 to .53" in wider, "the range follows τ"
    s = h.heterogeneity_sentences(fits_frame(tau2=0.0172), "r", np.tanh)[0]  # τ = .131 as self-help's
    lo, hi = h.true_effect_range(0.2, 0.0172, transform=np.tanh)
    assert f"τ = 0.131 on the analysis scale (95% of true effects within μ ± 1.96τ: r = {sentence_number(lo)} to" in s
    assert "no spread of true effects estimated" in h.heterogeneity_sentences(fits_frame(tau2=0.0), "r")[0]


def test_forest_reading_names_what_the_diamond_and_the_bracket_draw():
    s = h.forest_reading(fits_frame(k=3))
    assert "filled diamond is the pooled estimate with its modified Hartung–Knapp interval" in s
    assert "thin bracket beneath it is the z interval" in s
    s = h.forest_reading([fits_frame(test="knha")])
    assert "its Hartung–Knapp interval" in s
    s = h.forest_reading(fits_frame(test="z"))
    assert "its z (Wald) interval" in s and "no separate z bracket" in s and "thin bracket beneath" not in s
    assert h.forest_reading(fits_frame(k=1)).startswith("Nothing is pooled")


def test_i2_tau_example_picks_the_largest_drop_and_says_when_there_is_none():
    fits = pd.concat([fits_frame(label="small n", tau2=0.04, i2=50.0), fits_frame(label="large n")])
    table = h.i2_tau_table(fits, "z")
    assert h.i2_tau_example(table)["analysis"] == "large n"
    same = h.i2_tau_sentence(table.iloc[0], "r")
    assert "tell the same story" in same
    with pytest.raises(ValueError, match="scale"):
        h.i2_tau_table(fits, "log")


def test_weights_table_matches_metafor_style_weights():
    rows = pd.DataFrame({"analysis": "a", "label": ["S1", "S2", "S3"], "n": [100, 400, 50],
                         "yi": [0.1, 0.2, 0.3], "vi": [0.01, 0.0025, 0.02]})
    table = h.weights_table(rows, 0.01)
    fit = h.fit_meta(rows["yi"], rows["vi"], method="DL")
    expected = 100 / (rows["vi"] + 0.01) / (1 / (rows["vi"] + 0.01)).sum()
    assert list(table["study"]) == ["S2", "S1", "S3"]
    assert table.set_index("study").loc["S2", "weight_re"] == pytest.approx(expected[1])
    assert table["weight_fe"].sum() == pytest.approx(100) and fit.weights.sum() == pytest.approx(100)
    s = h.weights_sentence(table, 0.01, "A")
    assert "S2 has the smallest variance" in s and f"{table['weight_fe'][0]:.0f}% of the fixed-effect" in s


def test_leave_one_out_sentence_names_the_study_that_moves_most():
    table = pd.DataFrame({"left_out": ["A", "B", "C"], "estimate": [0.30, 0.10, 0.22]})
    s = h.leave_one_out_sentence(table, 0.2, "r", "X")
    assert "leaving out B moves r from .20 to .10" in s and ".22 to .30" in s


def test_egger_instability_refits_without_each_study():
    rng = np.random.default_rng(1)
    yi, vi = rng.normal(0.2, 0.1, 8), rng.uniform(0.005, 0.05, 8)
    table = h.egger_instability(yi, vi, list("abcdefgh"))
    assert len(table) == 9 and list(table["k"]) == [8] + [7] * 8
    assert table["egger_p"][3] == pytest.approx(h.egger_test(np.delete(yi, 2), np.delete(vi, 2)).pval)
    assert "with all 8 studies" in h.egger_instability_sentence(table, "X")
    with pytest.raises(ValueError, match="k = 3"):
        h.egger_instability(yi[:3], vi[:3], "abc")


def test_sign_test_by_hand_equals_the_exact_binomial_test():
    from scipy import stats

    for pos, neg in [(11, 2), (16, 2), (4, 1), (3, 0), (5, 5)]:
        assert h.sign_test_by_hand(pos, neg) == pytest.approx(stats.binomtest(pos, pos + neg).pvalue)
    assert h.sign_test_by_hand(11, 2) == pytest.approx(2 * 92 / 8192)
    with pytest.raises(ValueError, match="positive \\+ negative = 0"):
        h.sign_test_by_hand(0, 0)


def test_conversion_and_screen_sentences():
    done, left = pd.DataFrame({"x": range(2)}), pd.DataFrame({"reason": ["p only", "p only", "no n"]})
    assert h.conversion_sentence("R", done, left) == ("R: 2 of 5 rows (40%) gave an effect size; the commonest "
                                                      "reason for the rest is “p only” (2 rows).")
    screen = pd.DataFrame({"row_id": ["a_1", "b_1", "c_1"],
                           "check": ["CI implies 2.5× the variance that n gives", "|r| > 0.7",
                                     "CI implies 6.9× the variance that n gives"]})
    s = h.screen_sentence("R", screen)
    assert "3 rows to check" in s and "c_1, whose printed CI implies 6.9×" in s and "1 row with an" in s
    assert "no converted row" in h.screen_sentence("R", screen.iloc[0:0])


def test_vote_reading_separates_tested_majorities_from_chance():
    table = pd.DataFrame({"outcome": ["x", "y", "z"], "positive": [11, 4, 1], "negative": [2, 1, 0],
                          "null": [0, 0, 0], "mixed": [0, 2, 0], "sign_test_p": [0.022, 0.375, np.nan],
                          "note": ["", "", "not tested"]})
    out = h.vote_reading(table, ["outcome"])
    assert len(out) == 3 and "how large" in out[2]
    assert "11 of 13" in out[0] and "more agreement than chance" in out[0] and "more vote null" not in out[0]
    assert "0 more" not in " ".join(out)
    assert "cannot tell from chance" in out[1] and "2 more vote null or mixed" in out[1]


def test_rows_named_runs_whatever_reviews_are_loaded():
    tables = {"a": pd.DataFrame({"study_id": ["X", "Y"], "r": [0.1, 0.2]}), "b": pd.DataFrame({"study_id": ["Z"], "r": [0.3]})}
    assert list(h.rows_named(tables, ["Y", "Z"])["r"]) == [0.2, 0.3]
    assert h.rows_named(tables, ["nobody"]).empty and h.rows_named({}, ["X"]).empty
    assert math.isclose(h.i2_at_variance(1, 1), 50)


def test_egger_instability_beyond_its_limit_says_why_it_is_not_shown():
    from compendium.teaching import EGGER_INSTABILITY_MAX_K, egger_instability_not_shown

    text = egger_instability_not_shown(2_000, "Big")
    assert text.startswith("Big:") and f"up to k = {EGGER_INSTABILITY_MAX_K}" in text
    assert "k = 2,000" in text and "2,000 refits of 1,999 studies" in text


def test_interval_widths_never_below_the_t_over_z_floor_under_the_modified_test():
    from scipy.stats import norm, t

    yi, vi = np.array([0.1, 0.12, 0.11]), np.array([0.02, 0.03, 0.025])  # studies agreeing closely: s² < 1
    rows = []
    for test in ("adhoc", "knha"):
        fit = h.fit_meta(yi, vi, method="REML", test=test)
        z = h.fit_meta(yi, vi, method="REML", test="z")
        rows.append(dict(analysis=test, label=test, k=3, test=test, level=0.95, estimate=fit.estimate,
                         ci_low=fit.ci_low, ci_high=fit.ci_high, ci_low_z=z.ci_low, ci_high_z=z.ci_high))
    widths = h.interval_widths(pd.DataFrame(rows)).set_index("analysis")
    floor = t.isf(0.025, 2) / norm.isf(0.025)
    assert widths["floor"].tolist() == pytest.approx([floor, floor])
    assert widths.loc["adhoc", "ratio"] == pytest.approx(floor)  # s² < 1: the modification keeps SE_z, on t(2)
    assert widths.loc["knha", "ratio"] < floor  # plain Hartung–Knapp shrinks with s < 1


def test_high_risk_only_counts_pooled_analyses_whose_every_study_is_high():
    rows = pd.DataFrame({"analysis": ["a", "a", "b", "b", "c"], "study_id": ["S1", "S2", "S1", "S3", "S2"]})
    fits = pd.concat([fits_frame(analysis=x, label=x.upper(), k=k) for x, k in (("a", 2), ("b", 2), ("c", 1))])
    overall = {"S1": "high", "S2": "high"}  # S3 not rated
    table = h.high_risk_only(rows, fits, overall)
    assert list(table["analysis"]) == ["a"] and table["studies"].iloc[0] == "S1, S2"  # c: k = 1, not pooled
    assert h.high_risk_sentence(table, "revA") == ("revA: 1 pooled analysis rests only on studies at high risk of "
                                                   "bias: A (k = 2: S1, S2).")
    assert "no pooled analysis" in h.high_risk_sentence(h.high_risk_only(rows, fits, {}), "revA")


def test_egger_instability_of_the_largest_pooled_analysis():
    rng = np.random.default_rng(3)
    yi, vi = rng.normal(0.2, 0.2, 6), rng.uniform(0.01, 0.05, 6)
    rows = pd.DataFrame({"analysis": "a", "yi": yi, "vi": vi, "label": list("abcdef")})
    fits = pd.DataFrame({"analysis": ["a", "b"], "label": ["A", "B"], "k": [6, 2], "estimate": [0.2, 0.1],
                         "method": ["REML", "REML"]})
    label, table, sentence = h.egger_instability_of(fits, rows)
    assert label == "A" and len(table) == 7 and sentence == h.egger_instability_sentence(table, "A")
    assert h.egger_instability_of(fits.assign(k=[3, 2]), rows) is None  # below 4 studies: nothing to show
    big = fits.assign(k=[h.EGGER_INSTABILITY_MAX_K + 1, 2])
    assert h.egger_instability_of(big, rows)[1] is None and "shown up to k = 100" in h.egger_instability_of(big, rows)[2]
