"""The random-effects (and common-effect) model: metafor's ``rma.uni()`` without moderators.

``fit_meta`` returns a frozen :class:`MetaResult` with the estimate, its z or Hartung–Knapp
confidence interval, Q, I², H², τ² and the prediction interval.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from ._lazy import stats

from ._checks import _as_array, _check_min, _frozen_frame, _same_length
from .tau2_estimators import _WLS, _estimate_tau2, _rows

# Our own engine: statsmodels 0.15's combine_effects has no REML, does not truncate DL's tau2 at 0
# and has no Q-profile, subgroup, leave-one-out, Egger or trim-and-fill; lm-type WLS is still taken from
# statsmodels, and the distribution functions from scipy.stats.
TAU2_METHODS = ("FE", "DL", "HE", "SJ", "ML", "REML", "PM")
TESTS = ("z", "knha", "adhoc")  # fit_meta's tests; meta-regression, influence and the rest take z and knha


def _check_meta_input(yi, vi, min_k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    yi = _as_array("yi", yi)
    vi = _as_array("vi", vi)
    _same_length(yi=yi, vi=vi)
    _check_min("vi", vi, 0, strict=True)
    if len(yi) < min_k:
        raise ValueError(f"k = {len(yi)} studies: this model needs at least {min_k}")
    return yi, vi


def _check_method(method: str, test: str, tests: Sequence[str] = ("z", "knha")) -> None:
    if method not in TAU2_METHODS:
        raise ValueError(f"method = {method!r}: use one of {TAU2_METHODS}")
    if test not in tests:
        raise ValueError(f"test = {test!r}: use {' or '.join(map(repr, tests))}")


def _fit_batch(y, v, X, mask, method: str, test: str, level: float) -> dict:
    """Fit one model per row of ``mask`` (True = study included); return arrays keyed by field.

    ``y`` and ``v`` are (k,), shared by all rows, or (m, k): one meta-analysis per row; ``X`` is
    (k, p), shared, or (m, k, p): one design per row (with 2-d ``y`` and ``v``).
    """
    fe = _WLS(y, X, mask / v) if method == "DL" else None  # the common-effect fit: DL's τ², then Q
    tau2 = _estimate_tau2(y, v, X, mask, method, fe)
    return _fit_with_tau2(y, v, X, mask, tau2, method, test, level, fe=fe)


def _re_fit(y, v, X, mask, tau2) -> _WLS:
    """The weighted fit with weights 1/(v_i + τ²) of each row (the random-effects fit)."""
    return _WLS(y, X, mask / (_rows(v) + tau2[:, None]))


def _fit_with_tau2(y, v, X, mask, tau2, method: str, test: str, level: float, re: _WLS | None = None,
                   fe: _WLS | None = None) -> dict:
    """The fits of :func:`_fit_batch` for given τ² (one per row), e.g. one τ² under several tests.

    ``test="adhoc"`` is Hartung–Knapp with s² truncated below at 1 (metafor ``test="adhoc"``).
    ``re`` (:func:`_re_fit`) and ``fe`` (``_WLS(y, X, mask / v)``), if given, are used instead of
    being refitted, e.g. under each of several tests. The p-value of Q is left to the callers that
    report it (``stats.chi2.sf(q, q_df)``).
    """
    k, p = mask.sum(1), X.shape[-1]
    fit = _re_fit(y, v, X, mask, tau2) if re is None else re
    vb = fit.A.copy()
    if test in ("knha", "adhoc"):
        s2w = np.where(fit.rss <= np.finfo(float).eps, 0.0, fit.rss / (k - p))
        if test == "adhoc":
            s2w = np.maximum(s2w, 1.0)
        vb = vb * s2w[:, None, None]
        df, row_df = np.unique(k - p, return_inverse=True)  # one quantile per distinct df (a batch has one)
        crit = stats.t.isf((1 - level) / 2, df)[row_df]
    else:
        crit = np.full(len(mask), stats.norm.isf((1 - level) / 2))
    se = np.sqrt(np.einsum("mpp->mp", vb))
    stat = fit.beta / se
    if test in ("knha", "adhoc"):
        pval = 2 * stats.t.sf(np.abs(stat), (k - p)[:, None])
    else:
        pval = 2 * stats.norm.sf(np.abs(stat))
    fe = _WLS(y, X, mask / v) if fe is None else fe
    q = np.maximum(0.0, fe.rss)
    q_df = k - p
    with np.errstate(divide="ignore", invalid="ignore"):
        vt = q_df / fe.tr_p()
        if method == "FE":
            i2 = np.where(q > 0, np.maximum(0.0, 100 * (q - q_df) / q), 0.0)
            h2 = q / q_df
        else:
            i2 = 100 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1
    return dict(k=k, p=p, tau2=tau2, beta=fit.beta, vb=vb, se=se, stat=stat, pval=pval,
                ci_low=fit.beta - crit[:, None] * se, ci_high=fit.beta + crit[:, None] * se, crit=crit,
                q=q, q_df=q_df, i2=i2, h2=h2, vt=vt)


@dataclass(frozen=True)
class MetaResult:
    """A fitted intercept-only model (metafor ``rma(yi, vi)``); field names follow metafor."""

    k: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    stat: float
    pval: float
    tau2: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_p: float
    pi_low: float
    pi_high: float
    method: str
    test: str
    level: float
    vt: float = field(repr=False)
    yi: tuple = field(repr=False, default=())
    vi: tuple = field(repr=False, default=())

    @property
    def tau(self) -> float:
        return math.sqrt(self.tau2)

    @property
    def weights(self) -> np.ndarray:
        """Percentage weights 100·w_i/Σw, w_i = 1/(v_i + τ²) (metafor ``weights()``)."""
        w = 1 / (np.asarray(self.vi) + self.tau2)
        return 100 * w / w.sum()

    def to_frame(self) -> pd.DataFrame:
        """One-row summary (metafor's print/``summary_frame``)."""
        return _frozen_frame(self).drop(columns=["vt"])


def fit_meta(yi, vi, method: str = "REML", test: str = "z", level: float = 0.95) -> MetaResult:
    """Fixed- or random-effects meta-analysis of k estimates, as metafor ``rma(yi, vi, ...)``.

    Estimate μ̂ = Σ w_i y_i / Σ w_i with w_i = 1/(v_i + τ²̂); SE = sqrt(1/Σ w_i); z or, with
    ``test="knha"``, the Hartung–Knapp–Sidik–Jonkman SE sqrt(s²/Σw), s² = Σ w_i (y_i − μ̂)²/(k − 1),
    with t(k − 1) (Hartung & Knapp 2001; no truncation of s², as metafor's default); with
    ``test="adhoc"`` the same with s² truncated below at 1, so the interval is never narrower
    than the z interval's SE would make it (the modified Hartung–Knapp of Röver, Knapp & Friede
    2015; Jackson et al. 2017, section 4.3; metafor ``test="adhoc"``).
    τ² estimators: FE (τ² = 0), DL (DerSimonian & Laird 1986), HE (Hedges 1983), SJ (Sidik &
    Jonkman 2005), ML and REML by Fisher scoring (Viechtbauer 2005), PM (Paule & Mandel 1982);
    all truncated at 0. Q = Σ (y_i − μ̂_FE)²/v_i. Following metafor, I² = 100 τ²/(τ² + ṽ) and
    H² = (τ² + ṽ)/ṽ with ṽ = (k − 1)/(Σw − Σw²/Σw) (Higgins & Thompson 2002) for random-effects
    models, and I² = max(0, 100 (Q − (k − 1))/Q), H² = Q/(k − 1) for the FE model.
    Prediction interval μ̂ ± c·sqrt(SE² + τ²) with c from N(0,1), or t(k − 1) under knha/adhoc, as
    metafor ``predict()`` (Riley et al. 2011 discuss the choice).
    """
    _check_method(method, test, TESTS)
    yi, vi = _check_meta_input(yi, vi, min_k=1 if test == "z" else 2)
    X = np.ones((len(yi), 1))
    out = _fit_batch(yi, vi, X, np.ones((1, len(yi)), bool), method, test, level)
    est, se, crit, tau2 = out["beta"][0, 0], out["se"][0, 0], out["crit"][0], out["tau2"][0]
    half = crit * math.sqrt(se ** 2 + tau2)
    q_p = stats.chi2.sf(out["q"], out["q_df"])
    return MetaResult(k=len(yi), estimate=float(est), se=float(se), ci_low=float(out["ci_low"][0, 0]),
                      ci_high=float(out["ci_high"][0, 0]), stat=float(out["stat"][0, 0]),
                      pval=float(out["pval"][0, 0]), tau2=float(tau2), i2=float(out["i2"][0]),
                      h2=float(out["h2"][0]), q=float(out["q"][0]), q_df=int(out["q_df"][0]),
                      q_p=float(q_p[0]), pi_low=float(est - half), pi_high=float(est + half),
                      method=method, test=test, level=level, vt=float(out["vt"][0]),
                      yi=tuple(map(float, yi)), vi=tuple(map(float, vi)))


def compare_estimators(yi, vi, methods: Sequence[str] = ("FE", "DL", "REML", "PM"),
                       tests: Sequence[str] = ("z", "knha"), level: float = 0.95) -> pd.DataFrame:
    """One row per τ² estimator × CI method: estimate, CI, p, τ², I² (a sensitivity table)."""
    rows = []
    for method in methods:
        for test in tests:
            if len(yi) < 2 and test == "knha":
                continue
            res = fit_meta(yi, vi, method=method, test=test, level=level)
            rows.append({"method": method, "test": test, "k": res.k, "estimate": res.estimate,
                         "ci_low": res.ci_low, "ci_high": res.ci_high, "pval": res.pval,
                         "tau2": res.tau2, "i2": res.i2})
    return pd.DataFrame(rows)
