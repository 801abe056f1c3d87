"""Forest and funnel plots and the small-study table (compendium/forest_funnel.py) draw and print what
the engine fitted: on Molloy et al. (2014; 16 studies, metafor's values in tests/reference) for the
methods that need k ≥ 10, and on small made-up analyses for the rest. The figures are caught before
they are saved (``save_figure`` has its own tests), so what each one draws can be read."""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from compendium import forest_funnel as ff  # noqa: E402
from compendium.analyses import Analysis, fit_both, fits_table  # noqa: E402
from compendium.small_k import SmallKRules  # noqa: E402
from meta_analysis import fit_meta  # noqa: E402

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_reference.json").read_text())["molloy"]
CORRELATIONAL = {"transform": "tanh", "display_metric": "r", "xlabel": "r"}


def made_analysis(name: str, yi, vi, method: str = "REML", test: str = "adhoc", **columns) -> Analysis:
    """An analysis as notebook 03 leaves it: one row per study, fitted under every test, ``test`` leading."""
    data = pd.DataFrame({"study_id": [f"{name}{i + 1:02d}" for i in range(len(yi))], "yi": yi, "vi": vi,
                         "n": 100.0, **columns})
    data["label"] = data["study_id"]
    fits = fit_both(data["yi"], data["vi"], method, 0.95) if len(data) else {}
    return Analysis(name, name.capitalize(), {"name": name}, {}, data, data, pd.DataFrame(), fits, test, method,
                    0.95, "" if len(data) > 1 else "single study, shown not pooled")


def tables(*analyses: Analysis) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``analysis_rows.csv`` and ``fits.csv`` of these analyses, as notebook 04 reads them."""
    rows = pd.concat([a.data.assign(analysis=a.name) for a in analyses], ignore_index=True)
    return rows, fits_table({a.name: a for a in analyses})


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plotting functions hand to ``save_figure``, by file name, instead of files."""
    figures = {}

    def keep(fig, name, *args, **kwargs):
        figures[name] = fig
        return name

    monkeypatch.setattr(ff, "save_figure", keep)
    yield figures
    for fig in figures.values():
        plt.close(fig)


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


MOLLOY = made_analysis("molloy", REF["yi"], REF["vi"])


def test_from_ten_studies_the_funnel_plot_adds_the_studies_trim_and_fill_imputes(drawn):
    rows, fits = tables(MOLLOY)
    assert ff.funnel_plots("t", CORRELATIONAL, rows, fits, Path("unused")) == ["t_funnel_molloy"]
    ax = drawn["t_funnel_molloy"].axes[0]
    studies, filled = ax.collections[-2:]
    np.testing.assert_allclose(studies.get_offsets()[:, 0], REF["yi"])
    np.testing.assert_allclose(studies.get_offsets()[:, 1], np.sqrt(REF["vi"]))
    np.testing.assert_allclose(np.sort(filled.get_offsets()[:, 0]), np.sort(REF["trimfill"]["filled_yi"]), rtol=1e-6)
    assert "descriptive" not in ax.get_title(loc="left")
    assert "filled (trim-and-fill)" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_xlabel() == "Effect size (Fisher z)"


def test_below_the_rule_the_funnel_plot_is_descriptive_and_nothing_is_filled(drawn):
    nine = made_analysis("nine", REF["yi"][:9], REF["vi"][:9])
    two = made_analysis("two", REF["yi"][:2], REF["vi"][:2])
    one = made_analysis("one", REF["yi"][:1], REF["vi"][:1])
    rows, fits = tables(nine, two, one)
    assert ff.funnel_plots("t", CORRELATIONAL, rows, fits, Path("unused")) == ["t_funnel_nine"]  # k ≥ 3 only
    ax = drawn["t_funnel_nine"].axes[0]
    assert "descriptive only" in ax.get_title(loc="left")
    assert len(ax.collections[-1].get_offsets()) == 9  # the studies, and no filled ones after them
    lower = SmallKRules(min_k_small_study=5)
    drawn.clear()
    ff.funnel_plots("t", CORRELATIONAL, rows, fits, Path("unused"), rules=lower)
    assert "descriptive" not in drawn["t_funnel_nine"].axes[0].get_title(loc="left")


def test_from_ten_studies_the_small_study_table_is_egger_and_trim_and_fill_as_metafor():
    nine = made_analysis("nine", REF["yi"][:9], REF["vi"][:9])
    rows, fits = tables(MOLLOY, nine)
    table = ff.small_study_table(rows, fits, transform=np.tanh)
    tested, untested = table.iloc[0], table.iloc[1]
    assert tested["k"] == 16 and tested["note"] == ""
    assert tested["egger_z"] == pytest.approx(REF["egger"]["rma"]["stat"], rel=1e-6)
    assert tested["egger_p"] == pytest.approx(REF["egger"]["rma"]["pval"], rel=1e-6)
    assert tested["limit_estimate"] == pytest.approx(np.tanh(REF["egger"]["rma"]["limit_estimate"]), rel=1e-6)
    trimfill = REF["trimfill"]
    assert tested["k0_filled"] == trimfill["k0"] and tested["side"] == trimfill["side"]
    for column, field in (("adjusted_estimate", "estimate"), ("adjusted_ci_low", "ci_low"), ("adjusted_ci_high", "ci_high")):
        assert tested[column] == pytest.approx(np.tanh(trimfill["fit"][field]), rel=1e-6), column
    assert untested["note"] == "not tested: k < 10" and pd.isna(untested["egger_p"])
    assert ff.small_study_sentence([table]).startswith("1 of 2 analyses have at least 10 studies")


def test_the_forest_plot_has_a_row_for_each_study_and_each_summary(drawn):
    single = made_analysis("single", REF["yi"][:1], REF["vi"][:1])
    rows, fits = tables(MOLLOY, single)
    meta = {**CORRELATIONAL, "analyses": [{"name": "molloy"}, {"name": "single"}]}
    assert ff.forest_plots("t", meta, rows, fits, pd.DataFrame(), Path("unused"),
                           transform=np.tanh) == ["t_forest_molloy"]  # a single study is not pooled
    labels, ax, numbers = drawn["t_forest_molloy"].axes
    fit = MOLLOY.fits["adhoc"]
    summaries = ["RE model, REML, mod. HK (k = 16)", "z CI (treats τ² as known)",
                 "Prediction interval, t(14)"]
    assert [t for t in texts(labels) if t] == [f"molloy{i:02d}" for i in range(1, 17)] + summaries + ["Study"]
    pooled = f"{np.tanh(fit.estimate):.2f} [{np.tanh(fit.ci_low):.2f}, {np.tanh(fit.ci_high):.2f}]"
    assert pooled in texts(numbers) and "100%" in texts(numbers)
    footer = [t.get_text() for t in drawn["t_forest_molloy"].texts]
    assert footer[1] == ff.heterogeneity_line(fit) and footer[-1] == "Molloy (t)"  # statistics under the plot, title
    assert footer[0].startswith("Diamond: modified Hartung–Knapp interval (t with 15 df)")
    w = 1 / (np.asarray(REF["vi"]) + fit.tau2)  # random-effects weights
    assert [t for t in texts(numbers) if t.endswith("%") and t != "100%"] == [f"{x:.1f}%" for x in 100 * w / w.sum()]


def test_the_forest_plot_leads_with_the_chosen_test(drawn):
    z_led = made_analysis("molloy", REF["yi"], REF["vi"], test="z")
    rows, fits = tables(z_led)
    ff.forest_plots("t", {**CORRELATIONAL, "analyses": [{"name": "molloy"}]}, rows, fits, pd.DataFrame(), Path("unused"))
    labels, _, numbers = drawn["t_forest_molloy"].axes
    fit = z_led.fits["z"]
    assert "RE model, REML (k = 16)" in texts(labels) and "z CI (treats τ² as known)" not in texts(labels)
    assert f"{fit.estimate:.2f} [{fit.ci_low:.2f}, {fit.ci_high:.2f}]" in texts(numbers)


def test_at_k_2_an_interval_beyond_the_studies_is_cut_at_the_axis_with_arrows(drawn):
    two = made_analysis("two", [0.1, 0.6], [0.01, 0.02])
    rows, fits = tables(two)
    ff.forest_plots("t", {**CORRELATIONAL, "analyses": [{"name": "two"}]}, rows, fits, pd.DataFrame(), Path("unused"))
    _, ax, numbers = drawn["t_forest_two"].axes
    lead = two.fits["adhoc"]
    low, high = ax.get_xlim()
    assert lead.ci_low < low and lead.ci_high > high, "the axis is not stretched to the t(1) interval"
    assert high - low < 2, "the axis spans the studies, the z interval and 0"
    arrows = [line.get_marker() for line in ax.lines if line.get_marker() in ("<", ">")]
    assert sorted(arrows) == ["<", ">"]
    assert f"{lead.estimate:.2f} [{lead.ci_low:.2f}, {lead.ci_high:.2f}]" in texts(numbers), "printed in full"


def test_beyond_the_row_limit_the_forest_plot_is_a_summary_that_says_so(drawn):
    rows, fits = tables(MOLLOY)
    meta = {**CORRELATIONAL, "analyses": [{"name": "molloy"}]}
    ff.forest_plots("t", meta, rows, fits, pd.DataFrame(), Path("unused"), transform=np.tanh, max_rows=10)
    assert "All 16 studies (density)" in texts(drawn["t_forest_molloy"].axes[0])  # the limit reaches the plot
    assert "data/processed/t/analysis_rows.csv" in " ".join(t.get_text() for t in drawn["t_forest_molloy"].texts)
    fit = MOLLOY.fits["z"]
    yi, vi = np.asarray(REF["yi"]), np.asarray(REF["vi"])
    w = 1 / (vi + fit.tau2)  # the shift of the estimate without study i, τ² held, by brute force
    shift = [abs(np.average(yi, weights=w) - np.average(np.delete(yi, i), weights=np.delete(w, i))) for i in range(16)]
    fig = ff.forest_plot(rows, fit, "t", "r", transform=np.tanh, max_rows=10, shown=5, table_name="all.csv")
    labels = fig.axes[0]
    expected = [f"molloy{i + 1:02d}" for i in sorted(np.argsort(shift)[::-1][:5])]
    assert [t for t in texts(labels) if t.startswith("molloy")] == expected
    assert "All 16 studies (density)" in texts(labels)
    footer = " ".join(t.get_text() for t in fig.texts)
    assert "Summary of 16 studies: the 5 whose omission moves the estimate most" in footer and "all.csv" in footer
    plt.close(fig)
    full = ff.forest_plot(rows, fit, "t", "r", transform=np.tanh)  # under the limit: every study, no strip
    assert len([t for t in texts(full.axes[0]) if t.startswith("molloy")]) == 16
    assert not any("density" in t for t in texts(full.axes[0]))
    plt.close(full)


def test_subgroup_blocks_with_subtotals_and_the_test_of_their_difference(drawn):
    groups = ["guided"] * 8 + ["unguided"] * 8
    molloy = made_analysis("molloy", REF["yi"], REF["vi"], guidance=groups)
    rows, fits = tables(molloy)
    subtotals = pd.DataFrame([{"analysis": "molloy", "group": g, **vars(fit_meta(block["yi"], block["vi"]))}
                              for g, block in molloy.data.groupby("guidance")])
    ff.forest_plots("t", {**CORRELATIONAL, "analyses": [{"name": "molloy", "forest_by": "guidance"}]}, rows, fits,
                    subtotals, Path("unused"))
    labels = texts(drawn["t_forest_molloy"].axes[0])
    assert labels.count("Subtotal (k = 8)") == 2 and labels[0] == "Guided" and "Unguided" in labels
    by_hand = fit_meta(subtotals["estimate"], subtotals["se"] ** 2, method="FE")
    line = ff.subgroup_difference_line(["guided", "unguided"], {r.group: r for r in subtotals.itertuples()})
    assert line.startswith(f"Test for subgroup differences (separate τ²): Q(1) = {by_hand.q:.2f}")
    assert line in [t.get_text() for t in drawn["t_forest_molloy"].texts]
    lacking = ff.subgroup_difference_line(["guided", "unguided"], {"guided": subtotals.iloc[0]})
    assert lacking.endswith("not tested (a group has too few studies to pool)")


def test_heterogeneity_line_prints_tau2_only_for_random_effects():
    random = fit_meta(REF["yi"], REF["vi"], method="REML")
    common = fit_meta(REF["yi"], REF["vi"], method="FE")
    assert ff.heterogeneity_line(random).startswith(f"Heterogeneity: τ² = {random.tau2:.3f}, I² = ")
    assert ff.heterogeneity_line(common).startswith("Heterogeneity: I² = ")
    assert f"Q(15) = {common.q:.2f}, p " in ff.heterogeneity_line(common)
