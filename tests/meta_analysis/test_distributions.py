"""The engine's distribution functions return bit for bit what scipy.stats returns, edges included."""
import numpy as np
import pytest

from meta_analysis import distributions as d

RNG = np.random.default_rng(20240601)
X = np.concatenate([[-np.inf, np.inf, np.nan, 0.0, -0.0, 1e-300, -1e-300, 1e300, -1.0, 40.0, -40.0],
                    RNG.normal(0, 3, 400), RNG.standard_cauchy(100), RNG.exponential(5, 200)])
Q = np.concatenate([[0.0, 1.0, -0.1, 1.1, np.nan, 0.5, 1e-300, 1 - 1e-16, 0.005, 0.025, 0.05, 0.975],
                    RNG.uniform(0, 1, 400)])
DF = [-1.0, 0.0, 0.5, 1, 2, 3, 7, 30, 1e6, np.inf, np.nan]


def scipy_stats(name: str):
    """``scipy.stats.<name>``, imported when a test runs (collection stays light on every worker)."""
    from scipy import stats

    for part in name.split("."):
        stats = getattr(stats, part)
    return stats


def identical(ours, theirs) -> bool:
    """Same shape, same type (scalar or array) and the same bits (any NaN matches any NaN)."""
    if type(ours) is not type(theirs) or np.shape(ours) != np.shape(theirs):
        return False
    a, b = np.asarray(ours, float).ravel(), np.asarray(theirs, float).ravel()
    return bool(np.all((a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))))


@pytest.mark.parametrize("ours, theirs, values", [
    (d.norm_cdf, "norm.cdf", X), (d.norm_sf, "norm.sf", X),
    (d.norm_ppf, "norm.ppf", Q), (d.norm_isf, "norm.isf", Q),
])
def test_normal(ours, theirs, values):
    theirs = scipy_stats(theirs)
    assert identical(ours(values), theirs(values))
    for v in values[:15]:
        assert identical(ours(v), theirs(v)), v
        assert identical(ours(float(v)), theirs(float(v))), v


@pytest.mark.parametrize("df", DF)
@pytest.mark.parametrize("ours, theirs, values", [
    (d.t_cdf, "t.cdf", X), (d.t_sf, "t.sf", X), (d.t_isf, "t.isf", Q),
    (d.chi2_cdf, "chi2.cdf", X), (d.chi2_sf, "chi2.sf", X), (d.chi2_ppf, "chi2.ppf", Q),
    (d.chi2_isf, "chi2.isf", Q),
])
def test_one_shape(ours, theirs, values, df):
    theirs = scipy_stats(theirs)
    with np.errstate(all="ignore"):
        assert identical(ours(values, df), theirs(values, df))
        for v in values[:15]:
            assert identical(ours(v, df), theirs(v, df)), v


@pytest.mark.parametrize("dfn", DF)
def test_f(dfn):
    from scipy import stats

    for dfd in DF:
        with np.errstate(all="ignore"):
            assert identical(d.f_sf(X, dfn, dfd), stats.f.sf(X, dfn, dfd))
            assert identical(d.f_sf(2.5, dfn, dfd), stats.f.sf(2.5, dfn, dfd))


def test_broadcasting_as_the_engine_calls_them():
    from scipy import stats

    stat, df = np.abs(RNG.normal(0, 3, (6, 2))), np.array([[0], [1], [2], [5], [30], [np.inf]])
    assert identical(d.t_sf(stat, df), stats.t.sf(stat, df))
    assert identical(d.t_isf(0.025, df[:, 0]), stats.t.isf(0.025, df[:, 0]))
    assert identical(d.t_isf(0.025, np.array([1, 2, 3])), stats.t.isf(0.025, np.array([1, 2, 3])))
    assert identical(d.chi2_sf(stat[:, 0], df[:, 0]), stats.chi2.sf(stat[:, 0], df[:, 0]))
    assert identical(d.chi2_sf(0.0, 0), stats.chi2.sf(0.0, 0))  # k = 1: Q on 0 df has no p-value


def test_norm_logpdf():
    from scipy import stats

    x, loc, scale = RNG.normal(0, 1, 50), 0.3, np.sqrt(RNG.exponential(1, 50))
    assert identical(d.norm_logpdf(x, loc, scale), stats.norm.logpdf(x, loc, scale))
    with np.errstate(all="ignore"):
        assert identical(d.norm_logpdf(X), stats.norm.logpdf(X))
    for s in (0.0, -1.0, np.nan, np.inf):
        with np.errstate(all="ignore"):
            assert identical(d.norm_logpdf(X, 0.0, s), stats.norm.logpdf(X, 0.0, s)), s


def test_ordinal_ranks():
    from scipy import stats

    ties = RNG.integers(0, 4, (30, 9)).astype(float)
    assert identical(d.ordinal_ranks(ties, axis=1), stats.rankdata(ties, method="ordinal", axis=1))
    assert identical(d.ordinal_ranks(ties[0]), stats.rankdata(ties[0], method="ordinal"))
    ties[3, 4] = np.nan
    assert identical(d.ordinal_ranks(ties, axis=1), stats.rankdata(ties, method="ordinal", axis=1))
    assert identical(d.ordinal_ranks(ties[:, 0], axis=0), stats.rankdata(ties[:, 0], method="ordinal", axis=0))
