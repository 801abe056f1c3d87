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


def test_a_long_table_shows_its_first_rows_and_says_how_many_more():
    from compendium.display import show, table_html

    frame = pd.DataFrame({"study": [f"S{i}" for i in range(250)], "estimate": np.linspace(0, 1, 250)})
    page = table_html(show(frame), max_rows=100)
    assert page.count("<tr>") == 101  # the header and 100 rows
    assert "S99<" in page and "S100<" not in page
    assert "Shown: the first 100 of 250 rows (150 more not shown here)." in page
    assert "not shown" not in table_html(show(frame.head(100)), max_rows=100)
