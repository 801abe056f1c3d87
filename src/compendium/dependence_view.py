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
from .small_k import name_of_test

COLUMNS = ["analysis", "label", "model", "k_effects", "k_studies", "test", "estimate", "ci_low", "ci_high", "pval",
           "ci_low_z", "ci_high_z", "pval_z", "df", "tau2", "sigma2_between", "sigma2_within", "note"]
MIN_DF_ROBUST = 4  # below 4 Satterthwaite df the CR2 test's type-I error is not trustworthy (Tipton 2015)
RHO_SENSITIVITY = (0.2, 0.8)  # the assumed within-study correlation, low and high (sensitivity rows)
FEW_CLUSTERS = 3  # at or below this many clusters a row says that the between-study variance is barely identified
BOUNDARY = 1e-10  # a variance component at or below this is at its boundary (σ² = 0)


def admitted_effects(analysis: Analysis) -> pd.DataFrame:
    """Every effect row the analysis's admission rule lets in, several per study where a study gave them."""
    rows = analysis.candidates
    return admit(rows, analysis.rule) if len(rows) else rows


def _row(a: Analysis, model: str, k_effects: int, k_studies: int, **values) -> dict:
    return {"analysis": a.name, "label": a.label, "model": model, "k_effects": k_effects, "k_studies": k_studies,
            **values}


def _few(k_studies: int) -> str:
    return (f"{k_studies} clusters: the between-study variance is barely identified"
            if k_studies <= FEW_CLUSTERS else "")


def _notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _univariate(a: Analysis, yi, vi) -> dict:
    """The usual model on one value per cluster under the leading test, with z beside it."""
    lead = fit_meta(yi, vi, method=a.method, test=a.test, level=a.level)
    z = fit_meta(yi, vi, method=a.method, test="z", level=a.level) if a.test != "z" else lead
    return dict(test=name_of_test(a.test), estimate=lead.estimate, ci_low=lead.ci_low, ci_high=lead.ci_high,
                pval=lead.pval, ci_low_z=z.ci_low, ci_high_z=z.ci_high, pval_z=z.pval, tau2=lead.tau2)


def three_level_lead(fit, test: str, level: float) -> dict:
    """The three-level model's interval under the leading test, with its z interval beside it.

    Under z: metafor ``rma.mv``'s Wald interval. Under (modified) Hartung–Knapp there is no such
    adjustment for ``rma.mv``; the row uses t with (clusters − 1) df and the model-based SE,
    β̂ ± t(m − 1)·SE with m the number of studies (the df of the averaged model's test), so a
    few-cluster row is never narrower than z (Cochrane Handbook 10.10.4.2; Pustejovsky & Tipton 2022
    on few clusters).
    """
    from scipy import stats

    z = dict(ci_low_z=fit.ci_low, ci_high_z=fit.ci_high, pval_z=fit.pval)
    if test == "z":
        return dict(test=name_of_test("z"), estimate=fit.estimate, ci_low=fit.ci_low, ci_high=fit.ci_high,
                    pval=fit.pval, **z)
    df = fit.n_studies - 1
    half = float(stats.t.isf((1 - level) / 2, df)) * fit.se
    return dict(test=f"t({df}), clusters − 1", estimate=fit.estimate, ci_low=fit.estimate - half,
                ci_high=fit.estimate + half, pval=float(2 * stats.t.sf(abs(fit.estimate / fit.se), df)), df=float(df), **z)


def _tau2_boundary(values: dict) -> str:
    return "τ² = 0: at its boundary" if values["tau2"] <= BOUNDARY else ""


def _boundary(fit) -> str:
    at = [name for name, value in (("between", fit.sigma2_between), ("within", fit.sigma2_within))
          if value <= BOUNDARY]
    return "; ".join(f"σ² {name} = 0: at its boundary, that level adds nothing" for name in at)


def dependence_rows(a: Analysis, rho: float = 0.6) -> list[dict]:
    """The models of :func:`dependence_table` for one analysis (empty when every study gave one effect)."""
    rows = admitted_effects(a)
    if not len(rows):
        return []
    study = rows["sample_id"] if "sample_id" in rows else rows["study_id"]
    k_studies = study.nunique()
    if k_studies == len(rows) or k_studies < 2:
        return []
    id_col = "effect_id" if "effect_id" in rows else "outcome_id"
    yi, vi, es_id = rows["yi"].to_numpy(float), rows["vi"].to_numpy(float), rows[id_col].to_numpy()
    few = _few(k_studies)
    out = []
    if a.fit is not None:
        lead, z = a.fits[a.test], a.fits["z"]
        out.append(_row(a, "one effect per study (primary)", a.k, a.k, test=name_of_test(a.test),
                        estimate=lead.estimate, ci_low=lead.ci_low, ci_high=lead.ci_high, pval=lead.pval,
                        ci_low_z=z.ci_low, ci_high_z=z.ci_high, pval_z=z.pval, tau2=lead.tau2,
                        note=_notes(_few(a.k), "τ² = 0: at its boundary" if lead.tau2 <= BOUNDARY else "")))
    agg = aggregate_within(yi, vi, study.to_numpy(), rho=rho)
    values = _univariate(a, agg["yi"], agg["vi"])
    out.append(_row(a, f"averaged within study (ρ = {rho:g})", len(rows), k_studies, **values,
                    note=_notes(few, _tau2_boundary(values))))
    method = a.method if a.method in ("REML", "ML") else "REML"
    note = "" if method == a.method else f"{a.method} has no multilevel form: REML"
    three = fit_multilevel(yi, vi, study.to_numpy(), es_id=es_id, method=method, level=a.level)
    out.append(_row(a, "three-level model", len(rows), k_studies, **three_level_lead(three, a.test, a.level),
                    sigma2_between=three.sigma2_between, sigma2_within=three.sigma2_within,
                    note=_notes(note, few, _boundary(three))))
    che = fit_multilevel(yi, vi, study.to_numpy(), es_id=es_id, method=method, level=a.level, rho=rho)
    robust = robust_test(che, adjust="CR2", level=a.level)
    untrusted = f"df = {robust.df:.1f} < {MIN_DF_ROBUST}: the robust test is not trustworthy" if robust.df < MIN_DF_ROBUST else ""
    out.append(_row(a, f"CHE (ρ = {rho:g}) with CR2 robust test", len(rows), k_studies, test="CR2, Satterthwaite t",
                    estimate=robust.estimate, ci_low=robust.ci_low, ci_high=robust.ci_high, pval=robust.pval,
                    ci_low_z=che.ci_low, ci_high_z=che.ci_high, pval_z=che.pval, df=robust.df,
                    sigma2_between=che.sigma2_between, sigma2_within=che.sigma2_within,
                    note=_notes(note, few, untrusted, _boundary(che))))
    for r in RHO_SENSITIVITY:
        if r == rho:
            continue
        agg = aggregate_within(yi, vi, study.to_numpy(), rho=r)
        values = _univariate(a, agg["yi"], agg["vi"])
        out.append(_row(a, f"sensitivity: averaged within study (ρ = {r:g})", len(rows), k_studies, **values,
                        note=_notes(few, _tau2_boundary(values))))
    return out


def dependence_table(analyses: dict[str, Analysis], rho: float = 0.6) -> pd.DataFrame:
    """For each analysis where a study gave more than one admitted effect: four models side by side.

    1. one effect per study, the primary rule (Cochrane Handbook 6.2.2);
    2. the effects of a study averaged under a compound-symmetric correlation ``rho`` of their
       sampling errors, then the usual model (metafor ``aggregate``; Borenstein et al. 2009, ch. 24);
    3. the three-level model, effects nested in studies (Konstantopoulos 2011; Cheung 2014);
    4. the CHE working model, sampling errors correlated ``rho`` within a study, with CR2
       cluster-robust standard errors and Satterthwaite df (Pustejovsky & Tipton 2022); below
       :data:`MIN_DF_ROBUST` df the row says the test is not trustworthy;
    5. sensitivity rows: the averaged model at ρ = 0.2 and 0.8 (:data:`RHO_SENSITIVITY`).
    Rows 1–3 and 5 lead with the analyses' test (``ci_method``; the three-level model on t with
    clusters − 1 df, :func:`three_level_lead`), z beside it; the CHE row with its robust test
    and its model-based z beside it. At :data:`FEW_CLUSTERS` clusters or fewer, and where a
    variance component is at its boundary (σ² = 0), the note says so.
    Estimates on the analysis scale (Fisher z or g) at full precision; ``rho`` is an assumption
    (notebook 03's parameter), not a value any study printed.
    """
    rows = [r for a in analyses.values() for r in dependence_rows(a, rho)]
    return pd.DataFrame(rows, columns=COLUMNS)


def _significance_split(group: pd.DataFrame, k: int, alpha: float) -> str:
    """"; p < .05 only for the three-level model, a verdict that rests on 6 clusters" when the rows of
    one analysis disagree about p < ``alpha`` (empty when they agree)."""
    below = group[group["pval"] < alpha]
    if below.empty or len(below) == len(group):
        return ""
    names = " and ".join(m.split(" with ")[0] for m in below["model"])
    return (f"; p < {number_text(alpha)} only for the {names} ({len(below)} of {len(group)} rows), a verdict that rests "
            f"on {k} clusters")


def dependence_sentences(table: pd.DataFrame, transform, metric: str, alpha: float = 0.05) -> list[str]:
    """One sentence per analysis of :func:`dependence_table`, built from its numbers: the primary
    and averaged results with the leading test's interval and p, the range over the three models and
    over ρ, the three-level model under its test (t with clusters − 1 df), the CHE model's robust
    interval, which rows have p < ``alpha`` when the rows disagree (and on how many clusters that
    rests), few clusters and a variance component at its boundary."""
    from .display import p_text

    def interval(r) -> str:
        return (f"{metric} = {number_text(transform(r['estimate']))} (95% CI {number_text(transform(r['ci_low']))} "
                f"to {number_text(transform(r['ci_high']))}, {r['test']}, p {p_text(r['pval'])})")

    out = []
    for label, group in table.groupby("label", sort=False):
        first = group.iloc[0]
        main = group[~group["model"].str.startswith("sensitivity")]
        models = main.iloc[1:] if first["model"].startswith("one effect") else main
        low, high = transform(models["estimate"].min()), transform(models["estimate"].max())
        primary = (f"the primary one-per-study {interval(first)} from {first['k_studies']} studies; "
                   if first["model"].startswith("one effect") else "no primary pooled result (k < 2); ")
        averaged = models[models["model"].str.startswith("averaged")].iloc[0]
        rhos = group[group["model"].str.contains("averaged")]
        che = models[models["model"].str.startswith("CHE")].iloc[0]
        trust = "" if che["df"] >= MIN_DF_ROBUST else ", too few to trust the test"
        text = (f"{label}: {primary}keeping all {models['k_effects'].iloc[0]} effects of "
                f"{models['k_studies'].iloc[0]} studies gives {metric} from {number_text(low)} to {number_text(high)} "
                f"across the three models; averaged within study, {interval(averaged)}")
        if len(rhos) > 1:
            text += (f", and ρ from {_rho(rhos['model']).min():g} to {_rho(rhos['model']).max():g} gives {metric} from "
                     f"{number_text(transform(rhos['estimate'].min()))} to {number_text(transform(rhos['estimate'].max()))}")
        three = models[models["model"].str.startswith("three-level")]
        if len(three):
            text += f"; the three-level model, {interval(three.iloc[0])}"
        text += (f"; the CHE model's robust interval runs from {number_text(transform(che['ci_low']))} to "
                 f"{number_text(transform(che['ci_high']))} (df = {che['df']:.1f}{trust})")
        k = int(models["k_studies"].iloc[0])
        text += _significance_split(group, k, alpha)
        if k <= FEW_CLUSTERS:
            text += f"; with {k} clusters the between-study variance is barely identified"
        if pd.notna(averaged["tau2"]) and averaged["tau2"] <= BOUNDARY:
            text += "; the averaged model puts τ² at its boundary (0)"
        for r in models.itertuples():
            for name in ("between", "within"):
                value = getattr(r, f"sigma2_{name}")
                if pd.notna(value) and value <= BOUNDARY:
                    text += f"; the {r.model.split(' with ')[0]} puts σ² {name} at its boundary (0)"
        out.append(text + ".")
    return out


def _rho(models: pd.Series) -> pd.Series:
    return models.str.extract(r"ρ = ([0-9.]+)")[0].astype(float)
