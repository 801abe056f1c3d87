"""Small-study effects: Egger's regression test and Duval & Tweedie's trim-and-fill
(metafor ``regtest()`` and ``trimfill()``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from ._lazy import stats

from ._checks import _frozen_frame
from .models import MetaResult, _check_meta_input, fit_meta
from .regression import _lm_fit, meta_regression


@dataclass(frozen=True)
class EggerResult:
    """Regression test for funnel-plot asymmetry (metafor ``regtest()``)."""

    model: str
    k: int
    stat: float
    pval: float
    df: float
    limit_estimate: float
    limit_ci_low: float
    limit_ci_high: float

    def to_frame(self) -> pd.DataFrame:
        return _frozen_frame(self)


def egger_test(yi, vi, model: str = "rma", method: str = "REML", test: str = "z", level: float = 0.95) -> EggerResult:
    """Egger's regression test with the standard error as predictor (Egger et al. 1997).

    ``model="rma"``: the meta-regression y_i = β₀ + β₁·sqrt(v_i) + u_i + e_i fitted with the same
    τ² estimator (metafor ``regtest(x, model = "rma", predictor = "sei")``); z (or t(k − 2)) test
    of β₁. ``model="lm"``: the classic form, weighted least squares of y_i on sqrt(v_i) with
    weights 1/v_i and a multiplicative dispersion, t(k − 2) test of β₁ (statsmodels WLS).
    The intercept β₀ is the "limit estimate" at SE = 0 (Stanley & Doucouliagos 2014).
    """
    yi, vi = _check_meta_input(yi, vi, min_k=3)
    sei = np.sqrt(vi)
    if model == "rma":
        res = meta_regression(yi, vi, sei, method=method, test=test, level=level, names=["sei"])
        row = res.coef.iloc[1]
        df = float(len(yi) - 2) if test == "knha" else np.inf
        return EggerResult(model="rma", k=len(yi), stat=float(row["stat"]), pval=float(row["pval"]), df=df,
                           limit_estimate=float(res.coef["estimate"].iloc[0]),
                           limit_ci_low=float(res.coef["ci_low"].iloc[0]),
                           limit_ci_high=float(res.coef["ci_high"].iloc[0]))
    if model == "lm":
        fit = _lm_fit(yi, sei, vi)
        ci = fit.conf_int(alpha=1 - level)
        return EggerResult(model="lm", k=len(yi), stat=float(fit.tvalues[1]), pval=float(fit.pvalues[1]),
                           df=float(fit.df_resid), limit_estimate=float(fit.params[0]),
                           limit_ci_low=float(ci[0, 0]), limit_ci_high=float(ci[0, 1]))
    raise ValueError(f"model = {model!r}: use 'rma' or 'lm'")


@dataclass(frozen=True)
class TrimFillResult:
    """Trim-and-fill (metafor ``trimfill()``): the filled studies and the refitted model."""

    k0: int
    se_k0: float
    side: str
    filled_yi: tuple
    filled_vi: tuple
    fit: MetaResult

    def to_frame(self) -> pd.DataFrame:
        frame = self.fit.to_frame()
        frame.insert(0, "side", self.side)
        frame.insert(0, "k0", self.k0)
        return frame


def trim_and_fill(yi, vi, method: str = "REML", side: str | None = None, maxiter: int = 100) -> TrimFillResult:
    """Duval & Tweedie's (2000) trim-and-fill with the L0 estimator, as metafor ``trimfill()``.

    Side: if not given, "left" (missing studies with small effects) unless the slope of the
    Egger-type meta-regression on sqrt(v_i) is negative. Iteration: drop the k0 most extreme
    studies on the other side, refit, rank |y_i − μ̂|, T_n = sum of positive signed ranks,
    L0 = (4 T_n − k(k + 1))/(2k − 1), rounded and truncated at 0, until k0 repeats. The k0
    mirror images 2μ̂ − y_i are added and the model refitted (z test, as metafor).
    """
    yi, vi = _check_meta_input(yi, vi, min_k=3)
    if side is None:
        slope = meta_regression(yi, vi, np.sqrt(vi), method=method).coef["estimate"].iloc[1]
        side = "right" if slope < 0 else "left"
    if side not in ("left", "right"):
        raise ValueError(f"side = {side!r}: use 'left' or 'right'")
    flip = -1.0 if side == "right" else 1.0
    order = np.argsort(flip * yi, kind="stable")
    y, v = flip * yi[order], vi[order]
    k = len(y)
    k0, previous, se_k0 = 0, -1, 0.0
    for _ in range(maxiter):
        if k0 == previous:
            break
        previous = k0
        beta = fit_meta(y[: k - k0], v[: k - k0], method=method).estimate
        centred = y - beta
        ranks = stats.rankdata(np.abs(centred), method="ordinal")
        s_r = float(np.sum(ranks[centred > 0]))
        l0 = (4 * s_r - k * (k + 1)) / (2 * k - 1)
        var_sr = (k * (k + 1) * (2 * k + 1) + 10 * l0 ** 3 + 27 * l0 ** 2 + 17 * l0
                  - 18 * k * l0 ** 2 - 18 * k * l0 + 6 * k ** 2 * l0) / 24
        se_k0 = max(0.0, 4 * math.sqrt(var_sr) / (2 * k - 1)) if var_sr > 0 else 0.0
        k0 = max(0, int(np.round(l0)))
    else:
        raise RuntimeError("trim-and-fill did not converge")
    if k0 == 0:
        return TrimFillResult(k0=0, se_k0=se_k0, side=side, filled_yi=(), filled_vi=(), fit=fit_meta(yi, vi, method=method))
    filled_y = flip * (2 * beta - y[k - k0:])
    filled_v = v[k - k0:]
    fit = fit_meta(np.concatenate([yi, filled_y]), np.concatenate([vi, filled_v]), method=method)
    return TrimFillResult(k0=k0, se_k0=se_k0, side=side, filled_yi=tuple(map(float, filled_y)),
                          filled_vi=tuple(map(float, filled_v)), fit=fit)
