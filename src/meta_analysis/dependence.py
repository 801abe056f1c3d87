"""Dependent effect sizes: several effects per study (metafor ``aggregate()`` and ``rma.mv()``).

Two ways to handle effects nested in studies:

* ``aggregate_within`` averages them to one effect per study under an assumed within-study
  correlation ρ of the sampling errors (Borenstein et al. 2009, ch. 24).
* ``fit_multilevel`` keeps them all: the three-level model (Konstantopoulos 2011; Cheung 2014)

      y_ij = x_ij'β + u_j + w_ij + e_ij,   u_j ~ N(0, σ²_between), w_ij ~ N(0, σ²_within),
      Var(e_j) = V_j (diagonal, or with ``rho`` the correlated-and-hierarchical-effects (CHE)
      working model of Pustejovsky & Tipton 2022: Cov(e_ij, e_il) = ρ sqrt(v_ij v_il)).

The marginal covariance of study j is M_j = V_j + σ²_within I + σ²_between J: a diagonal matrix D_j
plus a rank-two term U_j U_j' with U_j = [sqrt(ρ) s_j, sqrt(σ²_between) 1] (s = sqrt(v), D = (1 − ρ) v
+ σ²_within). Woodbury's identity M_j⁻¹ = D⁻¹ − D⁻¹U_j C_j⁻¹U_j'D⁻¹, C_j = I₂ + U_j'D⁻¹U_j, and
log|M_j| = Σ log d + log|C_j| make every quantity a sum over studies: no k × k matrix is built.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from ._lazy import stats

from ._checks import _as_array, _check_min, _frozen_frame
from .regression import _design

LOG_2PI = math.log(2 * math.pi)


def _codes(name: str, labels, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes 0..J-1 in order of first appearance, and the labels; checks length and gaps."""
    labels = np.asarray(labels, dtype=object)
    if labels.ndim != 1 or len(labels) != k:
        raise ValueError(f"{name} has {labels.size} entries but yi has {k}")
    missing = pd.isna(labels)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise ValueError(f"{name}[{i}] = {labels[i]!r} is missing")
    codes, uniques = pd.factorize(labels, sort=False)
    return codes.astype(np.intp), np.asarray(uniques, dtype=object)


def _check_rho(rho) -> float:
    if rho is None or not np.isfinite(rho) or not 0 <= rho < 1:
        raise ValueError(f"rho = {rho!r}: the within-study correlation must lie in [0, 1)")
    return float(rho)


def _check_inputs(yi, vi, study, rho, min_studies=2):
    yi, vi = _as_array("yi", yi), _as_array("vi", vi)
    if len(vi) != len(yi):
        raise ValueError(f"vi has {len(vi)} entries but yi has {len(yi)}")
    _check_min("vi", vi, 0, strict=True)
    codes, labels = _codes("study", study, len(yi))
    if len(labels) < min_studies:
        raise ValueError(f"study: {len(labels)} distinct value(s) ({list(labels)}); "
                         f"this needs at least {min_studies} studies")
    return yi, vi, codes, labels, (0.0 if rho is None else _check_rho(rho))


def aggregate_within(yi, vi, study, rho: float = 0.0) -> pd.DataFrame:
    """One effect per study: the GLS mean of its effects under compound symmetry (metafor ``aggregate()``).

    With V_j = S_j R_j S_j, S = diag(sqrt(v)), R = (1 − ρ)I + ρJ, the study's effect is
    ȳ_j = (1'V_j⁻¹1)⁻¹ 1'V_j⁻¹y_j with variance (1'V_j⁻¹1)⁻¹ (Borenstein et al. 2009, ch. 24;
    metafor ``aggregate(escalc, cluster = study, rho = rho)``). Closed form by Sherman–Morrison.
    Returns columns ``study``, ``yi``, ``vi``, ``k_effects`` with studies in order of first appearance.
    """
    yi, vi, g, labels, rho = _check_inputs(yi, vi, study, rho, min_studies=1)
    J = len(labels)
    d, s = (1 - rho) * vi, np.sqrt(vi)

    def seg(a):
        return np.bincount(g, a, minlength=J)

    # 1'V⁻¹a = Σ a/d − ρ (Σ s/d)(Σ s a/d) / (1 + ρ Σ s²/d)
    c = 1 + rho * seg(s * s / d)
    ss = seg(s / d)
    one_w_one = seg(1 / d) - rho * ss * ss / c
    one_w_y = seg(yi / d) - rho * ss * seg(s * yi / d) / c
    return pd.DataFrame({"study": labels, "yi": one_w_y / one_w_one, "vi": 1 / one_w_one,
                         "k_effects": np.bincount(g, minlength=J)})


class _Blocks:
    """The data of a multilevel model sorted by study, with Woodbury sums over the study blocks."""

    def __init__(self, y, X, v, g, J, rho):
        self.order = np.argsort(g, kind="stable")
        self.y, self.X, self.v, self.g = y[self.order], X[self.order], v[self.order], g[self.order]
        self.J, self.rho, self.k, self.p = J, rho, len(y), X.shape[1]
        self.s = np.sqrt(self.v)
        self.Z = np.column_stack([self.X, self.y])
        self.logdet_xx = np.linalg.slogdet(self.X.T @ self.X)[1]

    def seg(self, a: np.ndarray) -> np.ndarray:
        """Sums over the rows of each study (J rows; columns kept)."""
        if a.ndim == 1:
            return np.bincount(self.g, a, self.J)
        return np.column_stack([np.bincount(self.g, col, self.J) for col in a.T])

    def stats(self, sb: float, sw: float, hessian: bool = False) -> dict:
        """GLS fit, likelihood pieces and traces at σ²_between = sb, σ²_within = sw (0, 0: V alone).

        W = M⁻¹ is applied as W a = a/d − F C⁻¹ F'a per study, F = D⁻¹U (two columns, so the 2 × 2
        C⁻¹ is written out); tr(T G) with T = P or W and G_b = blocks of ones, G_w = I are sums over studies.
        """
        p, g, seg = self.p, self.g, self.seg
        d = (1 - self.rho) * self.v + sw
        dinv = 1 / d
        dinv2 = dinv * dinv
        f1 = math.sqrt(sb) * dinv
        cs = self.rho > 0                                 # the CHE column of U; absent when ρ = 0
        if cs:
            u0 = math.sqrt(self.rho) * self.s
            f0 = u0 * dinv
            c00, c01 = 1 + seg(u0 * f0), seg(u0 * f1)
            ff = (seg(f0 * f0), seg(f0 * f1), seg(f1 * f1))
        else:                                             # U = [0, sqrt(sb) 1]: sums of powers of 1/d suffice
            c00, c01 = 1.0, 0.0
            ff = (0.0, 0.0, sb * seg(dinv2))
        c11 = 1 + sb * seg(dinv)
        det = c00 * c11 - c01 * c01
        i00, i01, i11 = c11 / det, -c01 / det, c00 / det

        def apply_w(a):                                   # W a for a k × m array, column by column
            out = np.empty_like(a)
            for m in range(a.shape[1]):
                col = a[:, m]
                t1 = seg(f1 * col)
                if cs:
                    t0 = seg(f0 * col)
                    out[:, m] = col * dinv - f0 * (i00 * t0 + i01 * t1)[g] - f1 * (i01 * t0 + i11 * t1)[g]
                else:
                    tmp = (i11 * t1)[g]
                    tmp *= f1
                    np.multiply(col, dinv, out=out[:, m])
                    out[:, m] -= tmp
            return out

        def tr_ci(a00, a01, a11):                         # Σ_j tr(C_j⁻¹ A_j) for symmetric 2 × 2 A_j
            return np.sum(i00 * a00 + 2 * i01 * a01 + i11 * a11)

        WZ = apply_w(self.Z)
        ZWZ = self.Z.T @ WZ
        xwx, xwy, ywy = ZWZ[:p, :p], ZWZ[:p, p], ZWZ[p, p]
        B = np.linalg.inv(xwx)
        beta = B @ xwy
        WX = WZ[:, :p]
        q = WZ[:, p] - WX @ beta                          # W(y − Xβ̂) = P y
        w1 = apply_w(np.ones((self.k, 1)))[:, 0]          # W_j 1, row by row
        one_w_one = seg(w1)
        tr_w = np.sum(dinv) - tr_ci(*ff)
        sx = seg(WX)
        out = dict(beta=beta, B=B, rss=ywy - beta @ xwy, logdet=np.sum(np.log(d)) + np.sum(np.log(det)),
                   logdet_xwx=np.linalg.slogdet(xwx)[1], q=q, tr_w=tr_w, tr_j=one_w_one.sum(),
                   tr_p=tr_w - np.sum(B * (WX.T @ WX)), tr_pj=one_w_one.sum() - np.sum(B * (sx.T @ sx)))
        if not hessian:
            return out
        # tr(W G_c W G_d): Σ_j ||W_j||², Σ_j (1'W_j 1)², Σ_j ||W_j 1||²; ||W_j||² = tr D⁻² − 2 tr(C⁻¹F'D⁻¹F)
        # + tr(C⁻¹F'F C⁻¹F'F)
        e00, e01, e11 = i00 * ff[0] + i01 * ff[1], i00 * ff[1] + i01 * ff[2], i01 * ff[1] + i11 * ff[2]
        e10 = i01 * ff[0] + i11 * ff[1]
        ffd = (seg(f0 * f0 * dinv), seg(f0 * f1 * dinv), seg(f1 * f1 * dinv)) if cs else \
            (0.0, 0.0, sb * seg(dinv2 * dinv))
        ww = np.sum(dinv2) - 2 * tr_ci(*ffd) \
            + np.sum(e00 * e00 + 2 * e01 * e10 + e11 * e11)
        tw = np.array([[np.sum(one_w_one ** 2), np.sum(w1 ** 2)], [np.sum(w1 ** 2), ww]])
        # the REML corrections with Y = W X: tr(B Y'G_c W G_d Y) and tr(B Y'G_c Y B Y'G_d Y)
        WY = apply_w(WX)
        swy = seg(WY)
        cross = [[sx.T @ (one_w_one[:, None] * sx), sx.T @ swy], [swy.T @ sx, WX.T @ WY]]
        yg = [B @ (sx.T @ sx), B @ (WX.T @ WX)]
        tp = np.array([[tw[a, b] - 2 * np.sum(B * cross[a][b]) + np.sum(yg[a] * yg[b].T)
                        for b in range(2)] for a in range(2)])
        # y'P G_c P G_d P y = (G_c q)' P (G_d q), P a = W a − Y B Y'a
        r = np.column_stack([seg(q)[g], q])
        Pr = apply_w(r) - WX @ (B @ (WX.T @ r))
        return {**out, "tr2_w": tw, "tr2_p": tp, "quad": r.T @ Pr}

    def loglik(self, sb: float, sw: float, reml: bool, derivatives: bool = False):
        """(RE)ML log-likelihood; with ``derivatives`` also its gradient and Hessian in (σ²_b, σ²_w).

        ∂ℓ/∂σ²_c = −tr(T G_c)/2 + y'P G_c P y/2 and ∂²ℓ/∂σ²_c∂σ²_d = tr(T G_c T G_d)/2 − y'P G_c P G_d P y,
        T = P (REML) or W (ML) (Harville 1977).
        """
        st = self.stats(sb, sw, hessian=derivatives)
        if reml:
            ll = -0.5 * ((self.k - self.p) * LOG_2PI + st["logdet"] + st["logdet_xwx"] + st["rss"]) \
                + 0.5 * self.logdet_xx
        else:
            ll = -0.5 * (self.k * LOG_2PI + st["logdet"] + st["rss"])
        if not derivatives:
            return ll, st
        tr = np.array([st["tr_pj"], st["tr_p"]]) if reml else np.array([st["tr_j"], st["tr_w"]])
        qb = self.seg(st["q"])
        grad = -0.5 * tr + 0.5 * np.array([qb @ qb, st["q"] @ st["q"]])
        hess = 0.5 * (st["tr2_p"] if reml else st["tr2_w"]) - st["quad"]
        return ll, st, grad, hess


def _optimise(blocks: _Blocks, reml: bool, maxiter: int = 200) -> tuple[float, float, float, dict]:
    """Maximise the (RE)ML log-likelihood over θ = log σ² by Newton's method with step halving.

    A component that heads to 0 (σ² below 1e-9 of the data's scale) with a score ≤ 0 there is
    fixed at 0 (the boundary optimum) and the other solved for alone. Returns σ²_b, σ²_w, ℓ and the fit.
    """
    scale = max(float(np.var(blocks.y)), float(np.mean(blocks.v)))
    free = np.array([True, True])

    def evaluate(theta):
        s2 = np.where(free, np.exp(theta), 0.0)
        ll, st, g, h = blocks.loglik(*s2, reml, derivatives=True)
        g_t = g * s2                                          # derivatives in θ = log σ²
        return ll, st, g_t, h * np.outer(s2, s2) + np.diag(g_t), g

    theta = np.full(2, math.log(scale / 4))
    ll, st, g_t, h_t, g = evaluate(theta)
    for _ in range(maxiter):
        f = np.flatnonzero(free)
        hf = h_t[np.ix_(f, f)]
        if np.all(np.linalg.eigvalsh(hf) < 0):
            step = -np.linalg.solve(hf, g_t[f])
        else:                                                 # not concave here: a gradient step
            step = g_t[f] / np.maximum(np.abs(np.diag(hf)), 1e-8)
        step = step * min(1.0, 3.0 / np.max(np.abs(step)))
        for _ in range(60):
            trial = theta.copy()
            trial[f] += step
            new = evaluate(trial)
            if new[0] >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        theta, (ll, st, g_t, h_t, g) = trial, new
        low = np.flatnonzero(free & (theta < math.log(scale * 1e-9)))
        for c in low:                                         # the score at σ²_c = 0 decides
            at_zero = np.where(free, np.exp(theta), 0.0)
            at_zero[c] = 0.0
            if blocks.loglik(*at_zero, reml, derivatives=True)[2][c] <= 0:
                free[c] = False
                ll, st, g_t, h_t, g = evaluate(theta)
        if not free.any() or (np.max(np.abs(step)) < 1e-10 and not len(low)):
            break
    else:
        raise RuntimeError("the (RE)ML estimation of the variance components did not converge")
    s2 = np.where(free, np.exp(theta), 0.0)
    return float(s2[0]), float(s2[1]), float(ll), st


@dataclass(frozen=True)
class MultilevelResult:
    """A three-level (or CHE) model fitted by ``fit_multilevel`` (metafor ``rma.mv``); names follow metafor.

    ``estimate`` … ``ci_high`` are those of the first coefficient (the intercept); ``coef`` holds
    all. The arrays kept after ``vb`` (per-effect, never k × k) are what ``robust_test`` needs.
    """

    k: int
    n_studies: int
    p: int
    estimate: float
    se: float
    stat: float
    pval: float
    ci_low: float
    ci_high: float
    df: float | None
    sigma2_between: float
    sigma2_within: float
    q: float
    q_df: int
    q_p: float
    qm: float | None
    qm_df: tuple | None
    qm_p: float | None
    logLik: float
    i2_between: float
    i2_within: float
    i2_total: float
    pi_low: float | None
    pi_high: float | None
    method: str
    test: str
    level: float
    rho: float | None
    coef: pd.DataFrame = field(repr=False)
    vb: np.ndarray = field(repr=False)
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    X: np.ndarray = field(repr=False)
    study: np.ndarray = field(repr=False)

    @property
    def beta(self) -> np.ndarray:
        return self.coef["estimate"].to_numpy()

    def to_frame(self) -> pd.DataFrame:
        """One-row summary of the scalar fields."""
        return _frozen_frame(self)


def fit_multilevel(yi, vi, study, es_id=None, mods=None, method: str = "REML", test: str = "z",
                   level: float = 0.95, rho: float | None = None, names=None) -> MultilevelResult:
    """Three-level random-effects model for effects nested in studies (metafor ``rma.mv``).

    Model y = Xβ + u_study + w_effect + e with Var(y_j) = M_j = V_j + σ²_within I + σ²_between J
    (Konstantopoulos 2011); V_j diagonal, or with ``rho`` the CHE working model V_j[i, l] =
    ρ sqrt(v_i v_l) for i ≠ l (metafor ``vcalc(vi, cluster, obs, rho)``; Pustejovsky & Tipton 2022).
    σ² maximise the REML (or ML) log-likelihood
    ℓ_R = −½[(k − p) log 2π + log|M| + log|X'M⁻¹X| + r'M⁻¹r] + ½ log|X'X| (metafor's REML);
    β̂ = (X'M⁻¹X)⁻¹X'M⁻¹y, Var(β̂) = (X'M⁻¹X)⁻¹, z or t(k − p) tests (``test="t"``, metafor's default
    ``dfs``). QE = r'V⁻¹r with r the residuals of the V-weighted fit, χ²(k − p). Multilevel I²
    (Cheung 2014; metafor FAQ): I²_c = 100 σ²_c/(σ²_between + σ²_within + ṽ), ṽ = (k − p)/tr(P),
    P = W − W X(X'WX)⁻¹X'W, W = V⁻¹. Prediction interval (intercept-only model, metafor ``predict()``):
    μ̂ ± c sqrt(SE² + σ²_between + σ²_within).

    ``mods``: a 1-d or 2-d array or DataFrame of moderators (an intercept is added), as
    ``meta_regression``. ``es_id``: effect labels, unique within a study (default: one per row).
    """
    if method not in ("REML", "ML"):
        raise ValueError(f"method = {method!r}: use 'REML' or 'ML'")
    if test not in ("z", "t"):
        raise ValueError(f"test = {test!r}: use 'z' or 't'")
    yi, vi, g, labels, rho_value = _check_inputs(yi, vi, study, rho)
    k = len(yi)
    if es_id is not None:
        e, _ = _codes("es_id", es_id, k)
        pairs = pd.Series(list(zip(g, e)))
        dup = pairs.duplicated()
        if dup.any():
            i = int(np.flatnonzero(dup)[0])
            raise ValueError(f"es_id[{i}] = {np.asarray(es_id, object)[i]!r} repeats within study {labels[g[i]]!r}")
    X, terms = (np.ones((k, 1)), ["intrcpt"]) if mods is None else _design(mods, k, names)
    p = X.shape[1]
    if k <= p:
        raise ValueError(f"k = {k} effects for {p} coefficients: the model needs k > p")
    if np.linalg.matrix_rank(X) < p:
        raise ValueError("mods: the moderators are collinear (design matrix not of full rank)")
    blocks = _Blocks(yi, X, vi, g, len(labels), rho_value)
    sb, sw, loglik, st = _optimise(blocks, method == "REML")
    beta, vb = st["beta"], st["B"]
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    df = float(k - p) if test == "t" else None
    if test == "t":
        crit, pval = stats.t.isf((1 - level) / 2, df), 2 * stats.t.sf(np.abs(stat), df)
    else:
        crit, pval = stats.norm.isf((1 - level) / 2), 2 * stats.norm.sf(np.abs(stat))
    fe = blocks.stats(0.0, 0.0)                       # the V-weighted fit: QE and the typical variance
    q = float(fe["rss"])
    vtyp = (k - p) / fe["tr_p"]
    total = sb + sw + vtyp
    qm = qm_df = qm_p = pi_low = pi_high = None
    if p > 1:
        qm = float(beta[1:] @ np.linalg.solve(vb[1:, 1:], beta[1:]))
        if test == "t":
            qm, qm_df = qm / (p - 1), (p - 1, k - p)
            qm_p = float(stats.f.sf(qm, *qm_df))
        else:
            qm_df, qm_p = (p - 1,), float(stats.chi2.sf(qm, p - 1))
    else:
        half = crit * math.sqrt(se[0] ** 2 + sb + sw)
        pi_low, pi_high = float(beta[0] - half), float(beta[0] + half)
    coef = pd.DataFrame({"term": terms, "estimate": beta, "se": se, "stat": stat, "pval": pval,
                         "ci_low": beta - crit * se, "ci_high": beta + crit * se})
    return MultilevelResult(
        k=k, n_studies=len(labels), p=p, estimate=float(beta[0]), se=float(se[0]), stat=float(stat[0]),
        pval=float(pval[0]), ci_low=float(coef["ci_low"][0]), ci_high=float(coef["ci_high"][0]), df=df,
        sigma2_between=sb, sigma2_within=sw, q=q, q_df=k - p, q_p=float(stats.chi2.sf(q, k - p)),
        qm=qm, qm_df=qm_df, qm_p=qm_p, logLik=float(loglik), i2_between=100 * sb / total,
        i2_within=100 * sw / total, i2_total=100 * (sb + sw) / total, pi_low=pi_low, pi_high=pi_high,
        method=method, test=test, level=level, rho=rho, coef=coef, vb=vb, yi=yi, vi=vi, X=X, study=g)
