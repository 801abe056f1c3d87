"""PET-PEESE and the selection model per analysis, under the small-k rule."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compendium.publication_bias import selection_methods_table
from compendium.small_k import SmallKRules
from meta_analysis import pet_peese, selection_model

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_reference.json").read_text())["molloy"]
ROWS = pd.DataFrame({"analysis": "m", "yi": REF["yi"], "vi": REF["vi"]})
FITS = pd.DataFrame({"analysis": ["m"], "label": ["Conscientiousness"]})


def test_from_ten_studies_both_methods_on_the_display_scale():
    row = selection_methods_table(ROWS, FITS, np.tanh).iloc[0]
    pp, sel = pet_peese(REF["yi"], REF["vi"]), selection_model(REF["yi"], REF["vi"], steps=(0.025,))
    assert row["analysis"] == "Conscientiousness" and row["k"] == 16 and row["note"] == ""
    assert row["pet_peese_estimate"] == pytest.approx(np.tanh(pp.estimate), rel=1e-12)
    assert row["chosen"] == pp.chosen
    assert row["selection_estimate"] == pytest.approx(np.tanh(sel.estimate), rel=1e-12)
    assert row["delta"] == pytest.approx(sel.delta[1], rel=1e-12) and row["delta"] != 1.0
    assert row["lrt_p"] == pytest.approx(sel.lrt_p, rel=1e-12)


def test_below_the_rule_nothing_is_fitted_and_the_row_says_why():
    row = selection_methods_table(ROWS.iloc[:9], FITS).iloc[0]
    assert row["note"] == "not fitted: k < 10" and pd.isna(row["pet_peese_estimate"])
    lower = SmallKRules(min_k_small_study=5)
    assert selection_methods_table(ROWS.iloc[:9], FITS, rules=lower).iloc[0]["note"] != "not fitted: k < 10"


def test_a_model_that_cannot_be_fitted_says_why():
    rows = ROWS.assign(yi=np.abs(ROWS["yi"]) + 0.5)  # every study significant: the second interval is empty
    row = selection_methods_table(rows, FITS).iloc[0]
    assert row["note"].startswith("selection model not fitted:") and pd.isna(row["selection_estimate"])
    assert not pd.isna(row["pet_peese_estimate"])
