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
    assert (row["k"], bool(row["k_le_3"]), bool(row["single_study"]), row["published_studies"]) == (2, True, False, 19)
    assert row["test"] == "modified Hartung–Knapp" and row["ci_low"] < row["ci_low_z"], "the leading test, z beside it"
    text = " ".join(h.what_this_comparison_is(table))
    assert "beside 1 of the 1 published pooled results" in text and "19 (made_up)" in text
    assert "comparisons, not reproductions" in text


def test_a_single_study_and_an_uncertain_mapping_are_flagged():
    r = review({"analyses": [{"name": "osg", "label": "OSG", "published": "osg_published", "mapping_note": "maybe",
                              "filter": {"outcome": ["depressive_symptoms"]}}]})
    res = h.run_analyses(r, pd.DataFrame([effect("A", "A_1", yi=0.1, vi=0.01)]))
    row = h.comparison_table(r, res).iloc[0]
    assert bool(row["single_study"]) and bool(row["mapping_uncertain"])
    assert "maybe" in row["note"] and "single study" in row["note"]
