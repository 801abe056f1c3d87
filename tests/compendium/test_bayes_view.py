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
    low, high = (h.probability_text(x) for x in (table["p_positive"].min(), table["p_positive"].max()))
    assert f"P(μ > 0) from {low} to {high}" in sentence


def test_probabilities_are_shown_with_three_decimals_as_the_tables_show_them():
    assert h.probability_text(0.9951) == ".995" and h.probability_text(0.99961) == "> .999"
    assert h.probability_text(0.0004) == "< .001" and h.probability_text(0.9404) == ".940"
    _, res = pooled()
    fits = h.fits_table(res).assign(bayes_p_positive=0.9951)
    (s,) = h.bayes_sentences(fits, "r", np.tanh)
    assert "P(μ > 0) = .995)" in s and "1.00" not in s
    (s,) = h.bayes_sentences(fits.assign(bayes_p_positive=0.99995), "r", np.tanh)
    assert "P(μ > 0) > .999)" in s


def sensitivity_rows(lows, highs):
    """A made-up prior-sensitivity table of one analysis: the credible bounds under four priors."""
    priors = ["half-normal(0.125)", "half-normal(0.25)", "half-normal(0.5)", "half-Cauchy(0.25)"]
    table = pd.DataFrame({"analysis": "A ~ B", "k": 2, "tau_prior": priors, "default": [False, True, False, False],
                          "estimate": 0.3, "ci_low": lows, "ci_high": highs, "tau_median": 0.1, "p_positive": 0.97})
    return h.with_prior_dependence(table.assign(excludes_0=(table["ci_low"] > 0) | (table["ci_high"] < 0)))


def test_a_conclusion_about_0_that_depends_on_the_prior_is_said_and_flagged():
    # as self-help: the interval excludes 0 under half-normal 0.125 and 0.25, not under 0.5 or half-Cauchy
    split = sensitivity_rows([0.16, 0.02, -0.21, -0.17], [0.54, 0.63, 0.75, 0.73])
    assert split["prior_dependent"].all()
    words = h.prior_dependence_sentence(split)
    assert ("excludes 0 under half-normal(0.125) and half-normal(0.25) but not under half-normal(0.5) or "
            "half-Cauchy(0.25): whether the data rule out no effect depends on the prior") in words
    same = sensitivity_rows([0.16, 0.02, 0.01, 0.005], [0.54, 0.63, 0.75, 0.73])
    assert not same["prior_dependent"].any() and "excludes 0 under all 4 priors" in h.prior_dependence_sentence(same)
    assert "includes 0 under all 4 priors" in h.prior_dependence_sentence(sensitivity_rows([-0.1] * 4, [0.5] * 4))
    # the real table and the Bayes sentence and table, with made-up data whose verdict depends on the prior
    _, res = pooled(k=2)
    table = h.prior_sensitivity_table(res, 0.25)
    assert table["excludes_0"].tolist() == [bool(lo > 0 or hi < 0) for lo, hi in zip(table["ci_low"], table["ci_high"])]
    fits = h.fits_table(res)
    label = fits["label"].iloc[0]
    flagged = h.bayes_table(fits, None, split.assign(analysis=label))
    assert flagged["prior_dependent"].iloc[1] is True and pd.isna(flagged["prior_dependent"].iloc[0])
    (s,) = h.bayes_sentences(fits, "r", None, split.assign(analysis=label))
    assert "depends on the prior" in s
    (s,) = h.bayes_sentences(fits, "r", None, same.assign(analysis=label))
    assert "depends on the prior" not in s
    assert "prior_dependent" not in h.bayes_table(fits).columns


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
