"""The Bayesian random-effects model of R bayesmeta, computed by numerical integration (no MCMC).

Model (Röver 2020, J Stat Softw 93(6), section 2): y_i ~ N(μ, v_i + τ²); μ uniform (improper) or
N(m₀, s₀²); τ half-normal, half-Cauchy or log-uniform on [a, b]. Given τ, μ is normal with known
mean and variance, and τ's marginal posterior is known up to a constant, so every summary is a
one-dimensional integral over τ: μ, and a new study's true effect θ_new, are mixtures of normals
weighted by p(τ | y). We integrate over u = log τ with composite Gauss–Legendre panels placed where
the posterior has its mass: within 1e-6 of a brute-force two-dimensional quadrature in the tests.
bayesmeta itself approximates μ's mixture on τ support points whose accuracy its δ and ε set (the
DIRECT algorithm, Röver & Friede 2017, J Comput Graph Stat 26:217); in its eight-schools example its
printed μ summaries differ from these exact ones by up to 5e-4 (tests/reference/bayesmeta_examples.json).
``bayes_batch.fit_bayes_batch`` fits m meta-analyses at once on one shared, coarser grid (simulation).

``TAU_SCALE_SMD`` and ``tau_scale_fisher_z`` give the default prior scales (Röver et al. 2021).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from ._lazy import special

from ._checks import _as_array, _check_min, _same_length

TAU_PRIORS = ("halfnormal", "halfcauchy", "loguniform")

TAU_SCALE_SMD = 0.5
"""Half-normal scale of τ for standardised mean differences (Röver et al. 2021, Res Synth Methods 12:448)."""


def tau_scale_fisher_z(tau_scale_smd: float = TAU_SCALE_SMD) -> float:
    """The τ prior scale on the Fisher z scale that corresponds to ``tau_scale_smd`` on the SMD scale.

    For two equal groups r = d / sqrt(d² + 4) (Borenstein et al. 2009, eq. 7.5) and z = atanh(r),
    so dz/dd = 1/2 at d = 0: near no effect a spread τ_d of true SMDs is a spread τ_z ≈ τ_d / 2 of
    true Fisher z values (delta method). The same ratio follows from the unit-information standard
    deviations σ_U that Röver et al. (2021) use to set a heterogeneity prior's scale: Var(d) ≈ 4/n
    gives σ_U ≈ 2 for d, Var(z) = 1/(n − 3) gives σ_U ≈ 1 for z. Half-normal(0.5) for the SMD
    therefore corresponds to half-normal(0.25) for Fisher z. The approximation holds for small
    effects (|d| ≲ 0.8, r ≲ .37; at larger d the slope dz/dd is smaller than 1/2, so 0.25 is, if anything, wide).

    Parameters
    ----------
    tau_scale_smd : float
        Scale of the half-normal prior for τ on the SMD scale (default 0.5).

    Returns
    -------
    float
        ``tau_scale_smd / 2``.

    References
    ----------
    Röver C, Bender R, Dias S, et al. (2021). On weakly informative prior distributions for the
    heterogeneity parameter in Bayesian random-effects meta-analysis. Res Synth Methods 12:448–474.
    Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009). Introduction to Meta-Analysis, ch. 7.
    """
    if not (isinstance(tau_scale_smd, (int, float)) and math.isfinite(tau_scale_smd) and tau_scale_smd > 0):
        raise ValueError(f"tau_scale_smd = {tau_scale_smd!r}: must be a finite number > 0")
    return tau_scale_smd / 2


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)  # 12-point Gauss–Legendre on [-1, 1]
_TAIL = 28.0    # the integration region keeps u where log p(u | y) > max − 28 (what is left: < 1e-11)
_SPAN = 40.0    # the first, coarse look for the posterior's mass spans log s − 40 to log s + 40 in u = log τ
_COARSE = 0.25  # step of that first look


@dataclass(frozen=True, eq=False)
class BayesFit:
    """Posterior summaries of a Bayesian random-effects meta-analysis (bayesmeta's ``summary``).

    μ: ``mu_median``, ``mu_mean``, ``mu_sd``, the equal-tailed ``level`` interval ``ci_low``,
    ``ci_high`` and ``p_mu_positive`` = P(μ > 0 | y). τ: ``tau_median`` and ``tau_upper``, the
    ``level`` quantile (one-sided upper bound). θ_new, a new study's true effect: the equal-tailed
    interval ``pi_low``, ``pi_high``. Grids for plots: ``tau_density`` on ``tau_grid`` and
    ``mu_density`` on ``mu_grid`` (posterior densities, each integrating to 1).
    """

    k: int
    mu_median: float
    mu_mean: float
    mu_sd: float
    ci_low: float
    ci_high: float
    tau_median: float
    tau_upper: float
    pi_low: float
    pi_high: float
    p_mu_positive: float
    tau_prior: str
    tau_scale: float | tuple
    mu_prior: tuple | None
    level: float
    tau_grid: np.ndarray = field(repr=False)
    tau_density: np.ndarray = field(repr=False)
    mu_grid: np.ndarray = field(repr=False)
    mu_density: np.ndarray = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """One-row summary; the priors as text (``"halfnormal(0.5)"``, ``"uniform"``, ``"normal(0, 4)"``)."""
        scale = self.tau_scale if self.tau_prior != "loguniform" else ", ".join(map(repr, self.tau_scale))
        row = {name: getattr(self, name) for name in
               ("k", "mu_median", "mu_mean", "mu_sd", "ci_low", "ci_high", "tau_median", "tau_upper",
                "pi_low", "pi_high", "p_mu_positive")}
        row["tau_prior"] = f"{self.tau_prior}({scale})"
        row["mu_prior"] = "uniform" if self.mu_prior is None else f"normal({self.mu_prior[0]!r}, {self.mu_prior[1]!r})"
        row["level"] = self.level
        return pd.DataFrame([row])


def _check_priors(tau_prior, tau_scale, mu_prior, level):
    """Validate the priors and level; return (tau_scale as float or (low, high), (m0, p0))."""
    if tau_prior not in TAU_PRIORS:
        raise ValueError(f"tau_prior = {tau_prior!r}: use one of {TAU_PRIORS}")
    if tau_prior == "loguniform":
        bounds = np.atleast_1d(np.asarray(tau_scale, dtype=float)) if not isinstance(tau_scale, str) else np.array([])
        if bounds.shape != (2,) or not np.all(np.isfinite(bounds)) or not 0 < bounds[0] < bounds[1]:
            raise ValueError(f"tau_scale = {tau_scale!r}: the log-uniform prior needs bounds (low, high) "
                             "with 0 < low < high")
        tau_scale = (float(bounds[0]), float(bounds[1]))
    else:
        if isinstance(tau_scale, bool) or not isinstance(tau_scale, (int, float, np.floating, np.integer)) \
                or not math.isfinite(tau_scale) or tau_scale <= 0:
            raise ValueError(f"tau_scale = {tau_scale!r}: the {tau_prior} prior needs a finite scale > 0")
        tau_scale = float(tau_scale)
    if mu_prior is None:
        m0, p0 = 0.0, 0.0
    else:
        pair = np.asarray(mu_prior, dtype=float) if not isinstance(mu_prior, str) else np.array([])
        if pair.shape != (2,) or not np.all(np.isfinite(pair)) or pair[1] <= 0:
            raise ValueError(f"mu_prior = {mu_prior!r}: use None (uniform) or (mean, sd) with a finite sd > 0")
        mu_prior = (float(pair[0]), float(pair[1]))
        m0, p0 = mu_prior[0], 1 / mu_prior[1] ** 2
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ValueError(f"level = {level!r}: must be between 0 and 1")
    return tau_scale, mu_prior, m0, p0


def _log_prior_u(u, tau_prior, tau_scale):
    """log p(u) + const for u = log τ (the Jacobian τ included): −τ²/2s² + u, −log(1 + τ²/s²) + u, or 0."""
    if tau_prior == "halfnormal":
        return u - 0.5 * np.exp(2 * u) / tau_scale ** 2
    if tau_prior == "halfcauchy":
        return u - np.log1p(np.exp(2 * u) / tau_scale ** 2)
    return np.zeros_like(u)


def _conditional(y, v, tau2, m0, p0):
    """μ | τ, y for each τ² (rows): mean, variance and log p(y | τ) + const (Röver 2020, eqs. 7–9).

    ``y``, ``v`` (…, k) broadcast against ``tau2`` (…, n); returns arrays (…, n). With a normal
    prior for μ it enters as one more 'study' m₀ with variance 1/p₀ that τ² does not widen.
    """
    w = 1 / (v[..., None, :] + tau2[..., :, None])
    sw = w.sum(-1) + p0
    mean = (np.einsum("...nk,...k->...n", w, y) + p0 * m0) / sw
    rss = (w * (y[..., None, :] - mean[..., None]) ** 2).sum(-1) + p0 * (m0 - mean) ** 2
    loglik = 0.5 * np.log(w).sum(-1) - 0.5 * np.log(sw) - 0.5 * rss
    return mean, 1 / sw, loglik


def _panels(lo, hi, width, rule=(_GL_NODES, _GL_WEIGHTS)):
    """Gauss–Legendre nodes and weights of [lo, hi] cut into panels no wider than ``width`` (``rule``:
    the nodes and weights on [-1, 1], 12-point by default); and the panels' edges."""
    x, w = rule
    n = max(1, int(math.ceil((hi - lo) / width)))
    edges = np.linspace(lo, hi, n + 1)
    half = np.diff(edges)[:, None] / 2
    nodes = (edges[:-1, None] + half * (1 + x)).ravel()
    return nodes, (half * w).ravel(), edges


def _newton(func, q, lo, hi, x0):
    """Root of func(x)[0] = q on [lo, hi], where func returns (value, derivative) and is increasing.

    Newton's method kept inside a shrinking bracket (a bisection step whenever Newton would leave it);
    our own because scipy's brentq needs about four times as many evaluations here.
    """
    x = min(max(x0, lo), hi)
    for _ in range(200):
        value, slope = func(x)
        gap = value - q
        if gap == 0:
            return x
        if gap > 0:
            hi = x
        else:
            lo = x
        step = gap / slope if slope > 0 else math.inf
        if abs(step) <= 1e-12 * max(1.0, abs(x)):
            return x - step
        x = x - step if lo < x - step < hi else 0.5 * (lo + hi)
        if hi - lo <= 1e-14 * max(1.0, abs(x)):
            return x
    raise RuntimeError(f"no root found for q = {q} in [{lo}, {hi}]")


def _mixture_quantile(q, weights, mean, sd):
    """x with Σ_j W_j Φ((x − m_j)/s_j) = q: the quantile of a normal mixture (root of its CDF)."""
    def cdf(x):
        t = (x - mean) / sd
        return float(weights @ special.ndtr(t)), float(weights @ (np.exp(-0.5 * t * t) / sd)) / math.sqrt(2 * math.pi)

    lo, hi = float(np.min(mean - 40 * sd)), float(np.max(mean + 40 * sd))
    x0 = float(weights @ mean) + float(special.ndtri(q)) * math.sqrt(float(weights @ sd ** 2))
    return _newton(cdf, q, lo, hi, x0)


def fit_bayes(yi, vi, tau_prior: str = "halfnormal", tau_scale=0.5, mu_prior=None, level: float = 0.95) -> BayesFit:
    """Bayesian random-effects meta-analysis by numerical integration over τ (R bayesmeta).

    Model y_i ~ N(μ, v_i + τ²). Priors: μ uniform (``mu_prior=None``) or N(m₀, s₀²)
    (``mu_prior=(m₀, s₀)``); τ half-normal(s) with density ∝ exp(−τ²/2s²), half-Cauchy(s) ∝
    1/(1 + τ²/s²), or log-uniform ∝ 1/τ on [a, b] (``tau_scale=(a, b)``). Given τ, with
    w_i = 1/(v_i + τ²), μ | τ, y ~ N(μ̂_τ, V_τ), V_τ = 1/(Σw_i + 1/s₀²), μ̂_τ = V_τ(Σw_i y_i + m₀/s₀²)
    (1/s₀² = 0 for the uniform prior), and p(τ | y) ∝ p(τ) Πw_i^½ V_τ^½ exp(−½[Σw_i(y_i − μ̂_τ)² +
    (m₀ − μ̂_τ)²/s₀²]) (Röver 2020, section 2). p(μ | y) = ∫ N(μ; μ̂_τ, V_τ) p(τ | y) dτ, and a new
    study's true effect θ_new | y = ∫ N(θ; μ̂_τ, V_τ + τ²) p(τ | y) dτ (posterior predictive).
    The integrals run over u = log τ on Gauss–Legendre panels covering where p(u | y) is within
    e⁻²⁸ of its maximum (found on a coarse grid first); quantiles are roots of the mixture CDFs.

    Parameters
    ----------
    yi, vi : array_like
        Estimates and their sampling variances (all > 0), k ≥ 1.
    tau_prior : {"halfnormal", "halfcauchy", "loguniform"}
    tau_scale : float or (float, float)
        The half-normal or half-Cauchy scale s (default 0.5: ``TAU_SCALE_SMD``; for Fisher z use
        ``tau_scale_fisher_z()``), or the log-uniform prior's bounds (a, b), 0 < a < b.
    mu_prior : None or (float, float)
        None for a uniform (improper) prior on μ, or (mean, sd) of a normal prior.
    level : float
        Probability of the equal-tailed intervals for μ and θ_new, and of τ's upper bound.

    Returns
    -------
    BayesFit

    Notes
    -----
    At k = 1 the model is defined and fitted, but the data say nothing about τ: with a uniform
    μ prior the posterior of τ is its prior, and the intervals are as wide as the prior makes them.
    Whether to show such a fit is the caller's choice. With a half-Cauchy τ prior and a uniform μ
    prior, p(τ | y) has a tail ~ τ^−(k+1), so μ's posterior mean exists only from k = 2 and its
    SD from k = 3: below that ``mu_mean`` and ``mu_sd`` are NaN (quantiles always exist).
    Grids: ``tau_grid`` runs from 0 (from a, log-spaced, for the log-uniform prior) to τ's 99.5 %
    quantile, ``mu_grid`` over μ's central 99.8 %; 201 points each.

    References
    ----------
    Röver C (2020). Bayesian random-effects meta-analysis using the bayesmeta R package. J Stat
    Softw 93(6):1–51. Friede T, Röver C, Wandel S, Neuenschwander B (2017). Meta-analysis of few
    small studies in orphan diseases. Biom J 59:658–671. Röver C, Bender R, Dias S, et al. (2021).
    On weakly informative prior distributions for the heterogeneity parameter in Bayesian
    random-effects meta-analysis. Res Synth Methods 12:448–474.
    """
    tau_scale, mu_prior, m0, p0 = _check_priors(tau_prior, tau_scale, mu_prior, level)
    yi, vi = _as_array("yi", yi), _as_array("vi", vi)
    k = _same_length(yi=yi, vi=vi)
    if k < 1:
        raise ValueError("k = 0 studies: fit_bayes needs at least one estimate")
    _check_min("vi", vi, 0, strict=True)

    def log_post(u):
        return _log_prior_u(u, tau_prior, tau_scale) + _conditional(yi, vi, np.exp(2 * u), m0, p0)[2]

    # 1. a coarse look over u for where the posterior's mass lies
    if tau_prior == "loguniform":
        lo, hi = math.log(tau_scale[0]), math.log(tau_scale[1])
        coarse = np.linspace(lo, hi, max(3, int(math.ceil((hi - lo) / _COARSE)) + 1))
    else:
        centre = math.log(tau_scale)
        coarse = np.arange(centre - _SPAN, centre + _SPAN + _COARSE / 2, _COARSE)
    f = log_post(coarse)
    top = int(np.argmax(f))
    # the region holds the posterior and μ's second moment (μ | τ has a variance growing as τ²)
    keep = np.flatnonzero((f > f[top] - _TAIL) | (f + 2 * coarse > np.max(f + 2 * coarse) - _TAIL))
    a, b = coarse[max(keep[0] - 1, 0)], coarse[min(keep[-1] + 1, len(coarse) - 1)]
    if tau_prior != "loguniform" and (f[0] > f[top] - _TAIL or f[-1] > f[top] - _TAIL):
        raise ValueError(f"the posterior of τ reaches beyond τ = {math.exp(coarse[0]):.3g}..{math.exp(coarse[-1]):.3g} "
                         f"for tau_scale = {tau_scale}: rescale the data or the prior")
    d2 = (f[top - 1] - 2 * f[top] + f[top + 1]) / _COARSE ** 2 if 0 < top < len(f) - 1 else 0.0
    width = min(1.0, 1.5 / math.sqrt(-d2)) if d2 < 0 else 1.0
    # Below τ₀ = 1e-4 · min(s, sqrt(min v)) p(τ) and p(y | τ) are constant to O(1e-8), so p(u | y) ∝ e^u
    # there: its mass ∫ p(u | y) du up to log τ₀ is p(log τ₀ | y) · 1, one node at τ₀ that stands for all of it.
    floor = -math.inf if tau_prior == "loguniform" else math.log(1e-4 * min(tau_scale, math.sqrt(vi.min())))
    lump = a < floor
    a = max(a, floor) if lump else a
    # 2. Gauss–Legendre panels over that region
    u, g, edges = _panels(a, b, width)
    if lump:
        u, g = np.append(floor, u), np.append(1.0, g)
    tau = np.exp(u)
    mean, var, loglik = _conditional(yi, vi, tau ** 2, m0, p0)
    logf = _log_prior_u(u, tau_prior, tau_scale) + loglik
    top_f = logf.max()
    dens = g * np.exp(logf - top_f)
    z = dens.sum()
    w = dens / z
    below = w[0] if lump else 0.0
    cum = below + np.concatenate([[0.0], np.cumsum(w[int(lump):].reshape(-1, len(_GL_NODES)).sum(1))])  # τ's CDF at the edges
    mu_mean = float(w @ mean)
    mu_sd = math.sqrt(max(float(w @ (var + mean ** 2)) - mu_mean ** 2, 0.0))
    used = w > 1e-16 * w.max()  # the quantiles below leave out nodes of negligible weight
    u, tau, w, mean, var = u[used], tau[used], w[used] / w[used].sum(), mean[used], var[used]
    sd, sd_new = np.sqrt(var), np.sqrt(var + tau ** 2)

    alpha = (1 - level) / 2
    mu_q = [_mixture_quantile(q, w, mean, sd) for q in (alpha, 0.5, 1 - alpha)]
    pi_q = [_mixture_quantile(q, w, mean, sd_new) for q in (alpha, 1 - alpha)]
    if tau_prior == "halfcauchy" and mu_prior is None:  # p(τ | y) ~ τ^−(k+1): E μ needs k ≥ 2, E μ² k ≥ 3
        mu_mean, mu_sd = (mu_mean if k >= 2 else math.nan), (mu_sd if k >= 3 else math.nan)
    p_pos = float(w @ special.ndtr(mean / sd))

    # τ's quantiles: the CDF at panel edges from the panels' sums, inside a panel by a fresh rule
    def tau_quantile(q):
        j = int(np.clip(np.searchsorted(cum, q) - 1, 0, len(edges) - 2))

        def cdf(x_u):  # a fresh Gauss–Legendre rule from the panel's left edge to x_u, and the density there
            half = (x_u - edges[j]) / 2
            f = np.exp(log_post(np.append(edges[j] + half * (1 + _GL_NODES), x_u)) - top_f) / z
            return cum[j] + float(half * _GL_WEIGHTS @ f[:-1]), float(f[-1])

        share = (q - cum[j]) / max(cum[j + 1] - cum[j], 1e-300)
        return math.exp(_newton(cdf, q, edges[j], edges[j + 1], edges[j] + share * (edges[j + 1] - edges[j])))

    tau_median, tau_upper = tau_quantile(0.5), tau_quantile(level)
    tau_grid = np.linspace(0.0, tau_quantile(0.995), 201) if tau_prior != "loguniform" else \
        np.geomspace(tau_scale[0], tau_quantile(0.995), 201)  # 1/τ: a log-spaced grid
    with np.errstate(divide="ignore", invalid="ignore"):
        log_tau = np.log(tau_grid)
        inside = np.ones_like(tau_grid, bool) if tau_prior != "loguniform" else \
            (tau_grid >= tau_scale[0]) & (tau_grid <= tau_scale[1])
        lp = _log_prior_u(log_tau, tau_prior, tau_scale) - log_tau  # density in τ = density in u / τ
        lp[0] = 0.0 if tau_prior != "loguniform" else -np.inf  # τ = 0: prior density's limit
        ll = _conditional(yi, vi, tau_grid ** 2, m0, p0)[2]
        tau_density = np.where(inside, np.exp(lp + ll - top_f) / z, 0.0)
    lo_mu, hi_mu = (_mixture_quantile(q, w, mean, sd) for q in (0.001, 0.999))
    mu_grid = np.linspace(lo_mu, hi_mu, 201)
    mu_density = (w[None, :] * np.exp(-0.5 * ((mu_grid[:, None] - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))).sum(1)
    return BayesFit(k=k, mu_median=mu_q[1], mu_mean=mu_mean, mu_sd=mu_sd, ci_low=mu_q[0], ci_high=mu_q[2],
                    tau_median=tau_median, tau_upper=tau_upper, pi_low=pi_q[0], pi_high=pi_q[1],
                    p_mu_positive=p_pos, tau_prior=tau_prior, tau_scale=tau_scale, mu_prior=mu_prior,
                    level=level, tau_grid=tau_grid, tau_density=tau_density, mu_grid=mu_grid,
                    mu_density=mu_density)
