"""Monte Carlo simulation of random-effects meta-analyses, fitted many at a time.

``simulate_meta`` draws m meta-analyses of k studies at once (arrays m × k); ``fit_meta_batch``
fits them all with the engine's vectorised fit (each row exactly as ``fit_meta`` fits it alone);
``simulation_grid`` runs a grid of scenarios and reports coverage, type-I error, bias and RMSE per
cell; ``small_study_grid`` does the same for Egger's test and trim-and-fill (batched too:
``egger_batch``, ``trim_and_fill_k0``). Performance measures and their Monte Carlo SEs follow Morris, White & Crowther (2019).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from ._lazy import stats

from .effect_sizes import cmicalc, smd_variance
from .models import TESTS, _check_method, _fit_batch, _fit_with_tau2, _re_fit
from .tau2_estimators import _WLS, _estimate_tau2

SIZES = ("equal", "unequal", "spread")
MEASURES = ("ZCOR", "SMD")


def study_sizes(k: int, sizes: str = "equal", n: int = 40) -> np.ndarray:
    """Total sample size of each of k studies.

    ``"equal"``: every study has n participants. ``"unequal"``: a quarter of the studies (at least
    one) is ten times larger, 10·n (a scenario of IntHout, Ioannidis & Borm 2014). ``"spread"``:
    sizes evenly spaced on the log scale from n to 10·n (a funnel of many sizes, for Egger's test).
    """
    if not (isinstance(k, (int, np.integer)) and k >= 2):
        raise ValueError(f"k = {k!r}: a meta-analysis here needs an integer k >= 2")
    if not (isinstance(n, (int, np.integer)) and n >= 8):
        raise ValueError(f"n = {n!r}: use an integer of at least 8 participants per study")
    if sizes == "equal":
        return np.full(k, n, dtype=int)
    if sizes == "unequal":
        large = max(1, k // 4)
        return np.array([10 * n] * large + [n] * (k - large), dtype=int)
    if sizes == "spread":
        return np.round(np.geomspace(n, 10 * n, k)).astype(int)
    raise ValueError(f"sizes = {sizes!r}: use one of {SIZES}")


@dataclass(frozen=True)
class SimulatedMeta:
    """m simulated meta-analyses of k studies: ``yi`` and ``vi`` are arrays of shape (m, k)."""

    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    ni: np.ndarray = field(repr=False)
    mu: float
    tau2: float
    measure: str
    sizes: str
    seed: int

    @property
    def replications(self) -> int:
        return self.yi.shape[0]

    @property
    def k(self) -> int:
        return self.yi.shape[1]

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per replication and study (replication, study, ni, yi, vi)."""
        m, k = self.yi.shape
        return pd.DataFrame({"replication": np.repeat(np.arange(m), k), "study": np.tile(np.arange(k), m),
                             "ni": np.tile(self.ni, m), "yi": self.yi.ravel(), "vi": self.vi.ravel()})


def _cell_rng(seed: int, *key) -> np.random.Generator:
    """One generator per scenario, from the seed and the scenario itself (not its place in a grid)."""
    if not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise ValueError(f"seed = {seed!r}: use a non-negative integer")
    return np.random.default_rng([int(seed), zlib.crc32("|".join(map(repr, key)).encode())])


def simulate_meta(k: int, tau2: float, mu: float = 0.0, sizes: str = "equal", replications: int = 1000,
                  seed: int = 0, measure: str = "ZCOR", n: int = 40) -> SimulatedMeta:
    """Draw ``replications`` random-effects meta-analyses of k studies each.

    True effects θ_i = μ + u_i with u_i ~ N(0, τ²). ``measure="ZCOR"`` (Fisher's z of a correlation):
    y_i ~ N(θ_i, v_i) with v_i = 1/(n_i − 3), the normal–normal model with known variances.
    ``measure="SMD"`` (Hedges' g of two arms of n_i/2): the mean difference ~ N(θ_i, 1/n1 + 1/n2),
    the pooled SD² ~ χ²(n_i − 2)/(n_i − 2), g = J·d and v_i = 1/n1 + 1/n2 + g²/(2 n_i), as
    metafor ``escalc("SMD")`` would compute from the two arms (Hedges 1981), so v_i is estimated.
    Study sizes from :func:`study_sizes`. The same ``seed`` and scenario give the same draws.
    """
    if not (isinstance(replications, (int, np.integer)) and replications >= 1):
        raise ValueError(f"replications = {replications!r}: use a positive integer")
    if not (math.isfinite(tau2) and tau2 >= 0):
        raise ValueError(f"tau2 = {tau2!r}: must be a finite number >= 0")
    if not math.isfinite(mu):
        raise ValueError(f"mu = {mu!r}: must be a finite number")
    if measure not in MEASURES:
        raise ValueError(f"measure = {measure!r}: use one of {MEASURES}")
    ni = study_sizes(k, sizes, n)
    rng = _cell_rng(seed, k, float(tau2), float(mu), sizes, measure, int(n))
    theta = mu + math.sqrt(tau2) * rng.standard_normal((replications, k))
    if measure == "ZCOR":
        vi = np.broadcast_to(1.0 / (ni - 3.0), (replications, k)).copy()
        yi = theta + np.sqrt(vi) * rng.standard_normal((replications, k))
    else:
        n1 = ni // 2
        n2 = ni - n1
        diff = theta + np.sqrt(1 / n1 + 1 / n2) * rng.standard_normal((replications, k))
        df = ni - 2.0
        sd = np.sqrt(rng.chisquare(df, (replications, k)) / df)
        yi = cmicalc(df) * diff / sd
        vi = smd_variance(yi, n1, n2)
    return SimulatedMeta(yi=yi, vi=vi, ni=ni, mu=float(mu), tau2=float(tau2), measure=measure, sizes=sizes,
                         seed=int(seed))


def _check_batch(yi, vi) -> tuple[np.ndarray, np.ndarray]:
    yi, vi = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    for name, a in (("yi", yi), ("vi", vi)):
        if a.ndim != 2:
            raise ValueError(f"{name} must be two-dimensional (meta-analyses × studies), got shape {a.shape}")
        bad = np.argwhere(~np.isfinite(a))
        if bad.size:
            i, j = bad[0]
            raise ValueError(f"{name}[{i}, {j}] = {a[i, j]} is not a finite number")
    if yi.shape != vi.shape:
        raise ValueError(f"yi has shape {yi.shape} but vi has shape {vi.shape}")
    bad = np.argwhere(vi <= 0)
    if bad.size:
        i, j = bad[0]
        raise ValueError(f"vi[{i}, {j}] = {vi[i, j]:g}: must be > 0")
    return yi, vi


@dataclass(frozen=True)
class BatchFit:
    """m meta-analyses fitted at once; each array holds one value per meta-analysis (row)."""

    k: int
    estimate: np.ndarray = field(repr=False)
    se: np.ndarray = field(repr=False)
    ci_low: np.ndarray = field(repr=False)
    ci_high: np.ndarray = field(repr=False)
    stat: np.ndarray = field(repr=False)
    pval: np.ndarray = field(repr=False)
    tau2: np.ndarray = field(repr=False)
    i2: np.ndarray = field(repr=False)
    q: np.ndarray = field(repr=False)
    method: str = "REML"
    test: str = "z"
    level: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """One row per meta-analysis, columns as :meth:`MetaResult.to_frame`."""
        return pd.DataFrame({name: getattr(self, name) for name in
                             ("estimate", "se", "ci_low", "ci_high", "stat", "pval", "tau2", "i2", "q")})


def _fits(yi, vi, method: str, tests: Sequence[str], level: float) -> dict[str, BatchFit]:
    """τ² estimated once per row, then the fit under each test (all rows at once); the common-effect
    and random-effects fits are shared by the tests, which differ only in the SE and critical value."""
    X = np.ones((yi.shape[1], 1))
    mask = np.ones(yi.shape, bool)
    fe = _WLS(yi, X, mask / vi)
    tau2 = _estimate_tau2(yi, vi, X, mask, method, fe)
    re = _re_fit(yi, vi, X, mask, tau2)
    out = {}
    for test in tests:
        f = _fit_with_tau2(yi, vi, X, mask, tau2, method, test, level, re=re, fe=fe)
        out[test] = BatchFit(k=yi.shape[1], estimate=f["beta"][:, 0], se=f["se"][:, 0], ci_low=f["ci_low"][:, 0],
                             ci_high=f["ci_high"][:, 0], stat=f["stat"][:, 0], pval=f["pval"][:, 0], tau2=tau2,
                             i2=f["i2"], q=f["q"], method=method, test=test, level=level)
    return out


def fit_meta_batch(yi, vi, method: str = "REML", test: str = "z", level: float = 0.95) -> BatchFit:
    """Fit m meta-analyses at once: row i of ``yi``, ``vi`` (m × k) as ``fit_meta(yi[i], vi[i])``.

    Same estimators and tests as :func:`fit_meta` (τ²: FE, DL, HE, SJ, ML, REML, PM; tests z,
    Hartung–Knapp ``"knha"`` and its modification ``"adhoc"``), vectorised over rows; iterative
    estimators stop row by row at metafor's threshold, so a row does not depend on its batch.
    """
    _check_method(method, test, TESTS)
    yi, vi = _check_batch(yi, vi)
    if test != "z" and yi.shape[1] < 2:
        raise ValueError(f"k = {yi.shape[1]} studies: test = {test!r} needs at least 2")
    return _fits(yi, vi, method, (test,), level)[test]


def performance(fit: BatchFit, mu: float, tau2: float) -> dict:
    """Coverage, type-I error, bias and RMSE of one batch against the true μ and τ².

    coverage = share of CIs holding μ (Monte Carlo SE sqrt(c(1 − c)/m)); type-I error = share of
    tests rejecting H0: μ = μ_true at α = 1 − level (the CI's dual, so 1 − coverage); bias =
    mean(μ̂ − μ), RMSE = sqrt(mean((μ̂ − μ)²)), the same for τ̂²; share of τ̂² = 0 (Morris et al. 2019).
    Rows whose fit did not converge (NaN) are counted in ``not_converged`` and left out.
    """
    ok = np.isfinite(fit.tau2)
    m = int(ok.sum())
    covered = (fit.ci_low[ok] <= mu) & (mu <= fit.ci_high[ok])
    coverage = float(covered.mean())
    error, error_tau2 = fit.estimate[ok] - mu, fit.tau2[ok] - tau2
    return {"replications": m, "not_converged": int((~ok).sum()), "coverage": coverage, "mcse_coverage": math.sqrt(coverage * (1 - coverage) / m),
            "type1_error": 1 - coverage, "mean_ci_width": float(np.mean(fit.ci_high[ok] - fit.ci_low[ok])),
            "bias": float(error.mean()), "rmse": float(np.sqrt(np.mean(error ** 2))),
            "bias_tau2": float(error_tau2.mean()), "rmse_tau2": float(np.sqrt(np.mean(error_tau2 ** 2))),
            "tau2_zero": float(np.mean(fit.tau2[ok] == 0))}


def simulation_grid(k_values: Sequence[int] = (3, 5, 10, 20), tau2_values: Sequence[float] = (0.0, 0.05),
                    sizes: Sequence[str] = ("equal", "unequal"), methods: Sequence[str] = ("DL",),
                    tests: Sequence[str] = ("z", "knha", "adhoc"), mu: float = 0.0, replications: int = 10_000,
                    seed: int = 0, level: float = 0.95, measure: str = "ZCOR", n: int = 40) -> pd.DataFrame:
    """Simulate every scenario (k × τ² × sizes) and fit it with every τ² estimator and test.

    One tidy row per scenario, estimator and test: measure, sizes, k, tau2, method, test, then
    the measures of :func:`performance`. All estimators and tests of a scenario see the same
    simulated meta-analyses (common random numbers), so their differences are not noise between
    data sets. Random-effects model and designs as :func:`simulate_meta`.
    """
    for method in methods:
        for test in tests:
            _check_method(method, test, TESTS)
    rows = []
    for size in sizes:
        for k in k_values:
            for tau2 in tau2_values:
                sim = simulate_meta(k, tau2, mu, size, replications, seed, measure, n)
                for method in methods:
                    for test, fit in _fits(sim.yi, sim.vi, method, tests, level).items():
                        rows.append({"measure": measure, "sizes": size, "k": k, "tau2": float(tau2), "method": method,
                                     "test": test, **performance(fit, mu, tau2)})
    return pd.DataFrame(rows)


def _egger_design(vi: np.ndarray) -> np.ndarray:
    """Per-row design [1, sqrt(v_i)] of Egger's regression; rows whose SEs are all equal are refused."""
    sei = np.sqrt(vi)
    flat = np.flatnonzero(np.ptp(sei, axis=1) <= 1e-12 * sei.max(axis=1))
    if flat.size:
        raise ValueError(f"vi row {flat[0]}: all studies have the same variance, so Egger's regression has no slope")
    return np.stack([np.ones_like(sei), sei], axis=-1)


def egger_batch(yi, vi, method: str = "REML", level: float = 0.95) -> pd.DataFrame:
    """Egger's regression test for m meta-analyses at once: row i as ``egger_test(yi[i], vi[i])``.

    The meta-regression y_i = β₀ + β₁·sqrt(v_i) + u_i + e_i (metafor ``regtest``, model "rma",
    predictor "sei"), z test of β₁ (Egger et al. 1997). Columns stat, pval, limit_estimate (β₀);
    NaN in a row whose REML fit does not converge (``egger_test`` raises there).
    """
    return _egger(yi, vi, method, level)[0]


def _egger(yi, vi, method: str, level: float) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`egger_batch` and Egger's slope β₁ of each row (trim-and-fill's side)."""
    _check_method(method, "z")
    yi, vi = _check_batch(yi, vi)
    if yi.shape[1] < 3:
        raise ValueError(f"k = {yi.shape[1]} studies: Egger's test needs at least 3")
    out = _fit_batch(yi, vi, _egger_design(vi), np.ones(yi.shape, bool), method, "z", level)
    frame = pd.DataFrame({"stat": out["stat"][:, 1], "pval": out["pval"][:, 1], "limit_estimate": out["beta"][:, 0]})
    return frame, out["beta"][:, 1]


def trim_and_fill_k0(yi, vi, method: str = "REML", maxiter: int = 100) -> np.ndarray:
    """The number of studies trim-and-fill imputes (k0) for m meta-analyses at once.

    Row i gives ``trim_and_fill(yi[i], vi[i]).k0``: side from the sign of Egger's slope, then
    the L0 iteration of Duval & Tweedie (2000), L0 = (4 T_n − k(k + 1))/(2k − 1) rounded and
    truncated at 0, refitting without the k0 most extreme studies until k0 repeats (each row
    stops on its own). The trimmed refits are masked rows of one batch. A row whose REML fit does
    not converge gets k0 = −1 (``trim_and_fill`` raises there).
    """
    return _trim_and_fill_k0(yi, vi, method, maxiter)


def _trim_and_fill_k0(yi, vi, method: str, maxiter: int, slope: np.ndarray | None = None) -> np.ndarray:
    """:func:`trim_and_fill_k0`, given Egger's slopes (of :func:`_egger`, level 0.95) if already fitted."""
    _check_method(method, "z")
    yi, vi = _check_batch(yi, vi)
    m, k = yi.shape
    if k < 5:
        raise ValueError(f"k = {k} studies: use k >= 5 here (below it trim-and-fill can trim all but one study)")
    if slope is None:
        slope = _egger(yi, vi, method, 0.95)[1]
    flip = np.where(slope < 0, -1.0, 1.0)[:, None]
    order = np.argsort(flip * yi, axis=1, kind="stable")
    y, v = flip * np.take_along_axis(yi, order, 1), np.take_along_axis(vi, order, 1)
    k0, previous = np.zeros(m, int), np.full(m, -1)
    failed = ~np.isfinite(slope)
    active = np.flatnonzero(~failed)
    for _ in range(maxiter):
        active = active[k0[active] != previous[active]]
        if not active.size:
            return np.where(failed, -1, k0)
        previous[active] = k0[active]
        mask = np.arange(k)[None, :] < (k - k0[active])[:, None]
        ya, va, X = y[active], v[active], np.ones((k, 1))
        beta = _re_fit(ya, va, X, mask, _estimate_tau2(ya, va, X, mask, method)).beta  # only μ̂ is needed
        ok = np.isfinite(beta[:, 0])
        failed[active[~ok]] = True
        active, beta, mask = active[ok], beta[ok], mask[ok]
        centred = y[active] - beta
        ranks = stats.rankdata(np.abs(centred), method="ordinal", axis=1)
        l0 = (4 * np.where(centred > 0, ranks, 0).sum(1) - k * (k + 1)) / (2 * k - 1)
        k0[active] = np.maximum(0, np.round(l0)).astype(int)
    raise RuntimeError("trim-and-fill did not converge")


def small_study_grid(k_values: Sequence[int] = (10, 20), tau2_values: Sequence[float] = (0.0, 0.05),
                     sizes: str = "spread", replications: int = 10_000, seed: int = 0, alpha: float = 0.05,
                     method: str = "REML", measure: str = "ZCOR", n: int = 40) -> pd.DataFrame:
    """Egger's test and trim-and-fill on meta-analyses with no selection (nothing is missing).

    Per scenario: the share of Egger tests with p < α — their type-I error, as no small-study
    effect exists — and the share of trim-and-fill runs that impute at least one study (k0 ≥ 1),
    with the mean k0 and Monte Carlo SEs (:func:`egger_batch`, :func:`trim_and_fill_k0`).
    Replications whose REML fit does not converge are counted and left out.
    """
    rows = []
    for k in k_values:
        for tau2 in tau2_values:
            sim = simulate_meta(k, tau2, 0.0, sizes, replications, seed, measure, n)
            egger, slope = _egger(sim.yi, sim.vi, method, 0.95)
            pval = egger["pval"].to_numpy()
            k0 = _trim_and_fill_k0(sim.yi, sim.vi, method, 100, slope)  # Egger's fit once, not again for the side
            pval, k0_ok = pval[np.isfinite(pval)], k0[k0 >= 0]
            rejected, filled = float(np.mean(pval < alpha)), float(np.mean(k0_ok >= 1))
            rows.append({"measure": measure, "sizes": sizes, "k": k, "tau2": float(tau2), "method": method,
                         "replications": replications, "egger_not_converged": replications - len(pval),
                         "egger_type1_error": rejected, "mcse_egger": math.sqrt(rejected * (1 - rejected) / len(pval)),
                         "trimfill_not_converged": replications - len(k0_ok), "trimfill_any": filled,
                         "mcse_trimfill": math.sqrt(filled * (1 - filled) / len(k0_ok)),
                         "trimfill_mean_k0": float(k0_ok.mean())})
    return pd.DataFrame(rows)
