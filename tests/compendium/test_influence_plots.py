"""Baujat and GOSH plots (compendium/influence_plots.py) draw what the engine computed."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from compendium.influence_plots import baujat_plot, gosh_plot  # noqa: E402
from meta_analysis.gosh import gosh  # noqa: E402
from meta_analysis.influence import baujat  # noqa: E402

YI = np.array([0.10, 0.30, 0.35, 0.20, 1.20, 0.25])
VI = np.array([0.010, 0.020, 0.015, 0.030, 0.020, 0.010])
LABELS = ["Ash", "Birch", "Cedar", "Dogwood", "Elm", "Fir"]


def test_baujat_plot_labels_each_study_at_its_point():
    table = baujat(YI, VI, labels=LABELS)
    fig = baujat_plot(table)
    ax = fig.axes[0]
    texts = {t.get_text(): t.xy for t in ax.texts}
    assert set(texts) == set(LABELS)
    np.testing.assert_allclose(texts["Elm"], table.loc[4, ["x", "y"]].to_numpy(float))
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    plt.close(fig)


def test_baujat_plot_draws_on_a_given_axis():
    fig, (left, right) = plt.subplots(1, 2)
    assert baujat_plot(baujat(YI, VI), ax=right) is fig
    assert len(right.texts) == 6 and not left.texts
    plt.close(fig)


def test_gosh_plot_shows_every_subset_and_splits_by_study():
    result = gosh(YI, VI, labels=LABELS)
    fig = gosh_plot(result, highlight="Elm")
    ax = fig.axes[0]
    without, with_elm = (c.get_offsets() for c in ax.collections)
    assert len(without) + len(with_elm) == 63 and len(with_elm) == 32
    frame = result.to_frame()
    np.testing.assert_allclose(np.sort(with_elm[:, 0]), np.sort(frame.loc[frame["Elm"], "estimate"]))
    assert "63 subsets" in fig.axes[1].get_title()
    plt.close(fig)
    fig = gosh_plot(result.to_frame())
    assert len(fig.axes[0].collections[0].get_offsets()) == 63
    plt.close(fig)


def test_plots_refuse_the_wrong_table():
    with pytest.raises(ValueError, match="lacks column"):
        baujat_plot(gosh(YI, VI).to_frame())
    with pytest.raises(ValueError, match="highlight = 'Oak'"):
        gosh_plot(gosh(YI, VI, labels=LABELS), highlight="Oak")


def _analysis_rows():
    rng = np.random.default_rng(3)
    rows = pd.DataFrame({"analysis": ["big"] * 6 + ["three"] * 3 + ["two"] * 2,
                         "label": [f"S{i}" for i in range(11)], "yi": rng.normal(0.2, 0.2, 11),
                         "vi": rng.uniform(0.01, 0.05, 11)})
    rows.loc[0, "yi"] = 1.5  # a planted outlier
    fits = pd.DataFrame({"analysis": ["big", "three", "two"], "label": ["Big", "Three", "Two"],
                         "method": ["REML", "DL", "REML"], "estimate": [0.3, 0.2, 0.1], "k": [6, 3, 2]})
    return rows, fits


def test_influence_table_from_three_studies_under_each_analysis_estimator():
    from compendium.influence_plots import influence_sentence, influence_table
    from meta_analysis import influence_diagnostics

    rows, fits = _analysis_rows()
    table = influence_table(rows, fits)
    assert list(table["analysis"].unique()) == ["Big", "Three"]
    three = rows[rows["analysis"] == "three"]
    expected = influence_diagnostics(three["yi"], three["vi"], method="DL", labels=list(three["label"]))
    np.testing.assert_allclose(table.loc[table["analysis"] == "Three", "cook_d"], expected["cook_d"], rtol=1e-12)
    sentence = influence_sentence(table, fits)
    assert "S0 in Big" in sentence and "Not examined (fewer than 3 studies): Two (k = 2)." in sentence


def test_baujat_from_three_studies_and_gosh_from_five(tmp_path):
    from compendium.influence_plots import influence_figures

    rows, fits = _analysis_rows()
    figures = influence_figures("r", rows, fits, tmp_path, transform=np.tanh, metric="r")
    assert [f.png.name for f in figures] == ["r_baujat_big.png", "r_gosh_big.png", "r_baujat_three.png"]
    assert all(f.png.exists() and f.svg.exists() for f in figures)


def test_baujat_labels_do_not_overlap_even_when_points_crowd():
    x = np.array([0.10, 0.11, 0.12, 0.105, 0.115, 3.0, 0.5, 0.52])
    y = np.array([0.01, 0.012, 0.011, 0.013, 0.009, 2.0, 0.3, 0.31])
    table = pd.DataFrame({"study": [f"Study{i}et al. 20{10 + i}" for i in range(len(x))], "x": x, "y": y})
    fig = baujat_plot(table)
    renderer = fig.canvas.get_renderer()
    from matplotlib.text import Text

    boxes = [Text.get_window_extent(t, renderer) for t in fig.axes[0].texts]  # the words, not the lines
    assert len(boxes) == len(x)
    assert not [(i, j) for i in range(len(boxes)) for j in range(i) if boxes[i].overlaps(boxes[j])]


def test_gosh_fits_at_most_its_cap_and_says_when_it_is_a_sample():
    from compendium.influence_plots import GOSH_SUBSETS, gosh_subsets

    assert gosh_subsets(16) == GOSH_SUBSETS >= 2 ** 16 - 1  # every subset of 16 studies
    assert gosh_subsets(2_000) == 10_000 and gosh_subsets(20_000) == 1_000  # bounded cells beyond
    rng = np.random.default_rng(5)
    yi, vi = rng.normal(0.2, 0.2, 12), rng.uniform(0.01, 0.05, 12)
    sample = gosh(yi, vi, method="DL", subsets=gosh_subsets(12) // 100, members=False)  # 1,000 of 4,095
    assert not sample.exact and len(sample.k) == 1_000
    fig = gosh_plot(sample, title="GOSH plot: twelve")
    assert "a random sample of 1,000 of 4,095 subsets" in fig.axes[1].get_title().replace("\n", " ")
    plt.close(fig)
    fig = gosh_plot(gosh(yi[:6], vi[:6]), title="GOSH plot: six")  # every subset: no sample said
    assert "(63 subsets)" in fig.axes[1].get_title() and "sample" not in fig.axes[1].get_title()
    plt.close(fig)


def test_baujat_plot_beyond_its_label_limit_labels_the_most_extreme():
    rng = np.random.default_rng(8)
    yi, vi = rng.normal(0.2, 0.2, 40), rng.uniform(0.01, 0.05, 40)
    yi[[3, 17]] = [1.5, -1.2]  # two planted outliers
    table = baujat(yi, vi, labels=[f"S{i}" for i in range(40)])
    fig = baujat_plot(table, max_labels=5)
    ax = fig.axes[0]
    labelled = [t.get_text() for t in ax.texts]
    score = table["x"] / table["x"].max() + table["y"] / table["y"].max()
    assert sorted(labelled) == sorted(f"S{i}" for i in np.argsort(-score.to_numpy())[:5])
    assert {"S3", "S17"} <= set(labelled)
    assert "5 most extreme of 40 studies labelled" in ax.get_title()
    assert len(ax.collections[0].get_offsets()) == 40  # every study a point
    plt.close(fig)
