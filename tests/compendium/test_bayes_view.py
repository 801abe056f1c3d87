"""The Bayesian row of every pooled analysis (compendium/bayes_view.py): prior scale per review, the
posterior beside the leading test, prior sensitivity, τ's posterior drawn, sentences from the numbers."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import helpers as h  # noqa: E402
from compendium.display import sentence_number  # noqa: E402
from made_up import effect, review  # noqa: E402

YI, VI = (0.1, 0.5, 0.2), (0.01, 0.04, 0.02)


def pooled(k=3, **meta):
    rows = [effect(s, f"{s}_1", yi=y, vi=v) for s, y, v in zip("ABC"[:k], YI[:k], VI[:k])]
    r = review(meta)
    return r, h.run_analyses(r, pd.DataFrame(rows))


def test_the_prior_scale_is_half_on_fisher_z_and_as_given_on_the_smd_scale():
    assert h.review_tau_scale(review(), 0.5) == 0.25
    assert h.review_tau_scale(review({"transform": None}), 0.5) == 0.5


def test_every_pooled_analysis_carries_the_engines_posterior():
    _, res = pooled()
    row = h.fits_table(res).iloc[0]
    ref = h.fit_bayes(YI, VI, tau_prior="halfnormal", tau_scale=0.25)
    assert row["bayes_tau_prior"] == "half-normal(0.25)"
    assert (row["bayes_estimate"], row["bayes_ci_low"], row["bayes_pi_high"]) == (ref.mu_median, ref.ci_low, ref.pi_high)
    assert row["bayes_p_positive"] == ref.p_mu_positive
    table = h.bayes_table(h.fits_table(res), np.tanh)
    assert list(table["model"]) == ["REML, modified Hartung–Knapp", "Bayesian, τ ~ half-normal(0.25)"]
    assert table["estimate"].iloc[1] == pytest.approx(np.tanh(ref.mu_median))


def test_no_posterior_predictive_interval_below_three_studies_and_none_for_one():
    _, res = pooled(k=2)
    row = h.fits_table(res).iloc[0]
    assert pd.notna(row["bayes_ci_low"]) and pd.isna(row["bayes_pi_low"])
    assert "no prediction interval with k = 2" in h.bayes_sentences(h.fits_table(res), "r", np.tanh)[0]
    _, single = pooled(k=1)
    assert single["osg"].bayes is None and pd.isna(h.fits_table(single)["bayes_estimate"].iloc[0])


def test_the_comparison_sets_the_posterior_beside_the_leading_test():
    r, res = pooled()
    ours = h.comparison_table(r, res).iloc[0]
    assert ours["bayes_estimate"] == pytest.approx(np.tanh(res["osg"].bayes.mu_median))
    assert ours["bayes_p_positive"] == res["osg"].bayes.p_mu_positive


def test_prior_sensitivity_halves_doubles_and_tries_a_half_cauchy():
    _, res = pooled()
    table = h.prior_sensitivity_table(res, 0.25)
    assert list(table["tau_prior"]) == ["half-normal(0.125)", "half-normal(0.25)", "half-normal(0.5)", "half-Cauchy(0.25)"]
    assert table["default"].tolist() == [False, True, False, False]
    wide = h.fit_bayes(YI, VI, tau_prior="halfnormal", tau_scale=0.5)
    assert table["ci_high"].iloc[2] == wide.ci_high
    widths = table["ci_high"] - table["ci_low"]
    assert widths.iloc[0] < widths.iloc[1] < widths.iloc[2], "a wider τ prior gives a wider interval for μ"
    (sentence,) = h.prior_sensitivity_sentences(table, "z")
    low, high = (sentence_number(x) for x in (table["p_positive"].min(), table["p_positive"].max()))
    assert f"P(μ > 0) from {low} to {high}" in sentence


def test_sentence_says_the_posterior_and_the_leading_interval():
    _, res = pooled()
    fits = h.fits_table(res)
    (s,) = h.bayes_sentences(fits, "r", np.tanh)
    r = fits.iloc[0]
    assert "with τ ~ half-normal(0.25) the posterior median is r = " in s and "under modified Hartung–Knapp" in s
    assert "with 95% posterior probability" in s and "two or three studies cannot" in s


def test_tau_posterior_figure_and_the_forest_plots_posterior_row(tmp_path):
    h.set_style()
    _, res = pooled()
    figure = h.tau_posterior_figure("made_up", res, 0.25, tmp_path, tmp_path)
    assert figure.png.stat().st_size > 1000 and figure.svg.exists()
    fits = h.fits_table(res)
    rows = h.analysis_rows(res)
    fig = h.forest_plot(rows, fits.iloc[0], "t", "r", transform=np.tanh)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "Bayesian posterior, τ ~ half-normal(0.25)" in labels
    b = res["osg"].bayes
    numbers = [t.get_text() for t in fig.axes[2].texts]
    assert f"{np.tanh(b.mu_median):.2f} [{np.tanh(b.ci_low):.2f}, {np.tanh(b.ci_high):.2f}]" in numbers
