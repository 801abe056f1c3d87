"""Notebook 06's tables, figures, sentences and the published comparison (compendium/simulation_lab.py)."""
import pandas as pd
import pytest

import helpers as h


@pytest.fixture(scope="module")
def grids():
    coverage = h.simulation_grid((3, 10), (0.0, 0.1), sizes=("equal", "unequal"), methods=("DL",),
                                 tests=("z", "knha", "adhoc"), replications=400, seed=1)
    tau2 = h.simulation_grid((5, 10), (0.1,), sizes=("equal",), methods=("DL", "ML", "REML", "SJ"), tests=("z",),
                             replications=400, seed=1, measure="SMD")
    small = h.small_study_grid((10,), (0.0, 0.1), replications=300, seed=1, method="DL")
    return coverage, tau2, small


def test_views_have_one_row_per_design_and_k(grids):
    coverage, tau2, _ = grids
    view = h.coverage_view(coverage)
    assert len(view) == 4 and "τ² = 0.1, Hartung–Knapp" in view.columns
    assert view["τ² = 0, z (Wald)"].between(0, 100).all()
    assert list(h.tau2_view(tau2)["k"]) == [5, 10] and "bias REML" in h.tau2_view(tau2).columns


def test_figures_are_written(grids, tmp_path):
    h.set_style()
    coverage, tau2, _ = grids
    for figure in (h.coverage_figure(coverage, tmp_path, tmp_path), h.tau2_figure(tau2, tmp_path, tmp_path)):
        assert figure.png.stat().st_size > 1000 and figure.svg.exists()
        assert "400 simulated meta-analyses" in repr(figure)


def test_sentences_are_built_from_the_numbers(grids):
    coverage, tau2, small = grids
    worst_z = coverage[(coverage["test"] == "z") & (coverage["tau2"] > 0)]["coverage"].min()
    assert f"{100 * worst_z:.1f} %" in h.coverage_sentences(coverage)[0]
    ml = tau2[tau2["method"] == "ML"]["bias_tau2"].mean()
    assert f"{ml:+.4f}" in h.tau2_sentences(tau2)[0]
    assert f"{100 * small['trimfill_any'].max():.1f} %" in h.small_study_sentences(small)[1]


def test_published_comparison_follows_the_numbers(grids):
    coverage, tau2, _ = grids
    table = h.published_comparison(coverage, tau2)
    assert list(table["source"]) == ["IntHout et al. 2014", "IntHout et al. 2014", "Röver et al. 2015",
                                     "Langan et al. 2019"]
    # Make Hartung-Knapp look bad and DL overestimate: the verdicts must turn
    worse = coverage.copy()
    worse.loc[worse["test"] == "knha", "coverage"] = 0.70
    worse["type1_error"] = 1 - worse["coverage"]
    inflated = tau2.assign(bias_tau2=0.05)
    flipped = h.published_comparison(worse, inflated).set_index("published")["agrees"]
    assert not flipped["Hartung–Knapp error rates at most about double the nominal 5 %"]
    assert not flipped["DL underestimates τ² in meta-analyses of small studies"]
    assert isinstance(table, pd.DataFrame) and table["agrees"].dtype == bool


@pytest.fixture(scope="module")
def small_k():
    return h.small_k_grid((2, 3), (1, 150), (0.0, 0.2), replications=400, seed=3)


def test_small_k_intervals_are_the_engines_knha_and_adhoc_fits():
    import numpy as np

    rng = np.random.default_rng(5)
    vi = np.broadcast_to([0.02, 0.0002, 0.03], (50, 3)).copy()
    yi = 0.3 * rng.standard_normal((50, 3)) + np.sqrt(vi) * rng.standard_normal((50, 3))
    got = h.small_k_intervals(yi, vi)
    for test in ("z", "knha", "adhoc"):
        ref = h.fit_meta_batch(yi, vi, method="REML", test=test)
        np.testing.assert_allclose(got[("CI", test)][0], ref.ci_low, rtol=1e-10)
        np.testing.assert_allclose(got[("CI", test)][1], ref.ci_high, rtol=1e-10)
    ref = h.fit_meta_batch(yi, vi, method="REML", test="adhoc")
    half = 12.706204736174707 * np.sqrt(ref.se ** 2 + ref.tau2)  # t(1) at k = 3, the compendium's rule
    np.testing.assert_allclose(got[("PI", "t(k-2)")][1], ref.estimate + half, rtol=1e-10)
    assert ("PI", "t(k-2)") not in h.small_k_intervals(yi[:, :2], vi[:, :2]), "no t(k − 2) interval at k = 2"
    bayes = h.fit_bayes_batch(yi, vi, tau_prior="halfnormal", tau_scale=0.25)
    np.testing.assert_array_equal(got[("CI", "bayes")][0], bayes.ci_low)
    np.testing.assert_array_equal(got[("PI", "bayes")][1], bayes.pi_high)
    assert ("CI", "bayes") not in h.small_k_intervals(yi, vi, tau_scale=None)


def test_small_k_lab_points_the_way_the_published_findings_do(small_k):
    g = small_k.set_index(["k", "ratio", "tau2", "interval", "method"])["coverage"]
    for k in (2, 3):  # with heterogeneity z covers too little and the modified interval more (Friede 2017)
        assert g[(k, 1, 0.2, "CI", "z")] < 0.90 < g[(k, 1, 0.2, "CI", "adhoc")]
        assert g[(k, 150, 0.2, "CI", "knha")] <= g[(k, 150, 0.2, "CI", "adhoc")]  # Röver et al. 2015
    assert g[(3, 1, 0.2, "PI", "z")] < g[(3, 1, 0.2, "PI", "t(k-2)")], "t(k − 2) prediction intervals cover more"
    width = small_k.set_index(["k", "ratio", "tau2", "interval", "method"])["median_width"]
    assert width[(2, 1, 0.2, "CI", "adhoc")] > 5 * width[(2, 1, 0.2, "CI", "z")]
    for k in (2, 3):  # the Bayesian interval covers more than z (Friede et al. 2017) and is far shorter than HK's
        assert g[(k, 150, 0.2, "CI", "bayes")] > g[(k, 150, 0.2, "CI", "z")]
        assert width[(k, 150, 0.2, "CI", "bayes")] < width[(k, 150, 0.2, "CI", "adhoc")]
    cells = small_k.groupby(["k", "ratio", "tau2"])["method"].apply(set)
    assert all({"bayes"} <= methods for methods in cells), "the Bayesian intervals in every cell, ours included"
    assert h.small_k_published(small_k)["agrees"].all()
    view = h.small_k_view(small_k)
    assert len(view) == 8 and view["PI t(k-2)"].isna().sum() == 4, "no t(k − 2) interval at k = 2"


def test_small_k_sentences_follow_the_numbers(small_k, tmp_path):
    sentences = h.small_k_sentences(small_k)
    z2 = small_k[(small_k["k"] == 2) & (small_k["tau2"] > 0) & (small_k["interval"] == "CI") & (small_k["method"] == "z")]
    assert f"as few as {100 * z2['coverage'].min():.1f} %" in sentences[0]
    assert sentences[2].startswith("The compendium leads with modified Hartung–Knapp")
    assert "t(k − 2), modified HK SE" in sentences[3] and "Bayesian posterior predictive" in sentences[3]
    assert sentences[4].startswith("The Bayesian interval (half-normal τ prior) is shown beside the leading one")
    worse = small_k.copy()
    worse.loc[(worse["method"] == "z") & (worse["interval"] == "CI"), "coverage"] = 0.99
    assert "although z (Wald)'s worst coverage" in h.small_k_sentences(worse)[2]
    h.set_style()
    figure = h.small_k_figure(small_k, tmp_path, tmp_path)
    assert figure.png.stat().st_size > 1000 and "400 simulated meta-analyses" in repr(figure)


def test_the_ceiling_sentence_is_qualified_by_heterogeneity_and_gives_tau2_0(small_k):
    text = h.small_k_sentences(small_k)[2]
    assert "With heterogeneity (τ² > 0), no frequentist interval held 95 %" in text or "With heterogeneity (τ² > 0), at" in text
    null = small_k[(small_k["tau2"] == 0) & (small_k["interval"] == "CI") & (small_k["ratio"] == 150)]
    z = null[null["method"] == "z"]["coverage"]
    assert "Without heterogeneity (τ² = 0) the same designs gave modified Hartung–Knapp" in text
    assert f"{100 * z.min():.1f} %" in text


def test_why_the_leading_test_leads_lists_every_cell_where_it_falls_short(small_k):
    text = h.small_k_sentences(small_k)[2]
    assert "at or above 95" not in text
    het = small_k[(small_k["tau2"] > 0) & (small_k["interval"] == "CI") & (small_k["method"] == "adhoc")]
    below = het[het["coverage"] < 0.95]
    for _, r in below.iterrows():
        assert f"{100 * r['coverage']:.1f} % at k = {r['k']}, ratio {r['ratio']:g}, τ² = {r['tau2']:g}" in text
    # made-up numbers: the modification covers everywhere, then it falls to 60 % in one cell
    perfect = small_k.copy()
    perfect.loc[perfect["method"] == "adhoc", "coverage"] = 0.97
    assert f"held 95 % in all {len(het)} cells with heterogeneity" in h.small_k_sentences(perfect)[2]
    bad = perfect.copy()
    cell = (bad["method"] == "adhoc") & (bad["k"] == 3) & (bad["ratio"] == 150) & (bad["tau2"] == 0.2) & (bad["interval"] == "CI")
    bad.loc[cell, "coverage"] = 0.60
    assert f"fell below 95 % in 1 of the {len(het)} cells with heterogeneity (60.0 % at k = 3, ratio 150, τ² = 0.2)" \
        in h.small_k_sentences(bad)[2]


def test_the_agreement_sentence_names_what_is_not_reproduced_and_what_2b_adds(grids, small_k):
    coverage, tau2, _ = grids
    published = h.published_comparison(coverage, tau2)
    out = h.published_agreement_sentences(published, coverage, small_k)
    assert f"points the same way as {int(published['agrees'].sum())} of {len(published)}" in out[0]
    assert "no k = 2" not in " ".join(out)
    z = small_k[(small_k["tau2"] > 0) & (small_k["interval"] == "CI") & (small_k["method"] == "z")]["coverage"].min()
    assert f"an error rate of {100 * (1 - z):.1f} %" in out[1] and "REML τ²" in out[1] and "not DerSimonian–Laird" in out[1]
    assert ("above the 30 %" if 1 - z > 0.30 else "not above the 30 %") in out[1]
    missed = published.assign(agrees=[False, True, True, True])
    assert "; not as IntHout et al. 2014 (“DL error rates can exceed 30 %”: ours, worst DL z error rate" in \
        h.published_agreement_sentences(missed, coverage)[0]
    milder = small_k.assign(coverage=small_k["coverage"].clip(lower=0.9))
    assert "not above the 30 %" in h.published_agreement_sentences(published, coverage, milder)[1]


# -- which cells are "our situation": read from analysis rows, never written in -------------------------

def made_up_rows(vis: dict[str, list[float]]) -> pd.DataFrame:
    """analysis_rows.csv as notebook 03 writes it, reduced to what our_analyses reads."""
    return pd.DataFrame([{"analysis": a, "study_id": f"{a}{i}", "vi": v} for a, vs in vis.items()
                         for i, v in enumerate(vs)])


def test_our_situation_follows_made_up_analysis_rows(small_k):
    rows = {"revA": made_up_rows({"pair": [0.01, 0.02], "single": [0.05]}),
            "revB": made_up_rows({"five": [0.002, 0.01, 0.012, 0.02, 0.02], "bad": [0.01, float("nan")]})}
    ours = h.our_analyses(rows)
    assert list(ours["analysis"]) == ["pair", "five"], "k = 1 (also after a missing vi) is not pooled"
    assert list(ours["k"]) == [2, 5] and ours["ratio"].tolist() == pytest.approx([2.0, 10.0])
    cells = h.nearest_cells(ours, small_k)  # the grid has k = 2, 3 and ratios 1, 150
    assert list(cells["k_cell"]) == [2, 3] and list(cells["ratio_cell"]) == [1.0, 1.0]  # log scale: 10 is nearer 1 than 150
    text = h.our_situation_sentences(ours, small_k)
    assert "Notebook 03 pooled 2 analyses (pair (revA): k = 2, variance ratio 2.0; five (revB): k = 5, variance " \
           "ratio 10.0)" in text[0]
    assert "largest ratio of two sampling variances within one analysis is 10.0 (five, revB)" in text[0]
    assert any("the grid has no k = 5, so these cells have fewer studies than the analysis" in s for s in text)
    assert "ratio 150 are a stress test, not our situation" in text[-1] and "our largest ratio is 10.0" in text[-1]
    # one analysis as unequal as the grid's largest ratio: then it is our situation, not a stress test
    steep = h.our_analyses({"revC": made_up_rows({"steep": [0.001, 0.2]})})
    text = h.our_situation_sentences(steep, small_k)
    assert "k = 2, variance ratio 200.0" in text[0] and not any("stress test" in s for s in text)
    assert h.nearest_cells(steep, small_k)["ratio_cell"].tolist() == [150.0]
    assert "no cell of this lab matches our situation" in h.our_situation_sentences(h.our_analyses({}), small_k)[0]


def _coverages(grid: pd.DataFrame) -> set[str]:
    return {f"{100 * c:.1f}" for c in grid["coverage"]}


def test_every_coverage_named_in_a_sentence_comes_from_the_table(small_k):
    import re

    ours = h.our_analyses({"revA": made_up_rows({"pair": [0.01, 0.012], "triple": [0.001, 0.01, 0.2]})})
    cells = h.nearest_cells(ours, small_k)
    matching = small_k.merge(cells[["k_cell", "ratio_cell"]].drop_duplicates(),
                             left_on=["k", "ratio"], right_on=["k_cell", "ratio_cell"])
    cited = [(s, re.findall(r"(\d+\.\d) %", s)) for s in h.our_situation_sentences(ours, small_k)]
    assert sum(len(n) for _, n in cited) >= 6
    for sentence, numbers in cited:  # each coverage the "our situation" sentences state is one of the matching cells'
        assert set(numbers) <= _coverages(matching), sentence
    for sentence in h.small_k_sentences(small_k):  # and the whole grid's sentences: each is one of the table's
        assert set(re.findall(r"(\d+\.\d) %", sentence)) <= _coverages(small_k), sentence
    # change the table, and the sentences change with it
    moved = small_k.assign(coverage=small_k["coverage"].where(small_k["method"] != "adhoc", 0.5))
    assert "at least 50.0 %" in h.our_situation_sentences(ours, moved)[-1]
    assert "fell short of 95 %" in h.our_situation_sentences(ours, moved)[1]


def test_published_agreement_calls_the_largest_ratio_a_stress_test_only_when_no_analysis_is_near(grids, small_k):
    coverage, tau2, _ = grids
    published = h.published_comparison(coverage, tau2)
    mild = h.our_analyses({"revA": made_up_rows({"pair": [0.01, 0.02]})})
    steep = h.our_analyses({"revA": made_up_rows({"pair": [0.001, 0.2]})})
    assert "a stress test: no pooled analysis of ours is nearest to ratio 150, our largest ratio being 2.0" in \
        h.published_agreement_sentences(published, coverage, small_k, mild)[1]
    assert "stress test" not in h.published_agreement_sentences(published, coverage, small_k, steep)[1]
