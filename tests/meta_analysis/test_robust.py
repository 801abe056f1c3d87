"""Cluster-robust CR0/CR1/CR2 tests (robust.py) against clubSandwich 0.5.8 coef_test() and conf_int()."""
import numpy as np
import pytest

import meta_analysis as ma
from metafor_reference import close
from test_dependence import REF, SETS, fit

FIELDS = ["estimate", "se", "stat", "df", "pval", "ci_low", "ci_high"]


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("key", ["reml_z", "che_reml_z", "mods_reml_z", "mods_che_reml_z"])
def test_multilevel_models_match_club_sandwich(name, key):
    model = fit(name, key)
    for adjust, expected in REF[name][key]["robust"].items():
        result = ma.robust_test(model, adjust=adjust)
        for field in FIELDS:
            close(result.coef[field], np.atleast_1d(expected[field]), f"{name} {key} {adjust} {field}")
        assert result.n_clusters == model.n_studies and result.adjust == adjust


@pytest.mark.parametrize("name", SETS)
def test_univariate_model_matches_club_sandwich(name):
    data = REF[name]
    model = ma.fit_meta(data["yi"], data["vi"], method="REML")
    close(model.tau2, data["univariate"]["tau2"])
    for key, cluster in [("by_study", data["study"]), ("by_effect", np.arange(len(data["yi"])))]:
        result = ma.robust_test(model, cluster=cluster)
        expected = data["univariate"][key]
        for field in FIELDS:
            close(getattr(result, field), expected[field], f"{name} {key} {field}")


def test_given_cluster_equal_to_study_changes_nothing_and_coarser_clusters_differ():
    model = fit("assink", "reml_z")
    default = ma.robust_test(model)
    close(ma.robust_test(model, cluster=REF["assink"]["study"]).coef["se"], default.coef["se"])
    coarse = [str(int(s) % 5) for s in REF["assink"]["study"]]
    wider = ma.robust_test(model, cluster=coarse)
    assert wider.n_clusters == 5 and not np.isclose(wider.se, default.se)


def test_cr1_is_cr0_scaled_by_j_over_j_minus_1():
    model = fit("bornmann", "mods_reml_z")
    cr0, cr1 = ma.robust_test(model, adjust="CR0"), ma.robust_test(model, adjust="CR1")
    close(cr1.vcov, cr0.vcov * model.n_studies / (model.n_studies - 1))


def test_bad_input_names_what_and_where():
    model = fit("assink", "mods_reml_z")
    with pytest.raises(ValueError, match="adjust = 'CR3'"):
        ma.robust_test(model, adjust="CR3")
    with pytest.raises(ValueError, match=r"cluster has 3 entries but yi has 100"):
        ma.robust_test(model, cluster=[1, 2, 3])
    split = [f"{s}-{i % 2}" for i, s in enumerate(REF["assink"]["study"])]
    with pytest.raises(ValueError, match=r"cluster\[1\] = '1-1' but cluster\[0\] = '1-0'.*nested"):
        ma.robust_test(model, cluster=split)
    two = [str(int(s) % 2) for s in REF["assink"]["study"]]
    with pytest.raises(ValueError, match="2 clusters for 3 coefficients"):
        ma.robust_test(model, cluster=two)
    univariate = ma.fit_meta(REF["assink"]["yi"], REF["assink"]["vi"])
    with pytest.raises(ValueError, match="cluster: a univariate model needs"):
        ma.robust_test(univariate)
    with pytest.raises(ValueError, match="MetaRegResult is not supported"):
        ma.robust_test(ma.meta_regression(REF["assink"]["yi"], REF["assink"]["vi"], REF["assink"]["mods"]))
