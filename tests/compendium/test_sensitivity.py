"""Sensitivity variants and the sentences built from them (compendium/sensitivity.py)."""
import pandas as pd
import pytest

import helpers as h
from compendium.display import sentence_number as _fmt
from made_up import effect, review

ROWS = [effect("A", "A_1", yi=0.05, vi=0.01), effect("B", "B_1", yi=-0.1, vi=0.01), effect("C", "C_1", yi=0.0, vi=0.02),
        effect("Klemm", "K_1", yi=1.1, vi=0.03, comparator="other_help")]


def table_and_sentences():
    r = review()
    res = h.run_analyses(r, pd.DataFrame(ROWS))
    table = h.sensitivity_table(res, h.transform_of(r))
    return res, table, h.sensitivity_sentences(table, "r")


def test_variants_are_fitted_on_the_right_studies():
    res, table, _ = table_and_sentences()
    by = table.set_index("variant")
    assert by.loc["primary: as published", "k"] == 3
    assert by.loc["all admitted studies", "k"] == 4 and by.loc["all admitted studies", "studies_added"] == "Klemm"
    assert by.loc["all admitted, without other comparators", "k"] == 3
    everything = h.fit_meta([0.05, -0.1, 0.0, 1.1], [0.01, 0.01, 0.02, 0.03])
    assert by.loc["all admitted studies", "estimate"] == pytest.approx(float(h.z_to_r(everything.estimate)[0]))
    top = h.most_influential(res["osg"])
    assert f"primary without the most influential study ({top})" in by.index


def test_sentences_state_the_numbers_of_the_table():
    _, table, sentences = table_and_sentences()
    moved = [s for s in sentences if "adding Klemm" in s]
    assert len(moved) == 1
    all_in = table.set_index("variant").loc["all admitted studies", "estimate"]
    primary = table.set_index("variant").loc["primary: as published", "estimate"]
    assert f"{primary:.2f}".replace("-0.", "−.").replace("0.", ".") in moved[0]
    assert f"{all_in:.2f}".replace("0.", ".") in moved[0] and "(k = 3 → 4)" in moved[0]
    v = table.set_index("variant").loc["all admitted studies"]
    assert (f"under modified Hartung–Knapp its CI runs from {_fmt(v['ci_low'])} to {_fmt(v['ci_high'])}, and "
            f"{'includes 0' if v['ci_low'] <= 0 <= v['ci_high'] else 'lies'}") in moved[0]
    left = [s for s in sentences if "leaving out" in s and "most influential" in s]
    assert left and all(s.count(s.split("leaving out ")[1].split(" ")[0]) == 1 for s in left), "the study named once"


def test_unadjusted_only_keeps_the_primary_rule_and_drops_adjusted_and_unclear_rows():
    rows = ROWS[:2] + [effect("C", "C_1", yi=0.0, vi=0.02, adjusted="yes"), effect("D", "D_1", yi=0.3, vi=0.02,
                                                                                   adjusted="unclear")]
    r = review()
    res = h.run_analyses(r, pd.DataFrame(rows + ROWS[3:]))
    by = h.sensitivity_table(res, h.transform_of(r)).set_index("variant")
    assert by.loc["primary: as published", "k"] == 4
    assert by.loc["primary, unadjusted only", "k"] == 2 and by.loc["primary, unadjusted only", "studies_removed"] == "C, D"
    assert by.loc["primary, unadjusted only", "estimate"] == pytest.approx(
        float(h.z_to_r(h.fit_meta([0.05, -0.1], [0.01, 0.01]).estimate)[0]))


def test_probable_same_sample_pairs_merge_only_in_their_variant():
    studies = pd.DataFrame({"study_id": ["A", "B", "C"], "same_sample_as": ["", "", ""],
                            "same_sample_probable": ["", "A", ""]})
    ids = h.sample_ids(studies)
    assert list(ids["sample_id"]) == ["A", "B", "C"] and list(ids["probable_sample_id"]) == ["A", "A", "C"]
    rows = [effect(s, f"{s}_1", yi=y, vi=0.01, n=n, sample_id=s, probable_sample_id=p)
            for s, y, n, p in (("A", 0.05, 100, "A"), ("B", -0.1, 300, "A"), ("C", 0.0, 100, "C"))]
    r = review()
    by = h.sensitivity_table(h.run_analyses(r, pd.DataFrame(rows)), h.transform_of(r)).set_index("variant")
    assert by.loc["primary: as published", "k"] == 3
    merged = by.loc["primary, probable same-sample pairs merged"]
    assert merged["k"] == 2 and merged["studies_removed"] == "A"   # B kept: the larger n



def test_every_variant_label_names_its_base():
    rows = ROWS + [effect("P", "P_1", yi=0.2, vi=0.02, outcome_proxy="loneliness"),
                   effect("S", "S_1", yi=0.3, vi=0.01, statistic_type="aor", adjusted="yes", design="cross_sectional")]
    r = review()
    res = h.run_analyses(r, pd.DataFrame(rows))
    by = h.sensitivity_table(res, h.transform_of(r)).set_index("variant")
    for name in by.index:
        assert name.startswith(("primary", "all admitted")), name
    # "all admitted, without X" is all admitted studies minus X: it adds studies to the primary
    without_proxies = by.loc["all admitted, without proxies"]
    assert without_proxies["studies_added"] == "Klemm, S" and without_proxies["studies_removed"] == ""
    # "primary, ..." changes the primary rule
    assert by.loc["primary, adjusted estimates admitted", "studies_added"] == "S"
    assert by.loc["primary, unadjusted only", "studies_removed"] == ""


def test_the_view_leaves_out_variants_that_repeat_the_primary_and_names_them():
    _, table, _ = table_and_sentences()
    view, repeats = h.sensitivity_view(table)
    moved = (table["studies_added"].fillna("") != "") | (table["studies_removed"].fillna("") != "")
    assert len(view) == int((moved | table["variant"].str.startswith("primary: ")).sum()) < len(table)
    for _, row in table[~moved & ~table["variant"].str.startswith("primary: ")].iterrows():
        assert row["variant"] in repeats and row["variant"] not in list(view[view["analysis"] == row["analysis"]]["variant"])


def test_a_variant_sentence_gives_the_variants_leading_interval_and_follows_it():
    base = {"analysis": "A ~ B", "test": "modified Hartung–Knapp", "studies_removed": "", "n": 100.0}
    table = pd.DataFrame([{**base, "variant": "primary: as published", "k": 1, "estimate": 0.15, "studies_added": ""},
                          {**base, "variant": "without proxies", "k": 2, "estimate": 0.54, "ci_low": -0.97,
                           "ci_high": 0.99, "studies_added": "Klemm2002"}])
    (s,) = h.sensitivity_sentences(table, "r")
    assert "moves r from .15 to .54 (k = 1 → 2); under modified Hartung–Knapp its CI runs from −.97 to .99, and includes 0." in s
    table.loc[1, ["ci_low", "ci_high"]] = [0.21, 0.77]
    (s,) = h.sensitivity_sentences(table, "r")
    assert "its CI runs from .21 to .77, and lies above 0." in s
