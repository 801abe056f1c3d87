"""Batch fits and the simulation grid (simulation.py), the batch path of models.py/tau2_estimators.py
and fit_meta(test="adhoc"), against metafor (tests/reference/simulation_reference.json) and fit_meta."""
import json
from pathlib import Path

import numpy as np
import pytest

import meta_analysis as ma
from metafor_reference import close

SIM_REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "simulation_reference.json").read_text())
ADHOC_SETS = sorted(SIM_REF["adhoc"])
METHODS = ["DL", "HE", "SJ", "ML", "REML", "PM"]


@pytest.mark.parametrize("name", ADHOC_SETS)
@pytest.mark.parametrize("method", METHODS)
def test_adhoc_matches_metafor(name, method):
    ref = SIM_REF["adhoc"][name]
    res = ma.fit_meta(ref["yi"], ref["vi"], method=method, test="adhoc")
    for field in ("estimate", "se", "ci_low", "ci_high", "stat", "pval", "tau2", "pi_low", "pi_high"):
        close(getattr(res, field), ref[method][field], f"{name} {method} {field}")


def test_adhoc_truncation_binds_in_the_reference():
    """bcg_first4 has s² < 1 under DL: the adhoc SE is then the z SE, not the (smaller) knha SE."""
    ref = SIM_REF["adhoc"]["bcg_first4"]
    z, knha, adhoc = (ma.fit_meta(ref["yi"], ref["vi"], method="DL", test=t) for t in ("z", "knha", "adhoc"))
    assert knha.se < z.se
    assert adhoc.se == pytest.approx(z.se, rel=1e-12)
    assert adhoc.ci_high - adhoc.ci_low > knha.ci_high - knha.ci_low


def _stack(k):
    rows = [r for r in SIM_REF["simulated"] if r["k"] == k]
    return rows, np.array([r["yi"] for r in rows]), np.array([r["vi"] for r in rows])


@pytest.mark.parametrize("k", [5, 8, 12])
@pytest.mark.parametrize("method", ["DL", "REML"])
@pytest.mark.parametrize("test", ["z", "knha", "adhoc"])
def test_batch_matches_metafor_row_by_row(k, method, test):
    rows, yi, vi = _stack(k)
    fit = ma.fit_meta_batch(yi, vi, method=method, test=test)
    for field in ("estimate", "se", "ci_low", "ci_high", "pval", "tau2"):
        close(getattr(fit, field), [r[f"{method}_{test}"][field] for r in rows], f"k={k} {method} {test} {field}")


@pytest.mark.parametrize("k", [5, 8, 12])
@pytest.mark.parametrize("method", ["DL", "REML"])
def test_egger_and_trim_and_fill_batches_match_metafor(k, method):
    rows, yi, vi = _stack(k)
    egger = ma.egger_batch(yi, vi, method=method)
    close(egger["pval"], [r[f"{method}_egger"]["pval"] for r in rows], f"egger p k={k}")
    close(egger["limit_estimate"], [r[f"{method}_egger"]["limit_estimate"] for r in rows])
    assert ma.trim_and_fill_k0(yi, vi, method=method).tolist() == [r[f"{method}_k0"] for r in rows]


@pytest.mark.parametrize("measure,sizes", [("SMD", "unequal"), ("ZCOR", "spread")])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", ["z", "knha", "adhoc"])
def test_batch_row_equals_fit_meta_alone(measure, sizes, method, test):
    sim = ma.simulate_meta(6, 0.08, mu=0.2, sizes=sizes, replications=40, seed=11, measure=measure)
    fit = ma.fit_meta_batch(sim.yi, sim.vi, method=method, test=test)
    for i in (0, 7, 19, 39):
        alone = ma.fit_meta(sim.yi[i], sim.vi[i], method=method, test=test)
        for field in ("estimate", "se", "ci_low", "ci_high", "pval", "tau2", "i2", "q"):
            np.testing.assert_allclose(getattr(fit, field)[i], getattr(alone, field), rtol=1e-10, atol=1e-14,
                                       err_msg=f"row {i} {field}")


def test_egger_and_trim_and_fill_batches_equal_the_lone_functions():
    sim = ma.simulate_meta(10, 0.05, sizes="spread", replications=25, seed=4)
    egger, k0 = ma.egger_batch(sim.yi, sim.vi), ma.trim_and_fill_k0(sim.yi, sim.vi)
    for i in range(25):
        alone = ma.egger_test(sim.yi[i], sim.vi[i])
        np.testing.assert_allclose([egger["stat"][i], egger["pval"][i]], [alone.stat, alone.pval], rtol=1e-10)
        assert k0[i] == ma.trim_and_fill(sim.yi[i], sim.vi[i]).k0
    assert k0.max() >= 1  # the comparison covers rows where studies are filled


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_row_that_does_not_converge_is_nan_in_a_batch_and_an_error_alone(monkeypatch):
    """Fisher scoring oscillates on this Egger regression (metafor's rma() fails on it as well).

    It never converges; 1,000 steps instead of the engine's 10,000 show that in a tenth of the time.
    """
    from meta_analysis import tau2_estimators

    monkeypatch.setattr(tau2_estimators, "_MAXITER", 1000)
    sim = ma.simulate_meta(10, 0.0, sizes="spread", replications=10_000, seed=0)
    bad = 5427  # found by scanning this batch: the first of five rows (of 10,000) on which REML fails
    yi, vi = sim.yi[bad:bad + 1], sim.vi[bad:bad + 1]
    assert np.isnan(ma.egger_batch(yi, vi)["pval"][0])
    with pytest.raises(RuntimeError, match="did not converge"):
        ma.egger_test(yi[0], vi[0])


def test_batch_is_independent_of_its_neighbours():
    sim = ma.simulate_meta(5, 0.1, sizes="unequal", replications=30, seed=2)
    full = ma.fit_meta_batch(sim.yi, sim.vi, method="PM")
    part = ma.fit_meta_batch(sim.yi[10:13], sim.vi[10:13], method="PM")
    np.testing.assert_allclose(full.tau2[10:13], part.tau2, rtol=1e-10)


def test_simulate_meta_is_reproducible_and_follows_the_model():
    a = ma.simulate_meta(4, 0.05, mu=0.3, sizes="unequal", replications=20_000, seed=9)
    b = ma.simulate_meta(4, 0.05, mu=0.3, sizes="unequal", replications=20_000, seed=9)
    c = ma.simulate_meta(4, 0.05, mu=0.3, sizes="unequal", replications=20_000, seed=10)
    assert np.array_equal(a.yi, b.yi) and not np.array_equal(a.yi, c.yi)
    assert a.yi.shape == (20_000, 4) and a.ni.tolist() == [400, 40, 40, 40]
    np.testing.assert_allclose(a.vi[0], 1 / (a.ni - 3))
    # Var(y_i) = tau2 + v_i and E(y_i) = mu, within 5 Monte Carlo SEs
    var = a.yi.var(axis=0)
    assert np.all(np.abs(a.yi.mean(axis=0) - 0.3) < 5 * np.sqrt((0.05 + a.vi[0]) / 20_000))
    assert np.all(np.abs(var - (0.05 + a.vi[0])) < 5 * (0.05 + a.vi[0]) * np.sqrt(2 / 20_000))


def test_simulated_smd_is_hedges_g_with_its_variance():
    sim = ma.simulate_meta(3, 0.0, mu=0.5, replications=20_000, seed=3, measure="SMD", n=40)
    np.testing.assert_allclose(sim.vi, ma.smd_variance(sim.yi, 20, 20))
    assert abs(sim.yi.mean() - 0.5) < 0.01  # g is nearly unbiased for delta


def test_study_sizes():
    assert ma.study_sizes(3, "equal", 50).tolist() == [50, 50, 50]
    assert ma.study_sizes(8, "unequal").tolist() == [400, 400] + [40] * 6
    spread = ma.study_sizes(5, "spread")
    assert spread[0] == 40 and spread[-1] == 400 and np.all(np.diff(spread) > 0)


@pytest.mark.parametrize("call,message", [
    (lambda: ma.simulate_meta(1, 0.1), "k = 1"),
    (lambda: ma.simulate_meta(5, -0.1), "tau2 = -0.1"),
    (lambda: ma.simulate_meta(5, 0.1, sizes="huge"), "sizes = 'huge'"),
    (lambda: ma.simulate_meta(5, 0.1, measure="OR"), "measure = 'OR'"),
    (lambda: ma.simulate_meta(5, 0.1, seed=-1), "seed = -1"),
    (lambda: ma.simulate_meta(5, 0.1, replications=0), "replications = 0"),
    (lambda: ma.fit_meta_batch([[0.1, 0.2]], [[0.01, -0.02]]), r"vi\[0, 1\] = -0.02"),
    (lambda: ma.fit_meta_batch([[0.1, np.nan]], [[0.01, 0.02]]), r"yi\[0, 1\] = nan"),
    (lambda: ma.fit_meta_batch([0.1, 0.2], [0.01, 0.02]), "two-dimensional"),
    (lambda: ma.fit_meta_batch([[0.1, 0.2]], [[0.01, 0.02]], test="t"), "test = 't'"),
    (lambda: ma.egger_batch([[0.1, 0.2, 0.3]], [[0.01, 0.01, 0.01]]), "same variance"),
    (lambda: ma.trim_and_fill_k0([[0.1, 0.2, 0.3]], [[0.01, 0.02, 0.03]]), "k = 3"),
])
def test_bad_input_names_argument_and_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_adhoc_is_refused_where_it_is_not_implemented():
    with pytest.raises(ValueError, match="test = 'adhoc'"):
        ma.meta_regression([0.1, 0.2, 0.4, 0.3], [0.01, 0.02, 0.03, 0.02], [1.0, 2.0, 3.0, 5.0], test="adhoc")


def test_grid_is_tidy_and_deterministic():
    args = dict(k_values=(3, 5), tau2_values=(0.0, 0.1), sizes=("equal",), methods=("DL", "REML"),
                tests=("z", "knha"), replications=300, seed=1)
    grid = ma.simulation_grid(**args)
    assert len(grid) == 2 * 2 * 2 * 2
    assert grid.equals(ma.simulation_grid(**args))
    np.testing.assert_allclose(grid["type1_error"], 1 - grid["coverage"])
    assert grid["coverage"].between(0, 1).all() and (grid["replications"] + grid["not_converged"] == 300).all()
    # common random numbers: z and knha of one estimator share the point estimate and tau2
    same = grid[(grid["k"] == 3) & (grid["tau2"] == 0.1) & (grid["method"] == "DL")]
    assert same["bias"].nunique() == 1 and same["bias_tau2"].nunique() == 1


def test_published_direction_hartung_knapp_beats_z_at_k5_under_heterogeneity():
    """IntHout et al. 2014: with heterogeneity and few studies, HK coverage is much closer to 95 % than z."""
    grid = ma.simulation_grid((5,), (0.1,), sizes=("equal", "unequal"), methods=("DL",), tests=("z", "knha", "adhoc"),
                              replications=2000, seed=3).set_index(["sizes", "test"])["coverage"]
    for sizes in ("equal", "unequal"):
        assert abs(grid[(sizes, "knha")] - 0.95) < abs(grid[(sizes, "z")] - 0.95) - 0.02  # MC SE about 0.006
        assert grid[(sizes, "z")] < 0.92
    assert grid[("unequal", "adhoc")] >= grid[("unequal", "knha")]  # Röver et al. 2015: never narrower


def test_adhoc_interval_is_never_narrower_than_knha_row_by_row():
    sim = ma.simulate_meta(4, 0.05, sizes="unequal", replications=2000, seed=8)
    knha, adhoc = (ma.fit_meta_batch(sim.yi, sim.vi, method="DL", test=t) for t in ("knha", "adhoc"))
    assert np.all(adhoc.ci_high - adhoc.ci_low >= knha.ci_high - knha.ci_low - 1e-12)
    assert np.any(adhoc.ci_high - adhoc.ci_low > knha.ci_high - knha.ci_low)


def test_published_direction_tau2_estimators():
    """ML is biased down under heterogeneity (it ignores the df spent on μ) and SJ up at τ² = 0;
    DL's truncated estimate is biased up at τ² = 0 (Viechtbauer 2005; Langan et al. 2019)."""
    grid = ma.simulation_grid((5,), (0.0, 0.1), sizes=("equal",), methods=("DL", "ML", "REML", "SJ"), tests=("z",),
                              replications=2000, seed=5, measure="SMD").set_index(["tau2", "method"])["bias_tau2"]
    assert grid[(0.1, "ML")] < -0.01 and grid[(0.1, "ML")] < grid[(0.1, "REML")]
    assert grid[(0.0, "SJ")] > grid[(0.0, "DL")] > 0


def test_small_study_grid_with_nothing_missing():
    table = ma.small_study_grid((10,), (0.0,), replications=2000, seed=6, method="DL")
    row = table.iloc[0]
    assert 0.025 < row["egger_type1_error"] < 0.075  # near the nominal 5 % without heterogeneity
    assert row["trimfill_any"] > 0.3  # trim-and-fill often fills studies that were never missing
