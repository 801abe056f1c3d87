"""Meta-regression with moderators and subgroup analysis (metafor ``rma(mods = )``; R meta's ``subgroup``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from ._lazy import stats

from .models import _check_meta_input, _check_method, _fit_batch, fit_meta


def _lm_fit(yi, x, vi):
    """Weighted least squares of ``yi`` on an intercept and ``x`` with weights 1/v_i and the scale
    estimated from the residuals: R's ``lm(yi ~ x, weights = 1/vi)`` (statsmodels WLS, whose results
    give params, bse, tvalues, pvalues, df_resid and conf_int). The classic forms of Egger's test and
    of PET-PEESE; statsmodels.regression, not statsmodels.api, is imported (0.5 s less).
    """
    from statsmodels.regression.linear_model import WLS
    from statsmodels.tools.tools import add_constant

    return WLS(yi, add_constant(x), weights=1 / np.asarray(vi, float)).fit()


@dataclass(frozen=True)
class MetaRegResult:
    """A mixed-effects meta-regression (metafor ``rma(yi, vi, mods = ...)``)."""

    k: int
    coef: pd.DataFrame
    tau2: float
    i2: float
    h2: float
    r2: float
    qm: float
    qm_df: tuple
    qm_p: float
    qe: float
    qe_df: int
    qe_p: float
    method: str
    test: str

    def to_frame(self) -> pd.DataFrame:
        return self.coef


def _design(mods, k: int, names: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    if isinstance(mods, pd.DataFrame):
        names = list(mods.columns)
        mods = mods.to_numpy(dtype=float)
    mods = np.asarray(mods, dtype=float)
    if mods.ndim == 1:
        mods = mods[:, None]
    if mods.shape[0] != k:
        raise ValueError(f"mods has {mods.shape[0]} rows but there are {k} studies")
    bad = np.argwhere(~np.isfinite(mods))
    if bad.size:
        i, j = bad[0]
        raise ValueError(f"mods[{i}, {j}] = {mods[i, j]!r} is not a finite number")
    names = list(names) if names is not None else [f"mod{j + 1}" for j in range(mods.shape[1])]
    return np.column_stack([np.ones(k), mods]), ["intrcpt", *names]


def meta_regression(yi, vi, mods, method: str = "REML", test: str = "z", level: float = 0.95,
                    names: Sequence[str] | None = None) -> MetaRegResult:
    """Meta-regression y_i = x_i'β + u_i + e_i with u_i ~ N(0, τ²), as metafor ``rma(yi, vi, mods)``.

    β̂ = (X'WX)⁻¹X'Wy, Var(β̂) = (X'WX)⁻¹ (times s² = Σw e²/(k − p) under knha). The omnibus test
    QM = β̂₁'V₁⁻¹β̂₁ of all slopes is χ²(p − 1), or F(p − 1, k − p) = QM/(p − 1) under knha.
    QE = Σ e_FE²/v_i on k − p df tests residual heterogeneity. Pseudo-R² = max(0, 100 (τ²₀ − τ²)/τ²₀)
    with τ²₀ from the intercept-only model (Raudenbush 2009), 0 when τ²₀ = 0.
    """
    _check_method(method, test)
    yi, vi = _check_meta_input(yi, vi)
    X, labels = _design(mods, len(yi), names)
    k, p = X.shape
    if k <= p:
        raise ValueError(f"k = {k} studies for {p} coefficients: a meta-regression needs k > p")
    if np.linalg.matrix_rank(X) < p:
        raise ValueError("the moderators are collinear (design matrix not of full rank)")
    out = _fit_batch(yi, vi, X, np.ones((1, k), bool), method, test, level)
    beta, vb = out["beta"][0], out["vb"][0]
    slopes = slice(1, p)
    qm = float(beta[slopes] @ np.linalg.solve(vb[slopes, slopes], beta[slopes]))
    if test == "knha":
        qm, qm_df = qm / (p - 1), (p - 1, k - p)
        qm_p = float(stats.f.sf(qm, *qm_df))
    else:
        qm_df = (p - 1,)
        qm_p = float(stats.chi2.sf(qm, p - 1))
    tau2 = float(out["tau2"][0])
    if method == "FE":
        r2 = np.nan
    else:
        tau2_0 = fit_meta(yi, vi, method=method).tau2
        r2 = 0.0 if tau2_0 == 0 else max(0.0, 100 * (tau2_0 - tau2) / tau2_0)
    coef = pd.DataFrame({"term": labels, "estimate": beta, "se": out["se"][0], "stat": out["stat"][0],
                         "pval": out["pval"][0], "ci_low": out["ci_low"][0], "ci_high": out["ci_high"][0]})
    return MetaRegResult(k=k, coef=coef, tau2=tau2, i2=float(out["i2"][0]), h2=float(out["h2"][0]), r2=float(r2),
                         qm=qm, qm_df=qm_df, qm_p=qm_p, qe=float(out["q"][0]), qe_df=int(out["q_df"][0]),
                         qe_p=float(stats.chi2.sf(out["q"], out["q_df"])[0]), method=method, test=test)


@dataclass(frozen=True)
class SubgroupResult:
    """Per-group fits and the test of subgroup differences, both ways."""

    groups: pd.DataFrame
    common: pd.DataFrame
    q_between_common: float
    q_between_common_p: float
    q_between_separate: float
    q_between_separate_p: float
    df: int
    tau2_common: float

    def to_frame(self) -> pd.DataFrame:
        return self.groups


def subgroup_analysis(yi, vi, groups, method: str = "REML", test: str = "z", level: float = 0.95) -> SubgroupResult:
    """Subgroup analysis with a test of differences between groups.

    Separate τ² (R meta's default, Borenstein et al. 2009 ch. 19): each group fitted on its own;
    Q_between = Σ_g (μ̂_g − μ̄)²/SE_g² with μ̄ the inverse-SE²-weighted mean, χ²(G − 1).
    Common τ² (metafor's mixed-effects model ``rma(yi, vi, mods = ~ factor(group))``): QM for the
    G − 1 group contrasts (F under knha), and the group means from ``mods = ~ factor(group) − 1``.
    """
    yi, vi = _check_meta_input(yi, vi)
    groups = np.asarray(groups, dtype=object)
    if len(groups) != len(yi):
        raise ValueError(f"groups has {len(groups)} entries but there are {len(yi)} studies")
    levels = sorted(pd.unique(groups))
    if len(levels) < 2:
        raise ValueError(f"only one group ({levels}): nothing to compare")
    rows = []
    for level_name in levels:
        sel = groups == level_name
        res = fit_meta(yi[sel], vi[sel], method=method if sel.sum() > 1 else "FE",
                       test=test if sel.sum() > 1 else "z", level=level)
        rows.append({"group": level_name, "k": res.k, "estimate": res.estimate, "se": res.se,
                     "ci_low": res.ci_low, "ci_high": res.ci_high, "pval": res.pval,
                     "tau2": res.tau2, "i2": res.i2, "q": res.q})
    table = pd.DataFrame(rows)
    w = 1 / table["se"].to_numpy() ** 2
    mean = np.sum(w * table["estimate"]) / w.sum()
    q_sep = float(np.sum(w * (table["estimate"] - mean) ** 2))
    dummies = pd.get_dummies(pd.Categorical(groups, categories=levels)).astype(float)
    contrasts = meta_regression(yi, vi, dummies.iloc[:, 1:], method=method, test=test, level=level,
                                names=[str(c) for c in levels[1:]])
    cell = _fit_batch(yi, vi, dummies.to_numpy(), np.ones((1, len(yi)), bool), method, test, level)
    common = pd.DataFrame({"group": levels, "estimate": cell["beta"][0], "se": cell["se"][0],
                           "ci_low": cell["ci_low"][0], "ci_high": cell["ci_high"][0], "pval": cell["pval"][0]})
    return SubgroupResult(groups=table, common=common, q_between_common=contrasts.qm,
                          q_between_common_p=contrasts.qm_p, q_between_separate=q_sep,
                          q_between_separate_p=float(stats.chi2.sf(q_sep, len(levels) - 1)),
                          df=len(levels) - 1, tau2_common=contrasts.tau2)
