"""The one table style (display.py): counts, p values, I², missing values, labels, layout."""
import re

import numpy as np
import pandas as pd
import pytest

import helpers as h
from compendium import display as d


def test_counts_print_as_integers_and_estimates_with_decimals():
    shown = h.formatted(pd.DataFrame({"k": [6.0, 2.0], "n": [738.0, np.nan], "estimate": [1.0, 0.123456]}))
    assert list(shown["k"]) == ["6", "2"]
    assert list(shown["n"]) == ["738", "–"]
    assert list(shown["estimate"]) == ["1.000", "0.123"]


@pytest.mark.parametrize("p, text", [(0.0004, "< .001"), (0.001, ".001"), (0.0324, ".032"), (0.5, ".500"),
                                     (0.9996, "> .999"), (np.nan, "–")])
def test_p_values_in_apa_form(p, text):
    assert d.p_value_text(p) == text


def test_p_columns_are_recognised_by_name():
    shown = h.formatted(pd.DataFrame({"pval": [0.0004], "q_p": [0.2], "p_common": [0.05], "sign_test_p": [0.02]}))
    assert list(shown.iloc[0]) == ["< .001", ".200", ".050", ".020"]
    assert h.p_text(0.0004) == "< .001" and h.p_text(0.032) == "= .032"


def test_a_rounded_zero_has_no_sign():
    assert d.number_text(-0.0001, 3) == "0.000"
    assert d.number_text(-0.0004, 2) == "0.00"
    assert d.number_text(-0.02, 2) == "-0.02"


def test_i2_is_a_percentage_and_a_share_is_multiplied():
    shown = h.formatted(pd.DataFrame({"i2": [57.63, 0.0], "i2_ci_high": [99.03, np.nan], "proxy_share": [0.25, np.nan]}))
    assert list(shown["i2"]) == ["57.6%", "0.0%"]
    assert list(shown["i2_ci_high"]) == ["99.0%", "–"]
    assert list(shown["proxy_share"]) == ["25.0%", "–"]


def test_missing_values_are_a_dash_never_nan():
    frame = pd.DataFrame({"estimate": [np.nan], "note": [None], "k": [np.nan], "flag": [True]})
    shown = h.formatted(frame)
    assert list(shown.iloc[0]) == ["–", "–", "–", "yes"]
    assert "NaN" not in h.show(frame)._repr_html_() and "nan" not in h.show(frame)._repr_html_()
    text = h.formatted(pd.DataFrame({"country": ["", "USA"], "note": ["", "x"]}))
    assert list(text["country"]) == ["–", "USA"] and list(text["note"]) == ["", "x"]


def test_machine_ids_become_labels_and_words():
    labels = d.review_labels(h.project_root())
    assert labels["self_efficacy_guided"] == "Between groups, guided interventions"
    shown = h.formatted(pd.DataFrame({"published_analysis": ["self_efficacy_guided"], "group": ["internet_general: k = 3"],
                                      "statistic_as_printed": ["p_only as printed"]}))
    assert list(shown.iloc[0]) == ["Between groups, guided interventions", "internet general: k = 3", "p_only as printed"]
    assert d.words("Dean2016_u2 in effect_sizes.csv") == "Dean2016_u2 in effect_sizes.csv"
    assert d.header_text("tau2") == "τ²" and d.header_text("help seeking type") == "Help seeking type"


def test_html_has_no_index_merges_intervals_and_puts_the_note_last():
    frame = pd.DataFrame({"note": ["a"], "analysis": ["x"], "estimate": [0.5], "ci_low": [0.244], "ci_high": [0.868],
                          "ci_low_knha": [np.nan], "ci_high_knha": [np.nan]})
    page = h.show(frame)._repr_html_()
    headers = re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", page)
    assert headers == ["Analysis", "Estimate", "CI", "CI (Hartung–Knapp)", "Note"]
    assert "[0.244, 0.868]" in page and "<td class=num>–</td>" in page


def test_show_stays_a_frame_that_callers_can_edit():
    shown = h.show(pd.DataFrame({"tau2_ci_high": [100.0]}))
    shown.loc[[True], "tau2 ci high"] = ["> 100 (search limit)"]
    assert isinstance(shown, d.Table) and "&gt; 100 (search limit)" in shown._repr_html_()


def test_long_text_is_wrapped_not_cut_and_wide_tables_are_split():
    text = "a long note " * 30
    wide = pd.DataFrame({"analysis": ["Between groups"], **{f"column_{i}": [0.123456] for i in range(30)}, "note": [text]})
    page = h.show(wide)._repr_html_()
    assert text.strip() in page and "…" not in page
    columns = d._merged(h.show(wide))
    parts = d.split_columns(columns)
    assert len(parts) > 1 and all(p[0] == 0 for p in parts)
    assert sorted({i for p in parts for i in p}) == list(range(len(columns)))
    assert all(sum(d._width_px(*columns[i]) for i in p) <= d.PAGE_WIDTH_PX for p in parts)
    assert page.count('<table class="repro">') == len(parts)


def test_a_number_in_a_sentence_that_rounds_to_zero_has_no_sign():
    assert d.sentence_number(-0.001) == ".00" and d.sentence_number(-0.004, 3) == "−.004"
    assert d.sentence_number(-0.56) == "−.56" and d.sentence_number(1.094) == "1.09"


def test_quantity_names_read_as_words_and_greek_headers_keep_their_letter():
    assert d.quantity_text("weight_1_fe") == "weight of study 1, fixed effect (%)"
    assert d.quantity_text("q_p") == "p of Q" and d.quantity_text("CR2 ci_low") == "CR2 CI lower bound"
    assert d.quantity_text("cook_d: Jerant et al. 2011") == "Cook's d: Jerant et al. 2011"
    assert d.quantity_text("g of study 1") == "g of study 1"
    assert d.header_text("τ² = 0, z (Wald)") == "τ² = 0, z (Wald)" and d.header_text("sizes") == "Sizes"


def test_beside_metafor_shows_counts_as_integers_and_tiny_values_with_their_digits():
    table = h.beside_view(h.beside_metafor({"k": 16.0, "q_p": 3.2e-08, "tau2": 0.00811, "all subsets: count": 65535.0},
                                           {"k": 16, "q_p": 3.2e-08, "tau2": 0.00811, "all subsets: count": 65535}))
    rows = dict(zip(table["quantity"], table["ours"]))
    assert rows == {"k": "16", "p of Q": "3.2000e-08", "τ²": "0.008110", "all subsets: count": "65,535"}
    assert not any(re.fullmatch(r"-?\d+\.0+", v) for v in table["metafor"])


def test_every_part_of_a_split_table_repeats_the_columns_that_name_its_rows():
    wide = pd.DataFrame({"role": ["mediator", "mediator", "mediator"], "outcome": ["depression", "depression", "sleep"],
                         "study": ["Smith2020", "Jones2021", "Smith2020"],
                         **{f"column_{i}": [0.123456] * 3 for i in range(20)}, "source": ["https://doi.org/10.1/x"] * 3})
    columns = d._merged(h.show(wide))
    parts = d.split_columns(columns)
    assert len(parts) > 1 and all(p[:3] == [0, 1, 2] for p in parts)  # role and outcome alone repeat a pair
    assert "(continued; Role, Outcome, Study repeat)" in h.show(wide)._repr_html_()
    one = d.split_columns(d._merged(h.show(wide.iloc[[0, 2]])))  # role, outcome tell these two apart: no study
    assert all(p[:2] == [0, 1] and 2 not in p[:3] for p in one[1:])


def test_a_table_with_nothing_in_it_becomes_one_sentence():
    none_pooled = h.show(pd.DataFrame({"prepost_r": [0.3, 0.5, 0.7], "k": [0, 0, 0]}))._repr_html_()
    assert "<table" not in none_pooled and "Nothing was pooled: k = 0 in every row" in none_pooled
    untested = pd.DataFrame({"analysis": ["A", "B"], "k": [3, 2], "egger_z": [np.nan] * 2, "egger_p": [np.nan] * 2,
                             "limit_estimate": [np.nan] * 2, "note": ["not tested: k < 10"] * 2})
    page = h.show(untested)._repr_html_()
    assert "<table" not in page and "Not tested: k &lt; 10 for every row: A (k = 3); B (k = 2)." in page
    untested.loc[0, "egger_z"] = 1.2  # one result: the table stays
    assert "<table" in h.show(untested)._repr_html_()


def test_a_small_variance_keeps_three_significant_digits():
    shown = h.show(pd.DataFrame({"vi": [0.000412, 0.0273, 0.5], "vi_from_n": [0.0000598, np.nan, 1.25], "se": [0.0123, 0.2, 1.0]}))
    assert list(shown["vi"]) == ["0.000412", "0.0273", "0.500"]
    assert list(shown["vi from n"]) == ["0.0000598", "–", "1.250"] and list(shown["se"]) == ["0.0123", "0.200", "1.000"]


def test_a_long_table_shows_its_first_rows_and_says_how_many_more():
    from compendium.display import show, table_html

    frame = pd.DataFrame({"study": [f"S{i}" for i in range(250)], "estimate": np.linspace(0, 1, 250)})
    page = table_html(show(frame), max_rows=100)
    assert page.count("<tr>") == 101  # the header and 100 rows
    assert "S99<" in page and "S100<" not in page
    assert "Shown: the first 100 of 250 rows (150 more not shown here)." in page
    assert "not shown" not in table_html(show(frame.head(100)), max_rows=100)
