"""A comparison that says what it is (compendium/comparison.py)."""
import pandas as pd

import helpers as h
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
