"""The Bayesian random-effects model for many meta-analyses at once (bayes_batch.py) against the
single fit (``fit_bayes``), row by row; its coarse tail against 1-wide panels; its input checks."""
import math

import numpy as np
import pytest

from meta_analysis.bayes import fit_bayes
from meta_analysis.bayes_batch import fit_bayes_batch

PRIORS = [("halfnormal", 0.5), ("halfcauchy", 0.5), ("loguniform", (0.001, 5.0))]


@pytest.mark.parametrize("k", [2, 3, 10])
@pytest.mark.parametrize("tau_prior, tau_scale", PRIORS)
def test_the_batch_fit_agrees_with_fit_bayes_row_by_row(k, tau_prior, tau_scale):
    rng = np.random.default_rng(2026 + k)
    vi = rng.uniform(0.002, 0.3, (30, k))
    yi = rng.normal(0.2, np.sqrt(vi + 0.04))
    mu_prior = None if k != 3 else (0.0, 1.0)
    batch = fit_bayes_batch(yi, vi, tau_prior=tau_prior, tau_scale=tau_scale, mu_prior=mu_prior, chunk=7)
    for i in range(len(yi)):
        fit = fit_bayes(yi[i], vi[i], tau_prior=tau_prior, tau_scale=tau_scale, mu_prior=mu_prior)
        for name in ("mu_median", "ci_low", "ci_high", "pi_low", "pi_high", "p_mu_positive"):
            assert abs(getattr(batch, name)[i] - getattr(fit, name)) < 1e-5, (i, name)  # documented: 1e-3


def narrow_tail_batch(yi, vi, **priors):
    """``fit_bayes_batch`` with the flat tail's panels as narrow as the rest (1 wide)."""
    from meta_analysis import bayes_batch

    wide = bayes_batch._FLAT_TAIL_WIDTH
    try:
        bayes_batch._FLAT_TAIL_WIDTH = 1.0
        return fit_bayes_batch(yi, vi, **priors)
    finally:
        bayes_batch._FLAT_TAIL_WIDTH = wide


BATCH_FIELDS = ("mu_median", "ci_low", "ci_high", "pi_low", "pi_high", "p_mu_positive")


def test_the_batch_fit_keeps_its_documented_accuracy_on_the_labs_hardest_design():
    """k = 3, one study ten times as precise, τ² = 0.2 (notebook 06's worst cell): within 1e-3 of
    ``fit_bayes``, and its coarse tail (:func:`bayes_batch._batch_grid`) within 1e-9 of 1-wide panels."""
    rng = np.random.default_rng(6)
    vi = np.broadcast_to([1 / 370, 1 / 37, 1 / 37], (40, 3)).copy()
    yi = np.sqrt(0.2) * rng.standard_normal((40, 3)) + np.sqrt(vi) * rng.standard_normal((40, 3))
    batch, fine = fit_bayes_batch(yi, vi, tau_scale=0.25), narrow_tail_batch(yi, vi, tau_scale=0.25)
    for i in range(len(yi)):
        fit = fit_bayes(yi[i], vi[i], tau_scale=0.25)
        for name in BATCH_FIELDS:
            assert abs(getattr(batch, name)[i] - getattr(fit, name)) < 1e-3, (i, name)
    for name in BATCH_FIELDS:
        np.testing.assert_allclose(getattr(batch, name), getattr(fine, name), rtol=0, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("priors", [
    dict(tau_prior="halfnormal", tau_scale=math.exp(-6), mu_prior=(0.0, 1e-4)),  # prior and V far below v
    dict(tau_prior="halfnormal", tau_scale=math.exp(-4), mu_prior=(0.0, 1e-3)),
    dict(tau_prior="halfcauchy", tau_scale=math.exp(-6), mu_prior=(0.0, 1e-3)),
    dict(tau_prior="loguniform", tau_scale=(1e-8, math.exp(-2.5)), mu_prior=(0.0, 1e-3)),
    dict(tau_prior="loguniform", tau_scale=(1e-8, 1.0)),  # a tail of several 4-wide panels
], ids=["halfnormal-tiny", "halfnormal-small", "halfcauchy-tiny", "loguniform-tight-mu", "loguniform-wide"])
def test_the_batch_fits_coarse_tail_is_flat_whatever_the_priors(priors):
    """The tail is coarse only where the τ prior and the predictive variance are flat as well as the
    likelihood: a small τ scale or a tight μ prior (V = 1/(Σ 1/vᵢ + p₀) far below v) moves its edge
    down, so the prediction interval stays within 1e-6 of its width of 1-wide panels (it moved by
    up to 1e-2 of it when only v bounded the tail)."""
    rng = np.random.default_rng(7)
    vi, yi = np.ones((10, 2)), rng.standard_normal((10, 2))
    batch, fine = fit_bayes_batch(yi, vi, **priors), narrow_tail_batch(yi, vi, **priors)
    width = fine.pi_high - fine.pi_low
    for name in ("pi_low", "pi_high", "ci_low", "ci_high"):
        assert np.max(np.abs(getattr(batch, name) - getattr(fine, name)) / width) < 1e-6, name


def test_the_batch_fit_without_the_median_gives_the_same_intervals():
    rng = np.random.default_rng(7)
    vi = rng.uniform(0.002, 0.3, (25, 3))
    yi = rng.normal(0.2, np.sqrt(vi + 0.04))
    full, lean = fit_bayes_batch(yi, vi), fit_bayes_batch(yi, vi, median=False)
    assert np.isnan(lean.mu_median).all() and not np.isnan(full.mu_median).any()
    for name in ("ci_low", "ci_high", "pi_low", "pi_high", "p_mu_positive"):
        np.testing.assert_array_equal(getattr(lean, name), getattr(full, name), err_msg=name)


def test_the_batch_fit_checks_its_input():
    with pytest.raises(ValueError, match=r"vi\[0, 1\] = -0.1"):
        fit_bayes_batch([[0.1, 0.2]], [[0.1, -0.1]])
    with pytest.raises(ValueError, match="two-dimensional"):
        fit_bayes_batch([0.1, 0.2], [0.1, 0.1])
    with pytest.raises(ValueError, match="tau_prior"):
        fit_bayes_batch([[0.1, 0.2]], [[0.1, 0.1]], tau_prior="flat")
