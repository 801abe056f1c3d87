"""A comparison that says what it is (compendium/comparison.py)."""
import pandas as pd

import helpers as h
from compendium.comparison import mapping_reasons
from compendium.row_conversions import EQUAL_SPLIT
from compendium.sensitivity import PAIRS_MERGED
from made_up import effect, review


def test_flags_and_generated_summary():
    rows = [effect("A", "A_1", yi=0.1, vi=0.01), effect("B", "B_1", yi=0.3, vi=0.02)]
    r = review()
    res = h.run_analyses(r, pd.DataFrame(rows))
    table = h.comparison_table(r, res)
    row = table.iloc[0]
    assert (row["k"], bool(row["k_le_3"]), bool(row["single_study"]), row["published_included"]) == (2, True, False, 19)
    assert pd.isna(row["published_k"]) and "published k not stated" in row["note"]
    assert row["test"] == "modified Hartung–Knapp" and row["ci_low"] < row["ci_low_z"], "the leading test, z beside it"
    text = " ".join(h.what_this_comparison_is(table))
    assert "beside 1 of the 1 published pooled results" in text and "included 19 (made_up) studies" in text
    assert "none of their 1 pooled results states" in text
    assert "comparisons, not reproductions" in text


def test_a_single_study_and_an_uncertain_mapping_are_flagged():
    r = review({"analyses": [{"name": "osg", "label": "OSG", "published": "osg_published", "mapping_note": "maybe",
                              "filter": {"outcome": ["depressive_symptoms"]}}]})
    res = h.run_analyses(r, pd.DataFrame([effect("A", "A_1", yi=0.1, vi=0.01)]))
    row = h.comparison_table(r, res).iloc[0]
    assert bool(row["single_study"]) and bool(row["mapping_uncertain"])
    assert row["why"] == "maybe" and "single study" in row["note"]


def test_mapping_uncertain_follows_stated_rules_with_why():
    rows = [effect("A", "A_1", yi=0.1, vi=0.01, design="longitudinal", study_design="rct", conversion="means and SDs → g"),
            effect("B", "B_1", yi=0.3, vi=0.02, design="cross_sectional", study_design="cross_sectional",
                   conversion="d as printed → g", scope_flag="blended")]
    r = review()
    row = h.comparison_table(r, h.run_analyses(r, pd.DataFrame(rows))).iloc[0]
    assert bool(row["mapping_uncertain"])
    assert row["why"] == ("engagement contrast within a trial arm; blended intervention pooled; mixed standardisations "
                          "(printed d or g with ones computed from means, t, F or p)")
    plain = [effect("A", "A_1", yi=0.1, vi=0.01, design="cross_sectional"), effect("B", "B_1", yi=0.3, vi=0.02)]
    row = h.comparison_table(r, h.run_analyses(r, pd.DataFrame(plain))).iloc[0]
    assert not bool(row["mapping_uncertain"]) and row["why"] == ""


def test_later_means_after_the_search_end_where_review_json_states_it():
    rows = [effect("A", "A_1", yi=0.1, vi=0.01, year=2019), effect("B", "B_1", yi=0.3, vi=0.02, year=2020)]
    flagged = h.admission_flags(pd.DataFrame(rows), {"review_year": 2020, "search_end": "2019-06-30"})
    assert list(flagged["later_study"]) == [False, True]
    flagged = h.admission_flags(pd.DataFrame(rows), {"review_year": 2020, "search_end": None})
    assert list(flagged["later_study"]) == [False, False]


def test_the_flags_of_notebook_02_reach_why_and_grade_indirectness():
    # an OR converted with equal groups assumed, adjusted = unclear, whose CI implies 5× the variance n gives
    beekers = effect("Beekers", "Beekers_1", yi=-0.10, vi=0.0017, vi_from_n=0.000325, r=-0.10, design="cross_sectional",
                     statistic_type="or", adjusted="unclear", conversion=EQUAL_SPLIT, variance_from="95% CI as printed",
                     comparator="non_users")
    plain = effect("P", "P_1", yi=0.09, vi=0.0019, vi_from_n=0.0019, r=0.09, design="cross_sectional",
                   statistic_type="chi2", conversion="chi-square(1) with n → phi", variance_from="n", comparator="non_users")
    why = mapping_reasons(pd.DataFrame([beekers, plain]), None, "correlational")
    assert why == ["odds ratio converted with equal groups assumed (group sizes not printed): Beekers",
                   "adjusted = unclear (a partial association not ruled out): Beekers",
                   "plausibility screen (notebook 02): Beekers (CI implies 5.2× the variance that n gives)"]
    assert mapping_reasons(pd.DataFrame([plain]), None, "correlational") == []
    r = review()
    res = h.run_analyses(r, pd.DataFrame([beekers, plain]))
    row = h.comparison_table(r, res).iloc[0]
    assert bool(row["mapping_uncertain"]) and row["why"] == "; ".join(why)
    fits = h.fits_table(res)
    grade = h.certainty_table(r, res, fits, {}).iloc[0]
    assert grade["indirectness"] == -1 and "mapping: odds ratio converted with equal groups" in grade["indirectness_reason"]


def test_an_unclear_adjustment_of_a_randomised_contrast_is_not_a_mapping_flag():
    trial = effect("T", "T_1", yi=0.5, vi=0.05, design="experimental", adjusted="unclear", conversion="d as printed → g")
    assert mapping_reasons(pd.DataFrame([trial]), None, "intervention") == []


def test_a_p_from_another_model_and_a_probable_same_sample_pair_are_named():
    huang = effect("Huang", "Huang_1", yi=0.9, vi=0.12, design="experimental", adjusted="yes", n_ig=18, n_cg=18,
                   statistic_type="p_only", statistic_as_printed="higher score at T1 (6.63, p = 0.007)",
                   notes="difference from repeated measures MANCOVA", conversion="exact p with group sizes → d → g",
                   sample_id="Huang", probable_sample_id="Zhang")
    other = effect("O", "O_1", yi=0.3, vi=0.02, design="experimental", adjusted="no", n_ig=50, n_cg=50,
                   statistic_type="p_only", notes="t test", conversion="exact p with group sizes → d → g",
                   sample_id="O", probable_sample_id="O")
    why = mapping_reasons(pd.DataFrame([huang, other]), None, "intervention")
    assert why == ["Huang: the p of a model (repeated measures, MANCOVA, adjusted = yes) converted as a two-sample "
                   "t test with 18/18",
                   'Huang probably shares its sample with Zhang (no source shows it; Zhang not pooled here; variant '
                   '"primary, probable same-sample pairs merged")']
    assert mapping_reasons(pd.DataFrame([other]), None, "intervention") == []
    assert "primary, probable same-sample pairs merged" == PAIRS_MERGED


def test_a_model_in_the_reverse_direction_is_a_mapping_reason():
    path = effect("S", "S_1", yi=0.22, vi=0.003, r=0.22, design="cross_sectional", statistic_type="beta",
                  notes="BORDERLINE; reverse direction (empowerment predicts use); PLS path coefficient")
    framed = effect("R", "R_1", yi=0.25, vi=0.003, r=0.25, design="cross_sectional", statistic_type="percent",
                    notes="Reverse framing: groups defined by symptoms")  # a 2×2 table: symmetric, no reason
    why = mapping_reasons(pd.DataFrame([path, framed]), None, "correlational")
    assert "modelled in the reverse direction (the outcome predicts help seeking): S" in why
    assert not any("R" in w.split(": ")[-1].split(", ") for w in why if "reverse" in w)
