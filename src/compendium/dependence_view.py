"""Several effects from one study (notebook 03): the primary one-effect-per-study result beside the
models that keep every admitted effect — averaged within study, three-level, and the correlated and
hierarchical effects (CHE) working model with cluster-robust (CR2) inference.

A study is its sample (``sample_id``): two papers on the same participants are one cluster.
"""
from __future__ import annotations

import pandas as pd

from meta_analysis.dependence import aggregate_within, fit_multilevel
from meta_analysis.models import fit_meta
from meta_analysis.robust import robust_test

from .admission import admit
from .analyses import Analysis
from .display import sentence_number as number_text

COLUMNS = ["analysis", "label", "model", "k_effects", "k_studies", "estimate", "ci_low", "ci_high", "pval", "df",
           "tau2", "sigma2_between", "sigma2_within", "note"]
MIN_DF_ROBUST = 4  # below 4 Satterthwaite df the CR2 test's type-I error is not trustworthy (Tipton 2015)


def admitted_effects(analysis: Analysis) -> pd.DataFrame:
    """Every effect row the analysis's admission rule lets in, several per study where a study gave them."""
    rows = analysis.candidates
    return admit(rows, analysis.rule) if len(rows) else rows


def _row(a: Analysis, model: str, k_effects: int, k_studies: int, **values) -> dict:
    return {"analysis": a.name, "label": a.label, "model": model, "k_effects": k_effects, "k_studies": k_studies,
            **values}


def dependence_rows(a: Analysis, rho: float = 0.6) -> list[dict]:
    """The four models of :func:`dependence_table` for one analysis (empty when every study gave one effect)."""
    rows = admitted_effects(a)
    if not len(rows):
        return []
    study = rows["sample_id"] if "sample_id" in rows else rows["study_id"]
    k_studies = study.nunique()
    if k_studies == len(rows) or k_studies < 2:
        return []
    id_col = "effect_id" if "effect_id" in rows else "outcome_id"
    yi, vi, es_id = rows["yi"].to_numpy(float), rows["vi"].to_numpy(float), rows[id_col].to_numpy()
    out = []
    if a.fit is not None:
        f = a.fits["z"]
        out.append(_row(a, "one effect per study (primary)", a.k, a.k, estimate=f.estimate, ci_low=f.ci_low,
                        ci_high=f.ci_high, pval=f.pval, tau2=f.tau2, note=""))
    agg = aggregate_within(yi, vi, study.to_numpy(), rho=rho)
    f = fit_meta(agg["yi"], agg["vi"], method=a.method, test="z", level=a.level)
    out.append(_row(a, f"averaged within study (ρ = {rho:g})", len(rows), k_studies, estimate=f.estimate,
                    ci_low=f.ci_low, ci_high=f.ci_high, pval=f.pval, tau2=f.tau2, note=""))
    method = a.method if a.method in ("REML", "ML") else "REML"
    note = "" if method == a.method else f"{a.method} has no multilevel form: REML"
    three = fit_multilevel(yi, vi, study.to_numpy(), es_id=es_id, method=method, level=a.level)
    out.append(_row(a, "three-level model", len(rows), k_studies, estimate=three.estimate, ci_low=three.ci_low,
                    ci_high=three.ci_high, pval=three.pval, sigma2_between=three.sigma2_between,
                    sigma2_within=three.sigma2_within, note=note))
    che = fit_multilevel(yi, vi, study.to_numpy(), es_id=es_id, method=method, level=a.level, rho=rho)
    robust = robust_test(che, adjust="CR2", level=a.level)
    few = f"df = {robust.df:.1f} < {MIN_DF_ROBUST}: the robust test is not trustworthy" if robust.df < MIN_DF_ROBUST else ""
    if k_studies == 2:
        note = "; ".join(n for n in (note, "2 studies: the between-study variance is barely identified") if n)
    out.append(_row(a, f"CHE (ρ = {rho:g}) with CR2 robust test", len(rows), k_studies, estimate=robust.estimate,
                    ci_low=robust.ci_low, ci_high=robust.ci_high, pval=robust.pval, df=robust.df,
                    sigma2_between=che.sigma2_between, sigma2_within=che.sigma2_within,
                    note="; ".join(n for n in (note, few) if n)))
    return out


def dependence_table(analyses: dict[str, Analysis], rho: float = 0.6) -> pd.DataFrame:
    """For each analysis where a study gave more than one admitted effect: four models side by side.

    1. one effect per study, the primary rule (Cochrane Handbook 6.2.2);
    2. the effects of a study averaged under a compound-symmetric correlation ``rho`` of their
       sampling errors, then the usual model (metafor ``aggregate``; Borenstein et al. 2009, ch. 24);
    3. the three-level model, effects nested in studies (Konstantopoulos 2011; Cheung 2014);
    4. the CHE working model, sampling errors correlated ``rho`` within a study, with CR2
       cluster-robust standard errors and Satterthwaite df (Pustejovsky & Tipton 2022); below
       :data:`MIN_DF_ROBUST` df the row says the test is not trustworthy.
    Estimates on the analysis scale (Fisher z or g) at full precision; ``rho`` is an assumption
    (notebook 03's parameter), not a value any study printed.
    """
    rows = [r for a in analyses.values() for r in dependence_rows(a, rho)]
    return pd.DataFrame(rows, columns=COLUMNS)


def dependence_sentences(table: pd.DataFrame, transform, metric: str) -> list[str]:
    """One sentence per analysis of :func:`dependence_table`, built from its numbers."""
    out = []
    for label, group in table.groupby("label", sort=False):
        first = group.iloc[0]
        models = group.iloc[1:] if first["model"].startswith("one effect") else group
        low, high = transform(models["estimate"].min()), transform(models["estimate"].max())
        primary = (f"the primary one-per-study {metric} is {number_text(transform(first['estimate']))} (k = {first['k_studies']}); "
                   if first["model"].startswith("one effect") else "no primary pooled result (k < 2); ")
        che = group.iloc[-1]
        trust = "" if che["df"] >= MIN_DF_ROBUST else ", too few to trust the test"
        out.append(f"{label}: {primary}keeping all {models['k_effects'].iloc[0]} effects of "
                   f"{models['k_studies'].iloc[0]} studies gives {metric} from {number_text(low)} to {number_text(high)} "
                   f"across the three models; the CHE model's robust interval runs from "
                   f"{number_text(transform(che['ci_low']))} to {number_text(transform(che['ci_high']))} "
                   f"(df = {che['df']:.1f}{trust}).")
    return out
