"""Risk of bias, certainty and summary of findings on made-up sheets (compendium/appraisal.py)."""
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import helpers as h
from made_up import effect, review

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["study_id", "tool", "outcome", "domain", "judgement", "support", "source", "location", "notes"]


def rob2(study, judgements, overall=None):
    """Rows of a RoB 2 sheet: D1..D5 with the given words (and an overall row if given)."""
    rows = [[study, "rob2", "made up", f"D{i + 1}", word, '"made up quote"', "https://example.org", "nowhere", ""]
            for i, word in enumerate(judgements)]
    if overall:
        rows.append([study, "rob2", "made up", "overall", overall, "reviewer's judgement", "https://example.org", "authors' table", ""])
    return rows


def sheet(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


@pytest.mark.parametrize("words, expected", [
    (["low"] * 5, "low"),
    (["low", "low", "high", "low", "low"], "high"),
    (["low", "some concerns", "low", "low", "low"], "some concerns"),
    (["some concerns", "some concerns", "some concerns", "low", "low"], "some concerns"),  # several: still the algorithm's
    (["low", "no information", "low", "low", "low"], "some concerns"),
    (["some concerns", "high", "no information", "low", "low"], "high"),
    (["yes", "yes", "not applicable", "yes"], "low"),              # JBI: not applicable drops out
    (["yes", "unclear", "yes"], "some concerns"),
    (["yes", "no", "yes"], "high"),
])
def test_overall_follows_rob2_algorithm(words, expected):
    assert h.overall_judgement(words) == expected


def test_overall_row_may_raise_several_concerns_to_high_but_not_contradict():
    h.check_risk_of_bias(sheet(rob2("A", ["some concerns", "some concerns", "low", "low", "low"], "high")), "x.csv")
    with pytest.raises(h.SheetError, match=r"x.csv: study 'B' \(line 7\): column 'judgement' value 'high' .* gives 'some concerns'"):
        h.check_risk_of_bias(sheet(rob2("B", ["some concerns", "low", "low", "low", "low"], "high")), "x.csv")
    with pytest.raises(h.SheetError, match="value 'low' of the overall row disagrees"):
        h.check_risk_of_bias(sheet(rob2("C", ["high", "low", "low", "low", "low"], "low")), "x.csv")


def test_sheet_rules_name_file_line_study_column_value():
    with pytest.raises(h.SheetError, match=r"study 'A' \(line 3\): column 'judgement' value 'yes' is not a rob2 judgement"):
        h.check_risk_of_bias(sheet(rob2("A", ["low", "yes", "low", "low", "low"])), "x.csv")
    with pytest.raises(h.SheetError, match=r"column 'domain' value\(s\) \['D5'\] missing"):
        h.check_risk_of_bias(sheet(rob2("A", ["low"] * 4)), "x.csv")
    with pytest.raises(h.SheetError, match="column 'domain' value 'Q1' is not a rob2 domain"):
        rows = rob2("A", ["low"] * 5)
        rows[0][3] = "Q1"
        h.check_risk_of_bias(sheet(rows), "x.csv")


def test_bad_judgement_word_stops_at_the_door(tmp_path):
    folder = tmp_path / "behr2025"
    shutil.copytree(ROOT / "data" / "raw" / "behr2025", folder)
    raw = pd.read_csv(folder / "risk_of_bias.csv", dtype=str, keep_default_na=False)
    raw.loc[2, "judgement"] = "moderate"
    raw.to_csv(folder / "risk_of_bias.csv", index=False)
    with pytest.raises(h.SheetError) as error:
        h.load_review(folder)
    message = str(error.value)
    assert "\n" not in message and "risk_of_bias.csv" in message and "(line 4)" in message
    assert f"study {raw.loc[2, 'study_id']!r}" in message and "'judgement'" in message and "'moderate'" in message


def test_authors_table_drops_in_and_a_missing_sheet_means_not_rated(tmp_path):
    folder = tmp_path / "behr2025"
    shutil.copytree(ROOT / "data" / "raw" / "behr2025", folder)
    studies = pd.read_csv(folder / "studies.csv", dtype=str)["study_id"].head(2).tolist()
    authors = sheet(rob2(studies[0], ["low"] * 5, "low") + rob2(studies[1], ["low", "some concerns", "some concerns", "low", "low"], "high"))
    authors.to_csv(folder / "risk_of_bias.csv", index=False)
    overall = h.overall_of(h.load_review(folder).sheets["risk_of_bias"])
    assert overall == {studies[0]: "low", studies[1]: "high"}
    (folder / "risk_of_bias.csv").unlink()
    assert h.overall_of(h.load_review(folder).sheets["risk_of_bias"]) == {}


ROWS = [effect("A", "A_1", yi=0.30, vi=0.01), effect("B", "B_1", yi=-0.20, vi=0.02), effect("C", "C_1", yi=0.10, vi=0.02)]
OVERALL = {"A": "low", "B": "high"}  # C is not rated


def test_sensitivity_variants_drop_the_right_studies():
    r = review()
    res = h.run_analyses(r, pd.DataFrame(ROWS))
    table = h.rob_sensitivity_table(res, OVERALL, h.transform_of(r)).set_index("variant")
    assert table.loc["as pooled", "k"] == 3
    assert table.loc["without high risk of bias", "k"] == 2
    assert table.loc["without high risk of bias", "studies_removed"] == "B"
    assert table.loc["without high risk of bias", "not_rated"] == "C"
    both = h.fit_meta([0.30, 0.10], [0.01, 0.02])
    assert table.loc["without high risk of bias", "estimate"] == pytest.approx(float(np.tanh(both.estimate)))
    assert table.loc["low risk only", "k"] == 1 and table.loc["low risk only", "note"] == "one study left, not pooled"
    nothing = h.rob_sensitivity_table(res, {"A": "high", "B": "high", "C": "some concerns"}).set_index("variant")
    assert nothing.loc["low risk only", "k"] == 0 and nothing.loc["low risk only", "note"] == "nothing left"


def certainty_of(rows, overall, design="correlational"):
    r = review()
    r = h.Review(r.review_id, r.folder, {**r.meta, "design": design}, r.codebook, r.sheets)
    res = h.run_analyses(r, pd.DataFrame(rows))
    fits = h.fits_table(res)
    return h.certainty_table(r, res, fits, overall).iloc[0], fits.iloc[0], r


def test_k2_interval_spanning_zero_is_imprecise():
    rows = [effect("A", "A_1", yi=0.05, vi=0.02), effect("B", "B_1", yi=-0.02, vi=0.02)]
    row, fit, _ = certainty_of(rows, {"A": "low", "B": "low"}, design="intervention")
    assert fit["ci_low"] < 0 < fit["ci_high"]
    assert row["imprecision"] <= -1 and "spans 0" in row["imprecision_reason"]
    assert row["risk_of_bias"] == 0 and row["inconsistency"] == 0
    assert "not assessable: k = 2 < 10" in row["publication_bias_reason"] and row["publication_bias"] == 0
    assert row["start"] == "high"
    expected = ["high", "moderate", "low", "very low"][min(3, int(row["downgrades"]))]
    assert row["certainty"] == expected and row["symbols"] == {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯",
                                                                   "very low": "⊕◯◯◯"}[expected]


def test_precise_consistent_low_risk_evidence_is_not_downgraded():
    rows = [effect(s, f"{s}_1", yi=y, vi=0.0005, n=2000) for s, y in zip("ABC", (0.30, 0.31, 0.29))]
    row, fit, _ = certainty_of(rows, {s: "low" for s in "ABC"}, design="intervention")
    assert fit["ci_low"] > 0 and row["downgrades"] == 0 and row["certainty"] == "high"
    row, _, _ = certainty_of(rows, {s: "high" for s in "ABC"}, design="intervention")
    assert row["risk_of_bias"] == -2 and row["certainty"] == "low"
    row, _, _ = certainty_of(rows, {}, design="correlational")  # not rated: counted with some concerns
    assert row["start"] == "low" and row["risk_of_bias"] == -1 and row["certainty"] == "very low"


def test_summary_of_findings_sentence_is_built_from_the_numbers():
    rows = [effect(s, f"{s}_1", yi=y, vi=0.0005, n=2000) for s, y in zip("ABC", (0.30, 0.31, 0.29))]
    overall = {s: "low" for s in "ABC"}
    r = review()
    res = h.run_analyses(r, pd.DataFrame(rows))
    fits = h.fits_table(res)
    sof = h.summary_of_findings(r, h.certainty_table(r, res, fits, overall), fits).iloc[0]
    assert sof["estimate"] == pytest.approx(float(np.tanh(fits.iloc[0]["estimate"])))
    assert sof["ci_low"] == pytest.approx(float(np.tanh(fits.iloc[0]["ci_low"])))
    assert sof["certainty"] == "low" and sof["studies"] == 3 and sof["participants"] == 6000
    assert f"r may be {sof['estimate']:.2f}".replace("0.", ".") in sof["plain_language"]
    assert sof["comments"] == "not downgraded"


def test_optimal_information_size_is_the_textbook_number():
    assert h.optimal_information_size(0.2, "g") == pytest.approx(4 * (1.959964 + 0.841621) ** 2 / 0.04, rel=1e-5)
    assert h.optimal_information_size(np.arctanh(0.1), "r") == pytest.approx(((1.959964 + 0.841621) / np.arctanh(0.1)) ** 2 + 3, rel=1e-5)


def test_forest_plot_shows_each_studys_overall_risk_of_bias():
    import matplotlib
    matplotlib.use("Agg")
    r = review()
    res = h.run_analyses(r, pd.DataFrame(ROWS))
    rows, fits = h.analysis_rows(res), h.fits_table(res)
    fit = fits.iloc[0]
    plain = h.forest_plot(rows, fit, "t", "r", transform=np.tanh)
    marked = h.forest_plot(rows.assign(rob=rows["study_id"].map(lambda s: OVERALL.get(s, "not rated"))), fit, "t", "r",
                           transform=np.tanh)
    texts = lambda fig: [t.get_text() for ax in fig.axes for t in ax.texts]  # noqa: E731
    assert "RoB" not in texts(plain) and "RoB" in texts(marked)
    assert {"+", "×", "n/r"} <= set(texts(marked))


def test_votes_are_split_by_risk_of_bias_and_unrated_studies_stay_unrated():
    votes = pd.DataFrame({"outcome": ["x", "x", "x", "y"], "study_id": ["A", "B", "C", "A"],
                          "vote": ["positive", "negative", "positive", "null"]})
    table = h.votes_by_risk_of_bias(votes, ["outcome"], OVERALL).set_index(["outcome", "risk_of_bias"])
    assert table.loc[("x", "low"), "positive"] == 1 and table.loc[("x", "high"), "negative"] == 1
    assert table.loc[("x", "not rated"), "studies"] == 1 and table.loc[("y", "low"), "null"] == 1
    assert table["studies"].sum() == len(votes)


def test_support_counts_tell_quotes_facts_and_no_information_apart():
    rows = rob2("A", ["low", "some concerns", "low", "low", "low"])
    rows[1][5] = "stated fact, no quote"
    rows[2][4], rows[2][5] = "no information", 'looked for: attrition; the abstract says "randomised" only'
    counts = h.support_counts(sheet(rows), ["A", "B"])
    assert counts == {"studies_rated": 1, "judgements": 5, "quoted": 3, "no_information": 1, "other_fact": 1,
                      "signalling_answers": 0, "signalling_ni": 0, "not_rated": ["B"]}
    assert h.support_sentence(counts, "x") == ("x: 1 studies rated, 5 domain judgements; 3 rest on a quote, 1 on a stated "
                                               "fact without a quote, 1 rest on no information. Studies of the pooled "
                                               "analyses not rated: B.")
    # a RoB 2 domain whose every signalling answer is NI rests on no information, whatever it is judged
    frame = sheet(rob2("A", ["low", "some concerns", "high", "low", "low"])).assign(signalling="")
    frame.loc[2, "signalling"] = "3.1=NI;3.2=N;3.3=NI;3.4=NI"  # 3.2 has no NI: N says no evidence is shown
    frame.loc[0, "signalling"] = "1.1=PY;1.2=NI;1.3=N"
    counts = h.support_counts(frame)
    assert counts["no_information"] == 1 and counts["quoted"] == 4
    assert counts["signalling_answers"] == 7 and counts["signalling_ni"] == 4
    frame.loc[2, "signalling"] = "3.1=NI;3.2=Y"  # evidence that the result is not biased: rests on it
    assert h.support_counts(frame)["no_information"] == 0


@pytest.mark.parametrize("name", ["behr2025", "bizzotto2023"])
def test_every_pooled_study_of_the_committed_reviews_is_rated(name):
    pooled = pd.read_csv(ROOT / "data" / "processed" / name / "analysis_rows.csv", dtype=str)["study_id"]
    rob = h.load_review(ROOT / "data" / "raw" / name).sheets["risk_of_bias"]
    assert h.support_counts(rob, pooled)["not_rated"] == [], "rate them in data/raw/<review>/risk_of_bias.csv"



# -- RoB 2's domain algorithms: every branch the sheets use, and one case per domain for each judgement ----------

@pytest.mark.parametrize("domain, answers, expected", [
    ("D1", "1.1=Y;1.2=Y;1.3=N", "low"),
    ("D1", "1.1=NI;1.2=PY;1.3=NI", "low"),            # random sequence not described, but concealed: still low
    ("D1", "1.1=N;1.2=Y;1.3=N", "some concerns"),     # concealed but not random
    ("D1", "1.1=Y;1.2=Y;1.3=Y", "some concerns"),     # concealed, baseline imbalance
    ("D1", "1.1=PY;1.2=NI;1.3=NI", "some concerns"),  # the sheet's usual case: concealment unknown
    ("D1", "1.1=PY;1.2=NI;1.3=PY", "high"),           # concealment unknown and baseline imbalance
    ("D1", "1.1=Y;1.2=N;1.3=N", "high"),              # not concealed
    ("D2", "2.1=N;2.2=N;2.6=Y", "low"),               # blinded, appropriate analysis
    ("D2", "2.1=Y;2.2=Y;2.3=N;2.6=PY", "low"),        # aware, no deviations from the trial context
    ("D2", "2.1=Y;2.2=PY;2.3=NI;2.6=Y", "some concerns"),
    ("D2", "2.1=Y;2.3=Y;2.4=N;2.6=Y", "some concerns"),
    ("D2", "2.1=Y;2.3=Y;2.4=Y;2.5=Y;2.6=Y", "some concerns"),
    ("D2", "2.1=N;2.2=N;2.6=N;2.7=N", "some concerns"),  # inappropriate analysis, no substantial impact
    ("D2", "2.1=Y;2.3=Y;2.4=PY;2.5=N;2.6=Y", "high"),    # unbalanced deviations that affect the outcome
    ("D2", "2.1=Y;2.2=NI;2.3=NI;2.6=NI;2.7=NI", "high"),  # analysis population unknown
    ("D3", "3.1=Y", "low"),
    ("D3", "3.1=N;3.2=PY", "low"),
    ("D3", "3.1=N;3.2=N;3.3=PN", "low"),
    ("D3", "3.1=PN;3.2=N;3.3=PY;3.4=PN", "some concerns"),
    ("D3", "3.1=NI;3.2=N;3.3=NI;3.4=NI", "high"),     # the referee's case: nothing on missing data
    ("D3", "3.1=Y;3.3=NI", "low"),                    # 3.2 not reached: NA
    ("D4", "4.1=N;4.2=N;4.3=N", "low"),               # blinded assessors
    ("D4", "4.1=N;4.2=N;4.3=Y;4.4=N", "low"),
    ("D4", "4.1=N;4.2=NI;4.3=N", "some concerns"),    # 4.2 unknown: what would be low is some concerns
    ("D4", "4.1=N;4.2=N;4.3=Y;4.4=PY;4.5=PN", "some concerns"),
    ("D4", "4.1=N;4.2=N;4.3=Y;4.4=PY;4.5=NI", "high"),  # self-report by participants who know their arm
    ("D4", "4.1=PY", "high"),
    ("D4", "4.1=N;4.2=Y", "high"),
    ("D5", "5.1=Y;5.2=N;5.3=N", "low"),
    ("D5", "5.1=NI;5.2=N;5.3=N", "some concerns"),
    ("D5", "5.1=NI;5.2=NI;5.3=N", "some concerns"),
    ("D5", "5.1=Y;5.2=PY;5.3=N", "high"),
    ("D5", "5.1=Y;5.2=N;5.3=Y", "high"),
])
def test_rob2_domain_algorithms(domain, answers, expected):
    assert h.rob2_domain_judgement(domain, answers) == expected


def test_every_domain_reaches_low_some_concerns_and_high():
    cases = {d: set() for d in ("D1", "D2", "D3", "D4", "D5")}
    for domain, answers, expected in test_rob2_domain_algorithms.pytestmark[0].args[1]:
        cases[domain].add(expected)
    assert all(found == {"low", "some concerns", "high"} for found in cases.values()), cases


def test_signalling_answers_decide_the_domain_at_the_door():
    rows = rob2("A", ["some concerns", "low", "high", "low", "low"])
    frame = sheet(rows).assign(signalling=["1.1=PY;1.2=NI;1.3=NI", "", "3.1=NI;3.2=N;3.3=NI;3.4=NI", "", ""])
    h.check_risk_of_bias(frame, "x.csv")  # the algorithm agrees; rows without answers are taken as given
    wrong = frame.copy()
    wrong.loc[2, "judgement"] = "some concerns"
    with pytest.raises(h.SheetError, match=r"x.csv: study 'A' \(line 4\): column 'judgement' value 'some concerns' "
                                           r"disagrees with the signalling answers .*D3 algorithm gives 'high'"):
        h.check_risk_of_bias(wrong, "x.csv")
    bad = frame.copy()
    bad.loc[0, "signalling"] = "1.1=PY;1.2=maybe"
    with pytest.raises(h.SheetError, match=r"\(line 2\): column 'signalling' value '1.1=PY;1.2=maybe': answer 'maybe'"):
        h.check_risk_of_bias(bad, "x.csv")
    bad.loc[0, "signalling"] = "2.1=Y"
    with pytest.raises(h.SheetError, match=r"column 'signalling' value '2.1=Y': question '2.1' is not a signalling "
                                           r"question of D1"):
        h.check_risk_of_bias(bad, "x.csv")
    with pytest.raises(h.SheetError, match=r"column 'judgement' value 'no information' is not a rob2 judgement"):
        h.check_risk_of_bias(sheet(rob2("A", ["low", "no information", "low", "low", "low"])), "x.csv")


@pytest.mark.parametrize("domain, answers, message", [
    ("D3", "3.1=NI;3.2=NI;3.3=NI;3.4=NI", "answer 'NI' to 3.2 is not one RoB 2 allows for it: NA|Y|PY|PN|N"),
    ("D1", "1.1=NA;1.2=Y;1.3=N", "answer 'NA' to 1.1 is not one RoB 2 allows for it: Y|PY|PN|N|NI"),
    ("D5", "5.1=NA", "answer 'NA' to 5.1"),
    ("D3", "3.1=NI;3.3=NI;3.4=NI", "question 3.2 must be answered (Y|PY|PN|N) where 3.1 is NI: RoB 2 gives it no NI"),
    ("D3", "", "question 3.2 must be answered"),  # an empty cell would make 3.2 NI
])
def test_each_signalling_question_takes_only_the_answers_rob2_offers_it(domain, answers, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        h.parse_signalling(answers, domain)


def test_conditional_questions_take_na_and_a_disallowed_answer_stops_the_sheet_in_one_line():
    assert h.parse_signalling("2.1=N;2.2=N;2.3=NA;2.4=NA;2.5=NA;2.6=Y;2.7=NA", "D2")["2.3"] == "NA"
    assert h.parse_signalling("3.1=Y", "D3")["3.2"] == "NA"
    assert h.parse_signalling("4.1=N;4.2=N;4.3=N;4.4=NA;4.5=NA", "D4")["4.5"] == "NA"
    frame = sheet(rob2("A", ["some concerns", "low", "high", "low", "low"])).assign(
        signalling=["", "", "3.1=NI;3.2=NI;3.3=NI;3.4=NI", "", ""])
    with pytest.raises(h.SheetError) as problem:
        h.check_risk_of_bias(frame, "x.csv")
    text = str(problem.value)
    assert "\n" not in text and text.startswith("x.csv: study 'A' (line 4): column 'signalling' value "
                                                "'3.1=NI;3.2=NI;3.3=NI;3.4=NI': answer 'NI' to 3.2")


def test_committed_rob2_sheet_follows_the_algorithms_and_is_mostly_high():
    rob = h.load_review(ROOT / "data" / "raw" / "behr2025").sheets["risk_of_bias"]
    domains = rob[(rob["domain"] != "overall") & (rob["signalling"] != "")]
    assert len(domains) == len(rob[rob["domain"] != "overall"])  # every RoB 2 row gives its answers
    derived = [h.rob2_domain_judgement(d, text) for d, text in zip(domains["domain"], domains["signalling"])]
    assert derived == list(domains["judgement"])
    overall = h.overall_of(rob)
    assert sum(v == "high" for v in overall.values()) > len(overall) / 2


def test_alternative_rules_are_reported_beside_the_primary():
    rows = (rob2("A", ["some concerns", "some concerns", "low", "low", "low"])
            + rob2("B", ["some concerns", "low", "low", "low", "low"]))
    table = h.study_judgements(sheet(rows)).set_index("study_id")
    assert table.loc["A", "overall"] == "some concerns" and table.loc["A", "overall_alternative"] == "high"
    assert table.loc["B", "overall"] == table.loc["B", "overall_alternative"] == "some concerns"
    jbi = lambda study, words: [[study, "jbi_cross_sectional", "m", f"Q{i + 1}", w, '"q"', "u", "l", ""]  # noqa: E731
                                for i, w in enumerate(words)]
    only_q6 = ["yes"] * 5 + ["no", "yes", "yes"]
    q6_and_q8 = ["yes"] * 5 + ["no", "yes", "no"]
    table = h.study_judgements(sheet(jbi("C", only_q6) + jbi("D", q6_and_q8))).set_index("study_id")
    assert table.loc["C", "overall"] == "high" and table.loc["C", "overall_alternative"] == "some concerns"
    assert table.loc["D", "overall"] == table.loc["D", "overall_alternative"] == "high"
    assert "convention" in table.loc["C", "overall_rule"] and "RoB 2" not in table.loc["C", "overall_rule"]
    assert h.jbi_overall({"Q1": "yes", "Q6": "no"}, "q6_no_as_concerns") == "some concerns"
    assert h.jbi_overall({"Q1": "yes", "Q4": "not applicable"}) == "low"
    sentence = h.alternative_sentence(table.reset_index(), "x")
    assert "1 of 2 studies change (C)" in sentence


# -- GRADE: non-reporting, indirectness flags, the starting point ------------------------------------------------

def _unconverted(study, significant, reason="only direction and significance are printed", **extra):
    row = effect(study, f"{study}_1", significant=significant, reason=reason, direction="positive")
    row.update(extra)
    return row


def test_non_reporting_downgrades_publication_bias_when_significance_only_outnumbers_the_pool():
    pooled = [effect(s, f"{s}_1", yi=y, vi=0.0005, n=2000) for s, y in zip("ABC", (0.30, 0.31, 0.29))]
    r = review()
    res = h.run_analyses(r, pd.DataFrame(pooled))
    fits = h.fits_table(res)
    overall = {s: "low" for s in "ABC"}
    # four studies in the question print only significance (> 3 pooled); a proxy row and another outcome do not count
    unconverted = pd.DataFrame([_unconverted(s, "yes") for s in "DEFG"]
                               + [_unconverted("P", "no", outcome_proxy="sleep"),
                                  _unconverted("Q", "no", outcome="anxiety"),
                                  _unconverted("A", "no")])  # a pooled study's other row: not an unpooled study
    counts = h.non_reporting(r, res["osg"], unconverted)
    assert counts == {"pooled": 3, "pooled_significant": 3, "unpooled": 4, "significance_only": 4, "number_not_usable": 0,
                      "unpooled_null": 0, "unpooled_stated": 4}
    row = h.certainty_table(r, res, fits, overall, unconverted).iloc[0]
    assert row["publication_bias"] == -1 and "more studies report only significance" in row["publication_bias_reason"]
    # three significance-only (not more than the pool) and the unpooled not mostly null: not downgraded
    fewer = unconverted[unconverted["study_id"].isin(list("DEF"))]
    row = h.certainty_table(r, res, fits, overall, fewer).iloc[0]
    assert row["publication_bias"] == 0 and row["publication_bias_reason"].startswith("not serious")
    # pooled all significant, unpooled (numbers not usable) mostly null: downgraded for the second reason
    skewed = pd.DataFrame([_unconverted("D", "no", reason="group sizes of both arms are not printed"),
                           _unconverted("E", "no", reason="group sizes of both arms are not printed"),
                           _unconverted("F", "yes", reason="group sizes of both arms are not printed")])
    counts = h.non_reporting(r, res["osg"], skewed)
    assert counts["number_not_usable"] == 3 and counts["significance_only"] == 0 and counts["unpooled_null"] == 2
    row = h.certainty_table(r, res, fits, overall, skewed).iloc[0]
    assert row["publication_bias"] == -1 and "the pooled are mostly significant, the unpooled mostly null" in \
        row["publication_bias_reason"]
    # without the unconverted rows the domain says it cannot be assessed, as before
    row = h.certainty_table(r, res, fits, overall).iloc[0]
    assert row["publication_bias"] == 0 and row["publication_bias_reason"].startswith("not assessable")


def test_indirectness_reads_the_comparison_tables_mapping_flags():
    rows = [effect(s, f"{s}_1", yi=y, vi=0.0005, n=2000) for s, y in zip("ABC", (0.30, 0.31, 0.29))]
    overall = {s: "low" for s in "ABC"}
    row, _, _ = certainty_of(rows, overall)
    assert row["indirectness"] == 0 and "no mapping flag" in row["indirectness_reason"]
    rows[0]["scope_flag"] = "blended"
    rows[1]["study_scope_flag"] = "caregivers"
    row, _, r = certainty_of(rows, overall)
    res = h.run_analyses(r, pd.DataFrame(rows))
    compared = h.comparison_table(r, res).iloc[0]  # the comparison table's flags for the same analysis
    assert compared["mapping_uncertain"] and "blended intervention pooled" in compared["why"]
    assert row["indirectness"] == -1
    assert "blended intervention pooled" in row["indirectness_reason"] and "caregiver trial pooled" in row["indirectness_reason"]
    for reason in compared["why"].split("; "):
        assert reason in row["indirectness_reason"]


def test_starting_point_is_stated_with_its_reason():
    rows = [effect(s, f"{s}_1", yi=y, vi=0.0005, n=2000) for s, y in zip("ABC", (0.30, 0.31, 0.29))]
    row, _, _ = certainty_of(rows, {}, design="correlational")
    assert row["start"] == "low" and "Iorio" in row["start_reason"] and "Foroutan" in row["start_reason"]
    row, _, _ = certainty_of(rows, {}, design="intervention")
    assert row["start"] == "high" and "randomised" in row["start_reason"]


def test_k2_inconsistency_reads_direction_and_overlap_of_the_two_studies():
    # both favour the intervention, CIs overlap (review B's guided case, .84 and .27): not serious, whatever I²
    rows = [effect("A", "A_1", yi=0.84, vi=0.05), effect("B", "B_1", yi=0.27, vi=0.028)]
    row, fit, _ = certainty_of(rows, {"A": "low", "B": "low"}, design="intervention")
    assert pd.isna(fit["pi_low"]) and fit["i2"] > 50
    assert row["inconsistency"] == 0 and "same side of 0, CIs overlap" in row["inconsistency_reason"]
    # same side, no overlap: serious; opposite sides, no overlap: very serious
    row, _, _ = certainty_of([effect("A", "A_1", yi=0.9, vi=0.001), effect("B", "B_1", yi=0.1, vi=0.001)], {})
    assert row["inconsistency"] == -1 and "same side of 0, CIs do not overlap" in row["inconsistency_reason"]
    row, _, _ = certainty_of([effect("A", "A_1", yi=-0.1, vi=0.0017), effect("B", "B_1", yi=0.09, vi=0.0019)], {})
    assert row["inconsistency"] == -2 and "opposite sides of 0, CIs do not overlap" in row["inconsistency_reason"]


def test_heterogeneity_is_not_counted_twice_in_inconsistency_and_imprecision():
    # Beekers2015 / NotShown2002a-like: opposite directions, no overlap (−2); the random-effects interval, widened by
    # τ², would take −2 for imprecision as well; read on the common-effect interval it is within ±small
    rows = [effect("A", "A_1", yi=-0.10, vi=0.0017, n=3080), effect("B", "B_1", yi=0.086, vi=0.0019, n=519)]
    row, fit, _ = certainty_of(rows, {})
    assert row["inconsistency"] == -2
    assert fit["ci_low"] < -np.arctanh(0.1) and fit["ci_high"] > np.arctanh(0.1), "the leading interval alone: −2"
    common = h.fit_meta([-0.10, 0.086], [0.0017, 0.0019], method="FE", test="z")
    assert row["imprecision"] == -1
    assert f"common-effect interval {_number(common.ci_low)} to {_number(common.ci_high)}" in row["imprecision_reason"]
    assert "inconsistency already counts" in row["imprecision_reason"]
    # consistent studies: the leading interval, as before
    row, _, _ = certainty_of([effect("A", "A_1", yi=0.84, vi=0.05), effect("B", "B_1", yi=0.27, vi=0.028)], {},
                             design="intervention")
    assert row["imprecision"] == -2 and row["imprecision_reason"].startswith("very serious: interval")


def _number(x):
    from compendium.display import sentence_number
    return sentence_number(x)


def test_unclear_votes_count_in_the_risk_of_bias_table():
    votes = pd.DataFrame({"outcome": ["x", "x", "x"], "study_id": ["A", "B", "C"],
                          "vote": ["positive", "unclear", "unclear"]})
    table = h.votes_by_risk_of_bias(votes, ["outcome"], OVERALL)
    assert table["studies"].sum() == 3 and table["unclear"].sum() == 2
