"""Notebook 00's numbers equal R metafor's (data/classic/metafor_values.json), computed with the same
helper functions the notebook calls, on the committed classic data (no outputs are parsed)."""
import json
from pathlib import Path

import numpy as np
import pytest

import helpers as h

ROOT = Path(__file__).resolve().parents[1]
VALUES = json.loads((ROOT / "data" / "classic" / "metafor_values.json").read_text())
RTOL, ATOL = 1e-6, 1e-10


def effects(name):
    return h.classic_effects(name, h.read_classic(name, ROOT))


def close(actual, expected, what=""):
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=RTOL, atol=ATOL,
                               err_msg=what)


@pytest.mark.parametrize("name", ["molloy2014", "normand1999", "bcg"])
def test_effect_sizes_equal_escalc(name):
    e = effects(name)
    assert len(e) == len(VALUES[name]["yi"])
    close(e["yi"], VALUES[name]["yi"], f"{name} yi")
    close(e["vi"], VALUES[name]["vi"], f"{name} vi")


@pytest.mark.parametrize("name", ["molloy2014", "normand1999", "bcg"])
@pytest.mark.parametrize("key", ["FE_z", "DL_z", "DL_knha", "REML_z", "REML_knha"])
def test_fits_and_weights_equal_rma(name, key):
    e = effects(name)
    method, test = key.split("_")
    table = h.beside_metafor(h.fit_values(h.fit_meta(e["yi"], e["vi"], method=method, test=test)),
                             h.metafor_fit(VALUES[name], key))
    assert len(table) == 15 and table["agree"].all(), table[~table["agree"]]
    close(h.fit_meta(e["yi"], e["vi"], method=method, test=test).weights, VALUES[name]["fits"][key]["weights"])


@pytest.mark.parametrize("name", ["molloy2014", "normand1999", "bcg"])
def test_dersimonian_laird_by_hand_equals_metafor(name):
    e = effects(name)
    hand = h.dl_by_hand(e["yi"], e["vi"])
    dl, fe = VALUES[name]["fits"]["DL_z"], VALUES[name]["fits"]["FE_z"]
    close(100 * np.asarray(hand.w) / hand.sum_w, fe["weights"], "FE weights")
    close([hand.q, hand.i2, hand.tau2, hand.estimate, hand.se], [dl["q"], dl["i2"], dl["tau2"], dl["estimate"], dl["se"]])
    close(hand.w_re, dl["weights"], "DL weights")
    check = h.by_hand_check({"weight_1_fe": 100 * hand.w[0] / hand.sum_w, "q": hand.q, "i2": hand.i2,
                             "tau2": hand.tau2, "weight_1_dl": hand.w_re[0]}, e["yi"], e["vi"], VALUES[name])
    assert len(check) == 5 and check["agree"].all()
    assert list(hand.to_frame()["step"])[0].startswith("weight of study 1")


def test_a_wrong_by_hand_value_does_not_agree():
    e = effects("molloy2014")
    check = h.by_hand_check({"q": 38.2, "tau2": 0.0078}, e["yi"], e["vi"], VALUES["molloy2014"])
    assert not check["agree"].any()
    table = h.beside_metafor({"estimate": 0.15}, {"estimate": 0.149917})
    assert not table["agree"].iloc[0] and "1 of 1" not in h.agreement_sentence(table, "x")


@pytest.mark.parametrize("name", ["molloy2014", "bcg"])
def test_small_study_methods_at_k_of_ten_or_more_equal_metafor(name):
    e = effects(name)
    assert len(e) >= 10
    table = h.small_study_beside(e["yi"], e["vi"], VALUES[name])
    assert len(table) == 7 and table["agree"].all(), table[~table["agree"]]


def test_no_small_study_values_below_k_ten():
    assert len(effects("normand1999")) < 10 and "egger" not in VALUES["normand1999"]


@pytest.mark.parametrize("name", ["molloy2014", "normand1999", "bcg"])
def test_leave_one_out_equals_leave1out(name):
    e = effects(name)
    table = h.leave_one_out_beside(e["yi"], e["vi"], e["label"], VALUES[name])
    assert len(table) == 2 * len(e) and table["agree"].all()


def test_meta_regression_on_latitude_equals_rma_mods():
    e = effects("bcg")
    table, res = h.metareg_beside(e["yi"], e["vi"], e["ablat"], VALUES["bcg"])
    assert len(table) == 7 and table["agree"].all(), table[~table["agree"]]
    sentence = h.metareg_sentence(res, h.fit_meta(e["yi"], e["vi"]).tau2)
    assert "multiply the risk ratio by 0.75" in sentence and "explains 76% of τ²" in sentence


def test_log_risk_ratio_checks_its_cells():
    with pytest.raises(ValueError, match=r"ci\[1\] = 0"):
        h.log_risk_ratio([1, 2], [10, 10], [3, 0], [10, 10])
    with pytest.raises(ValueError, match="name = 'nope'"):
        h.read_classic("nope", ROOT)


def test_classic_data_carry_their_references():
    readme = (ROOT / "data" / "classic" / "README.md").read_text()
    for needle in ("10.1007/s12160-013-9524-4", "Normand", "10.1001/jama.1994.03510330076038", "metadat"):
        assert needle in readme
    assert VALUES["metafor_version"] == "3.8.1"
