"""Cluster-robust (sandwich) tests of meta-analytic coefficients: CR0, CR1 and CR2 with Satterthwaite
degrees of freedom (clubSandwich ``coef_test(model, vcov = "CR2")``; metafor ``robust(model, cluster,
clubSandwich = TRUE)``).

The working model supplies the weights W_j = Φ_j⁻¹, where Φ_j is the model's marginal covariance
of cluster j (three-level/CHE model of ``fit_multilevel``, or v_i + τ² of ``fit_meta``). With
B = (Σ X_j'W_j X_j)⁻¹ and residuals e_j = y_j − X_j β̂,

    V_CR = B [Σ_j X_j'W_j A_j e_j e_j' A_j' W_j X_j] B,

A_j = I (CR0), sqrt(J/(J − 1)) I (CR1), or the bias-reduced linearisation of Bell & McCaffrey (2002)
in the form of Pustejovsky & Tipton (2018): A_j = R_j' G_j^(−1/2) R_j, G_j = R_j (Φ_j − X_j B X_j') R_j',
R_j the upper Cholesky factor of Φ_j (Φ_j = R_j'R_j). Each coefficient is tested with t(ν), ν the
Satterthwaite degrees of freedom ν = (Σ_j P_jj)² / Σ_i Σ_j P_ij² for the cluster-by-cluster matrix
P_ij = δ_ij g_j'g_j − h_i'h_j, g_j = (B E_j R_j')_m, h_j = (B E_j X_j L_B)_m, E_j = X_j'W_j A_j, B = L_B L_B'
(Pustejovsky & Tipton 2018, eq. 11, under the working model Φ as target). Only the clusters'
small blocks are formed, grouped by size and handled as stacked arrays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from ._lazy import stats

from .dependence import MultilevelResult, _codes
from .models import MetaResult

ADJUSTMENTS = ("CR0", "CR1", "CR2")


@dataclass(frozen=True)
class RobustResult:
    """Cluster-robust tests, one row per coefficient in ``coef`` (clubSandwich ``coef_test``).

    ``estimate`` … ``ci_high`` repeat the first coefficient's row (the intercept).
    """

    adjust: str
    n_clusters: int
    estimate: float
    se: float
    df: float
    stat: float
    pval: float
    ci_low: float
    ci_high: float
    level: float
    coef: pd.DataFrame = field(repr=False)
    vcov: np.ndarray = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        return self.coef


def _model_parts(result):
    """y, X, v, study codes, ρ, σ²_between, σ²_within (or τ²), β̂ and term names of a fitted model."""
    if isinstance(result, MultilevelResult):
        return (result.yi, result.X, result.vi, result.study, result.rho or 0.0, result.sigma2_between,
                result.sigma2_within, result.beta, list(result.coef["term"]))
    if isinstance(result, MetaResult):
        yi, vi = np.asarray(result.yi), np.asarray(result.vi)
        if len(yi) != result.k:
            raise ValueError("result: this MetaResult does not keep its yi and vi")
        return (yi, np.ones((len(yi), 1)), vi, np.arange(len(yi)), 0.0, 0.0, result.tau2,
                np.array([result.estimate]), ["intrcpt"])
    raise ValueError(f"result: a {type(result).__name__} is not supported; give a fit_multilevel or fit_meta result")


def _check_cluster(cluster, study: np.ndarray, multilevel: bool) -> np.ndarray:
    k = len(study)
    if cluster is None:
        if not multilevel:
            raise ValueError("cluster: a univariate model needs the cluster of each effect (cluster = None)")
        return study
    codes, labels = _codes("cluster", cluster, k)
    # the random effects must be nested in the clusters: one cluster per study
    first = np.full(study.max() + 1, -1)
    first[study[::-1]] = codes[::-1]
    bad = np.flatnonzero(first[study] != codes)
    if bad.size:
        i = int(bad[0])
        j = int(np.flatnonzero(study == study[i])[0])
        raise ValueError(f"cluster[{i}] = {labels[codes[i]]!r} but cluster[{j}] = {labels[codes[j]]!r} for the "
                         "same study: studies must be nested within clusters")
    return codes


def _blocks(cluster: np.ndarray):
    """Row indices of the clusters, as (n_g × size) arrays, one per distinct cluster size."""
    order = np.argsort(cluster, kind="stable")
    sizes = np.bincount(cluster)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    for n in np.unique(sizes):
        members = np.flatnonzero(sizes == n)
        yield order[starts[members][:, None] + np.arange(n)]


def robust_test(result, cluster=None, adjust: str = "CR2", level: float = 0.95) -> RobustResult:
    """Cluster-robust t tests of a fitted model's coefficients (clubSandwich ``coef_test``, Satterthwaite).

    ``result``: a ``fit_multilevel`` result (cluster defaults to its studies; a coarser ``cluster``
    must contain whole studies) or a ``fit_meta`` result with ``cluster`` given (one effect per
    cluster is allowed). ``adjust``: "CR2" (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018),
    "CR1" (V_CR0 · J/(J − 1)) or "CR0". Test t = β̂/SE_CR on ν Satterthwaite df; CI β̂ ± t_ν SE_CR.
    The working model Φ is the fitted model's marginal covariance and W = Φ⁻¹ (clubSandwich's
    ``inverse_var``); for a Hartung–Knapp ``fit_meta`` the model-based SE plays no part.
    """
    if adjust not in ADJUSTMENTS:
        raise ValueError(f"adjust = {adjust!r}: use one of {ADJUSTMENTS}")
    y, X, v, study, rho, sb, sw, beta, terms = _model_parts(result)
    cluster = _check_cluster(cluster, study, isinstance(result, MultilevelResult))
    J, p = int(cluster.max()) + 1, X.shape[1]
    if J <= p:
        raise ValueError(f"cluster: {J} clusters for {p} coefficients; {adjust} needs more clusters than coefficients")
    resid = y - X @ beta
    groups = []
    xwx = np.zeros((p, p))
    for rows in _blocks(cluster):
        s = np.sqrt(v[rows])
        same = study[rows][:, :, None] == study[rows][:, None, :]
        phi = same * (rho * s[:, :, None] * s[:, None, :] + sb)
        phi += np.einsum("gi,ij->gij", (1 - rho) * v[rows] + sw, np.eye(rows.shape[1]))
        L = np.linalg.cholesky(phi)                    # Φ = L L', R = L'
        Linv = np.linalg.inv(L)
        W = np.swapaxes(Linv, 1, 2) @ Linv
        Xj = X[rows]
        XW = np.swapaxes(Xj, 1, 2) @ W                 # X_j'W_j
        xwx += np.einsum("gpn,gnq->pq", XW, Xj)
        groups.append((phi, L, XW, Xj, resid[rows]))
    B = np.linalg.inv(xwx)
    meat = np.zeros((p, p))
    p_diag, hx = [], []
    for phi, L, XW, Xj, e in groups:
        if adjust == "CR2":
            G = np.swapaxes(L, 1, 2) @ (phi - Xj @ B @ np.swapaxes(Xj, 1, 2)) @ L
            vals, vecs = np.linalg.eigh(G)
            power = np.where(vals > 1e-12, np.abs(vals) ** -0.5, 0.0)   # clubSandwich's matrix_power
            A = L @ (vecs * power[:, None, :]) @ np.swapaxes(vecs, 1, 2) @ np.swapaxes(L, 1, 2)
            E = XW @ A
        else:
            E = XW * (math.sqrt(J / (J - 1)) if adjust == "CR1" else 1.0)
        u = np.einsum("gpn,gn->gp", E, e)
        meat += u.T @ u
        BE = B @ E
        p_diag.append(np.sum((BE @ L) ** 2, axis=2))   # g_j'g_j for every coefficient
        hx.append(BE @ Xj)
    vcov = B @ meat @ B
    p_diag, hx = np.concatenate(p_diag), np.concatenate(hx) @ np.linalg.cholesky(B)
    df = np.empty(p)
    for m in range(p):
        h = hx[:, m, :]
        hn = np.sum(h * h, axis=1)
        trace = np.sum(p_diag[:, m]) - np.sum(hn)
        hh = h.T @ h
        squares = np.sum(p_diag[:, m] ** 2) - 2 * np.sum(p_diag[:, m] * hn) + np.sum(hh * hh)
        df[m] = trace ** 2 / squares
    se = np.sqrt(np.diag(vcov))
    stat = beta / se
    crit = stats.t.isf((1 - level) / 2, df)
    coef = pd.DataFrame({"term": terms, "estimate": beta, "se": se, "df": df, "stat": stat,
                         "pval": 2 * stats.t.sf(np.abs(stat), df), "ci_low": beta - crit * se,
                         "ci_high": beta + crit * se})
    first = coef.iloc[0]
    return RobustResult(adjust=adjust, n_clusters=J, level=level, coef=coef, vcov=vcov,
                        **{f: float(first[f]) for f in ("estimate", "se", "df", "stat", "pval", "ci_low", "ci_high")})
