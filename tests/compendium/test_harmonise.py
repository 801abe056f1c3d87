"""Row-level conversion rules and the generation derivation (compendium/harmonise.py)."""
import math

import numpy as np
import pandas as pd
import pytest

import helpers as h

CORR_COLUMNS = ["study_id", "effect_id", "help_seeking_type", "outcome", "outcome_proxy", "statistic_type",
                "statistic_as_printed", "value", "ci_low", "ci_high", "se", "df1", "df2", "p_value", "p_operator",
                "n_effect", "n_group1", "n_group2", "m_group1", "sd_group1", "m_group2", "sd_group2", "adjusted",
                "direction", "significant"]


def corr_row(**values):
    row = {c: np.nan for c in CORR_COLUMNS}
    row.update(study_id="S2020", effect_id="S2020_1", help_seeking_type="internet_general",
               outcome="depressive_symptoms", outcome_proxy="none", p_operator="", adjusted="no",
               direction="positive", significant="yes", statistic_as_printed="as printed")
    row.update(values)
    return row


def convert(**values):
    done, left = h.harmonise_correlational(pd.DataFrame([corr_row(**values)]))
    return done, left


def test_r_row_keeps_r_and_takes_sign_from_direction():
    done, _ = convert(statistic_type="r", value=0.21, n_effect=120, direction="negative")
    assert done["r"].iloc[0] == pytest.approx(-0.21)
    assert done["yi"].iloc[0] == pytest.approx(math.atanh(-0.21))
    assert done["vi"].iloc[0] == pytest.approx(1 / 117)


def test_null_direction_keeps_printed_sign():
    done, _ = convert(statistic_type="r", value=-0.05, n_effect=200, direction="null", significant="no")
    assert done["r"].iloc[0] == pytest.approx(-0.05)


def test_odds_ratio_row_goes_through_logit_d():
    done, _ = convert(statistic_type="aor", value=2.36, n_effect=1214)
    d = math.log(2.36) * math.sqrt(3) / math.pi
    assert done["r"].iloc[0] == pytest.approx(d / math.sqrt(d ** 2 + 4))


def test_chi_square_row_gives_phi():
    done, _ = convert(statistic_type="chi2", value=3.8, df1=1, n_effect=519)
    assert done["r"].iloc[0] == pytest.approx(math.sqrt(3.8 / 519))


def test_percentages_with_group_sizes_give_an_odds_ratio():
    done, _ = convert(statistic_type="percent", m_group1=4.3, m_group2=1.3, n_group1=676, n_group2=2324)
    odds = (0.043 / 0.957) / (0.013 / 0.987)
    d = math.log(odds) * math.sqrt(3) / math.pi
    assert done["r"].iloc[0] == pytest.approx(d / math.sqrt(d ** 2 + (3000 ** 2) / (676 * 2324)))
    assert done["n"].iloc[0] == 3000


def test_percentage_row_takes_its_variance_from_the_two_by_two_counts():
    # Richardson2020-like: 29/676 vs 30/2324; v_lnOR by hand, then logit d, point-biserial r and Fisher z
    p1, p2, n1, n2 = 100 * 29 / 676, 100 * 30 / 2324, 676, 2324
    done, _ = convert(statistic_type="percent", m_group1=p1, m_group2=p2, n_group1=n1, n_group2=n2)
    v_log_or = 1 / 29 + 1 / 647 + 1 / 30 + 1 / 2294
    d = math.log((29 / 647) / (30 / 2294)) * math.sqrt(3) / math.pi
    a = (n1 + n2) ** 2 / (n1 * n2)
    r = d / math.sqrt(d ** 2 + a)
    v_r = a ** 2 * (v_log_or * 3 / math.pi ** 2) / (d ** 2 + a) ** 3
    assert done["vi"].iloc[0] == pytest.approx(v_r / (1 - r ** 2) ** 2, rel=1e-9)
    assert done["variance_from"].iloc[0] == "2×2 counts"
    assert done["vi"].iloc[0] > 5 * done["vi_from_n"].iloc[0]  # 1/(n − 3) understated it about tenfold


def test_beta_of_a_model_with_few_predictors_uses_peterson_brown():
    done, _ = convert(statistic_type="beta", value=0.17, n_effect=322, predictors=2)
    assert done["r"].iloc[0] == pytest.approx(0.98 * 0.17 + 0.05)


def test_exact_p_with_n_converts_in_both_reviews():
    done, _ = convert(statistic_type="p_only", p_value=0.021, p_operator="=", n_effect=114)
    assert done["r"].iloc[0] == pytest.approx(2.307984 / math.sqrt(114), rel=1e-5)  # z(1 − .021/2) / sqrt(n)
    done, _ = h.harmonise_intervention(pd.DataFrame([out_row(statistic_type="p_only", p_value=0.007, p_operator="=",
                                                             n_ig=18, n_cg=18)]))
    t = __import__("scipy").stats.t.isf(0.0035, 34)
    d = t * math.sqrt(2 / 18)
    assert done["yi"].iloc[0] == pytest.approx(d * (1 - 3 / (4 * 34 - 1)), rel=1e-4)  # J approximated here


@pytest.mark.parametrize("values,reason", [
    (dict(statistic_type="p_only", p_value=0.05, p_operator="<", n_effect=100), "only direction and significance"),
    (dict(statistic_type="b", value=0.11, n_effect=740), "unstandardised b"),
    (dict(statistic_type="r", value=0.2), "neither a sample size nor a confidence interval"),
    (dict(statistic_type="beta", value=0.7, n_effect=100, predictors=2), "outside Peterson & Brown's range"),
    (dict(statistic_type="d", value=0.45, n_effect=39, design="pre_post"), "not a between-person association"),
    (dict(statistic_type="aor", value=1.20, ci_low=1.09, ci_high=1.32, n_effect=2408, comparator="continuous"),
     "per unit of a continuous exposure"),
    (dict(statistic_type="p_only", p_value=0.20, p_operator="=", n_effect=100, direction="null"), "direction is 'null'"),
    (dict(statistic_type="t", value=2.1, n_effect=100), "without its degrees of freedom"),
    (dict(statistic_type="means", m_group1=40.5, m_group2=37.7, p_value=0.004, p_operator="=", n_group2=109),
     "without both group sizes"),
    (dict(statistic_type="means", m_group1=1.0, m_group2=2.0, n_group1=10, n_group2=10, p_value=0.05, p_operator="<"),
     "p is printed only as a bound"),
    (dict(statistic_type="r", value=0.3, n_effect=50, direction="mixed"), "direction is 'mixed'"),
])
def test_rows_that_cannot_be_converted_keep_a_reason(values, reason):
    done, left = convert(**values)
    assert done.empty
    assert reason in left["reason"].iloc[0]


OUT_COLUMNS = ["study_id", "outcome_id", "comparison", "arm", "timepoint", "statistic_type", "statistic_as_printed",
               "es_value", "ci_low", "ci_high", "m_ig", "sd_ig", "n_ig", "m_cg", "sd_cg", "n_cg", "m_pre", "sd_pre",
               "m_post", "sd_post", "n_within", "t_value", "f_value", "df1", "df2", "p_value", "p_operator",
               "direction", "significant"]


def out_row(**values):
    row = {c: np.nan for c in OUT_COLUMNS}
    row.update(study_id="T2020", outcome_id="T2020_1", comparison="between", arm="ig_vs_cg", timepoint="post",
               p_operator="", direction="positive", significant="yes", statistic_as_printed="as printed")
    row.update(values)
    return row


def convert_out(studies=None, prepost_r=0.5, **values):
    return h.harmonise_intervention(pd.DataFrame([out_row(**values)]), prepost_r=prepost_r, studies=studies)


def test_printed_d_with_row_sizes_becomes_g():
    done, _ = convert_out(statistic_type="d", es_value=0.44, n_ig=121, n_cg=123)
    g, vi = h.d_to_g(0.44, 121, 123)
    assert done["yi"].iloc[0] == pytest.approx(g[0])
    assert done["vi"].iloc[0] == pytest.approx(vi[0])


def test_randomized_sizes_are_used_and_said():
    studies = pd.DataFrame({"study_id": ["T2020"], "n_randomized_ig": [94], "n_randomized_cg": [95]})
    done, _ = convert_out(studies=studies, statistic_type="d", es_value=0.63)
    assert "n randomized per arm" in done["conversion"].iloc[0]
    assert done["n"].iloc[0] == 189


def test_test_df_that_contradicts_randomized_sizes_is_refused():
    studies = pd.DataFrame({"study_id": ["T2020"], "n_randomized_ig": [142], "n_randomized_cg": [75]})
    done, left = convert_out(studies=studies, statistic_type="f", f_value=4.35, df1=1, df2=98)
    assert done.empty and "does not match the randomized arms" in left["reason"].iloc[0]


def test_d_with_ci_only_takes_variance_from_the_ci():
    done, _ = convert_out(statistic_type="d", es_value=0.04, ci_low=-0.08, ci_high=0.16)
    assert done["vi"].iloc[0] == pytest.approx((0.24 / (2 * 1.959963984540054)) ** 2)


def test_within_group_means_give_smcr_with_the_assumed_correlation():
    values = dict(comparison="within", arm="ig", statistic_type="prepost_means", m_pre=20.0, sd_pre=5.0,
                  m_post=23.0, n_within=40)
    low, _ = convert_out(prepost_r=0.3, **values)
    high, _ = convert_out(prepost_r=0.7, **values)
    assert low["yi"].iloc[0] == pytest.approx(high["yi"].iloc[0])
    assert low["vi"].iloc[0] > high["vi"].iloc[0]
    yi, vi = h.smcr(23.0, 20.0, 5.0, 40, 0.3)
    assert low["yi"].iloc[0] == pytest.approx(yi[0]) and low["vi"].iloc[0] == pytest.approx(vi[0])


def test_means_on_a_reversed_scale_follow_the_coded_direction():
    done, _ = convert_out(statistic_type="means_sds", m_ig=10, sd_ig=3, n_ig=30, m_cg=12, sd_cg=3, n_cg=30,
                          direction="positive")
    assert done["yi"].iloc[0] > 0


# -- generation -------------------------------------------------------------

def test_generation_from_survey_year_and_mean_age():
    studies = pd.DataFrame({"study_id": ["A2019", "B2010", "C2015", "D2020"], "year": [2019, 2010, 2015, 2020],
                            "survey_year": [2018, np.nan, np.nan, np.nan], "mean_age": [19.0, 45.0, np.nan, np.nan],
                            "age_min": [np.nan, np.nan, 18, np.nan], "age_max": [np.nan, np.nan, 24, np.nan]})
    gen = h.derive_generation(studies).set_index("study_id")
    assert gen.loc["A2019", "birth_year"] == 1999 and gen.loc["A2019", "generation"] == "Generation Z"
    assert gen.loc["B2010", "birth_year"] == 1964 and gen.loc["B2010", "generation"] == "Baby Boomers"
    assert gen.loc["C2015", "generation"] == "Millennials"
    assert "midpoint" in gen.loc["C2015", "generation_basis"]
    assert gen.loc["D2020", "generation"] == "unknown"


# -- one variance rule, missing n, the plausibility screen ------------------------------------------

def test_odds_ratio_with_ci_takes_its_variance_from_the_ci_by_the_delta_method():
    done, _ = convert(statistic_type="aor", value=2.36, ci_low=1.36, ci_high=4.09, n_effect=1214)
    z = 1.959963984540054
    v_log = ((math.log(4.09) - math.log(1.36)) / (2 * z)) ** 2
    d = math.log(2.36) * math.sqrt(3) / math.pi
    v_d = v_log * 3 / math.pi ** 2
    r = d / math.sqrt(d ** 2 + 4)
    v_r = 16 * v_d / (d ** 2 + 4) ** 3
    assert done["r"].iloc[0] == pytest.approx(r, rel=1e-12)
    assert done["vi"].iloc[0] == pytest.approx(v_r / (1 - r ** 2) ** 2, rel=1e-12)
    assert done["variance_from"].iloc[0] == "95% CI as printed"
    assert done["vi_from_n"].iloc[0] == pytest.approx(1 / 1211)


def test_r_with_ci_is_symmetric_on_z_and_without_ci_uses_n():
    done, _ = convert(statistic_type="r", value=0.3, ci_low=0.1, ci_high=0.48, n_effect=100)
    z = 1.959963984540054
    assert done["vi"].iloc[0] == pytest.approx(((math.atanh(0.48) - math.atanh(0.1)) / (2 * z)) ** 2)
    plain, _ = convert(statistic_type="r", value=0.3, n_effect=100)
    assert plain["vi"].iloc[0] == pytest.approx(1 / 97) and plain["variance_from"].iloc[0] == "n"


def test_a_row_with_a_ci_but_no_n_converts_and_keeps_n_missing():
    done, left = convert(statistic_type="or", value=2.27, ci_low=1.46, ci_high=3.53)
    assert left.empty and len(done) == 1
    assert math.isnan(done["n"].iloc[0])


def test_intervention_row_without_any_n_keeps_n_missing_not_zero():
    done, _ = convert_out(statistic_type="d", es_value=0.04, ci_low=-0.08, ci_high=0.16)
    assert math.isnan(done["n"].iloc[0]) and done["n_basis"].iloc[0] == "missing"
    assert done["vi"].iloc[0] == pytest.approx((0.24 / (2 * 1.959963984540054)) ** 2)


def test_printed_d_with_ci_and_sizes_takes_the_ci_variance_times_j_squared():
    done, _ = convert_out(statistic_type="d", es_value=0.44, ci_low=0.19, ci_high=0.70, n_ig=121, n_cg=123)
    g, _ = h.d_to_g(0.44, 121, 123)
    j = g[0] / 0.44
    assert done["vi"].iloc[0] == pytest.approx(j ** 2 * (0.51 / (2 * 1.959963984540054)) ** 2)
    assert done["n_basis"].iloc[0] == "analysed" and done["n"].iloc[0] == 244


def test_plausibility_screen_lists_large_r_and_a_ci_that_disagrees_with_n():
    rows = [corr_row(effect_id="A_1", statistic_type="r", value=0.8, n_effect=50),
            corr_row(effect_id="A_2", statistic_type="aor", value=6.01, ci_low=4.70, ci_high=7.70, n_effect=5849),
            corr_row(effect_id="A_3", statistic_type="r", value=0.2, n_effect=50)]
    done, _ = h.harmonise_correlational(pd.DataFrame(rows))
    screen = h.plausibility_screen(done, "correlational")
    assert list(screen["row_id"]) == ["A_1", "A_2"]
    assert "|r| > 0.7" in screen["check"].iloc[0]
    assert "× the variance that n gives" in screen["check"].iloc[1]
    assert len(done) == 3, "the screen never drops a row"


def test_rows_not_converted_keep_the_statistic_whole():
    import pandas as pd
    quote = "increased significantly within the intervention arm ... (Cohen's d = 0.26, 0.31, respectively)"
    left = pd.DataFrame({"effect_id": ["X_1", "X_2"], "statistic_type": ["d", "direction_only"],
                         "statistic_as_printed": [quote, "no difference"], "reason": ["no n", "direction only"]})
    view = h.not_converted_view(left)
    assert list(view["statistic_as_printed"]) == [quote]


def test_an_odds_ratio_without_group_sizes_says_it_assumes_equal_groups_and_is_screened():
    # OR 3.44: d = ln(3.44)·√3/π = 0.6812; a 50:50 split gives r = d/√(d² + 4) = .3223; the printed
    # split of a 10 % exposure (100 vs 900) gives a = 1000²/(100·900) = 11.11 and r = .2002
    done, _ = convert(statistic_type="aor", value=3.44, n_effect=1000, comparator="non_users", adjusted="yes")
    d = math.log(3.44) * math.sqrt(3) / math.pi
    assert done["r"].iloc[0] == pytest.approx(d / math.sqrt(d ** 2 + 4))
    assert "equal groups assumed" in done["conversion"].iloc[0]
    screen = h.plausibility_screen(done, "correlational")
    assert "50:50 split assumed" in screen["check"].iloc[0]
    done, _ = convert(statistic_type="or", value=3.44, n_effect=1000, n_group1=100, n_group2=900, comparator="non_users")
    assert done["r"].iloc[0] == pytest.approx(d / math.sqrt(d ** 2 + 1000 ** 2 / (100 * 900)))
    assert done["r"].iloc[0] == pytest.approx(0.2002, abs=5e-4)
    assert h.plausibility_screen(done, "correlational").empty


def test_a_beta_from_many_predictors_converts_but_is_flagged_a_partial_association():
    done, _ = convert(statistic_type="beta", value=0.17, n_effect=322, adjusted="yes", design="cross_sectional")
    assert done["r"].iloc[0] == pytest.approx(0.98 * 0.17 + 0.05)
    assert bool(h.partial_association(done).iloc[0])
