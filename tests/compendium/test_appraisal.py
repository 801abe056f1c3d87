"""Risk of bias, certainty and summary of findings on made-up sheets (compendium/appraisal.py)."""
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
                      "not_rated": ["B"]}
    assert h.support_sentence(counts, "x") == ("x: 1 studies rated, 5 domain judgements; 3 rest on a quote, 1 on a stated "
                                               "fact without a quote, 1 are 'no information'. Studies of the pooled "
                                               "analyses not rated: B.")


@pytest.mark.parametrize("name", ["behr2025", "bizzotto2023"])
def test_every_pooled_study_of_the_committed_reviews_is_rated(name):
    pooled = pd.read_csv(ROOT / "data" / "processed" / name / "analysis_rows.csv", dtype=str)["study_id"]
    rob = h.load_review(ROOT / "data" / "raw" / name).sheets["risk_of_bias"]
    assert h.support_counts(rob, pooled)["not_rated"] == [], "rate them in data/raw/<review>/risk_of_bias.csv"
