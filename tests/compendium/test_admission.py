"""What enters an analysis: admission flags, the primary rule, and one effect per study by a stated rule."""
import pandas as pd
import pytest

import helpers as h
from made_up import effect, review


def flagged(rows, **meta):
    return h.admission_flags(pd.DataFrame(rows), review(meta).meta)


def test_flags_mark_proxies_other_comparators_and_later_studies():
    rows = flagged([effect("A", "A_1"), effect("B", "B_1", outcome_proxy="distress"),
                    effect("C", "C_1", comparator="other_help"), effect("D", "D_1", year=2024)])
    assert list(rows["proxy"]) == [False, True, False, False]
    assert list(rows["other_comparator"]) == [False, False, True, False]
    assert list(rows["later_study"]) == [False, False, False, True]
    assert list(rows["marks"]) == ["", "†", "‡", "§"]


def test_the_primary_rule_admits_only_direct_named_and_timely_studies():
    rows = flagged([effect("A", "A_1"), effect("B", "B_1", outcome_proxy="distress"),
                    effect("C", "C_1", comparator="other_help"), effect("D", "D_1", year=2024)])
    assert list(h.admit(rows, h.DEFAULT_ADMIT)["study_id"]) == ["A"]
    assert list(h.admit(rows, {**h.DEFAULT_ADMIT, "proxies": True})["study_id"]) == ["A", "B"]
    everything = {"proxies": True, "other_comparators": True, "later_studies": True}
    assert len(h.admit(rows, everything)) == 4


def test_a_sheet_without_the_rule_columns_runs_unflagged():
    rows = h.admission_flags(pd.DataFrame([{"study_id": "A", "yi": 0.1}]), {})
    assert not rows[["proxy", "other_comparator", "later_study"]].any(axis=None)


def test_one_effect_per_study_follows_the_rule_and_says_why():
    rows = flagged([effect("A", "A_1", outcome_proxy="distress", n=500), effect("A", "A_2", n=100),
                    effect("B", "B_1", adjusted="yes", n=900), effect("B", "B_2", n=100),
                    effect("C", "C_1", n=100), effect("C", "C_2", n=300),
                    effect("D", "D_2", n=100), effect("D", "D_1", n=100)])
    kept, choices = h.one_effect_per_study(rows)
    assert list(kept["effect_id"]) == ["A_2", "B_2", "C_2", "D_1"]
    decided = dict(zip(choices["study_id"], choices["decided_by"]))
    assert decided == {"A": "direct measure before proxy", "B": "unadjusted before adjusted", "C": "larger n",
                       "D": "lower row id"}
    assert dict(zip(choices["study_id"], choices["dropped"]))["A"] == "A_1"


def test_two_papers_on_one_sample_count_as_one_study():
    rows = flagged([effect("Mo2010", "Mo2010_1", n=340, sample_id="Mo2010"),
                    effect("Mo2013", "Mo2013_1", n=340, sample_id="Mo2010"), effect("X", "X_1", sample_id="X")])
    kept, choices = h.one_effect_per_study(rows)
    assert list(kept["study_id"]) == ["Mo2010", "X"]
    assert choices["decided_by"].iloc[0] == "lower row id"


def test_one_rule_for_partial_associations_whatever_the_statistic():
    # adjusted OR, adjusted exact p, a beta from an unstated or large model and a beta from 2 printed
    # predictors (one covariate already makes an association partial): partial; an unadjusted OR, an
    # "unclear" row and an adjusted between-arm contrast (ANCOVA on baseline estimates the same effect): not
    rows = pd.DataFrame([
        effect("A", "A_1", statistic_type="aor", adjusted="yes", design="cross_sectional"),
        effect("B", "B_1", statistic_type="p_only", adjusted="yes", design="longitudinal", predictors=8),
        effect("C", "C_1", statistic_type="beta", adjusted="no", design="cross_sectional"),
        effect("D", "D_1", statistic_type="beta", adjusted="yes", design="cross_sectional", predictors=2),
        effect("E", "E_1", statistic_type="or", adjusted="no", design="cross_sectional"),
        effect("F", "F_1", statistic_type="or", adjusted="unclear", design="cross_sectional"),
        effect("G", "G_1", statistic_type="means", adjusted="yes", design="experimental")])
    assert list(h.partial_association(rows)) == [True, True, True, True, False, False, False]
    one = rows.iloc[[3]].assign(statistic_type="aor", predictors=1)
    assert bool(h.partial_association(one).iloc[0]), "no 'few covariates' exception"
    flagged_rows = h.admission_flags(rows, review().meta)
    assert list(flagged_rows["marks"])[:4] == ["¶", "¶", "¶", "¶"]
    assert list(h.admit(flagged_rows, h.DEFAULT_ADMIT)["study_id"]) == ["E", "F", "G"]
    assert len(h.admit(flagged_rows, {**h.DEFAULT_ADMIT, "adjusted_estimates": True})) == 7
    from compendium import admission
    assert not hasattr(admission, "FEW_COVARIATES"), "any adjusted estimate is partial"


def test_partial_associations_leave_the_primary_pool_and_enter_their_own_variant():
    rows = [effect("A", "A_1", yi=0.05, vi=0.01, design="cross_sectional"),
            effect("B", "B_1", yi=-0.1, vi=0.01, design="cross_sectional"),
            effect("S", "S_1", yi=0.33, vi=0.0002, statistic_type="aor", adjusted="yes", design="cross_sectional")]
    r = review()
    res = h.run_analyses(r, pd.DataFrame(rows))
    assert list(res["osg"].data["study_id"]) == ["A", "B"]
    by = h.sensitivity_table(res, h.transform_of(r)).set_index("variant")
    admitted = by.loc["primary, adjusted estimates admitted"]
    assert admitted["k"] == 3 and admitted["studies_added"] == "S"
    assert admitted["estimate"] == pytest.approx(
        float(h.z_to_r(h.fit_meta([0.05, -0.1, 0.33], [0.01, 0.01, 0.0002]).estimate)[0]))


def test_a_larger_n_by_less_than_one_percent_is_named_a_convention():
    rows = flagged([effect("S", "S_1", n=5849), effect("S", "S_2", n=5854),
                    effect("T", "T_1", n=100), effect("T", "T_2", n=300)])
    kept, choices = h.one_effect_per_study(rows)
    assert list(kept["effect_id"]) == ["S_2", "T_2"]
    decided = dict(zip(choices["study_id"], choices["decided_by"]))
    assert decided == {"S": "larger n (by less than 1 %: a convention)", "T": "larger n"}
