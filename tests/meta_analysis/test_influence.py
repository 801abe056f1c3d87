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
