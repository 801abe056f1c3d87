"""Influence of single studies: leave-one-out refits (metafor ``leave1out()``), case-deletion
diagnostics (``influence()``) and the data of a Baujat plot (``baujat()``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .distributions import chi2_cdf, chi2_sf
from .models import TESTS, _check_meta_input, _check_method, _fit_batch


def leave_one_out(yi, vi, method: str = "REML", test: str = "z", level: float = 0.95,
                  labels: Sequence[str] | None = None, chunk: int = 2_000_000) -> pd.DataFrame:
    """Refit the model k times, each time without one study (metafor ``leave1out()``).

    All k fits run together on a (k × k) weight array processed in row blocks of at most
    ``chunk`` cells, so memory stays bounded and no per-fit k×k covariance matrix is built.
    Columns: estimate, se, stat, pval, ci_low, ci_high, q, q_p, tau2, i2, h2. ``test``: "z",
    "knha" or "adhoc" (Hartung–Knapp with s² truncated at 1), as :func:`fit_meta`.
    """
    _check_method(method, test, TESTS)
    yi, vi = _check_meta_input(yi, vi, min_k=3)
    k = len(yi)
    X = np.ones((k, 1))
    parts = []
    step = max(1, chunk // k)
    for start in range(0, k, step):
        rows = np.arange(start, min(k, start + step))
        mask = np.ones((len(rows), k), bool)
        mask[np.arange(len(rows)), rows] = False
        out = _fit_batch(yi, vi, X, mask, method, test, level)
        parts.append(pd.DataFrame({"estimate": out["beta"][:, 0], "se": out["se"][:, 0],
                                   "stat": out["stat"][:, 0], "pval": out["pval"][:, 0],
                                   "ci_low": out["ci_low"][:, 0], "ci_high": out["ci_high"][:, 0],
                                   "q": out["q"], "q_p": chi2_sf(out["q"], out["q_df"]), "tau2": out["tau2"],
                                   "i2": out["i2"], "h2": out["h2"]}))
    table = pd.concat(parts, ignore_index=True)
    table.insert(0, "left_out", list(labels) if labels is not None else [str(i + 1) for i in range(k)])
    return table


def _study_labels(labels, k: int) -> list[str]:
    """Labels as strings, "1" … "k" by default (metafor's ids); a wrong length is an error."""
    if labels is None:
        return [str(i + 1) for i in range(k)]
    labels = [str(label) for label in labels]
    if len(labels) != k:
        raise ValueError(f"labels has {len(labels)} entries, expected one per study (k = {k})")
    return labels


def _full_and_deleted(yi, vi, method: str, test: str, chunk: int) -> dict:
    """The full fit and all k leave-one-out fits (batched as in :func:`leave_one_out`).

    Returns the full estimate ``mu``, its variance ``vb`` and τ², and per study i the deleted
    estimate ``mu_del``, its variance ``vb_del`` (scaled by the Knapp–Hartung s² under knha), ``s2w_del``,
    ``tau2_del``, ``qe_del`` and ``sw_all_del`` = Σ_j 1/(v_j + τ²₍₋ᵢ₎) over all k studies.
    """
    k = len(yi)
    X = np.ones((k, 1))
    full = _fit_batch(yi, vi, X, np.ones((1, k), bool), method, test, 0.95)
    names = ("mu_del", "vb_del", "s2w_del", "tau2_del", "qe_del", "sw_all_del")
    parts: dict[str, list] = {name: [] for name in names}
    step = max(1, chunk // k)
    for start in range(0, k, step):
        rows = np.arange(start, min(k, start + step))
        mask = np.ones((len(rows), k), bool)
        mask[np.arange(len(rows)), rows] = False
        out = _fit_batch(yi, vi, X, mask, method, test, 0.95)
        w_all = 1 / (vi[None, :] + out["tau2"][:, None])
        vb_del = out["vb"][:, 0, 0]
        parts["mu_del"].append(out["beta"][:, 0])
        parts["vb_del"].append(vb_del)
        parts["s2w_del"].append(vb_del * (mask * w_all).sum(1))  # s² = Var(μ̂)·Σw: 1 under z
        parts["tau2_del"].append(out["tau2"])
        parts["qe_del"].append(out["q"])
        parts["sw_all_del"].append(w_all.sum(1))
    result = {name: np.concatenate(values) for name, values in parts.items()}
    result.update(mu=full["beta"][0, 0], vb=full["vb"][0, 0, 0], tau2=full["tau2"][0])
    return result


def influence_diagnostics(yi, vi, method: str = "REML", test: str = "z", labels: Sequence[str] | None = None,
                          chunk: int = 2_000_000) -> pd.DataFrame:
    """Case-deletion diagnostics of a random-effects model, as metafor ``influence.rma.uni()``.

    One row per study i, from the full fit (μ̂, Var μ̂, τ̂², weights w_j = 1/(v_j + τ̂²)) and the fit
    without study i (μ̂₍₋ᵢ₎, Var μ̂₍₋ᵢ₎, τ̂²₍₋ᵢ₎, s²₍₋ᵢ₎ = 1 under z, the Knapp–Hartung factor under knha):

    - ``rstudent`` = (y_i − μ̂₍₋ᵢ₎) / sqrt(s²₍₋ᵢ₎ (v_i + τ̂²₍₋ᵢ₎) + Var μ̂₍₋ᵢ₎), externally studentised residual;
    - ``dffits`` = (μ̂ − μ̂₍₋ᵢ₎) / sqrt(s²₍₋ᵢ₎ h_i (v_i + τ̂²₍₋ᵢ₎));
    - ``dfbetas`` = (μ̂ − μ̂₍₋ᵢ₎) / sqrt(s²₍₋ᵢ₎ / Σ_j 1/(v_j + τ̂²₍₋ᵢ₎)), the sum over all k studies;
    - ``cook_d`` = (μ̂ − μ̂₍₋ᵢ₎)² / Var μ̂ and ``cov_r`` = Var μ̂₍₋ᵢ₎ / Var μ̂;
    - ``tau2_del`` = τ̂²₍₋ᵢ₎, ``qe_del`` = Q₍₋ᵢ₎, ``hat`` h_i = w_i/Σw and ``weight`` = 100 h_i (percent);
    - ``influential``: metafor's mark (``inf`` column, ``is.infl``), true when |dffits| > 3 sqrt(1/(k − 1)),
      or P(χ²₁ ≤ cook_d) > .5, or hat > 3/k, or |dfbetas| > 1.

    Residuals below 100 machine epsilons are set to 0, as metafor does. All k deleted fits are
    computed together (the batched refits of :func:`leave_one_out`), in blocks of ``chunk`` cells.

    References
    ----------
    Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for meta-analysis.
    Research Synthesis Methods, 1(2), 112–125. Belsley, Kuh & Welsch (1980); Cook (1977).
    """
    _check_method(method, test)
    yi, vi = _check_meta_input(yi, vi, min_k=3)
    k = len(yi)
    names = _study_labels(labels, k)
    f = _full_and_deleted(yi, vi, method, test, chunk)
    w = 1 / (vi + f["tau2"])
    hat = w / w.sum()
    resid = yi - f["mu_del"]
    resid = np.where(np.abs(resid) < 100 * np.finfo(float).eps, 0.0, resid)
    change = f["mu"] - f["mu_del"]
    s2w = f["s2w_del"]
    with np.errstate(divide="ignore", invalid="ignore"):
        rstudent = resid / np.sqrt(s2w * (vi + f["tau2_del"]) + f["vb_del"])
        dffits = change / np.sqrt(s2w * hat * (vi + f["tau2_del"]))
        dfbetas = change / np.sqrt(s2w / f["sw_all_del"])
        cook_d = change ** 2 / f["vb"]
        cov_r = f["vb_del"] / f["vb"]
    influential = ((np.abs(dffits) > 3 * np.sqrt(1 / (k - 1))) | (chi2_cdf(cook_d, 1) > 0.5)
                   | (hat > 3 / k) | (np.abs(dfbetas) > 1))
    return pd.DataFrame({"study": names, "rstudent": rstudent, "dffits": dffits, "cook_d": cook_d,
                         "cov_r": cov_r, "tau2_del": f["tau2_del"], "qe_del": f["qe_del"], "hat": hat,
                         "weight": 100 * hat, "dfbetas": dfbetas, "influential": influential})


def baujat(yi, vi, method: str = "FE", labels: Sequence[str] | None = None, test: str = "z",
           chunk: int = 2_000_000) -> pd.DataFrame:
    """The data of a Baujat plot, as metafor ``baujat()``: one row per study with ``x`` and ``y``.

    x_i = (y_i − μ̂)² / (v_i + τ̂²) is study i's contribution to the heterogeneity statistic (under FE
    its term of Cochran's Q = Σ x_i; otherwise its squared Pearson residual), and
    y_i = (μ̂₍₋ᵢ₎ − μ̂)² / Var μ̂₍₋ᵢ₎ is its influence on the pooled estimate, measured by the fit
    without it. Studies at the top right both add heterogeneity and move the result.

    References
    ----------
    Baujat, B., Mahé, C., Pignon, J.-P., & Hill, C. (2002). A graphical method for exploring
    heterogeneity in meta-analyses: application to a meta-analysis of 65 trials.
    Statistics in Medicine, 21(18), 2641–2652.
    """
    _check_method(method, test)
    yi, vi = _check_meta_input(yi, vi, min_k=3)
    names = _study_labels(labels, len(yi))
    f = _full_and_deleted(yi, vi, method, test, chunk)
    x = (yi - f["mu"]) ** 2 / (vi + f["tau2"])
    y = (f["mu_del"] - f["mu"]) ** 2 / f["vb_del"]
    return pd.DataFrame({"study": names, "x": x, "y": y})
