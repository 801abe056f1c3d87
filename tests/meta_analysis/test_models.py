"""The random-effects model (models.py, tau2_estimators.py) against metafor's rma()."""
import numpy as np
import pytest

import meta_analysis as ma
from metafor_reference import FIT_FIELDS, REF, SETS, close, data


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("method", ma.TAU2_METHODS)
@pytest.mark.parametrize("test", ["z", "knha"])
def test_fit_meta_matches_metafor(name, method, test):
    yi, vi = data(name)
    expected = REF[name]["fits"][f"{method}_{test}"]
    result = ma.fit_meta(yi, vi, method=method, test=test)
    for field in FIT_FIELDS:
        close(getattr(result, field), expected[field], f"{name} {method} {test} {field}")


def test_homogeneous_set_has_zero_dl_tau2():
    yi, vi = data("hine")
    assert ma.fit_meta(yi, vi, method="DL").tau2 == 0.0
    assert ma.fit_meta(yi, vi, method="REML").tau2 == 0.0


@pytest.mark.parametrize("yi,vi,message", [
    ([0.1, 0.2], [0.01], "differ in length"),
    ([0.1, np.nan, 0.3], [0.01, 0.02, 0.03], r"yi\[1\] = nan"),
    ([0.1, 0.2, 0.3], [0.01, 0.0, 0.03], r"vi\[1\] = 0"),
    ([0.1, 0.2, 0.3], [0.01, -0.2, 0.03], r"vi\[1\] = -0.2"),
])
def test_fit_meta_rejects_bad_input(yi, vi, message):
    with pytest.raises(ValueError, match=message):
        ma.fit_meta(yi, vi)


def test_fit_meta_rejects_unknown_method_and_test():
    with pytest.raises(ValueError, match="method = 'XX'"):
        ma.fit_meta([0.1, 0.2], [0.01, 0.02], method="XX")
    with pytest.raises(ValueError, match="test = 't'"):
        ma.fit_meta([0.1, 0.2], [0.01, 0.02], test="t")


def test_too_few_studies():
    with pytest.raises(ValueError, match="k = 1 studies"):
        ma.fit_meta([0.1], [0.01], test="knha")
    with pytest.raises(ValueError, match="k = 2 studies"):
        ma.leave_one_out([0.1, 0.2], [0.01, 0.02])
    with pytest.raises(ValueError, match="k = 2 studies"):
        ma.egger_test([0.1, 0.2], [0.01, 0.02])
    with pytest.raises(ValueError, match="meta-regression needs k > p"):
        ma.meta_regression([0.1, 0.2], [0.01, 0.02], [1.0, 2.0])


def test_single_study_fixed_effect():
    result = ma.fit_meta([0.3], [0.04], method="FE")
    assert result.estimate == 0.3 and result.se == pytest.approx(0.2)


def test_weights_sum_to_100():
    yi, vi = data("bcg")
    assert ma.fit_meta(yi, vi).weights.sum() == pytest.approx(100)
