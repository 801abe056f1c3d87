"""Vote counting that is a vote count: one vote per study per cell, outcomes apart, converted studies
voting, and a sign test only from enough studies (compendium/box_scores.py)."""
import math

import pandas as pd
import pytest

import helpers as h
from made_up import effect, review


def coded(study, row_id, direction, significant="yes", **extra):
    return effect(study, row_id, direction=direction, significant=significant, **extra)


def votes_of(converted, not_converted, rules=h.RULES, **meta):
    r = review(meta)
    rows = h.admitted_votes(r, h.vote_rows(r, pd.DataFrame(converted), pd.DataFrame(not_converted)))
    votes = h.study_votes(rows, h.cells_of(r))
    return votes, h.vote_count_table(votes, h.cells_of(r), rules=rules)


def test_outcomes_of_opposite_meaning_never_share_a_cell():
    rows = [coded("A", "A_1", "negative"), coded("B", "B_1", "positive", outcome="empowerment")]
    _, table = votes_of([], rows)
    assert list(table["outcome"]) == ["depressive_symptoms", "empowerment"]
    assert list(table["k_studies"]) == [1, 1]


def test_one_vote_per_study_by_the_70_percent_rule():
    rows = [coded("A", "A_1", "negative"), coded("A", "A_2", "negative"), coded("A", "A_3", "negative"),
            coded("B", "B_1", "positive"), coded("B", "B_2", "negative"), coded("B", "B_3", "positive")]
    votes, table = votes_of([], rows)
    assert dict(zip(votes["study_id"], votes["vote"])) == {"A": "negative", "B": "mixed"}
    row = table.iloc[0]
    assert (row["k_studies"], row["negative"], row["mixed"], row["results"]) == (2, 1, 1, 6)
    assert row[["positive", "negative", "null", "mixed"]].sum() == row["k_studies"]


def test_a_result_printed_only_as_not_significant_has_no_direction_and_is_set_aside():
    # B: one positive estimate and two "no significant difference" results without an estimate (null):
    # the nulls say nothing about the direction, so B votes positive, not mixed (SWiM); C has only nulls
    rows = [coded("B", "B_1", "positive"), coded("B", "B_2", "null", significant="no"),
            coded("B", "B_3", "null", significant="no"), coded("C", "C_1", "null", significant="no"),
            coded("C", "C_2", "unclear")]
    votes, table = votes_of([], rows)
    assert dict(zip(votes["study_id"], votes["vote"])) == {"B": "positive", "C": "null"}
    row = table.iloc[0]
    assert (row["positive"], row["null"], row["mixed"]) == (1, 1, 0)


def test_an_adjusted_estimate_votes_by_its_direction_though_it_does_not_pool():
    converted = [effect("S", "S_1", yi=0.3, vi=0.001, statistic_type="aor", adjusted="yes", design="cross_sectional")]
    votes, table = votes_of(converted, [])
    assert list(votes["vote"]) == ["positive"] and bool(votes["partial"].iloc[0])
    assert table["partial"].iloc[0] == 1


def test_converted_studies_vote_with_the_sign_of_their_estimate_and_keep_printed_significance():
    converted = [effect("C", "C_1", yi=-0.3, vi=0.01, direction="positive"),   # the estimate decides, not the code
                 effect("D", "D_1", yi=0.05, vi=0.01, significant="yes")]      # CI includes 0, but P = .04 printed
    votes, table = votes_of(converted, [])
    assert dict(zip(votes["study_id"], votes["vote"])) == {"C": "negative", "D": "positive"}
    assert dict(zip(votes["study_id"], votes["significant"])) == {"C": "yes", "D": "yes"}
    assert table["converted_studies"].iloc[0] == 2


def test_a_vote_is_a_direction_not_a_significance():
    # p = .20, printed not significant, positive: it votes positive (SWiM), and stays "not significant"
    rows = [coded("A", "A_1", "positive", significant="no", statistic_as_printed="r = .12, p = .20"),
            coded("B", "B_1", "unclear", significant="yes")]
    votes, table = votes_of([], rows)
    assert dict(zip(votes["study_id"], votes["vote"])) == {"A": "positive", "B": "unclear"}
    assert dict(zip(votes["study_id"], votes["significant"])) == {"A": "no", "B": "yes"}
    row = table.iloc[0]
    assert (row["positive"], row["mixed"], row["unclear"], row["k_studies"]) == (1, 0, 1, 2)


def test_cells_split_by_design_and_counted_without_proxies():
    rows = [coded("A", "A_1", "negative", design="pre_post"), coded("B", "B_1", "negative", design="pre_post"),
            coded("C", "C_1", "positive", design="cross_sectional"),
            coded("D", "D_1", "negative", design="cross_sectional", outcome_proxy="distress"),
            coded("D", "D_2", "positive", design="cross_sectional")]
    r = review({"box_score_by": ["help_seeking_type", "outcome", "design"], "box_score_admit": {"proxies": True}})
    results = h.admitted_votes(r, h.vote_rows(r, pd.DataFrame(), pd.DataFrame(rows)))
    assert "design" in results
    table = h.vote_count_variants(results, h.cells_of(r))
    by = table.set_index(["variant", "design"])
    assert (by.loc[("as admitted", "pre_post"), "negative"], by.loc[("as admitted", "pre_post"), "positive"]) == (2, 0)
    assert by.loc[("as admitted", "cross_sectional"), "mixed"] == 1       # D: one negative (proxy), one positive
    assert by.loc[("without proxies", "cross_sectional"), "positive"] == 2  # D recounted from its direct result
    assert by.loc[("without proxies", "cross_sectional"), "proxy"] == 0


def test_no_sign_test_where_only_one_direction_can_be_reported():
    rows = [coded(s, f"{s}_1", "positive", role="mediator") for s in "ABCDEF"]
    r = review({"box_score_by": ["role", "outcome"]})
    results = h.admitted_votes(r, h.vote_rows(r, pd.DataFrame(), pd.DataFrame(rows)))
    table = h.vote_count_variants(results, h.cells_of(r), one_direction={"role": ["mediator"]})
    row = table.iloc[0]
    assert row["positive"] == 6 and math.isnan(row["sign_test_p"]) and "one direction only" in row["note"]
    tested = h.vote_count_variants(results, h.cells_of(r))
    assert tested["sign_test_p"].iloc[0] == pytest.approx(2 * 0.5 ** 6)


def test_sign_test_only_from_five_studies_with_a_direction():
    four = [coded(s, f"{s}_1", "positive") for s in "ABCD"] + [coded("E", "E_1", "null")]
    _, table = votes_of([], four)
    assert math.isnan(table["sign_test_p"].iloc[0]) and "not tested: 4 studies" in table["note"].iloc[0]
    five = four + [coded("F", "F_1", "positive")]
    _, table = votes_of([], five)
    assert table["sign_test_p"].iloc[0] == pytest.approx(2 * 0.5 ** 5)
    assert table["ci_low"].iloc[0] == pytest.approx(0.5655, abs=1e-4)   # Wilson interval of 5/5
    _, table = votes_of([], four, rules=h.SmallKRules(min_studies_sign_test=4))
    assert table["sign_test_p"].iloc[0] == pytest.approx(2 * 0.5 ** 4)


def test_flagged_results_vote_only_when_the_rule_admits_them_and_are_counted():
    rows = [coded("A", "A_1", "negative"), coded("B", "B_1", "negative", outcome_proxy="distress"),
            coded("C", "C_1", "positive", comparator="other_help")]
    _, table = votes_of([], rows)
    assert table["k_studies"].iloc[0] == 1
    _, table = votes_of([], rows, box_score_admit={"proxies": True})
    assert (table["k_studies"].iloc[0], table["proxy"].iloc[0], table["other_comparator"].iloc[0]) == (2, 1, 0)


def test_papers_on_one_sample_vote_once():
    rows = [coded("Mo2010", "Mo2010_1", "negative", sample_id="Mo2010"),
            coded("Mo2013", "Mo2013_1", "negative", sample_id="Mo2010"), coded("X", "X_1", "positive", sample_id="X")]
    votes, table = votes_of([], rows)
    assert list(votes["study_id"]) == ["Mo2010 + Mo2013", "X"]
    assert table["k_studies"].iloc[0] == 2


def test_probable_same_sample_pairs_vote_once_in_their_variant():
    rows = [coded("A", "A_1", "negative", sample_id="A", probable_sample_id="A"),
            coded("B", "B_1", "negative", sample_id="B", probable_sample_id="A"),
            coded("C", "C_1", "positive", sample_id="C", probable_sample_id="C")]
    r = review()
    results = h.admitted_votes(r, h.vote_rows(r, pd.DataFrame(), pd.DataFrame(rows)))
    table = h.vote_count_variants(results, h.cells_of(r)).set_index("variant")
    assert table.loc["as admitted", "k_studies"] == 3
    assert table.loc["probable same-sample pairs merged", "k_studies"] == 2
    assert table.loc["probable same-sample pairs merged", "negative"] == 1


def test_vote_sentences_name_the_untested_cells_without_repeating_the_table():
    import pandas as pd
    table = pd.DataFrame({"outcome": ["x", "y", "z"], "k_studies": [13, 1, 3], "positive": [11, 1, 2],
                          "negative": [2, 0, 0], "null": [0, 0, 1], "mixed": [0, 0, 0],
                          "note": ["", "not tested: 1 study with a direction (< 5)",
                                   "not tested: 2 studies with a direction (< 5)"]})
    (text,) = h.vote_sentences(table, ["outcome"])
    assert text.startswith("2 cells of 3 have no sign test (fewer than 5 studies with a direction): ") and "y (1 study); z (3 studies)" in text
    assert "The other 1 cell is read below." in text and "11 positive" not in text


def test_the_worst_case_counts_every_null_vote_against_the_majority():
    # 6 positive, 1 negative, 3 null (only "not significant" printed): as counted 6 of 7, p = 2·(1 + 7)/2⁷ = .125;
    # worst case 6 of 10, p = 2·Σ_{i ≤ 4} C(10, i)/2¹⁰ = 2·386/1024 = .754
    rows = ([coded(s, f"{s}_1", "positive") for s in "ABCDEF"] + [coded("G", "G_1", "negative")]
            + [coded(s, f"{s}_1", "null", significant="no") for s in "HIJ"])
    _, table = votes_of([], rows)
    worst = h.worst_case_votes(table, ["help_seeking_type", "outcome"])
    r = worst.iloc[0]
    assert (r["majority"], r["majority_votes"], r["minority_votes"], r["null"]) == ("positive", 6, 1, 3)
    assert r["sign_test_p"] == pytest.approx(16 / 128) and r["worst_sign_test_p"] == pytest.approx(2 * 386 / 1024)
    assert r["worst_majority_share"] == pytest.approx(0.6)
    assert (r["worst_ci_low"], r["worst_ci_high"]) == pytest.approx(h.wilson_interval(6, 10))
    sentence = h.worst_case_sentences(worst, ["help_seeking_type", "outcome"])[0]
    assert "6 of 7" in sentence and "3 studies printed only" in sentence and "6 of 10" in sentence and "p = .754" in sentence


def test_a_pre_post_cell_says_its_votes_are_change_within_people_not_an_effect():
    rows = [coded(s, f"{s}_1", "negative", design="pre_post") for s in "ABCDE"]
    _, table = votes_of([], rows, box_score_by=["help_seeking_type", "outcome", "design"])
    reading = h.vote_reading(table, ["help_seeking_type", "outcome", "design"])
    assert "change within the same people" in reading[0] and "not an effect" in reading[0]
    rows = [coded(s, f"{s}_1", "negative", design="cross_sectional") for s in "ABCDE"]
    _, table = votes_of([], rows, box_score_by=["help_seeking_type", "outcome", "design"])
    assert "change within" not in h.vote_reading(table, ["help_seeking_type", "outcome", "design"])[0]
