"""Meta-regression and subgroups (regression.py) against rma(mods = ) and R meta."""
import numpy as np
import pytest

import meta_analysis as ma
from metafor_reference import REF, close, data


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
    result = ma.meta_regression(yi, vi, X, method=expected["method"], test=expected["test"])
    for field in ["estimate", "se", "stat", "pval", "ci_low", "ci_high"]:
        close(result.coef[field], expected[field], f"{name} {key} {field}")
    for field in ["tau2", "i2", "h2", "r2", "qm", "qm_p", "qe", "qe_p"]:
        close(getattr(result, field), expected[field], f"{name} {key} {field}")


def test_subgroup_analysis_matches_both_conventions():
    yi, vi = data("bcg")
    expected = REF["bcg"]["subgroups"]
    result = ma.subgroup_analysis(yi, vi, REF["bcg"]["alloc"], method=expected["method"])
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


def test_subgroup_needs_two_groups():
    with pytest.raises(ValueError, match="only one group"):
        ma.subgroup_analysis([0.1, 0.2, 0.3], [0.01] * 3, ["a", "a", "a"])
