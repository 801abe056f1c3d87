"""The engine in src/helpers.py against R metafor 3.8 (tests/reference/metafor_reference.json).

Every field is compared at relative tolerance 1e-6 (absolute 1e-10 for values at zero). The JSON
is written by tests/reference/make_reference.R; these tests never need R.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import helpers as h

REF = json.loads((Path(__file__).parent / "reference" / "metafor_reference.json").read_text())
RTOL, ATOL = 1e-6, 1e-10
SETS = ["bcg", "normand", "molloy", "prepost", "hine", "raudenbush"]
FIT_FIELDS = ["k", "estimate", "se", "ci_low", "ci_high", "stat", "pval", "tau2", "i2", "h2",
              "q", "q_df", "q_p", "pi_low", "pi_high"]


def close(actual, expected, what=""):
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=RTOL, atol=ATOL,
                               err_msg=what)


def data(name):
    return np.asarray(REF[name]["yi"] if name != "prepost" else REF[name]["smcr_yi"]), \
        np.asarray(REF[name]["vi"] if name != "prepost" else REF[name]["smcr_vi"])


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("method", h.TAU2_METHODS)
@pytest.mark.parametrize("test", ["z", "knha"])
def test_fit_meta_matches_metafor(name, method, test):
    yi, vi = data(name)
    expected = REF[name]["fits"][f"{method}_{test}"]
    result = h.fit_meta(yi, vi, method=method, test=test)
    for field in FIT_FIELDS:
        close(getattr(result, field), expected[field], f"{name} {method} {test} {field}")


def test_homogeneous_set_has_zero_dl_tau2():
    yi, vi = data("hine")
    assert h.fit_meta(yi, vi, method="DL").tau2 == 0.0
    assert h.fit_meta(yi, vi, method="REML").tau2 == 0.0


@pytest.mark.parametrize("name,key", [("bcg", "qprofile"), ("bcg", "qprofile_dl"), ("normand", "qprofile"),
                                      ("molloy", "qprofile")])
def test_tau2_ci_matches_confint(name, key):
    yi, vi = data(name)
    expected = REF[name][key]
    ci = h.tau2_ci(h.fit_meta(yi, vi, method=expected["method"]))
    for field in ["tau2", "tau2_low", "tau2_high", "i2_low", "i2_high", "h2_low", "h2_high"]:
        close(getattr(ci, field), expected[field], f"{name} {key} {field}")


@pytest.mark.parametrize("name,key", [("bcg", "leave1out"), ("bcg", "leave1out_knha"), ("normand", "leave1out"),
                                      ("molloy", "leave1out")])
def test_leave_one_out_matches_leave1out(name, key):
    yi, vi = data(name)
    expected = REF[name][key]
    table = h.leave_one_out(yi, vi, method=expected["method"], test=expected["test"])
    for field in ["estimate", "se", "stat", "pval", "ci_low", "ci_high", "q", "q_p", "tau2", "i2", "h2"]:
        close(table[field], expected[field], f"{name} {key} {field}")


def test_leave_one_out_works_in_chunks():
    yi, vi = data("bcg")
    whole = h.leave_one_out(yi, vi)
    chunked = h.leave_one_out(yi, vi, chunk=13 * 2)
    close(chunked["tau2"], whole["tau2"])


@pytest.mark.parametrize("name", ["bcg", "molloy", "raudenbush"])
@pytest.mark.parametrize("model", ["rma", "lm"])
def test_egger_matches_regtest(name, model):
    yi, vi = data(name)
    expected = REF[name]["egger"][model]
    result = h.egger_test(yi, vi, model=model)
    for field in ["stat", "pval", "limit_estimate", "limit_ci_low", "limit_ci_high"]:
        close(getattr(result, field), expected[field], f"{name} {model} {field}")
    if model == "lm":
        assert result.df == expected["df"]


@pytest.mark.parametrize("name", ["bcg", "normand", "molloy", "raudenbush"])
def test_trim_and_fill_matches_trimfill(name):
    yi, vi = data(name)
    expected = REF[name]["trimfill"]
    result = h.trim_and_fill(yi, vi, method=expected["method"])
    assert result.k0 == expected["k0"]
    assert result.side == expected["side"]
    close(result.se_k0, expected["se_k0"], "se_k0")
    close(sorted(result.filled_yi), sorted(np.atleast_1d(expected["filled_yi"])), "filled yi")
    for field in FIT_FIELDS:
        close(getattr(result.fit, field), expected["fit"][field], f"{name} trimfill {field}")


@pytest.mark.parametrize("name,key,mods", [("bcg", "metareg", ["ablat"]), ("bcg", "metareg_knha", ["ablat", "year"]),
                                           ("raudenbush", "metareg", ["weeks"])])
def test_meta_regression_matches_rma_with_mods(name, key, mods):
    yi, vi = data(name)
    expected = REF[name][key]
    if mods == ["ablat", "year"]:
        # the year moderator is not stored in the JSON; rebuild it from the BCG trials' publication years
        pytest.importorskip("pandas")
        years = [1948, 1949, 1960, 1977, 1973, 1953, 1973, 1980, 1968, 1961, 1974, 1969, 1976]
        X = np.column_stack([REF[name]["ablat"], years])
    else:
        X = np.asarray(REF[name][mods[0]], float)
    result = h.meta_regression(yi, vi, X, method=expected["method"], test=expected["test"])
    for field in ["estimate", "se", "stat", "pval", "ci_low", "ci_high"]:
        close(result.coef[field], expected[field], f"{name} {key} {field}")
    for field in ["tau2", "i2", "h2", "r2", "qm", "qm_p", "qe", "qe_p"]:
        close(getattr(result, field), expected[field], f"{name} {key} {field}")


def test_subgroup_analysis_matches_both_conventions():
    yi, vi = data("bcg")
    expected = REF["bcg"]["subgroups"]
    result = h.subgroup_analysis(yi, vi, REF["bcg"]["alloc"], method=expected["method"])
    assert list(result.groups["group"]) == expected["levels"]
    close(result.groups["estimate"], expected["group_estimate"])
    close(result.groups["se"], expected["group_se"])
    close(result.groups["tau2"], expected["group_tau2"])
    close(result.q_between_separate, expected["q_between_separate"])
    close(result.q_between_separate_p, expected["q_between_separate_p"])
    close(result.q_between_common, expected["q_between_common"])
    close(result.q_between_common_p, expected["q_between_common_p"])
    close(result.tau2_common, expected["tau2_common"])
    close(result.common["estimate"], expected["common_estimate"])
    close(result.common["se"], expected["common_se"])


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("yi,vi,message", [
    ([0.1, 0.2], [0.01], "differ in length"),
    ([0.1, np.nan, 0.3], [0.01, 0.02, 0.03], r"yi\[1\] = nan"),
    ([0.1, 0.2, 0.3], [0.01, 0.0, 0.03], r"vi\[1\] = 0"),
    ([0.1, 0.2, 0.3], [0.01, -0.2, 0.03], r"vi\[1\] = -0.2"),
])
def test_fit_meta_rejects_bad_input(yi, vi, message):
    with pytest.raises(ValueError, match=message):
        h.fit_meta(yi, vi)


def test_fit_meta_rejects_unknown_method_and_test():
    with pytest.raises(ValueError, match="method = 'XX'"):
        h.fit_meta([0.1, 0.2], [0.01, 0.02], method="XX")
    with pytest.raises(ValueError, match="test = 't'"):
        h.fit_meta([0.1, 0.2], [0.01, 0.02], test="t")


def test_too_few_studies():
    with pytest.raises(ValueError, match="k = 1 studies"):
        h.fit_meta([0.1], [0.01], test="knha")
    with pytest.raises(ValueError, match="k = 2 studies"):
        h.leave_one_out([0.1, 0.2], [0.01, 0.02])
    with pytest.raises(ValueError, match="k = 2 studies"):
        h.egger_test([0.1, 0.2], [0.01, 0.02])
    with pytest.raises(ValueError, match="meta-regression needs k > p"):
        h.meta_regression([0.1, 0.2], [0.01, 0.02], [1.0, 2.0])


def test_single_study_fixed_effect():
    result = h.fit_meta([0.3], [0.04], method="FE")
    assert result.estimate == 0.3 and result.se == pytest.approx(0.2)


def test_subgroup_needs_two_groups():
    with pytest.raises(ValueError, match="only one group"):
        h.subgroup_analysis([0.1, 0.2, 0.3], [0.01] * 3, ["a", "a", "a"])


def test_weights_sum_to_100():
    yi, vi = data("bcg")
    assert h.fit_meta(yi, vi).weights.sum() == pytest.approx(100)
