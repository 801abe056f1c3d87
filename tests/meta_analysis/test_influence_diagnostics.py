"""Influence diagnostics and Baujat data (influence.py) against metafor's influence() and baujat()."""
import json
from pathlib import Path

import numpy as np
import pytest

import meta_analysis as ma
from meta_analysis.influence import baujat, influence_diagnostics
from metafor_reference import close

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "influence_reference.json").read_text())
SETS = ["bcg", "normand", "molloy", "hine"]
COLUMNS = ["rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "weight", "dfbetas"]


def data(name):
    return np.asarray(REF[name]["yi"]), np.asarray(REF[name]["vi"])


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("key", ["REML", "DL", "FE", "REML_knha"])
def test_influence_matches_metafor(name, key):
    yi, vi = data(name)
    expected = REF[name]["influence"][key]
    table = influence_diagnostics(yi, vi, method=expected["method"], test=expected["test"])
    for column in COLUMNS:
        close(table[column], expected[column], f"{name} {key} {column}")
    assert table["influential"].tolist() == expected["influential"], f"{name} {key} influential"


def test_reference_flags_are_not_all_alike():
    # the flag comparison above only means something if metafor marks some studies and not others
    flags = [f for name in SETS for key in REF[name]["influence"] for f in REF[name]["influence"][key]["influential"]]
    assert any(flags) and not all(flags)


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("key", ["FE", "REML", "DL_knha"])
def test_baujat_matches_metafor(name, key):
    yi, vi = data(name)
    expected = REF[name]["baujat"][key]
    table = baujat(yi, vi, method=expected["method"], test=expected["test"])
    close(table["x"], expected["x"], f"{name} {key} x")
    close(table["y"], expected["y"], f"{name} {key} y")


def test_baujat_x_adds_up_to_q_under_fe():
    yi, vi = data("bcg")
    assert baujat(yi, vi)["x"].sum() == pytest.approx(ma.fit_meta(yi, vi, method="FE").q, rel=1e-12)


def test_deleted_fits_agree_with_leave_one_out():
    yi, vi = data("molloy")
    table = influence_diagnostics(yi, vi, method="REML")
    loo = ma.leave_one_out(yi, vi, method="REML")
    close(table["tau2_del"], loo["tau2"])
    close(table["qe_del"], loo["q"])


def test_a_planted_outlier_is_flagged():
    yi, vi = data("normand")
    yi = yi.copy()
    yi[4] = yi.max() + 8
    table = influence_diagnostics(yi, vi, method="REML")
    assert table["influential"].iloc[4]
    assert table["rstudent"].abs().idxmax() == 4
    assert table["cook_d"].idxmax() == 4


def test_labels_and_chunks():
    yi, vi = data("bcg")
    labels = [f"trial {i}" for i in range(1, 14)]
    whole = influence_diagnostics(yi, vi, labels=labels)
    small = influence_diagnostics(yi, vi, labels=labels, chunk=13 * 3)
    assert whole["study"].tolist() == labels
    for column in COLUMNS:
        close(small[column], whole[column], column)
    assert baujat(yi, vi, labels=labels)["study"].tolist() == labels


@pytest.mark.parametrize("func", [influence_diagnostics, baujat])
@pytest.mark.parametrize("yi,vi,kwargs,message", [
    ([0.1, 0.2], [0.01, 0.02], {}, r"k = 2 studies"),
    ([0.1, 0.2, 0.3], [0.01, 0.02], {}, r"differ in length"),
    ([0.1, 0.2, 0.3], [0.01, 0.0, 0.02], {}, r"vi\[1\] = 0"),
    ([0.1, np.nan, 0.3], [0.01, 0.01, 0.02], {}, r"yi\[1\] = nan"),
    ([0.1, 0.2, 0.3], [0.01, 0.01, 0.02], {"labels": ["a", "b"]}, r"labels has 2 entries"),
    ([0.1, 0.2, 0.3], [0.01, 0.01, 0.02], {"method": "XX"}, r"method = 'XX'"),
])
def test_bad_input_is_named(func, yi, vi, kwargs, message):
    with pytest.raises(ValueError, match=message):
        func(yi, vi, **kwargs)
