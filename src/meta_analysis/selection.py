"""Adjusting for publication selection: PET-PEESE and step-function selection models.

``pet_peese`` fits the meta-regression approximations of Stanley & Doucouliagos (2014) and chooses
between them; ``selection_model`` fits the step-function selection model of Vevea & Hedges (1995)
by maximum likelihood, as metafor ``selmodel(rma(yi, vi, method = "ML"), type = "stepfun")``.
Both are sensitivity analyses: each adjusts for one assumed mechanism of selective publication.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from ._lazy import special, stats

from ._checks import _as_array, _check_min, _frozen_frame, _same_length
from .models import _check_meta_input, fit_meta
from .regression import _lm_fit, meta_regression

ALTERNATIVES = ("greater", "less", "two.sided")


# ---------------------------------------------------------------------------------------------- PET-PEESE
@dataclass(frozen=True)
class PetPeeseResult:
    """PET and PEESE limit estimates and the conditional PET-PEESE choice between them."""

    k: int
    predictor: str
    model: str
    alternative: str
    alpha: float
    df: float
    pet_estimate: float
    pet_se: float
    pet_stat: float
    pet_pval: float
    pet_ci_low: float
    pet_ci_high: float
    pet_slope: float
    pet_slope_se: float
    peese_estimate: float
    peese_se: float
    peese_stat: float
    peese_pval: float
    peese_ci_low: float
    peese_ci_high: float
    peese_slope: float
    peese_slope_se: float
    rule_pval: float
    chosen: str
    estimate: float
    ci_low: float
    ci_high: float

    def to_frame(self) -> pd.DataFrame:
        """Two rows, PET and PEESE, with the chosen one flagged."""
        rows = []
        for name in ("pet", "peese"):
            rows.append({"model": name.upper(), "estimate": getattr(self, f"{name}_estimate"),
                         "se": getattr(self, f"{name}_se"), "stat": getattr(self, f"{name}_stat"),
                         "pval": getattr(self, f"{name}_pval"), "ci_low": getattr(self, f"{name}_ci_low"),
                         "ci_high": getattr(self, f"{name}_ci_high"), "slope": getattr(self, f"{name}_slope"),
                         "chosen": self.chosen == name.upper()})
        return pd.DataFrame(rows)


def _limit_fit(yi, vi, x, model: str, method: str, test: str, level: float) -> dict:
    """Intercept (the limit estimate at x = 0) and slope of the regression of yi on x."""
    if model == "lm":
        fit = _lm_fit(yi, x, vi)
        ci = fit.conf_int(alpha=1 - level)
        return dict(estimate=float(fit.params[0]), se=float(fit.bse[0]), stat=float(fit.tvalues[0]),
                    pval=float(fit.pvalues[0]), ci_low=float(ci[0, 0]), ci_high=float(ci[0, 1]),
                    slope=float(fit.params[1]), slope_se=float(fit.bse[1]), df=float(fit.df_resid))
    coef = meta_regression(yi, vi, x, method=method, test=test, level=level).coef
    df = float(len(yi) - 2) if test == "knha" else math.inf
    return dict(estimate=float(coef["estimate"].iloc[0]), se=float(coef["se"].iloc[0]),
                stat=float(coef["stat"].iloc[0]), pval=float(coef["pval"].iloc[0]),
                ci_low=float(coef["ci_low"].iloc[0]), ci_high=float(coef["ci_high"].iloc[0]),
                slope=float(coef["estimate"].iloc[1]), slope_se=float(coef["se"].iloc[1]), df=df)


def pet_peese(yi, vi, predictor: str = "sei", n1=None, n2=None, alpha: float = 0.10,
              alternative: str = "greater", model: str = "lm", method: str = "REML", test: str = "z",
              level: float = 0.95) -> PetPeeseResult:
    """PET, PEESE and the conditional PET-PEESE estimator (Stanley & Doucouliagos 2014).

    PET:   y_i = β₀ + β₁·se_i + e_i;   PEESE: y_i = β₀ + β₁·v_i + e_i,   both with weights 1/v_i.
    β₀ is the effect of a study with se = 0. ``model="lm"`` (default, the literature's form): weighted
    least squares with a multiplicative error, Var(e_i) = φ·v_i, t(k − 2) tests, as R
    ``lm(yi ~ sqrt(vi), weights = 1/vi)`` (= metafor ``rma(yi, vi, mods = ~ sqrt(vi), method = "FE",
    test = "knha")``). ``model="rma"``: the additive random-effects meta-regression with τ² estimator
    ``method`` and ``test`` (metafor ``rma(yi, vi, mods = ~ sqrt(vi))``).

    Conditional rule (Stanley & Doucouliagos 2014; the 10 % one-sided form of Stanley 2017): report
    PEESE's intercept if PET's intercept differs from 0 at level ``alpha`` in the direction
    ``alternative`` ("greater": H₀ β₀ ≤ 0, p = P(T > t); "less": H₀ β₀ ≥ 0; "two.sided": the usual
    two-sided p of the PET intercept), else PET's. ``pet_pval``/``peese_pval`` are always two-sided;
    ``rule_pval`` is the one the rule used.

    ``predictor="modified"`` (standardised mean differences, whose SE depends on d itself): the
    predictors sqrt(1/n1 + 1/n2) for PET and 1/n1 + 1/n2 for PEESE, weights still 1/v_i
    (Pustejovsky & Rodgers 2019).

    References: Stanley, T. D., & Doucouliagos, H. (2014). Meta-regression approximations to reduce
    publication selection bias. Res Synth Methods 5, 60–78. Stanley, T. D. (2017). Limitations of
    PET-PEESE and other meta-analysis methods. Soc Psychol Personal Sci 8, 581–591. Pustejovsky, J. E., &
    Rodgers, M. A. (2019). Testing for funnel plot asymmetry of standardized mean differences.
    Res Synth Methods 10, 57–71.
    """
    yi, vi = _check_meta_input(yi, vi, min_k=3)
    if predictor == "sei":
        x_pet, x_peese = np.sqrt(vi), vi
    elif predictor == "modified":
        if n1 is None or n2 is None:
            raise ValueError("predictor = 'modified' needs the group sizes n1 and n2")
        n1, n2 = _as_array("n1", n1), _as_array("n2", n2)
        _same_length(yi=yi, n1=n1, n2=n2)
        _check_min("n1", n1, 0, strict=True)
        _check_min("n2", n2, 0, strict=True)
        x_peese = 1 / n1 + 1 / n2
        x_pet = np.sqrt(x_peese)
    else:
        raise ValueError(f"predictor = {predictor!r}: use 'sei' or 'modified'")
    if model not in ("lm", "rma"):
        raise ValueError(f"model = {model!r}: use 'lm' or 'rma'")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative = {alternative!r}: use one of {ALTERNATIVES}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha = {alpha!r}: must lie strictly between 0 and 1")
    if np.ptp(x_pet) == 0:
        raise ValueError("all studies have the same predictor value: PET's slope is not identified")
    pet = _limit_fit(yi, vi, x_pet, model, method, test, level)
    peese = _limit_fit(yi, vi, x_peese, model, method, test, level)
    if alternative == "two.sided":
        rule_p = pet["pval"]
    elif math.isinf(pet["df"]):  # z test: the normal distribution
        rule_p = float(stats.norm.sf(pet["stat"]) if alternative == "greater" else stats.norm.cdf(pet["stat"]))
    else:
        df = pet["df"]
        rule_p = float(stats.t.sf(pet["stat"], df) if alternative == "greater" else stats.t.cdf(pet["stat"], df))
    chosen = peese if rule_p < alpha else pet
    fields = {f"{name}_{key}": value for name, fit in (("pet", pet), ("peese", peese))
              for key, value in fit.items() if key != "df"}
    return PetPeeseResult(k=len(yi), predictor=predictor, model=model, alternative=alternative, alpha=alpha,
                          df=pet["df"], rule_pval=rule_p, chosen="PEESE" if chosen is peese else "PET",
                          estimate=chosen["estimate"], ci_low=chosen["ci_low"], ci_high=chosen["ci_high"], **fields)


# ------------------------------------------------------------------------------ step-function selection model
@dataclass(frozen=True)
class SelectionResult:
    """A step-function selection model (metafor ``selmodel(x, type = "stepfun")``); names follow metafor."""

    k: int
    method: str
    alternative: str
    steps: tuple
    counts: tuple
    estimate: float
    se: float
    stat: float
    pval: float
    ci_low: float
    ci_high: float
    tau2: float
    se_tau2: float
    delta: tuple
    se_delta: tuple
    delta_ci_low: tuple
    delta_ci_high: tuple
    delta_pval: tuple
    ll: float
    ll0: float
    lrt: float
    lrt_df: int
    lrt_p: float
    level: float

    def to_frame(self) -> pd.DataFrame:
        """One-row summary: estimate, CI, τ², log-likelihoods and the likelihood-ratio test."""
        return _frozen_frame(self)

    def delta_frame(self) -> pd.DataFrame:
        """One row per p-value interval: its bounds, k, δ with SE, CI and the test of δ = 1."""
        lower = (0.0, *self.steps[:-1])
        return pd.DataFrame({"p_low": lower, "p_high": self.steps, "k": self.counts, "delta": self.delta,
                             "se": self.se_delta, "ci_low": self.delta_ci_low, "ci_high": self.delta_ci_high,
                             "pval": self.delta_pval})


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


# Our own likelihood: statsmodels and scipy have no selection models.
class _StepLikelihood:
    """Log-likelihood of the step-function model and its gradient in θ = (μ, [τ²], δ₂ … δ_J)."""

    def __init__(self, yi, vi, steps, alternative, estimate_tau2: bool):
        self.yi, self.vi, self.estimate_tau2 = yi, vi, estimate_tau2
        sv = np.sqrt(vi)[:, None]
        inner = np.asarray(steps[:-1])[None, :]
        # c_ij: the value of y_i at which its one- or two-sided p-value equals step s_j
        self.c = sv * (stats.norm.isf(inner / 2) if alternative == "two.sided"
                       else stats.norm.isf(inner) if alternative == "greater" else stats.norm.ppf(inner))
        self.alternative = alternative
        self.pgrp = _p_groups(yi, vi, steps, alternative)
        self.n_j = np.bincount(self.pgrp, minlength=len(steps))

    def split(self, theta):
        mu = theta[0]
        tau2 = theta[1] if self.estimate_tau2 else 0.0
        tau2 = 0.0 if tau2 < 10 * np.finfo(float).eps else tau2  # as metafor: tiny or negative τ² is 0
        delta = np.concatenate([[1.0], theta[2 if self.estimate_tau2 else 1:]])
        return mu, tau2, delta

    def _cumulative(self, mu, s):
        """U_ij = Pr(p_i <= s_j), its complement for the last step, and dU/dμ, dU/dτ²."""
        s2 = (s * s)[:, None]
        a = (self.c - mu) / s[:, None]
        if self.alternative == "two.sided":
            b = (-self.c - mu) / s[:, None]
            u = special.ndtr(-a) + special.ndtr(b)
            u_last = special.ndtr(a[:, -1]) - special.ndtr(b[:, -1])
            du_mu = (_phi(a) - _phi(b)) / s[:, None]
            du_tau2 = (_phi(a) * a - _phi(b) * b) / (2 * s2)
            return u, u_last, du_mu, du_tau2
        sign = 1.0 if self.alternative == "greater" else -1.0
        u = special.ndtr(-sign * a)
        u_last = special.ndtr(sign * a[:, -1])
        return u, u_last, sign * _phi(a) / s[:, None], sign * _phi(a) * a / (2 * s2)

    def _intervals(self, mu, tau2):
        """P_ij = Pr(p_i in interval j) under N(μ, v_i + τ²) and its derivatives."""
        s = np.sqrt(self.vi + tau2)
        u, u_last, du_mu, du_tau2 = self._cumulative(mu, s)
        prob = np.column_stack([u[:, :1], np.diff(u, axis=1), u_last])
        dmu = np.column_stack([du_mu[:, :1], np.diff(du_mu, axis=1), -du_mu[:, -1]])
        dtau2 = np.column_stack([du_tau2[:, :1], np.diff(du_tau2, axis=1), -du_tau2[:, -1]])
        return s, prob, dmu, dtau2

    def loglik(self, theta) -> float:
        mu, tau2, delta = self.split(theta)
        s, prob, _, _ = self._intervals(mu, tau2)
        resid = (self.yi - mu) / s
        dens = -0.5 * resid ** 2 - np.log(s) - 0.5 * math.log(2 * math.pi)
        return float(np.sum(np.log(delta[self.pgrp])) + dens.sum() - np.sum(np.log(prob @ delta)))

    def gradient(self, theta) -> np.ndarray:
        mu, tau2, delta = self.split(theta)
        s, prob, dmu, dtau2 = self._intervals(mu, tau2)
        a_i = prob @ delta
        w = 1 / (self.vi + tau2)
        e = self.yi - mu
        g = [np.sum(e * w) - np.sum((dmu @ delta) / a_i)]
        if self.estimate_tau2:
            g.append(np.sum(0.5 * w * (e * e * w - 1)) - np.sum((dtau2 @ delta) / a_i))
        g_delta = self.n_j / delta - (prob / a_i[:, None]).sum(0)
        return np.concatenate([g, g_delta[1:]])


def _p_groups(yi, vi, steps, alternative) -> np.ndarray:
    """Index of the p-value interval of each study: the first j with p_i <= s_j."""
    z = yi / np.sqrt(vi)
    if alternative == "two.sided":
        p = 2 * stats.norm.sf(np.abs(z))
    else:
        p = stats.norm.sf(z if alternative == "greater" else -z)
    return np.searchsorted(np.asarray(steps), p, side="left")


# scipy has no Richardson-extrapolated Hessian; metafor's SEs come from this scheme, so we use the same one.
def _richardson_hessian(f, x, d: float = 0.1, eps: float = 1e-4, r: int = 6) -> np.ndarray:
    """Hessian by central differences with Richardson extrapolation over r halvings of the step.

    The scheme of R numDeriv::hessian (Gilbert & Varadhan 2016) with metafor's ``r = 6``: initial
    step h = |d·x| (+ eps where |x| is near 0); second differences extrapolated as (4^m A(h/2) − A(h))/(4^m − 1).
    """
    x = np.asarray(x, float)
    n, f0 = len(x), f(x)
    h0 = np.abs(d * x) + eps * (np.abs(x) < math.sqrt(np.finfo(float).eps / 7e-7))

    def extrapolate(values):
        values = list(values)
        for m in range(1, r):
            values = [(values[i + 1] * 4 ** m - values[i]) / (4 ** m - 1) for i in range(len(values) - 1)]
        return values[0]

    H = np.zeros((n, n))
    unit = np.eye(n)
    for i in range(n):
        hs = [h0 / 2 ** j for j in range(r)]
        H[i, i] = extrapolate((f(x + unit[i] * h[i]) - 2 * f0 + f(x - unit[i] * h[i])) / h[i] ** 2 for h in hs)
    for i in range(n):
        for j in range(i):
            hs = [h0 / 2 ** m for m in range(r)]
            est = ((f(x + unit[i] * h[i] + unit[j] * h[j]) - 2 * f0 + f(x - unit[i] * h[i] - unit[j] * h[j])
                    - H[i, i] * h[i] ** 2 - H[j, j] * h[j] ** 2) / (2 * h[i] * h[j]) for h in hs)
            H[i, j] = H[j, i] = extrapolate(est)
    return H


def _check_steps(steps) -> tuple:
    steps = np.atleast_1d(np.asarray(steps, dtype=float))
    for i, s in enumerate(steps):
        if not (np.isfinite(s) and 0 < s <= 1):
            raise ValueError(f"steps[{i}] = {float(s)!r}: each step must lie in (0, 1]")
    steps = np.unique(steps)
    if steps[-1] != 1:
        steps = np.append(steps, 1.0)
    if len(steps) < 2:
        raise ValueError("steps: give at least one cut-point below 1 (e.g. steps = (0.025,))")
    return tuple(float(s) for s in steps)


def _maximise(lik: _StepLikelihood, start: np.ndarray, bounds: list) -> np.ndarray:
    """SLSQP with the analytic gradient, then Newton steps on the free (interior) coordinates."""
    # imported here: scipy.optimize takes half a second to import, and only selection models need it
    from scipy import optimize

    neg = lambda t: -lik.loglik(t)  # noqa: E731
    neg_grad = lambda t: -lik.gradient(t)  # noqa: E731
    # scipy's SLSQP honours the bounds τ² >= 0 and 0 < δ <= δ_max that metafor imposes by transformation
    # (L-BFGS-B does too, but was 3-5 times slower here); the Newton steps below reach the optimum exactly
    res = optimize.minimize(neg, start, jac=neg_grad, method="SLSQP", bounds=bounds,
                            options=dict(ftol=1e-14, maxiter=1000))
    if not res.success:
        res = optimize.minimize(neg, start, jac=neg_grad, method="L-BFGS-B", bounds=bounds,
                                options=dict(ftol=1e-15, gtol=1e-11, maxiter=5000))
    theta = res.x
    low = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
    high = np.array([np.inf if b[1] is None else b[1] for b in bounds])
    for _ in range(50):
        free = (theta > low + 1e-10) & (theta < high - 1e-10)
        if not free.any():
            break
        g = lik.gradient(theta)[free]
        step_h = 1e-6 * np.maximum(np.abs(theta[free]), 1e-3)
        H = np.empty((free.sum(), free.sum()))
        for j, (idx, h) in enumerate(zip(np.flatnonzero(free), step_h)):
            e = np.zeros_like(theta)
            e[idx] = h
            H[:, j] = (lik.gradient(theta + e)[free] - lik.gradient(theta - e)[free]) / (2 * h)
        H = 0.5 * (H + H.T)
        try:
            step = np.linalg.solve(H, -g)
        except np.linalg.LinAlgError:
            break
        if g @ step <= 0:  # not an ascent direction: the Hessian is not negative definite here
            break
        current, t = lik.loglik(theta), 1.0
        while t > 1e-8:
            trial = theta.copy()
            trial[free] = np.clip(theta[free] + t * step, low[free], high[free])
            if lik.loglik(trial) >= current - 1e-13 * abs(current):
                break
            t /= 2
        theta = trial
        if np.all(np.abs(t * step) <= 1e-13 * np.maximum(1.0, np.abs(theta[free]))):
            break
    return theta


def selection_model(yi, vi, steps=(0.025,), method: str = "ML", alternative: str = "greater",
                    level: float = 0.95, delta_max: float = 100.0) -> SelectionResult:
    """Step-function selection model fitted by maximum likelihood (Vevea & Hedges 1995; Hedges 1992).

    The one-sided (or two-sided) p-value of each study, p_i = 1 − Φ(y_i/√v_i) for "greater", falls in
    one of J intervals cut at 0 < s₁ < … < s_J = 1; a study in interval j is published with relative
    probability δ_j (δ₁ = 1). The weighted density of y_i ~ N(μ, v_i + τ²) gives the log-likelihood
        ℓ = Σ_i [ log δ_{j(i)} + log φ(y_i; μ, v_i + τ²) − log A_i ],   A_i = Σ_j δ_j · Pr(p_i ∈ interval j),
    maximised over μ, τ² ≥ 0 (``method="ML"``; τ² = 0 with ``method="FE"``) and 0 < δ_j <= ``delta_max``
    (metafor's default bound 100). Standard errors come from the inverse of the numerical Hessian of −ℓ
    in (μ, τ², δ), computed by Richardson extrapolation exactly as metafor does; CIs are Wald intervals
    (δ and τ² truncated at 0). The likelihood-ratio test compares ℓ with the log-likelihood of the
    unadjusted ML (or FE) model, χ²(J − 1): LRT = max(0, 2 (ℓ − ℓ₀)). Agrees with metafor
    ``selmodel(rma(yi, vi, method = "ML"), type = "stepfun", steps = steps)`` run to convergence.

    Raises a ValueError when an interval holds no observed p-value (its δ is not identified) or when
    k is smaller than the number of parameters; warns (as metafor) when a δ ends at its bound.

    References: Hedges, L. V. (1992). Modeling publication selection effects in meta-analysis.
    Statistical Science 7, 246–255. Vevea, J. L., & Hedges, L. V. (1995). A general linear model for
    estimating effect size in the presence of publication bias. Psychometrika 60, 419–435.
    """
    yi, vi = _check_meta_input(yi, vi)
    if method not in ("ML", "FE"):
        raise ValueError(f"method = {method!r}: the selection model is fitted by 'ML' (or 'FE', τ² = 0)")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative = {alternative!r}: use one of {ALTERNATIVES}")
    steps = _check_steps(steps)
    n_par = 1 + (method == "ML") + len(steps) - 1
    if len(yi) < n_par:
        raise ValueError(f"k = {len(yi)} studies is too small to fit a selection model with {n_par} parameters")
    lik = _StepLikelihood(yi, vi, steps, alternative, estimate_tau2=method == "ML")
    empty = [f"{lo:g} < p <= {hi:g}" for lo, hi, n in zip((0.0, *steps[:-1]), steps, lik.n_j) if n == 0]
    if empty:
        raise ValueError(f"no observed p-values in the interval(s) {', '.join(empty)} (alternative = "
                         f"{alternative!r}): their selection weights are not identified; choose other steps")
    base = fit_meta(yi, vi, method=method)
    start = [base.estimate] + ([base.tau2] if method == "ML" else []) + [1.0] * (len(steps) - 1)
    bounds = [(None, None)] + ([(0.0, None)] if method == "ML" else []) + [(1e-10, delta_max)] * (len(steps) - 1)
    theta = _maximise(lik, np.asarray(start, float), bounds)
    mu, tau2, delta = lik.split(theta)
    if np.any(delta[1:] <= np.finfo(float).eps ** 0.25) or np.any(delta[1:] >= delta_max - 100 * np.finfo(float).eps ** 0.25):
        warnings.warn("one or more delta estimates are (almost) at their bound: treat results with caution",
                      RuntimeWarning, stacklevel=2)
    ll = lik.loglik(theta)
    crit = stats.norm.isf((1 - level) / 2)
    cov = _inverse_hessian(lambda t: -lik.loglik(t), theta)
    se_all = np.sqrt(np.diag(cov))
    se = float(se_all[0])
    se_tau2 = float(se_all[1]) if method == "ML" else math.nan
    se_delta = np.concatenate([[math.nan], se_all[-(len(steps) - 1):]])
    ll0 = float(np.sum(stats.norm.logpdf(yi, base.estimate, np.sqrt(vi + base.tau2))))
    lrt = max(0.0, -2 * (ll0 - ll))
    lrt_df = len(steps) - 1
    with np.errstate(invalid="ignore"):
        z_delta = (delta - 1) / se_delta
    return SelectionResult(
        k=len(yi), method=method, alternative=alternative, steps=steps, counts=tuple(int(n) for n in lik.n_j),
        estimate=float(mu), se=se, stat=float(mu / se), pval=float(2 * stats.norm.sf(abs(mu / se))),
        ci_low=float(mu - crit * se), ci_high=float(mu + crit * se), tau2=float(tau2), se_tau2=se_tau2,
        delta=tuple(map(float, delta)), se_delta=tuple(map(float, se_delta)),
        delta_ci_low=tuple(float(max(0.0, d - crit * s)) if np.isfinite(s) else math.nan for d, s in zip(delta, se_delta)),
        delta_ci_high=tuple(float(d + crit * s) for d, s in zip(delta, se_delta)),
        delta_pval=tuple(float(2 * stats.norm.sf(abs(z))) for z in z_delta),
        ll=float(ll), ll0=ll0, lrt=float(lrt), lrt_df=lrt_df, lrt_p=float(stats.chi2.sf(lrt, lrt_df)), level=level)


def _inverse_hessian(f, theta) -> np.ndarray:
    """Inverse of the Richardson Hessian by Cholesky, as metafor; NaN (with a warning) if not positive definite."""
    H = _richardson_hessian(f, theta)
    try:
        chol = np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        warnings.warn("the Hessian is not positive definite: standard errors are not available", RuntimeWarning,
                      stacklevel=3)
        return np.full_like(H, np.nan)
    inv_chol = np.linalg.inv(chol)
    return inv_chol.T @ inv_chol
