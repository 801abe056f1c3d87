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
    for needle in ("10.1007/s12160-013-9524-4", "Normand", "10.1001/jama.1994.03510330076038", "metadat",
                   "Konstantopoulos, S. (2011)", "*Research Synthesis Methods, 2*(1), 61–76", "10.1002/jrsm.35"):
        assert needle in readme
    assert VALUES["metafor_version"] == "3.8.1"


# -- beyond the basics: influence, GOSH and selection on Molloy (k = 16), several effects per study on
# Konstantopoulos (56 effects in 11 districts)
REF = ROOT / "tests" / "reference"
MOLLOY = VALUES["molloy2014"]
KO = VALUES["konstantopoulos2011"]


def molloy():
    e = effects("molloy2014")
    return e["yi"].to_numpy(), e["vi"].to_numpy(), e["label"]


def schools():
    e = effects("konstantopoulos2011")
    return e["yi"], e["vi"], e["study"], e["es_id"]


def all_agree(table, n):
    assert len(table) == n and table["agree"].all(), table[~table["agree"]]


def test_influence_diagnostics_equal_influence():
    table, diag = h.influence_beside(*molloy(), MOLLOY)
    all_agree(table, 16 * len(h.INFLUENCE_FIELDS) + 1)
    assert list(diag["influential"]) == [bool(x) for x in MOLLOY["influence"]["influential"]]
    sentence = h.influence_sentence_classic(diag, h.fit_meta(*molloy()[:2]))
    assert "none of the 16 studies is influential" in sentence and "Jerant et al. 2011's (0.22)" in sentence


def test_baujat_coordinates_equal_baujat():
    table, points = h.baujat_beside(*molloy(), MOLLOY)
    all_agree(table, 32)
    close(points["x"].sum(), MOLLOY["fits"]["FE_z"]["q"], "the x values add up to Q")
    assert h.baujat_sentence(points).startswith("Jerant et al. 2011 (number 10 in the plot) contributes 10.2 of Q = 38.2")


def test_gosh_over_all_65535_subsets_equals_gosh():
    table, g = h.gosh_beside(*molloy(), MOLLOY)
    all_agree(table, 6 + 3 * 16)
    assert g.exact and g.method == MOLLOY["gosh"]["method"] == "FE" and len(g.estimate) == 2 ** 16 - 1
    assert list(g.labels) == MOLLOY["gosh"]["study"]
    top = h.gosh_separating_study(g)
    assert top == "Jerant et al. 2011"
    assert "with Jerant et al. 2011 their mean I² is 66%" in h.gosh_sentence(g, top, np.tanh, "r")


def test_pet_peese_equals_r_lm():
    table, res = h.pet_peese_beside(*molloy()[:2], MOLLOY)
    all_agree(table, 12)
    assert res.chosen == "PET"
    assert "the conditional rule reports PET: r = .06" in h.pet_peese_sentence(res, h.fit_meta(*molloy()[:2]), np.tanh, "r")


def test_selection_model_equals_selmodel_at_the_optimum():
    table, res = h.selection_beside(*molloy()[:2], MOLLOY)
    all_agree(table, 13)
    assert list(res.counts) == MOLLOY["selmodel"]["counts"] and MOLLOY["selmodel"]["max_abs_gradient"] < 1e-6
    assert "9 of 16 studies have one-sided p ≤ .025" in h.selection_sentence(res, h.fit_meta(*molloy()[:2]))


def test_averaging_within_district_equals_aggregate():
    yi, vi, study, _ = schools()
    table, agg, fit = h.aggregate_beside(yi, vi, study, KO, rho=KO["rho"])
    all_agree(table, 2 * 11 + 7)
    assert len(agg) == 11 and agg["k_effects"].sum() == 56
    assert "56 effects come from 11 districts" in h.one_per_study_sentence(study, "district")


def test_three_level_model_equals_rma_mv():
    yi, vi, study, es_id = schools()
    table, res = h.multilevel_beside(yi, vi, study, es_id, KO)
    all_agree(table, 14)
    close(res.i2_between + res.i2_within, res.i2_total)
    assert "63% lies between districts, 32% between effects within them" in h.multilevel_sentence(res, "districts")


def test_che_and_cr2_equal_rma_mv_and_clubsandwich():
    yi, vi, study, es_id = schools()
    table, che, rob = h.che_beside(yi, vi, study, es_id, KO, rho=KO["rho"])
    all_agree(table, 10)
    assert rob.n_clusters == 11 and "on 9.5 Satterthwaite df, p = .053" in h.che_sentence(che, rob, "districts")


def test_the_new_comparisons_can_fail():
    yi, vi, labels = molloy()
    shifted = yi + np.r_[1e-3, np.zeros(15)]
    assert not h.influence_beside(shifted, vi, labels, MOLLOY)[0]["agree"].all()
    assert not h.baujat_beside(shifted, vi, labels, MOLLOY)[0]["agree"].all()
    assert not h.gosh_beside(yi, vi * 1.001, labels, MOLLOY)[0]["agree"].all()
    assert not h.pet_peese_beside(shifted, vi, MOLLOY)[0]["agree"].all()
    assert not h.selection_beside(yi, vi, MOLLOY, steps=(0.05,))[0]["agree"].all()
    k_yi, k_vi, study, es_id = schools()
    assert not h.aggregate_beside(k_yi, k_vi, study, KO, rho=0.5)[0]["agree"].all()
    assert not h.multilevel_beside(k_yi + 1e-3, k_vi, study, es_id, KO)[0]["agree"].all()
    assert not h.che_beside(k_yi, k_vi, study, es_id, KO, rho=0.5)[0]["agree"].all()
    with pytest.raises(ValueError, match="not the same data"):
        h.aggregate_beside(k_yi[:-4], k_vi[:-4], study[:-4], KO)


def test_agreement_is_printed_the_same_on_every_machine():
    table = h.beside_metafor({"a": 1 + 3e-11, "b": 2.0}, {"a": 1.0, "b": 2.0})
    assert "largest relative difference 3e-11" in h.agreement_sentence(table, "x")
    assert "largest relative difference < 1e-9" in h.agreement_sentence(table, "x", floor=1e-9)
    assert list(h.beside_view(table, floor=1e-9)["relative difference"]) == ["< 1e-9", "< 1e-9"]
    assert list(h.rows_about(table, "b")["quantity"]) == ["b"]


def test_copied_entries_are_the_engine_references():
    """metafor_values.json copies the polished selmodel, rma.mv and influence values: one source of truth."""
    sel = json.loads((REF / "selection_reference.json").read_text())
    dep = json.loads((REF / "dependence_reference.json").read_text())["konstantopoulos"]
    infl = json.loads((REF / "influence_reference.json").read_text())["molloy"]
    case = [c for c in sel["selmodel"] if c["data"] == "molloy" and c["steps"] == 0.025 and c["method"] == "ML"]
    assert MOLLOY["selmodel"] == case[0] and MOLLOY["pet_peese"] == sel["petpeese"]["molloy"]["sei"]["lm"]
    assert MOLLOY["influence"] == infl["influence"]["REML"] and MOLLOY["baujat"] == infl["baujat"]["FE"]
    assert KO["three_level"] == dep["reml_z"] and KO["che"] == dep["che_reml_z"] and KO["aggregate"] == dep["aggregate"][0]
    yi, vi, study, _ = schools()
    close(yi, dep["yi"])
    close(vi, dep["vi"])
    assert list(study) == [f"district {s}" for s in dep["study"]]
