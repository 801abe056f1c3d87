"""Which rows enter an analysis and the small-k rules of the pooled tables (compendium/analyses.py)."""
import math

import numpy as np
import pandas as pd
import pytest

import helpers as h
from made_up import effect, review


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
    assert math.isnan(fits["ci_low_knha"].iloc[0]) and math.isnan(fits["tau2"].iloc[0])


def test_two_studies_have_both_intervals_but_no_prediction_interval():
    _, res = analyses_of([effect("A", "A_1", yi=0.1, vi=0.01), effect("B", "B_1", yi=0.3, vi=0.02)])
    row = h.fits_table(res).iloc[0]
    ref_z = h.fit_meta([0.1, 0.3], [0.01, 0.02], test="z")
    ref_hk = h.fit_meta([0.1, 0.3], [0.01, 0.02], test="knha")
    assert row["ci_low"] == ref_z.ci_low and row["ci_low_knha"] == ref_hk.ci_low
    assert math.isnan(row["pi_low"]) and row["pi_dist"] != row["pi_dist"]


def test_prediction_interval_from_three_studies_says_its_distribution():
    rows = [effect(s, f"{s}_1", yi=y, vi=0.01) for s, y in zip("ABC", (0.1, 0.3, 0.5))]
    r = review()
    z = h.fits_table(h.run_analyses(r, pd.DataFrame(rows), test="z")).iloc[0]
    hk = h.fits_table(h.run_analyses(r, pd.DataFrame(rows), test="knha")).iloc[0]
    assert z["pi_dist"] == "z" and hk["pi_dist"] == "t(2)"
    assert z["pi_low"] == h.fit_meta([0.1, 0.3, 0.5], [0.01] * 3).pi_low


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
