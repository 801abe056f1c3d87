"""R metafor 3.8 reference values for the engine tests (tests/reference/metafor_reference.json).

Every field is compared at relative tolerance 1e-6 (absolute 1e-10 for values at zero). The JSON
is written by tests/reference/make_reference.R; the tests never need R.
"""
import json
from pathlib import Path

import numpy as np

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_reference.json").read_text())
RTOL, ATOL = 1e-6, 1e-10
SETS = ["bcg", "normand", "molloy", "prepost", "hine", "raudenbush"]
FIT_FIELDS = ["k", "estimate", "se", "ci_low", "ci_high", "stat", "pval", "tau2", "i2", "h2",
              "q", "q_df", "q_p", "pi_low", "pi_high"]


def close(actual, expected, what=""):
    """assert_allclose at the tolerance every engine test uses."""
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=RTOL, atol=ATOL,
                               err_msg=what)


def data(name):
    """yi, vi of one reference data set (the SMCR column for the pre-post set)."""
    return np.asarray(REF[name]["yi"] if name != "prepost" else REF[name]["smcr_yi"]), \
        np.asarray(REF[name]["vi"] if name != "prepost" else REF[name]["smcr_vi"])
