"""Confidence intervals for τ², I² and H² by the Q-profile method (Viechtbauer 2007).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from ._lazy import stats

from ._checks import _frozen_frame
from .models import MetaResult
from .tau2_estimators import _q_gen


@dataclass(frozen=True)
class Tau2CI:
    """Q-profile confidence intervals for τ², τ, I² and H² (metafor ``confint()``)."""

    tau2: float
    tau2_low: float
    tau2_high: float
    i2_low: float
    i2_high: float
    h2_low: float
    h2_high: float
    level: float
    search_limit: float = math.inf
    tau2_high_at_limit: bool = False

    @property
    def tau_low(self) -> float:
        return math.sqrt(self.tau2_low)

    @property
    def tau_high(self) -> float:
        return math.sqrt(self.tau2_high)

    def to_frame(self) -> pd.DataFrame:
        return _frozen_frame(self)


def tau2_ci(result: MetaResult, level: float | None = None) -> Tau2CI:
    """Q-profile CI for τ² (Viechtbauer 2007), as metafor ``confint(rma(...))``.

    The bounds solve Q_gen(τ²) = Σ (y_i − μ̂(τ²))²/(v_i + τ²) = χ²_{k−1; 1−α/2} (lower) and
    χ²_{k−1; α/2} (upper), each set to 0 when Q_gen(0) already lies below. I² and H² bounds follow
    from τ² bounds with the model's ṽ. The search interval is [0, max(100, 10τ²̂)] as in metafor;
    a bound that reaches it is not an estimate, and ``tau2_high_at_limit`` says so.
    """
    # imported here, not at the top: scipy.optimize takes half a second to import
    from scipy.optimize import brentq

    if result.method == "FE":
        raise ValueError("the FE model has no tau2 to give an interval for")
    level = result.level if level is None else level
    y, v = np.asarray(result.yi), np.asarray(result.vi)
    k = len(y)
    if k < 2:
        raise ValueError(f"k = {k}: a tau2 interval needs at least 2 studies")
    X, mask = np.ones((k, 1)), np.ones((1, k), bool)
    upper_limit = max(100.0, result.tau2 * 10)

    def q_minus(tau2: float, target: float) -> float:
        return float(_q_gen(y, v, X, mask, np.array([tau2]))[0]) - target

    crit_u = stats.chi2.isf((1 - level) / 2, k - 1)
    crit_l = stats.chi2.ppf((1 - level) / 2, k - 1)
    bounds = []
    for target in (crit_u, crit_l):
        if q_minus(0.0, target) < 0:
            bounds.append(0.0)
        elif q_minus(upper_limit, target) > 0:
            bounds.append(upper_limit)
        else:
            bounds.append(brentq(q_minus, 0.0, upper_limit, args=(target,), xtol=1e-15, rtol=1e-15, maxiter=1000))
    low, high = bounds
    vt = result.vt
    return Tau2CI(tau2=result.tau2, tau2_low=low, tau2_high=high, i2_low=100 * low / (vt + low),
                  i2_high=100 * high / (vt + high), h2_low=low / vt + 1, h2_high=high / vt + 1, level=level,
                  search_limit=upper_limit, tau2_high_at_limit=bool(high >= upper_limit))
