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
