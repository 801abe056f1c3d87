"""PET-PEESE and step-function selection models (selection.py) against R lm(), rma() and selmodel().

Reference values: tests/reference/selection_reference.json, written by make_reference_selection.R
(metafor 3.8-1, every selmodel() fit taken to the optimum and checked there). Tolerance: rtol 1e-6
for every field, the standard errors from metafor's numerical Hessian included.
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest

import meta_analysis as ma
from meta_analysis.selection import _richardson_hessian, _StepLikelihood
from metafor_reference import close

SEL = json.loads((Path(__file__).resolve().parents[1] / "reference" / "selection_reference.json").read_text())
CASES = SEL["selmodel"]
FIELDS = ["estimate", "se", "stat", "pval", "ci_low", "ci_high", "tau2", "delta", "se_delta", "delta_ci_low",
          "delta_ci_high", "delta_pval", "ll", "ll0", "lrt", "lrt_p"]


def data(name):
    d = SEL["data"][name]
    return np.asarray(d["yi"], float), np.asarray(d["vi"], float)


def as_array(value):
    """R's NA arrives as None: compare it as NaN."""
    return np.array([np.nan if v is None else v for v in np.atleast_1d(value)], float)


def case_id(case):
    return f"{case['data']}-{case['method']}-{case['alternative']}-{'/'.join(map(str, np.atleast_1d(case['steps'])))}"


def fit_case(case):
    yi, vi = data(case["data"])
    return ma.selection_model(yi, vi, steps=np.atleast_1d(case["steps"]), method=case["method"],
                              alternative=case["alternative"])


# ------------------------------------------------------------------------------------------ selection model
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_selection_model_matches_selmodel(case):
    result = fit_case(case)
    for field in FIELDS:
        expected = as_array(case[field])
        actual = np.atleast_1d(np.asarray(getattr(result, field), float))
        assert actual.shape == expected.shape, field
        assert np.array_equal(np.isnan(actual), np.isnan(expected)), field
        ok = ~np.isnan(expected)
        close(actual[ok], expected[ok], f"{case_id(case)} {field}")
    if case["method"] == "ML":
        close(result.se_tau2, case["se_tau2"], "se_tau2")
    else:
        assert result.tau2 == 0 and math.isnan(result.se_tau2)
    assert result.lrt_df == case["lrt_df"]
    assert list(result.counts) == list(np.atleast_1d(case["counts"]))
    assert list(result.steps) == list(np.atleast_1d(case["all_steps"]))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_reference_and_our_fit_are_at_the_optimum(case):
    # R side: the stored gradient of metafor's own likelihood at its reported estimates is ~0
    assert case["max_abs_gradient"] < 1e-6
    assert case["nm_max_rel_diff"] < 1e-5
    # our side: the analytic gradient vanishes, and R's estimates give no higher likelihood
    yi, vi = data(case["data"])
    steps = np.atleast_1d(case["all_steps"])
    lik = _StepLikelihood(yi, vi, steps, case["alternative"], estimate_tau2=case["method"] == "ML")
    result = fit_case(case)
    ours = np.array([result.estimate] + ([result.tau2] if case["method"] == "ML" else []) + list(result.delta[1:]))
    theirs = np.array([case["estimate"]] + ([case["tau2"]] if case["method"] == "ML" else [])
                      + list(as_array(case["delta"])[1:]))
    assert np.max(np.abs(lik.gradient(ours))) < 1e-6
    assert lik.loglik(ours) >= lik.loglik(theirs) - 1e-12


def test_significant_selection_in_riley():
    case = next(c for c in CASES if c["data"] == "riley" and np.size(c["steps"]) == 1)
    result = fit_case(case)
    assert result.lrt_p < 0.001 and result.delta[1] < 0.5 and result.estimate < ma.fit_meta(*data("riley"), method="ML").estimate


@pytest.mark.parametrize("alternative", ["greater", "less", "two.sided"])
@pytest.mark.parametrize("tau2", [True, False])
def test_analytic_gradient_matches_finite_differences(alternative, tau2):
    yi, vi = data("hackshaw")
    lik = _StepLikelihood(yi, vi, (0.05, 0.2, 0.6, 1.0), alternative, estimate_tau2=tau2)
    theta = np.array([0.15] + ([0.03] if tau2 else []) + [0.7, 1.8, 0.4])
    numeric = np.empty_like(theta)
    for i in range(len(theta)):
        h = np.zeros_like(theta)
        h[i] = 1e-6
        numeric[i] = (lik.loglik(theta + h) - lik.loglik(theta - h)) / 2e-6
    np.testing.assert_allclose(lik.gradient(theta), numeric, rtol=1e-6, atol=1e-7)


def test_no_selection_is_the_ml_likelihood():
    yi, vi = data("molloy")
    fit = ma.fit_meta(yi, vi, method="ML")
    lik = _StepLikelihood(yi, vi, (0.025, 0.5, 1.0), "greater", estimate_tau2=True)
    result = ma.selection_model(yi, vi, steps=(0.025, 0.5))
    close(lik.loglik(np.array([fit.estimate, fit.tau2, 1.0, 1.0])), result.ll0, "ll with delta = 1")


def test_richardson_hessian_of_a_known_function():
    def f(x):
        return x[0] ** 2 * x[1] + math.exp(x[1]) + x[0] * x[2] ** 3

    x = np.array([0.7, -0.3, 1.2])
    exact = np.array([[2 * x[1], 2 * x[0], 3 * x[2] ** 2],
                      [2 * x[0], math.exp(x[1]), 0.0],
                      [3 * x[2] ** 2, 0.0, 6 * x[0] * x[2]]])
    np.testing.assert_allclose(_richardson_hessian(f, x), exact, rtol=1e-8, atol=1e-9)


def test_frames():
    result = fit_case(CASES[1])
    frame = result.delta_frame()
    assert list(frame["p_high"]) == [0.025, 0.5, 1.0] and list(frame["p_low"]) == [0.0, 0.025, 0.5]
    assert frame["k"].sum() == result.k and frame["delta"].iloc[0] == 1.0
    row = result.to_frame()
    assert len(row) == 1 and row["lrt"].iloc[0] == result.lrt and "delta" not in row


def test_delta_at_its_bound_warns():
    # unbounded, δ₂ = 2.42 in hackshaw with steps 0.05/0.1/0.5; capped at 2 it ends on the bound
    yi, vi = data("hackshaw")
    free = ma.selection_model(yi, vi, steps=(0.05, 0.1, 0.5))
    assert free.delta[1] > 2
    with pytest.warns(RuntimeWarning, match="at their bound"):
        capped = ma.selection_model(yi, vi, steps=(0.05, 0.1, 0.5), delta_max=2.0)
    assert capped.delta[1] == 2.0 and capped.ll < free.ll


def test_selection_model_refusals():
    yi, vi = data("bcg")
    assert SEL["refusals"]["empty_interval"] and SEL["refusals"]["too_few"]  # metafor refuses both too
    with pytest.raises(ValueError, match=r"no observed p-values in the interval\(s\) 0 < p <= 0.05"):
        ma.selection_model(yi, vi, steps=(0.05, 0.10, 0.5))
    hy, hv = data("hackshaw")
    with pytest.raises(ValueError, match="k = 2 studies is too small"):
        ma.selection_model(hy[:2], hv[:2], steps=(0.5,))
    with pytest.raises(ValueError, match=r"steps\[1\] = 1.5"):
        ma.selection_model(hy, hv, steps=(0.025, 1.5))
    with pytest.raises(ValueError, match=r"steps\[0\] = 0.0"):
        ma.selection_model(hy, hv, steps=(0.0,))
    with pytest.raises(ValueError, match="at least one cut-point"):
        ma.selection_model(hy, hv, steps=(1.0,))
    with pytest.raises(ValueError, match="method = 'REML'"):
        ma.selection_model(hy, hv, method="REML")
    with pytest.raises(ValueError, match="alternative = 'up'"):
        ma.selection_model(hy, hv, alternative="up")
    with pytest.raises(ValueError, match=r"yi\[2\] = nan"):
        ma.selection_model([0.1, 0.2, np.nan, 0.3], [0.01] * 4)


# ------------------------------------------------------------------------------------------------ PET-PEESE
PP_SETS = ["hackshaw", "riley", "molloy", "normand", "bcg"]
PP_FIELDS = ["estimate", "se", "stat", "pval", "ci_low", "ci_high", "slope", "slope_se"]


def check_fit(result, expected, what):
    for name in ("pet", "peese"):
        for field in PP_FIELDS:
            close(getattr(result, f"{name}_{field}"), expected[name][field], f"{what} {name} {field}")


@pytest.mark.parametrize("name", PP_SETS)
@pytest.mark.parametrize("reference", ["lm", "fe_knha"])
def test_pet_peese_lm_matches_r(name, reference):
    yi, vi = data(name)
    result = ma.pet_peese(yi, vi)
    check_fit(result, SEL["petpeese"][name]["sei"][reference], f"{name} {reference}")
    assert result.df == SEL["petpeese"][name]["sei"]["lm"]["pet"]["df"] == len(yi) - 2


@pytest.mark.parametrize("name", PP_SETS)
def test_pet_peese_rma_matches_metafor(name):
    yi, vi = data(name)
    result = ma.pet_peese(yi, vi, model="rma", method="REML")
    check_fit(result, SEL["petpeese"][name]["sei"]["rma_reml"], f"{name} rma")
    assert math.isinf(result.df)


def test_modified_predictor_matches_r():
    d = SEL["data"]["normand"]
    result = ma.pet_peese(d["yi"], d["vi"], predictor="modified", n1=d["n1"], n2=d["n2"])
    check_fit(result, SEL["petpeese"]["normand"]["modified"]["lm"], "normand modified")
    plain = ma.pet_peese(d["yi"], d["vi"])
    assert abs(result.pet_estimate - plain.pet_estimate) > 1e-3  # a different predictor, a different fit


def test_pet_is_eggers_regression():
    yi, vi = data("hackshaw")
    result = ma.pet_peese(yi, vi)
    expected = SEL["petpeese"]["hackshaw"]["regtest_lm"]
    close(result.pet_slope / result.pet_slope_se, expected["stat"], "regtest stat")
    close(result.pet_estimate, expected["limit_estimate"], "regtest limit estimate")


@pytest.mark.parametrize("name,alternative", [("hackshaw", "greater"), ("molloy", "greater"), ("bcg", "less"),
                                              ("riley", "greater"), ("riley", "less"), ("riley", "two.sided")])
@pytest.mark.parametrize("alpha", [0.10, 0.05, 1e-6])
def test_conditional_rule(name, alternative, alpha):
    from scipy import stats

    yi, vi = data(name)
    ref = SEL["petpeese"][name]["sei"]["lm"]
    pet = ref["pet"]
    p = {"greater": stats.t.sf(pet["stat"], pet["df"]), "less": stats.t.cdf(pet["stat"], pet["df"]),
         "two.sided": pet["pval"]}[alternative]
    result = ma.pet_peese(yi, vi, alpha=alpha, alternative=alternative)
    close(result.rule_pval, p, "rule p")
    chosen = "PEESE" if p < alpha else "PET"
    assert result.chosen == chosen
    for field in ("estimate", "ci_low", "ci_high"):
        close(getattr(result, field), ref[chosen.lower()][field], field)
    frame = result.to_frame()
    assert list(frame["model"]) == ["PET", "PEESE"] and frame["chosen"].sum() == 1


def test_conditional_rule_takes_both_branches():
    choices = {ma.pet_peese(*data(name), alternative=alt).chosen
               for name, alt in [("hackshaw", "greater"), ("riley", "greater")]}
    assert choices == {"PET", "PEESE"}


def test_pet_peese_refusals():
    yi, vi = data("normand")
    with pytest.raises(ValueError, match="needs the group sizes n1 and n2"):
        ma.pet_peese(yi, vi, predictor="modified")
    with pytest.raises(ValueError, match=r"n2\[3\] = 0"):
        ma.pet_peese(yi, vi, predictor="modified", n1=np.full(9, 20), n2=[20, 20, 20, 0, 20, 20, 20, 20, 20])
    with pytest.raises(ValueError, match="differ in length"):
        ma.pet_peese(yi, vi, predictor="modified", n1=np.full(8, 20), n2=np.full(9, 20))
    with pytest.raises(ValueError, match="predictor = 'n'"):
        ma.pet_peese(yi, vi, predictor="n")
    with pytest.raises(ValueError, match="model = 'glm'"):
        ma.pet_peese(yi, vi, model="glm")
    with pytest.raises(ValueError, match="alpha = 1.5"):
        ma.pet_peese(yi, vi, alpha=1.5)
    with pytest.raises(ValueError, match="alternative = 'two-sided'"):
        ma.pet_peese(yi, vi, alternative="two-sided")
    with pytest.raises(ValueError, match="same predictor value"):
        ma.pet_peese(yi, np.full(9, 0.1))
    with pytest.raises(ValueError, match="k = 2 studies"):
        ma.pet_peese(yi[:2], vi[:2])
