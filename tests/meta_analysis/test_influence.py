"""Leave-one-out (influence.py) against metafor's leave1out()."""
import pytest

import meta_analysis as ma
from metafor_reference import REF, close, data


@pytest.mark.parametrize("name,key", [("bcg", "leave1out"), ("bcg", "leave1out_knha"), ("normand", "leave1out"),
                                      ("molloy", "leave1out")])
def test_leave_one_out_matches_leave1out(name, key):
    yi, vi = data(name)
    expected = REF[name][key]
    table = ma.leave_one_out(yi, vi, method=expected["method"], test=expected["test"])
    for field in ["estimate", "se", "stat", "pval", "ci_low", "ci_high", "q", "q_p", "tau2", "i2", "h2"]:
        close(table[field], expected[field], f"{name} {key} {field}")


def test_leave_one_out_works_in_chunks():
    yi, vi = data("bcg")
    whole = ma.leave_one_out(yi, vi)
    chunked = ma.leave_one_out(yi, vi, chunk=13 * 2)
    close(chunked["tau2"], whole["tau2"])


def _refits(yi, vi, method, test):
    """Leave-one-out by brute force: the model refitted k times, each without one study."""
    import numpy as np

    rows = []
    for i in range(len(yi)):
        keep = np.arange(len(yi)) != i
        f = ma.fit_meta(yi[keep], vi[keep], method=method, test=test)
        rows.append([f.estimate, f.se, f.ci_low, f.ci_high, f.pval, f.q, f.tau2, f.i2, f.h2])
    return np.array(rows)


FIELDS = ["estimate", "se", "ci_low", "ci_high", "pval", "q", "tau2", "i2", "h2"]


@pytest.mark.parametrize("method", ["FE", "DL", "REML", "PM"])
@pytest.mark.parametrize("test", ["z", "knha", "adhoc"])
def test_closed_form_leave_one_out_equals_refits_on_made_up_data(method, test):
    import numpy as np

    from meta_analysis import influence

    rng = np.random.default_rng(31)
    vi = rng.uniform(0.005, 0.2, 60)
    yi = rng.normal(0.3, np.sqrt(0.04 + vi))
    yi[7] = 2.5  # an outlier: its deletion moves tau2 far
    influence._CACHE.clear()
    table = ma.leave_one_out(yi, vi, method=method, test=test)
    np.testing.assert_allclose(table[FIELDS].to_numpy(), _refits(yi, vi, method, test), rtol=1e-9, atol=1e-12)


def test_rows_beyond_the_series_are_refitted_to_the_same_values(monkeypatch):
    # tiny variances and one far outlier put the deleted tau2 beyond the power series' radius
    import numpy as np

    from meta_analysis import influence

    rng = np.random.default_rng(4)
    vi = rng.uniform(0.01, 0.05, 25) * 1e-4
    yi = rng.normal(0.2, np.sqrt(vi))
    yi[3] += 40 * np.sqrt(vi.max())
    influence._CACHE.clear()
    refitted = []
    real = influence._exact_tau2
    monkeypatch.setattr(influence, "_exact_tau2", lambda yi, vi, rows, *a: refitted.append(rows) or real(yi, vi, rows, *a))
    table = ma.leave_one_out(yi, vi, method="REML")
    assert refitted and 3 in refitted[0]  # the series could not reach the fit without the outlier
    np.testing.assert_allclose(table[FIELDS].to_numpy(), _refits(yi, vi, "REML", "z"), rtol=1e-8, atol=1e-12)


def test_deleted_fits_at_tau2_zero_agree_with_refits():
    # nearly homogeneous studies and one outlier: without the outlier REML's tau2 is 0
    import numpy as np

    from meta_analysis import influence

    rng = np.random.default_rng(9)
    vi = rng.uniform(0.01, 0.05, 30)
    yi = 0.2 + 0.2 * np.sqrt(vi) * rng.normal(size=30)
    yi[5] += 8 * np.sqrt(vi[5])
    influence._CACHE.clear()
    table = ma.leave_one_out(yi, vi, method="REML")
    assert table.loc[5, "tau2"] == 0 and (table["tau2"] > 0).any()
    np.testing.assert_allclose(table[FIELDS].to_numpy(), _refits(yi, vi, "REML", "z"), rtol=1e-8, atol=1e-12)


def test_deleted_fits_are_computed_once_per_data_set(monkeypatch):
    import numpy as np

    from meta_analysis import influence

    yi, vi = data("bcg")
    influence._CACHE.clear()
    calls = []
    real = influence._fit_batch
    monkeypatch.setattr(influence, "_fit_batch", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = ma.leave_one_out(yi, vi, level=0.9)
    ma.leave_one_out(yi, vi, level=0.95, labels=list("abcdefghijklm"))  # other level and labels: the same fits
    ma.influence_diagnostics(yi, vi)
    ma.baujat(yi, vi, method="REML")
    assert len(calls) == 1
    ma.leave_one_out(yi, vi, method="DL")  # another model: fitted anew
    assert len(calls) == 2
    np.testing.assert_array_equal(first["tau2"], ma.leave_one_out(yi, vi, level=0.9)["tau2"])


@pytest.mark.parametrize("method", ["FE", "DL", "REML"])
def test_leave_one_out_under_adhoc_is_never_narrower_than_z_where_s2_falls_below_1(method):
    """Studies that agree more than their variances say (s² < 1): the modified test's truncation binds,
    and each deletion is fit_meta(test="adhoc") on the other studies, never the z fit."""
    import numpy as np

    yi, vi = np.array([0.20, 0.22, 0.19, 0.21, 0.205, 0.195]), np.full(6, 0.04)
    table = ma.leave_one_out(yi, vi, method=method, test="adhoc")
    for i in range(6):
        keep = np.arange(6) != i
        want, z = (ma.fit_meta(yi[keep], vi[keep], method=method, test=t) for t in ("adhoc", "z"))
        assert table["ci_low"][i] == pytest.approx(want.ci_low, rel=1e-9)
        assert table["pval"][i] == pytest.approx(want.pval, rel=1e-9)
        assert table["ci_high"][i] - table["ci_low"][i] > z.ci_high - z.ci_low
