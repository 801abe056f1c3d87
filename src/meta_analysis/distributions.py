"""The distribution functions the engine needs, bit for bit as ``scipy.stats`` computes them.

Importing ``scipy.stats`` takes about 0.7 s, more than the rest of the engine together, and every
value the engine takes from it is a ``scipy.special`` function (``ndtr``, ``stdtr``, ``chdtrc`` ...)
inside the bookkeeping of scipy's generic ``rv_continuous`` methods: NaN for a shape parameter
that is not positive, fixed values beyond the support's ends and at q = 0 and q = 1, and
``loc = 0`` added to a quantile (so −0.0 becomes 0.0). This module repeats that bookkeeping, so
``t_sf(x, df)`` returns exactly what ``scipy.stats.t.sf(x, df)`` returns, NaNs and infinities
included (``tests/meta_analysis/test_distributions.py`` compares every function over a grid).
The sign test's binomial p is summed exactly in ``votes.py``; what has no special-function form
(the optimisers) is imported where it is used.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy import special

_LOG_SQRT_2PI = np.log(np.sqrt(2 * np.pi))  # scipy.stats' _norm_pdf_logC


def _valid(shapes: list[np.ndarray]):
    return functools.reduce(np.logical_and, [s > 0 for s in shapes], np.True_)


def _result(out: np.ndarray):
    return out[()] if out.ndim == 0 else out


def _probability(f, x, shapes, low: float, upper_tail: bool):
    """``rv_continuous.cdf`` (or ``.sf``) with support (low, ∞): ``f`` inside, 0 or 1 beyond the ends."""
    x = np.asarray(x, dtype=float)
    shapes = [np.asarray(s, dtype=float) for s in shapes]
    ok = _valid(shapes)
    with np.errstate(all="ignore"):
        value = f(x, *shapes)
    beyond = (x <= low) if upper_tail else (x >= math.inf)  # where sf is 1 (below the support) or cdf is 1
    out = np.where(ok & (low < x) & (x < math.inf), value,
                   np.where(ok & beyond, 1.0, np.where(~ok | np.isnan(x), np.nan, 0.0)))
    return _result(out)


def _quantile(f, q, shapes, at_0: float, at_1: float):
    """``rv_continuous.ppf`` (or ``.isf``): ``f(q) + 0`` for 0 < q < 1, the support's ends at 0 and 1."""
    q = np.asarray(q, dtype=float)
    shapes = [np.asarray(s, dtype=float) for s in shapes]
    ok = _valid(shapes)
    with np.errstate(all="ignore"):
        value = f(q, *shapes) + 0.0
    out = np.where(ok & (0 < q) & (q < 1), value,
                   np.where(ok & (q == 0), at_0, np.where(ok & (q == 1), at_1, np.nan)))
    return _result(out)


def norm_cdf(x):
    """Standard normal CDF Φ(x), as ``scipy.stats.norm.cdf(x)``."""
    return _probability(special.ndtr, x, [], -math.inf, upper_tail=False)


def norm_sf(x):
    """Standard normal upper tail 1 − Φ(x), as ``scipy.stats.norm.sf(x)``."""
    return _probability(lambda x: special.ndtr(-x), x, [], -math.inf, upper_tail=True)


def norm_ppf(q):
    """Standard normal quantile Φ⁻¹(q), as ``scipy.stats.norm.ppf(q)``."""
    return _quantile(special.ndtri, q, [], -math.inf, math.inf)


def norm_isf(q):
    """Standard normal upper quantile Φ⁻¹(1 − q), e.g. 1.96 for q = .025, as ``scipy.stats.norm.isf(q)``."""
    return _quantile(lambda q: -special.ndtri(q), q, [], math.inf, -math.inf)


def norm_logpdf(x, loc=0.0, scale=1.0):
    """Log density of N(loc, scale²) at x, as ``scipy.stats.norm.logpdf(x, loc, scale)``."""
    x, loc, scale = (np.asarray(a, dtype=float) for a in (x, loc, scale))
    z = (x - loc) / scale
    ok = scale > 0
    with np.errstate(all="ignore"):
        value = -z ** 2 / 2.0 - _LOG_SQRT_2PI - np.log(scale)
    out = np.where(ok & (z >= -math.inf) & (z <= math.inf), value, np.where(~ok | np.isnan(z), np.nan, -math.inf))
    return _result(out)


def t_cdf(x, df):
    """Student t CDF with ``df`` degrees of freedom, as ``scipy.stats.t.cdf(x, df)``."""
    return _probability(lambda x, df: special.stdtr(df, x), x, [df], -math.inf, upper_tail=False)


def t_sf(x, df):
    """Student t upper tail, as ``scipy.stats.t.sf(x, df)``."""
    return _probability(lambda x, df: special.stdtr(df, -x), x, [df], -math.inf, upper_tail=True)


def t_isf(q, df):
    """Student t upper quantile (the critical value for a tail of q), as ``scipy.stats.t.isf(q, df)``."""
    return _quantile(lambda q, df: -special.stdtrit(df, q), q, [df], math.inf, -math.inf)


def chi2_cdf(x, df):
    """χ² CDF with ``df`` degrees of freedom, as ``scipy.stats.chi2.cdf(x, df)``."""
    return _probability(lambda x, df: special.chdtr(df, x), x, [df], 0.0, upper_tail=False)


def chi2_sf(x, df):
    """χ² upper tail (the p-value of a χ² statistic), as ``scipy.stats.chi2.sf(x, df)``."""
    return _probability(lambda x, df: special.chdtrc(df, x), x, [df], 0.0, upper_tail=True)


def chi2_ppf(q, df):
    """χ² quantile, as ``scipy.stats.chi2.ppf(q, df)``."""
    return _quantile(lambda q, df: 2 * special.gammaincinv(df / 2, q), q, [df], 0.0, math.inf)


def chi2_isf(q, df):
    """χ² upper quantile, as ``scipy.stats.chi2.isf(q, df)``."""
    return _quantile(lambda q, df: special.chdtri(df, q), q, [df], math.inf, 0.0)


def f_sf(x, dfn, dfd):
    """F upper tail (the p-value of an F statistic), as ``scipy.stats.f.sf(x, dfn, dfd)``."""
    return _probability(lambda x, dfn, dfd: special.fdtrc(dfn, dfd, x), x, [dfn, dfd], 0.0, upper_tail=True)


def ordinal_ranks(a, axis: int = -1) -> np.ndarray:
    """Ranks 1 … k along ``axis``, ties in order of position, as ``scipy.stats.rankdata(a, "ordinal", axis=axis)``.

    Integer ranks; a slice holding a NaN is all NaN (scipy's ``nan_policy="propagate"``).
    """
    a = np.moveaxis(np.asarray(a), axis, -1)
    order = np.argsort(a, axis=-1, kind="stable")
    ranks = np.empty(a.shape, dtype=np.asarray(1).dtype)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(1, a.shape[-1] + 1, dtype=ranks.dtype), a.shape), -1)
    if a.dtype.kind in "fc" and np.isnan(a).any():
        ranks = ranks.astype(float)
        ranks[np.isnan(a).any(axis=-1)] = np.nan
    return np.moveaxis(ranks, -1, axis)
