"""Influence of single studies: leave-one-out refits (metafor ``leave1out()``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .models import _check_meta_input, _check_method, _fit_batch


def leave_one_out(yi, vi, method: str = "REML", test: str = "z", level: float = 0.95,
                  labels: Sequence[str] | None = None, chunk: int = 2_000_000) -> pd.DataFrame:
    """Refit the model k times, each time without one study (metafor ``leave1out()``).

    All k fits run together on a (k × k) weight array processed in row blocks of at most
    ``chunk`` cells, so memory stays bounded and no per-fit k×k covariance matrix is built.
    Columns: estimate, se, stat, pval, ci_low, ci_high, q, q_p, tau2, i2, h2.
    """
    _check_method(method, test)
    yi, vi = _check_meta_input(yi, vi, min_k=3)
    k = len(yi)
    X = np.ones((k, 1))
    parts = []
    step = max(1, chunk // k)
    for start in range(0, k, step):
        rows = np.arange(start, min(k, start + step))
        mask = np.ones((len(rows), k), bool)
        mask[np.arange(len(rows)), rows] = False
        out = _fit_batch(yi, vi, X, mask, method, test, level)
        parts.append(pd.DataFrame({"estimate": out["beta"][:, 0], "se": out["se"][:, 0],
                                   "stat": out["stat"][:, 0], "pval": out["pval"][:, 0],
                                   "ci_low": out["ci_low"][:, 0], "ci_high": out["ci_high"][:, 0],
                                   "q": out["q"], "q_p": out["q_p"], "tau2": out["tau2"],
                                   "i2": out["i2"], "h2": out["h2"]}))
    table = pd.concat(parts, ignore_index=True)
    table.insert(0, "left_out", list(labels) if labels is not None else [str(i + 1) for i in range(k)])
    return table
