"""Which rows enter an analysis and the small-k rules of the pooled tables (compendium/analyses.py)."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import helpers as h
from made_up import effect, review

ROOT = Path(__file__).resolve().parents[2]


def analyses_of(rows, **meta):
    r = review(meta)
    return r, h.run_analyses(r, pd.DataFrame(rows))


def test_one_effect_per_study_prefers_direct_measure_and_post():
    effects = pd.DataFrame({"study_id": ["A", "A", "B", "B"], "effect_id": ["A_1", "A_2", "B_1", "B_2"],
                            "outcome_proxy": ["distress", "none", "none", "none"],
                            "timepoint": ["post", "post", "follow_up", "post"], "adjusted": ["no"] * 4})
    kept = h.select_one_per_study(effects)
    assert list(kept["effect_id"]) == ["A_2", "B_2"]


def test_k_of_one_is_shown_not_pooled():
    _, res = analyses_of([effect("A", "A_1", yi=0.2, vi=0.01)])
    a = res["osg"]
    assert a.fit is None and a.k == 1 and "not pooled" in a.note
    fits = h.fits_table(res)
    assert fits["estimate"].iloc[0] == 0.2 and fits["ci_low"].iloc[0] == pytest.approx(0.2 - 1.959963984540054 * 0.1)
    assert math.isnan(fits["ci_low_z"].iloc[0]) and math.isnan(fits["tau2"].iloc[0])


def test_two_studies_lead_with_modified_hartung_knapp_and_show_z_beside_it():
    _, res = analyses_of([effect("A", "A_1", yi=0.1, vi=0.01), effect("B", "B_1", yi=0.3, vi=0.02)])
    row = h.fits_table(res).iloc[0]
    ref_z = h.fit_meta([0.1, 0.3], [0.01, 0.02], test="z")
    ref_lead = h.fit_meta([0.1, 0.3], [0.01, 0.02], test="adhoc")
    assert row["test"] == "adhoc" and row["ci_low"] == ref_lead.ci_low and row["pval"] == ref_lead.pval
    assert row["ci_low_z"] == ref_z.ci_low and row["pval_z"] == ref_z.pval
    assert row["ci_low"] < row["ci_low_z"] and row["ci_high"] > row["ci_high_z"], "never narrower than z"
    assert math.isnan(row["pi_low"]) and row["pi_dist"] != row["pi_dist"]


@pytest.mark.parametrize("test", ["z", "knha", "adhoc"])
def test_the_leading_test_switches_every_column_it_leads(test):
    rows = [effect(s, f"{s}_1", yi=y, vi=v) for s, y, v in zip("ABC", (0.1, 0.5, 0.2), (0.01, 0.04, 0.02))]
    r = review()
    res = h.run_analyses(r, pd.DataFrame(rows), test=test)
    row = h.fits_table(res).iloc[0]
    ref = h.fit_meta([0.1, 0.5, 0.2], [0.01, 0.04, 0.02], test=test)
    assert row["test"] == test and (row["ci_low"], row["ci_high"], row["pval"]) == (ref.ci_low, ref.ci_high, ref.pval)
    shown = h.display_table(h.fits_table(res))
    assert shown["test"].iloc[0] == h.TEST_NAMES[test]
    table = h.comparison_table(r, res)
    ours = table[table["k"] == 3].iloc[0]
    assert ours["test"] == h.TEST_NAMES[test] and ours["ci_low"] == np.tanh(ref.ci_low) and ours["pval"] == ref.pval


def test_an_unknown_leading_test_is_refused_by_name():
    with pytest.raises(ValueError, match="ci_method = 'hk'"):
        h.run_analyses(review(), pd.DataFrame([effect("A", "A_1", yi=0.1, vi=0.01)]), test="hk")


def test_prediction_interval_from_three_studies_is_on_t_with_k_minus_2_df():
    yi, vi = [0.1, 0.3, 0.5], [0.01] * 3
    rows = [effect(s, f"{s}_1", yi=y, vi=v) for s, y, v in zip("ABC", yi, vi)]
    r = review()
    for test in ("z", "knha", "adhoc"):
        row = h.fits_table(h.run_analyses(r, pd.DataFrame(rows), test=test)).iloc[0]
        fit = h.fit_meta(yi, vi, test=test)
        crit = 12.706204736174707  # t(1), 97.5th percentile (tables; scipy.stats.t.ppf(0.975, 1))
        half = crit * math.sqrt(fit.se ** 2 + fit.tau2)
        assert row["pi_dist"] == "t(1)"
        assert row["pi_low"] == pytest.approx(fit.estimate - half, rel=1e-12)
        assert row["pi_high"] == pytest.approx(fit.estimate + half, rel=1e-12)


def test_prediction_interval_by_hand_at_k_5():
    yi, vi = np.array([0.1, 0.3, 0.5, -0.1, 0.2]), np.array([0.01, 0.02, 0.03, 0.01, 0.05])
    fit = h.fit_meta(yi, vi, test="z")
    low, high, dist = h.prediction_interval(fit.estimate, fit.se, fit.tau2, 5)
    half = 3.182446305284263 * math.sqrt(fit.se ** 2 + fit.tau2)  # t(3), 97.5th percentile
    assert dist == "t(3)" and low == pytest.approx(fit.estimate - half) and high == pytest.approx(fit.estimate + half)
    assert h.prediction_interval(fit.estimate, fit.se, fit.tau2, 2)[2] == ""


def test_the_primary_analysis_leaves_out_a_study_with_another_comparator():
    rows = [effect("A", "A_1", yi=0.1, vi=0.01), effect("B", "B_1", yi=0.2, vi=0.01),
            effect("K", "K_1", yi=1.1, vi=0.03, comparator="other_help")]
    _, res = analyses_of(rows)
    assert list(res["osg"].data["study_id"]) == ["A", "B"]
    assert set(res["osg"].candidates["study_id"]) == {"A", "B", "K"}


def test_subgroup_test_needs_two_studies_in_every_group():
    rows = [effect(s, f"{s}_1", yi=y, vi=0.01, generation=g)
            for s, y, g in zip("ABC", (0.1, 0.3, 0.5), ("Millennials", "Millennials", "Generation Z"))]
    r, res = analyses_of(rows, subgroups=[{"label": "Generation", "analysis": "osg", "by": "generation"}])
    table = h.run_subgroups(r, res)
    assert len(table) == 1 and table["note"].iloc[0].startswith("not tested: fewer than 2 studies in Generation Z")
    rows.append(effect("D", "D_1", yi=0.6, vi=0.01, generation="Generation Z"))
    r, res = analyses_of(rows, subgroups=[{"label": "Generation", "analysis": "osg", "by": "generation"}])
    assert len(h.run_subgroups(r, res)) == 2


def test_q_profile_bound_at_the_limit_is_marked_in_the_table():
    _, res = analyses_of([effect("A", "A_1", yi=0.0, vi=0.0001), effect("B", "B_1", yi=1.4, vi=0.0001)])
    table = h.heterogeneity_table(res)
    assert bool(table["tau2_ci_high_at_limit"].iloc[0]) is True
    assert h.show(table)["tau2 ci high at limit"].iloc[0] == "yes"
    assert h.heterogeneity_view(table)["tau2 ci high"].iloc[0] == "> 100 (search limit)"


def test_display_rounding_lives_in_one_place():
    shown = h.formatted(pd.DataFrame({"k": [3.0], "estimate": [0.123456], "pval": [0.0004], "p_common": [0.2]}))
    assert list(shown.iloc[0]) == ["3", "0.123", "< .001", ".200"]
    assert np.isclose(h.fits_table({})["k"].sum(), 0)


def test_a_pre_post_row_does_not_pool_in_a_between_person_analysis():
    spec = {"name": "osg", "label": "Online support groups", "design": "between_person",
            "filter": {"help_seeking_type": ["online_support_group"], "outcome": ["depressive_symptoms"]}}
    rows = [effect("A", "A_1", yi=0.1, vi=0.01, design="cross_sectional"),
            effect("B", "B_1", yi=0.3, vi=0.02, design="longitudinal"),
            effect("C", "C_1", yi=-0.5, vi=0.02, design="pre_post"),
            effect("D", "D_1", yi=-0.4, vi=0.02, design="experimental")]
    _, res = analyses_of(rows, analyses=[spec])
    assert list(res["osg"].data["study_id"]) == ["A", "B"]
    assert set(res["osg"].candidates["study_id"]) == {"A", "B"}  # not even a sensitivity candidate
    _, res = analyses_of(rows, analyses=[{**spec, "design": "within_group"}])
    assert list(res["osg"].data["study_id"]) == ["C"]
    with pytest.raises(ValueError, match="design 'pre_post' is not one of"):
        analyses_of(rows, analyses=[{**spec, "design": "pre_post"}])


def test_flipping_ci_method_changes_sentences_and_the_comparison_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [effect("A", "A_1", yi=0.25, vi=0.002), effect("B", "B_1", yi=0.45, vi=0.003)]
    r = review()
    seen = {}
    for test in ("z", "adhoc"):
        res = h.run_analyses(r, pd.DataFrame(rows), test=test)
        fits = h.fits_table(res)
        sentence = h.pooled_sentences(fits, "r", np.tanh)[0]
        fig = h.comparison_plot(h.comparison_table(r, res), {"made_up": "r"})
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        plt.close(fig)
        seen[test] = (sentence, legend)
    assert "z (Wald), p < .001" in seen["z"][0] and "lies above 0" in seen["z"][0]
    assert "modified Hartung–Knapp, p = " in seen["adhoc"][0] and "lies above 0" not in seen["adhoc"][0]
    assert seen["z"][1][0] == "ours: estimate, z (Wald) interval"
    assert seen["adhoc"][1][0] == "ours: estimate, modified Hartung–Knapp interval"


def test_the_estimator_table_shows_the_fixed_effect_model_with_z_only():
    _, res = analyses_of([effect("A", "A_1", yi=0.1, vi=0.01), effect("B", "B_1", yi=0.4, vi=0.02),
                          effect("C", "C_1", yi=0.2, vi=0.015)])
    table = h.estimator_table(res)
    assert table[table["method"] == "FE"]["test"].tolist() == ["z"]
    assert set(table[table["method"] == "REML"]["test"]) == {"z", "knha", "adhoc"}


def test_the_prediction_interval_on_t_k_minus_2_agrees_with_metafor_s_fit_and_is_not_metafor_s_own():
    """tests/reference/make_reference_prediction.R: μ̂ ± t(k − 2)·sqrt(SE² + τ̂²) with SE and τ̂² from
    metafor's rma() under z, knha and adhoc (REML), on BCG, Molloy and their first 3–5 studies. metafor
    3.8's predict() uses z or t(k − 1); ours must not equal those."""
    import json

    ref = json.loads((ROOT / "tests" / "reference" / "prediction_reference.json").read_text())
    for name, data in ref["sets"].items():
        for test in ("z", "knha", "adhoc"):
            want = data[test]
            fit = h.fit_meta(data["yi"], data["vi"], method="REML", test=test)
            low, high, dist = h.prediction_interval(fit.estimate, fit.se, fit.tau2, fit.k)
            assert dist == f"t({want['k'] - 2})", (name, test)
            assert low == pytest.approx(want["pi_low"], rel=1e-6, abs=1e-9), (name, test)
            assert high == pytest.approx(want["pi_high"], rel=1e-6, abs=1e-9), (name, test)
            assert abs(low - want["metafor_pi_low"]) > 1e-6, (name, test)  # not z, not t(k − 1)
