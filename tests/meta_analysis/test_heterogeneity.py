"""Q-profile intervals (heterogeneity.py) against metafor's confint()."""
import pytest

import meta_analysis as ma
from metafor_reference import REF, close, data


@pytest.mark.parametrize("name,key", [("bcg", "qprofile"), ("bcg", "qprofile_dl"), ("normand", "qprofile"),
                                      ("molloy", "qprofile")])
def test_tau2_ci_matches_confint(name, key):
    yi, vi = data(name)
    expected = REF[name][key]
    ci = ma.tau2_ci(ma.fit_meta(yi, vi, method=expected["method"]))
    for field in ["tau2", "tau2_low", "tau2_high", "i2_low", "i2_high", "h2_low", "h2_high"]:
        close(getattr(ci, field), expected[field], f"{name} {key} {field}")


def test_q_profile_bound_at_the_search_limit_is_flagged():
    fit = ma.fit_meta([0.0, 30.0], [1.0, 1.0], method="REML")
    ci = ma.tau2_ci(fit)
    assert ci.search_limit == max(100.0, 10 * fit.tau2)
    assert ci.tau2_high == ci.search_limit and ci.tau2_high_at_limit
    inside = ma.tau2_ci(ma.fit_meta(*data("bcg")))
    assert not inside.tau2_high_at_limit and inside.tau2_high < inside.search_limit
