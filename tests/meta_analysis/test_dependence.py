"""Dependent effect sizes (dependence.py) against metafor's aggregate() and rma.mv().

Reference values: tests/reference/dependence_reference.json, written by make_reference_dependence.R
(variance components polished to the optimum there; see the script's header).
"""
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import meta_analysis as ma
from metafor_reference import close

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "dependence_reference.json").read_text())
SETS = ["konstantopoulos", "assink", "bornmann"]
FITS = {"reml_z": {}, "ml_z": {"method": "ML"}, "reml_t": {"test": "t"}, "che_reml_z": {"rho": True},
        "che_ml_t": {"rho": True, "method": "ML", "test": "t"}, "mods_reml_z": {"mods": True},
        "mods_reml_t": {"mods": True, "test": "t"}, "mods_che_reml_z": {"mods": True, "rho": True}}
SCALARS = ["k", "n_studies", "sigma2_between", "sigma2_within", "q", "q_df", "q_p", "logLik", "i2_between",
           "i2_within", "i2_total", "df", "pi_low", "pi_high", "qm", "qm_p"]
COEF = {"beta": "estimate", "se": "se", "stat": "stat", "pval": "pval", "ci_low": "ci_low", "ci_high": "ci_high"}


def fit(name, key, **extra):
    data, options = REF[name], dict(FITS[key])
    if options.pop("rho", False):
        options["rho"] = data["rho"]
    if options.pop("mods", False):
        options["mods"] = np.asarray(data["mods"], float)
    return ma.fit_multilevel(data["yi"], data["vi"], data["study"], data["es_id"], **options, **extra)


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("key", list(FITS))
def test_fit_multilevel_matches_rma_mv(name, key):
    expected = REF[name][key]
    result = fit(name, key)
    for field in SCALARS:
        if field in expected:
            close(getattr(result, field), expected[field], f"{name} {key} {field}")
    for field, column in COEF.items():
        close(result.coef[column], np.atleast_1d(expected[field]), f"{name} {key} {field}")
    close(result.estimate, np.atleast_1d(expected["beta"])[0])
    if key.endswith("_z"):
        assert result.df is None
    if "mods" in key:
        assert result.pi_low is None and result.coef.shape[0] == expected["p"]


def test_reference_is_at_the_optimum_metafor_stops_short_of():
    # R's polished score is at rounding level (or <= 0 for a component at 0, the boundary optimum);
    # metafor's own nlminb estimates agree to about 1e-6
    for name in SETS:
        for key in FITS:
            expected = REF[name][key]
            s2 = np.array([expected["sigma2_between"], expected["sigma2_within"]])
            score = np.asarray(expected["score_at_polished"])
            assert np.max(np.abs(score[s2 > 0])) < 1e-9 and np.all(score[s2 == 0] <= 0)
            np.testing.assert_allclose(expected["metafor_sigma2"],
                                       [expected["sigma2_between"], expected["sigma2_within"]], rtol=1e-5, atol=1e-9)


def test_a_component_at_the_boundary_is_exactly_zero():
    expected = REF["bornmann"]["mods_che_reml_z"]
    assert expected["sigma2_between"] == 0
    result = fit("bornmann", "mods_che_reml_z")
    assert result.sigma2_between == 0.0
    close(result.sigma2_within, expected["sigma2_within"])


@pytest.mark.parametrize("name", SETS)
def test_aggregate_within_matches_metafor_aggregate(name):
    data = REF[name]
    for expected in data["aggregate"]:
        table = ma.aggregate_within(data["yi"], data["vi"], data["study"], rho=expected["rho"])
        assert list(table.columns) == ["study", "yi", "vi", "k_effects"]
        assert list(table["study"]) == list(pd.unique(pd.Series(data["study"])))
        by_label = pd.DataFrame(expected).drop(columns="rho").set_index("study").loc[table["study"]]
        close(table["yi"], by_label["yi"])
        close(table["vi"], by_label["vi"])
        assert list(table["k_effects"]) == list(by_label["k_effects"])


def test_row_order_does_not_matter():
    data = REF["assink"]
    perm = np.random.default_rng(7).permutation(len(data["yi"]))
    mods = np.asarray(data["mods"], float)
    a = ma.fit_multilevel(data["yi"], data["vi"], data["study"], mods=mods, rho=0.6)
    b = ma.fit_multilevel(np.asarray(data["yi"])[perm], np.asarray(data["vi"])[perm],
                          np.asarray(data["study"])[perm], mods=mods[perm], rho=0.6)
    close(b.coef["estimate"], a.coef["estimate"])
    close([b.sigma2_between, b.sigma2_within, b.logLik, b.q], [a.sigma2_between, a.sigma2_within, a.logLik, a.q])


def test_no_k_by_k_matrix_is_built():
    # k = 20,000: one k x k float matrix would take 3.2 GB
    rng = np.random.default_rng(11)
    study = np.repeat(np.arange(5000), 4)
    vi = rng.uniform(0.01, 0.1, study.size)
    yi = rng.normal(0, 0.3, 5000)[study] + rng.normal(0, np.sqrt(vi + 0.04))
    tracemalloc.start()
    result = ma.fit_multilevel(yi, vi, study)
    ma.robust_test(result)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.sigma2_between > 0
    assert peak < 100 * 2 ** 20


def test_to_frame_is_one_row_of_scalars():
    frame = fit("konstantopoulos", "reml_z").to_frame()
    assert frame.shape[0] == 1
    assert {"estimate", "sigma2_between", "i2_total", "pi_low"} <= set(frame.columns)


@pytest.mark.parametrize("kwargs,message", [
    (dict(study=["a"] * 5), r"study has 5 entries but yi has 6"),
    (dict(study=["a"] * 6), r"at least 2 studies"),
    (dict(rho=1.0), r"rho = 1.0"),
    (dict(rho=-0.2), r"rho = -0.2"),
    (dict(rho=float("nan")), r"rho = nan"),
    (dict(method="DL"), r"method = 'DL'"),
    (dict(test="knha"), r"test = 'knha'"),
    (dict(es_id=[1, 2, 1, 1, 2, 3]), r"es_id\[2\] = 1 repeats within study 'a'"),
    (dict(study=["a", "a", None, "b", "b", "b"]), r"study\[2\] = None is missing"),
    (dict(vi=[0.1, 0.1, -0.1, 0.1, 0.1, 0.1]), r"vi\[2\] = -0.1"),
    (dict(mods=np.arange(6.0)[:, None] * [1, 1]), r"collinear"),
    (dict(mods=np.arange(5.0)), r"mods has 5 rows but there are 6"),
])
def test_bad_input_names_argument_and_position(kwargs, message):
    args = dict(yi=[0.1, 0.3, 0.2, 0.5, 0.4, 0.6], vi=[0.1] * 6, study=["a", "a", "a", "b", "b", "b"])
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        ma.fit_multilevel(**args)


def test_aggregate_rejects_bad_rho_and_study():
    with pytest.raises(ValueError, match=r"rho = 1"):
        ma.aggregate_within([0.1, 0.2], [0.1, 0.1], ["a", "a"], rho=1)
    with pytest.raises(ValueError, match=r"study has 1 entries but yi has 2"):
        ma.aggregate_within([0.1, 0.2], [0.1, 0.1], ["a"])
