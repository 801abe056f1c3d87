"""The worked example's classic data sets (``data/classic/``): effect sizes from what the studies
print, a DerSimonian–Laird fit by hand, and our results beside R metafor's values for the same data
(notebook 00, ``tests/test_worked_example.py``).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from meta_analysis._checks import _as_array, _check_min, _same_length
from meta_analysis.effect_sizes import hedges_g, r_to_z
from meta_analysis.influence import leave_one_out
from meta_analysis.models import MetaResult, fit_meta
from meta_analysis.regression import MetaRegResult, meta_regression
from meta_analysis.small_study import egger_test, trim_and_fill

from .display import p_text
from .files import project_root
from .display import Table, quantity_text, sentence_number as _fmt  # the one place that rounds

__all__ = ["CLASSIC", "DLByHand", "agreement_sentence", "beside_metafor", "beside_view", "by_hand_check",
           "classic_effects", "dl_by_hand", "fit_row", "fit_values", "leave_one_out_beside", "log_risk_ratio",
           "metafor_fit", "metafor_values", "metareg_beside", "metareg_sentence", "read_classic",
           "small_study_beside"]


CLASSIC = {"molloy2014": "Molloy et al. (2014): conscientiousness and medication adherence, correlations",
           "normand1999": "Normand (1999): length of hospital stay, specialist vs routine stroke care, means",
           "bcg": "Colditz et al. (1994): BCG vaccine trials, tuberculosis cases in 2 × 2 tables",
           "konstantopoulos2011": "Konstantopoulos (2011): modified school calendars and achievement, "
                                  "standardised mean differences of schools within districts"}
FIT_FIELDS = ("k", "estimate", "se", "ci_low", "ci_high", "pval", "tau2", "i2", "h2", "q", "q_df", "q_p",
              "pi_low", "pi_high")
RTOL, ATOL = 1e-6, 1e-10  # as tests/meta_analysis/metafor_reference.py


def classic_dir(root: Path | str | None = None) -> Path:
    """``data/classic/`` of the repository at or above ``root`` (default: the working directory)."""
    return Path(root or project_root()) / "data" / "classic"


def read_classic(name: str, root: Path | str | None = None) -> pd.DataFrame:
    """One classic data set as exported from R metadat (``data/classic/<name>.csv``)."""
    if name not in CLASSIC:
        raise ValueError(f"name = {name!r}: use one of {sorted(CLASSIC)}")
    return pd.read_csv(classic_dir(root) / f"{name}.csv")


def metafor_values(root: Path | str | None = None) -> dict:
    """metafor's results on the classic data (``data/classic/metafor_values.json``, written by
    ``tests/reference/make_reference_classic.R``), read at run time."""
    return json.loads((classic_dir(root) / "metafor_values.json").read_text(encoding="utf-8"))


def log_risk_ratio(ai, bi, ci, di) -> tuple[np.ndarray, np.ndarray]:
    """Log risk ratio of two 2 × 2 rows and its large-sample variance, as metafor ``escalc("RR")``.

    yi = ln[(a/(a + b)) / (c/(c + d))],  vi = 1/a − 1/(a + b) + 1/c − 1/(c + d)
    (a, b: events and non-events in the treated group; c, d in the control group; no zero cells).
    Borenstein et al. (2009), ch. 5.
    """
    a, b, c, d = (_as_array(n, v) for n, v in (("ai", ai), ("bi", bi), ("ci", ci), ("di", di)))
    _same_length(ai=a, bi=b, ci=c, di=d)
    for name, arr in (("ai", a), ("bi", b), ("ci", c), ("di", d)):
        _check_min(name, arr, 0, strict=True)
    return np.log(a / (a + b)) - np.log(c / (c + d)), 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)


def classic_effects(name: str, data: pd.DataFrame) -> pd.DataFrame:
    """Effect sizes of a classic data set: ``label``, ``yi``, ``vi`` (and ``ablat`` for BCG).

    Molloy 2014: Fisher's z of r (vi = 1/(n − 3)); Normand 1999: Hedges' g of specialist minus
    routine care; BCG: log risk ratio of vaccinated vs control. As metafor ``escalc`` with
    "ZCOR", "SMD" and "RR". Konstantopoulos 2011 prints its standardised mean differences and their
    variances; they are taken as they are, with ``study`` (the district) and ``es_id`` (the school).
    """
    if name == "molloy2014":
        yi, vi = r_to_z(data["ri"], data["ni"])
        return pd.DataFrame({"label": data["study"], "n": data["ni"], "yi": yi, "vi": vi})
    if name == "normand1999":
        yi, vi = hedges_g(data["m1i"], data["sd1i"], data["n1i"], data["m2i"], data["sd2i"], data["n2i"])
        return pd.DataFrame({"label": data["source"], "n": data["n1i"] + data["n2i"], "yi": yi, "vi": vi})
    if name == "bcg":
        yi, vi = log_risk_ratio(data["tpos"], data["tneg"], data["cpos"], data["cneg"])
        n = data[["tpos", "tneg", "cpos", "cneg"]].sum(axis=1)
        return pd.DataFrame({"label": data["study"], "n": n, "yi": yi, "vi": vi, "ablat": data["ablat"]})
    if name == "konstantopoulos2011":
        label = "district " + data["district"].astype(str) + ", school " + data["school"].astype(str)
        return pd.DataFrame({"label": label, "study": "district " + data["district"].astype(str),
                             "es_id": data["school"], "yi": data["yi"], "vi": data["vi"]})
    raise ValueError(f"name = {name!r}: use one of {sorted(CLASSIC)}")


@dataclass(frozen=True)
class DLByHand:
    """The steps of a DerSimonian–Laird random-effects fit, each as a number a student can check."""

    k: int
    w: tuple
    sum_w: float
    mu_fe: float
    q: float
    q_df: int
    c: float
    tau2: float
    i2: float
    w_re: tuple
    estimate: float
    se: float

    def to_frame(self) -> pd.DataFrame:
        """One row per step: what, formula, value."""
        rows = [("weight of study 1 (fixed effect)", "w₁ = 1/v₁", self.w[0]),
                ("sum of the weights", "Σwᵢ", self.sum_w),
                ("fixed-effect estimate", "μ̂_FE = Σwᵢyᵢ/Σwᵢ", self.mu_fe),
                ("Q", "Σwᵢ(yᵢ − μ̂_FE)²", self.q),
                ("degrees of freedom", "k − 1", self.q_df),
                ("C", "Σwᵢ − Σwᵢ²/Σwᵢ", self.c),
                ("τ² (DL)", "max(0, (Q − df)/C)", self.tau2),
                ("I² (%)", "100·max(0, (Q − df)/Q)", self.i2),
                ("weight of study 1 (random effects, %)", "100·w₁*/Σwᵢ*, wᵢ* = 1/(vᵢ + τ²)", self.w_re[0]),
                ("random-effects estimate", "μ̂ = Σwᵢ*yᵢ/Σwᵢ*", self.estimate),
                ("its standard error", "√(1/Σwᵢ*)", self.se)]
        return pd.DataFrame(rows, columns=["step", "formula", "value"])


def dl_by_hand(yi, vi) -> DLByHand:
    """A DerSimonian–Laird fit written out step by step, with nothing but sums.

    wᵢ = 1/vᵢ; μ̂_FE = Σwᵢyᵢ/Σwᵢ; Q = Σwᵢ(yᵢ − μ̂_FE)²; C = Σwᵢ − Σwᵢ²/Σwᵢ;
    τ² = max(0, (Q − (k − 1))/C); I² = 100·max(0, (Q − (k − 1))/Q), which for DL equals metafor's
    100·τ²/(τ² + ṽ) with ṽ = (k − 1)/C; wᵢ* = 1/(vᵢ + τ²). DerSimonian & Laird (1986);
    Higgins & Thompson (2002); Borenstein et al. (2009), ch. 12 and 16.
    """
    yi, vi = _as_array("yi", yi), _as_array("vi", vi)
    _same_length(yi=yi, vi=vi)
    _check_min("vi", vi, 0, strict=True)
    if len(yi) < 2:
        raise ValueError(f"k = {len(yi)} studies: Q and τ² need at least 2")
    w = [1 / v for v in vi]
    sum_w = sum(w)
    mu_fe = sum(wi * y for wi, y in zip(w, yi)) / sum_w
    q = sum(wi * (y - mu_fe) ** 2 for wi, y in zip(w, yi))
    df = len(yi) - 1
    c = sum_w - sum(wi ** 2 for wi in w) / sum_w
    tau2 = max(0.0, (q - df) / c)
    i2 = 100 * max(0.0, (q - df) / q) if q > 0 else 0.0
    w_star = [1 / (v + tau2) for v in vi]
    estimate = sum(wi * y for wi, y in zip(w_star, yi)) / sum(w_star)
    return DLByHand(k=len(yi), w=tuple(w), sum_w=sum_w, mu_fe=mu_fe, q=q, q_df=df, c=c, tau2=tau2, i2=i2,
                    w_re=tuple(100 * x / sum(w_star) for x in w_star), estimate=estimate,
                    se=math.sqrt(1 / sum(w_star)))


def agrees(ours: float, theirs: float) -> bool:
    """True when two numbers agree at the compendium's tolerance (relative 1e-6, absolute 1e-10)."""
    return bool(np.isclose(ours, theirs, rtol=RTOL, atol=ATOL))


def beside_metafor(ours: dict, theirs: dict) -> pd.DataFrame:
    """Our values and metafor's, key by key, with their relative difference and whether they agree.

    Keys missing from ``theirs`` are left out; the ``agree`` test is :func:`agrees`.
    """
    rows = []
    for key, value in ours.items():
        if key not in theirs:
            continue
        ref = float(theirs[key])
        rel = abs(float(value) - ref) / abs(ref) if ref else abs(float(value))
        rows.append({"quantity": key, "ours": float(value), "metafor": ref, "rel_diff": rel,
                     "agree": agrees(float(value), ref)})
    return pd.DataFrame(rows, columns=["quantity", "ours", "metafor", "rel_diff", "agree"])


def fit_values(fit: MetaResult, fields=FIT_FIELDS) -> dict:
    """The fields of a fit that metafor also reports, plus the weight of study 1 (%)."""
    return {**{f: getattr(fit, f) for f in fields}, "weight_1": float(fit.weights[0])}


def metafor_fit(ref: dict, key: str = "REML_z") -> dict:
    """metafor's fit ``key`` (e.g. ``"DL_z"``) of one classic data set, with the weight of study 1."""
    fit = ref["fits"][key]
    return {**{f: fit[f] for f in FIT_FIELDS}, "weight_1": fit["weights"][0]}


def agreement_sentence(table: pd.DataFrame, what: str, floor: float = 1e-12) -> str:
    """"All 15 values of <what> agree with metafor (largest relative difference 3e-12)."

    Differences below ``floor`` are shown as "< floor" (see :func:`beside_view`)."""
    n, ok = len(table), int(table["agree"].sum())
    worst = float(table["rel_diff"].max()) if n else 0.0
    head = f"All {n} values" if ok == n else f"{ok} of {n} values"
    return (f"{what}: {head} agree with metafor to a relative 1e-6 (largest relative difference "
            f"{_rel_text(worst, floor)}).")


def _rel_text(x: float, floor: float = 1e-12) -> str:
    """A relative difference for display; below ``floor`` it is noise that differs between machines
    (1e-12 for closed forms; an optimum or a difference of two close numbers needs a higher floor)."""
    text = f"< {floor:.0e}" if x < floor else f"{x:.0e}"
    return text.replace("e-0", "e-")


def beside_view(table: pd.DataFrame, digits: int = 6, floor: float = 1e-12) -> Table:
    """:func:`beside_metafor` for display: numbers to ``digits`` decimals (a value below 10^-(digits-2) in
    scientific form, so a tiny p keeps its digits; a row of whole numbers, a count, as integers), quantity
    names in words (:func:`~compendium.display.quantity_text`), the relative difference as "3e-09" (or
    "< 1e-12" below ``floor``), agreement as yes/NO."""
    shown = table.copy()
    values = [c for c in shown.columns if c not in ("quantity", "rel_diff", "agree")]
    whole = shown[values].apply(lambda row: all(isinstance(x, float) and float(x).is_integer() for x in row), axis=1)

    def text(x, count: bool):
        if not isinstance(x, float):
            return x
        if count:
            return f"{int(x):,}"  # a count: "16", "65,535", never "16.000000"
        return f"{x:.{digits - 2}e}" if 0 < abs(x) < 10 ** -(digits - 2) else f"{x:.{digits}f}"

    for col in values:
        shown[col] = [text(x, c) for x, c in zip(shown[col], whole)]
    shown["quantity"] = shown["quantity"].map(quantity_text)
    if "rel_diff" in shown:
        shown["rel_diff"] = shown["rel_diff"].map(lambda x: _rel_text(x, floor))
    shown["agree"] = shown["agree"].map(lambda x: "yes" if x else "NO")
    return Table(shown.rename(columns={"rel_diff": "relative difference"}).reset_index(drop=True))  # the house table style


def by_hand_check(by_hand: dict, yi, vi, ref: dict) -> pd.DataFrame:
    """Values computed by hand beside the engine's and metafor's (``ref``: one set of
    :func:`metafor_values`): ``weight_1_fe`` and ``weight_1_dl`` (study 1's weight, %), ``q``, ``i2``
    and ``tau2`` (DerSimonian–Laird). Column ``agree``: all three agree (:func:`agrees`)."""
    fe, dl = fit_meta(yi, vi, method="FE"), fit_meta(yi, vi, method="DL")
    engine = {"weight_1_fe": fe.weights[0], "q": dl.q, "i2": dl.i2, "tau2": dl.tau2, "weight_1_dl": dl.weights[0]}
    r_fe, r_dl = ref["fits"]["FE_z"], ref["fits"]["DL_z"]
    metafor = {"weight_1_fe": r_fe["weights"][0], "q": r_dl["q"], "i2": r_dl["i2"], "tau2": r_dl["tau2"],
               "weight_1_dl": r_dl["weights"][0]}
    rows = [{"quantity": key, "by hand": float(value), "engine": float(engine[key]), "metafor": float(metafor[key]),
             "agree": agrees(value, metafor[key]) and agrees(engine[key], metafor[key])}
            for key, value in by_hand.items() if key in engine]
    return pd.DataFrame(rows, columns=["quantity", "by hand", "engine", "metafor", "agree"])


def leave_one_out_beside(yi, vi, labels, ref: dict) -> pd.DataFrame:
    """The REML leave-one-out estimates and τ² beside metafor ``leave1out()``, one row per value."""
    ours = leave_one_out(yi, vi, labels=labels)
    values = {f"{col} without {name}": ours[col].iloc[i] for i, name in enumerate(ours["left_out"])
              for col in ("estimate", "tau2")}
    theirs = {f"{col} without {name}": ref["leave1out"][col][i] for i, name in enumerate(ref["leave1out"]["left_out"])
              for col in ("estimate", "tau2")}
    return beside_metafor(values, theirs)


def small_study_beside(yi, vi, ref: dict) -> pd.DataFrame:
    """Egger's test (rma form, REML) and trim-and-fill beside metafor ``regtest()`` and ``trimfill()``."""
    eg, tf = egger_test(yi, vi, model="rma"), trim_and_fill(yi, vi)
    ours = {"egger_z": eg.stat, "egger_p": eg.pval, "limit_estimate": eg.limit_estimate, "k0": tf.k0,
            "filled_estimate": tf.fit.estimate, "filled_ci_low": tf.fit.ci_low, "filled_ci_high": tf.fit.ci_high}
    theirs = {"egger_z": ref["egger"]["stat"], "egger_p": ref["egger"]["pval"],
              "limit_estimate": ref["egger"]["limit_estimate"], "k0": ref["trimfill"]["k0"],
              "filled_estimate": ref["trimfill"]["estimate"], "filled_ci_low": ref["trimfill"]["ci_low"],
              "filled_ci_high": ref["trimfill"]["ci_high"]}
    return beside_metafor(ours, theirs)


def metareg_beside(yi, vi, ablat, ref: dict) -> tuple[pd.DataFrame, MetaRegResult]:
    """The meta-regression on absolute latitude (REML, z) beside metafor ``rma(mods = ~ ablat)``;
    returns the table and our :class:`~meta_analysis.regression.MetaRegResult`."""
    res, m = meta_regression(yi, vi, pd.DataFrame({"ablat": ablat})), ref["metareg"]
    ours = {"intercept": res.coef["estimate"].iloc[0], "slope (ablat)": res.coef["estimate"].iloc[1],
            "se of slope": res.coef["se"].iloc[1], "tau2": res.tau2, "r2": res.r2, "qm": res.qm, "qe": res.qe}
    theirs = {"intercept": m["estimate"][0], "slope (ablat)": m["estimate"][1], "se of slope": m["se"][1],
              "tau2": m["tau2"], "r2": m["r2"], "qm": m["qm"], "qe": m["qe"]}
    return beside_metafor(ours, theirs), res


def metareg_sentence(res: MetaRegResult, tau2_without: float, step: float = 10) -> str:
    """A log risk ratio regression on latitude, read aloud: the risk ratio per ``step`` degrees and the
    share of τ² the moderator explains (pseudo-R², Raudenbush 2009)."""
    slope, p = res.coef["estimate"].iloc[1], res.coef["pval"].iloc[1]
    return (f"Each {step:g} degrees further from the equator multiply the risk ratio by "
            f"{math.exp(step * slope):.2f} (slope {_fmt(slope, 4)} on the log scale, p {p_text(p)}); latitude "
            f"explains {res.r2:.0f}% of τ² (from {tau2_without:.3f} to {res.tau2:.3f}), and the residual "
            f"τ² is still above 0 (QE = {res.qe:.1f} on {res.qe_df} df).")


def fit_row(label: str, fit_z: MetaResult, fit_lead: MetaResult) -> pd.DataFrame:
    """One row in the columns of ``fits.csv`` from a z fit and the fit of the leading test (e.g.
    Hartung–Knapp), for the sentences below: the leading test's interval and p, z beside them, the
    prediction interval on t(k − 2) (:func:`compendium.analyses.prediction_interval`)."""
    from .analyses import prediction_interval

    row = {f: getattr(fit_lead, f) for f in FIT_FIELDS}
    pi_low, pi_high, pi_dist = prediction_interval(fit_lead.estimate, fit_lead.se, fit_lead.tau2, fit_lead.k,
                                                   fit_lead.level)
    row.update(label=label, test=fit_lead.test, level=fit_lead.level, ci_low_z=fit_z.ci_low, ci_high_z=fit_z.ci_high,
               pval_z=fit_z.pval, pi_low=pi_low, pi_high=pi_high, pi_dist=pi_dist)
    return pd.DataFrame([row])
