"""Egger's test and trim-and-fill (small_study.py) against regtest() and trimfill()."""
import numpy as np
import pytest

import meta_analysis as ma
from metafor_reference import FIT_FIELDS, REF, close, data


@pytest.mark.parametrize("name", ["bcg", "molloy", "raudenbush"])
@pytest.mark.parametrize("model", ["rma", "lm"])
def test_egger_matches_regtest(name, model):
    yi, vi = data(name)
    expected = REF[name]["egger"][model]
    result = ma.egger_test(yi, vi, model=model)
    for field in ["stat", "pval", "limit_estimate", "limit_ci_low", "limit_ci_high"]:
        close(getattr(result, field), expected[field], f"{name} {model} {field}")
    if model == "lm":
        assert result.df == expected["df"]


@pytest.mark.parametrize("name", ["bcg", "normand", "molloy", "raudenbush"])
def test_trim_and_fill_matches_trimfill(name):
    yi, vi = data(name)
    expected = REF[name]["trimfill"]
    result = ma.trim_and_fill(yi, vi, method=expected["method"])
    assert result.k0 == expected["k0"]
    assert result.side == expected["side"]
    close(result.se_k0, expected["se_k0"], "se_k0")
    close(sorted(result.filled_yi), sorted(np.atleast_1d(expected["filled_yi"])), "filled yi")
    for field in FIT_FIELDS:
        close(getattr(result.fit, field), expected["fit"][field], f"{name} trimfill {field}")
