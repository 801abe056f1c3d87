"""Several effects per study: notebook 03's table of the primary rule beside the models that keep them all."""
import numpy as np
import pandas as pd
import pytest

from compendium.analyses import run_analyses
from compendium.display import sentence_number as _fmt
from compendium.dependence_view import dependence_sentences, dependence_table
from meta_analysis import aggregate_within, fit_meta, fit_multilevel, robust_test

from made_up import effect, review

ROWS = [effect("A", "A_1", 0.10, 0.010), effect("A", "A_2", 0.30, 0.012), effect("B", "B_1", 0.25, 0.020),
        effect("C", "C_1", 0.05, 0.015), effect("C", "C_2", 0.15, 0.011), effect("D", "D_1", 0.40, 0.030),
        effect("E", "E_1", 0.20, 0.008)]


def table(rows, rho=0.6):
    data = pd.DataFrame(rows).assign(sample_id=lambda d: d["study_id"])
    return dependence_table(run_analyses(review(), data), rho=rho), data


def test_four_models_side_by_side_with_the_engine_numbers():
    out, data = table(ROWS)
    assert list(out["model"]) == ["one effect per study (primary)", "averaged within study (ρ = 0.6)",
                                  "three-level model", "CHE (ρ = 0.6) with CR2 robust test",
                                  "sensitivity: averaged within study (ρ = 0.2)",
                                  "sensitivity: averaged within study (ρ = 0.8)"]
    assert list(out["k_effects"]) == [5, 7, 7, 7, 7, 7] and set(out["k_studies"]) == {5}
    agg = aggregate_within(data["yi"], data["vi"], data["study_id"], rho=0.6)
    lead = fit_meta(agg["yi"], agg["vi"], test="adhoc")
    assert out["estimate"].iloc[1] == pytest.approx(lead.estimate, rel=1e-12)
    assert (out["ci_low"].iloc[1], out["pval"].iloc[1]) == pytest.approx((lead.ci_low, lead.pval), rel=1e-12)
    assert out["ci_low_z"].iloc[1] == pytest.approx(fit_meta(agg["yi"], agg["vi"]).ci_low, rel=1e-12)
    low = aggregate_within(data["yi"], data["vi"], data["study_id"], rho=0.2)
    assert out["estimate"].iloc[4] == pytest.approx(fit_meta(low["yi"], low["vi"]).estimate, rel=1e-12)
    three = fit_multilevel(data["yi"], data["vi"], data["study_id"], es_id=data["effect_id"])
    assert out["sigma2_within"].iloc[2] == pytest.approx(three.sigma2_within, rel=1e-12, abs=1e-15)
    che = robust_test(fit_multilevel(data["yi"], data["vi"], data["study_id"], es_id=data["effect_id"], rho=0.6))
    assert out["ci_high"].iloc[3] == pytest.approx(che.ci_high, rel=1e-12)
    assert out["df"].iloc[3] == pytest.approx(che.df, rel=1e-12)


def test_one_effect_per_study_needs_no_table_and_a_sample_is_one_cluster():
    single = [r for r in ROWS if r["effect_id"] not in ("A_2", "C_2")]
    assert table(single)[0].empty
    data = pd.DataFrame(single).assign(sample_id=["A", "A", "C", "D", "E"])  # B's paper reports A's sample
    out = dependence_table(run_analyses(review(), data))
    assert set(out["k_studies"]) == {4} and out["k_effects"].iloc[-1] == 5


def test_few_clusters_are_said_not_hidden():
    out, _ = table(ROWS[:3])
    che = out[out["model"].str.startswith("CHE")].iloc[0]
    assert che["df"] < 4 and "not trustworthy" in che["note"] and "2 clusters" in che["note"]
    assert out["note"].str.contains("2 clusters: the between-study variance is barely identified").all()


def test_at_two_clusters_the_three_level_row_leads_with_t_on_one_df_not_z():
    out, data = table(ROWS[:3])
    three = out.set_index("model").loc["three-level model"]
    fit = fit_multilevel(data["yi"], data["vi"], data["study_id"], es_id=data["effect_id"])
    half = 12.706204736174707 * fit.se  # t(1), 97.5th percentile
    assert three["test"] == "t(1), clusters − 1" and three["ci_low"] == pytest.approx(fit.estimate - half, rel=1e-12)
    assert three["ci_low_z"] == pytest.approx(fit.ci_low, rel=1e-12) and three["pval"] > three["pval_z"]
    z_led = dependence_table(run_analyses(review(), data, test="z"))
    assert z_led.set_index("model").loc["three-level model", "ci_low"] == pytest.approx(fit.ci_low, rel=1e-12)


def test_a_variance_component_at_its_boundary_is_said():
    out, _ = table(ROWS[:3])  # two clusters close together: σ² between is estimated as 0
    three = out.set_index("model").loc["three-level model"]
    assert three["sigma2_between"] == 0 and "σ² between = 0: at its boundary" in three["note"]
    (sentence,) = dependence_sentences(out, np.tanh, "r")
    assert "puts σ² between at its boundary (0)" in sentence and "with 2 clusters" in sentence


def test_sentences_are_built_from_the_numbers():
    out, _ = table(ROWS)
    (sentence,) = dependence_sentences(out, np.tanh, "r")
    low, high = np.tanh(out["estimate"].iloc[1:4].min()), np.tanh(out["estimate"].iloc[1:4].max())
    assert f"keeping all 7 effects of 5 studies gives r from {_fmt(low)} to {_fmt(high)}" in sentence
    assert f"one-per-study r = {_fmt(np.tanh(out['estimate'].iloc[0]))} (95% CI" in sentence
    assert "from 5 studies" in sentence and "ρ from 0.2 to 0.8 gives r from" in sentence
    che = out.iloc[3]
    assert f"robust interval runs from {_fmt(np.tanh(che['ci_low']))} to {_fmt(np.tanh(che['ci_high']))} (df = {che['df']:.1f}" in sentence
    few, _ = table(ROWS[:3])
    assert "too few to trust the test" in dependence_sentences(few, np.tanh, "r")[0]


def test_the_three_level_row_is_said_and_a_lone_significant_row_names_its_clusters():
    out, _ = table(ROWS)
    (sentence,) = dependence_sentences(out, np.tanh, "r")
    three = out[out["model"] == "three-level model"].iloc[0]
    assert f"the three-level model, r = {_fmt(np.tanh(three['estimate']))} (95% CI" in sentence and three["test"] in sentence
    made_up = out.assign(pval=0.20)
    made_up.loc[made_up["model"] == "three-level model", "pval"] = 0.038
    (sentence,) = dependence_sentences(made_up, np.tanh, "r")
    assert "p < .05 only for the three-level model (1 of 6 rows), a verdict that rests on 5 clusters" in sentence
    (sentence,) = dependence_sentences(out.assign(pval=0.20), np.tanh, "r")
    assert "only for the" not in sentence, "all rows agree: nothing to say"
