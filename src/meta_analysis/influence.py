"""Influence of single studies: leave-one-out refits (metafor ``leave1out()``), case-deletion
diagnostics (``influence()``) and the data of a Baujat plot (``baujat()``).

All three rest on the k fits without one study each (:func:`_deleted_fits`). For the common-effect
(FE), DerSimonian–Laird (DL) and REML models these come from closed forms in sums over all studies
minus the left-out study's own term, so the k fits cost O(k) together rather than k refits of O(k)
each; the other τ² estimators refit each subset with the batched model of ``models.py``. The deleted
fits are kept for the last few data sets asked about, so a notebook that shows a leave-one-out table,
its sentences and a sensitivity row computes them once.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Sequence

import numpy as np
import pandas as pd
from ._lazy import stats

from .models import TESTS, _check_meta_input, _check_method, _fit_batch

_SERIES_RADIUS = 0.5  # |τ²₍₋ᵢ₎ − τ̂²| / min(v + τ̂²) up to which the power series of _ReSums is used
_CACHE: OrderedDict = OrderedDict()  # (yi, vi, method, test, chunk) → deleted fits; the last _CACHE_SIZE data sets
_CACHE_SIZE = 8


class _ReSums:
    """Σ_j c_j / (v_j + τ̂² + δ)^q for many δ at once, from power sums over the k studies.

    With x_j = v_j + τ̂², m = min x_j, u_j = m / x_j ≤ 1 and ε = δ/m, the binomial series gives
    Σ_j c_j (x_j + δ)^(−q) = m^(−q) Σ_n C(n + q − 1, n) (−ε)^n Σ_j c_j u_j^(n+q), which converges for
    |ε| < 1; the power sums Σ_j c_j u_j^p are computed once, so each δ costs O(terms), not O(k).
    Used for |ε| ≤ :data:`_SERIES_RADIUS` with enough terms for double precision; the logarithm
    Σ_j log(x_j + δ) = Σ_j log x_j + Σ_{n≥1} (−1)^(n+1) ε^n Σ_j u_j^n / n likewise.
    """

    def __init__(self, columns: np.ndarray, x: np.ndarray, terms: int = 64):
        self.m, self.terms = float(x.min()), terms
        u = self.m / x
        powers = np.empty((terms + 4, len(x)))
        powers[0] = 1.0
        for p in range(1, terms + 4):
            powers[p] = powers[p - 1] * u
        self.sums = columns @ powers.T  # (columns, powers): Σ_j c_j u_j^p
        self.log_x = float(np.log(x).sum())

    def inverse(self, column: int, q: int, delta: np.ndarray) -> np.ndarray:
        """Σ_j c_j (x_j + δ)^(−q) for every δ (column ``column`` of ``columns``), by Horner's rule."""
        coef = [math.comb(n + q - 1, n) * self.sums[column, n + q] for n in range(self.terms)]
        eps = -np.asarray(delta, float) / self.m
        out = np.full(eps.shape, coef[-1])
        for c in coef[-2::-1]:
            out = out * eps + c
        return out / self.m ** q

    def log(self, delta: np.ndarray) -> np.ndarray:
        """Σ_j log(x_j + δ) for every δ (column 0 of ``columns`` must be all ones), by Horner's rule."""
        coef = [(-1.0) ** (n + 1) * self.sums[0, n] / n for n in range(1, self.terms)]
        eps = np.asarray(delta, float) / self.m
        out = np.full(eps.shape, coef[-1])
        for c in coef[-2::-1]:
            out = out * eps + c
        return self.log_x + out * eps


def _exact_tau2(yi, vi, rows: np.ndarray, method: str, chunk: int) -> np.ndarray:
    """τ² of the fits without each study in ``rows``, refitted (the batched model, in blocks of ``chunk`` cells)."""
    from .tau2_estimators import _estimate_tau2

    k = len(yi)
    X, out = np.ones((k, 1)), np.empty(len(rows))
    step = max(1, chunk // k)
    for start in range(0, len(rows), step):
        block = rows[start:start + step]
        mask = np.ones((len(block), k), bool)
        mask[np.arange(len(block)), block] = False
        out[start:start + step] = _estimate_tau2(yi, vi, X, mask, method)
    return out


def _exact_sums(yc, vi, rows: np.ndarray, tau2: np.ndarray, chunk: int) -> tuple:
    """Σ w, Σ w y and Σ w y² over the studies but i (w_j = 1/(v_j + τ²ᵢ)) for each i in ``rows``, summed directly."""
    k = len(yc)
    sw, swy, swyy = (np.empty(len(rows)) for _ in range(3))
    step = max(1, chunk // k)
    for start in range(0, len(rows), step):
        block = rows[start:start + step]
        w = 1 / (vi[None, :] + tau2[start:start + step, None])
        w[np.arange(len(block)), block] = 0.0
        sw[start:start + step], swy[start:start + step], swyy[start:start + step] = w.sum(1), w @ yc, w @ (yc * yc)
    return sw, swy, swyy


def _series_sums(sums: _ReSums, yc, vi, rows: np.ndarray, tau2: np.ndarray, delta: np.ndarray, second: bool = False):
    """Σ w, Σ w y, Σ w y² over the studies but i (and with ``second`` Σ w², Σ w² y, Σ w² y², Σ w³), by the series."""
    own = 1 / (vi[rows] + tau2)
    y = yc[rows]
    out = [sums.inverse(0, 1, delta) - own, sums.inverse(1, 1, delta) - own * y, sums.inverse(2, 1, delta) - own * y * y]
    if second:
        out += [sums.inverse(0, 2, delta) - own ** 2, sums.inverse(1, 2, delta) - own ** 2 * y,
                sums.inverse(2, 2, delta) - own ** 2 * y * y, sums.inverse(0, 3, delta) - own ** 3]
    return out


def _reml_by_series(sums: _ReSums, yc, vi, tau2_full: float, max_iter: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """REML τ² without each study by Fisher scoring warm-started at the full fit's τ̂², with the sums of
    :class:`_ReSums`: τ² += (y'PPy − tr P)/tr(PP) (Viechtbauer 2005), step halving below 0, to a change
    ≤ 1e-13 as ``tau2_estimators``; then τ² = 0 where the restricted likelihood is higher there
    (metafor's ll0check). Returns τ² and a mask of the rows the series could not settle (refit those)."""
    from .tau2_estimators import _THRESHOLD

    k = len(yc)
    tau2 = np.full(k, tau2_full)
    done = np.zeros(k, bool)
    failed = np.zeros(k, bool)
    active = np.arange(k)
    for _ in range(max_iter):
        old = tau2[active]
        sw, swy, swyy, sw2, sw2y, sw2yy, sw3 = _series_sums(sums, yc, vi, active, old, old - tau2_full, second=True)
        mu = swy / sw
        adj = ((sw2yy - 2 * mu * sw2y + mu * mu * sw2) - (sw - sw2 / sw)) / (sw2 - 2 * sw3 / sw + (sw2 / sw) ** 2)
        adj = np.where(np.isfinite(adj), adj, 0.0)
        adj = np.where((old == 0) & (adj < 0), 0.0, adj)
        while np.any(neg := old + adj < 0):
            adj = np.where(neg, adj / 2, adj)
        new = old + adj
        tau2[active] = new
        outside = np.abs(new - tau2_full) > _SERIES_RADIUS * sums.m
        converged = ~outside & (np.abs(new - old) <= _THRESHOLD)
        failed[active[outside]] = True
        done[active[converged]] = True
        active = active[~outside & ~converged]
        if not active.size:
            break
    failed[active] = True
    ok = np.flatnonzero(done & (tau2 > 0))
    if ok.size:  # the restricted log-likelihood at τ²ᵢ against τ² = 0 (constants cancel)
        t = tau2[ok]
        sw, swy, swyy = _series_sums(sums, yc, vi, ok, t, t - tau2_full)
        log_v = sums.log(t - tau2_full) - np.log(vi[ok] + t)
        ll_t = -0.5 * log_v - 0.5 * np.log(sw) - 0.5 * (swyy - swy * swy / sw)
        w0 = 1 / vi
        sw0 = w0.sum() - w0[ok]
        swy0, swyy0 = w0 @ yc - w0[ok] * yc[ok], w0 @ (yc * yc) - w0[ok] * yc[ok] ** 2
        ll_0 = -0.5 * (np.log(vi).sum() - np.log(vi[ok])) - 0.5 * np.log(sw0) - 0.5 * (swyy0 - swy0 * swy0 / sw0)
        tau2[ok[ll_0 > ll_t]] = 0.0
    return tau2, failed


def _deleted_fits(yi, vi, method: str, test: str, chunk: int = 2_000_000) -> dict:
    """The full fit and the k fits without one study each (cached for the last few data sets).

    Returns the full estimate ``mu``, its variance ``vb`` and ``tau2``, and per study i: ``k``
    (= k − 1), ``tau2_del``, the deleted estimate ``mu_del`` = Σ_{j≠i} w_j y_j / Σ_{j≠i} w_j with
    w_j = 1/(v_j + τ²₍₋ᵢ₎), ``vb_del`` = s²₍₋ᵢ₎ / Σ_{j≠i} w_j, ``s2w_del`` = s²₍₋ᵢ₎ (1 under z, the
    Knapp–Hartung factor Σ_{j≠i} w_j (y_j − μ̂₍₋ᵢ₎)²/(k − 2) under knha), ``qe_del`` = Q₍₋ᵢ₎ (common-effect
    weights), ``trp_del`` = Σ_{j≠i} 1/v_j − Σ_{j≠i} v_j⁻² / Σ_{j≠i} 1/v_j and ``sw_all_del`` = Σ_j 1/(v_j + τ²₍₋ᵢ₎)
    over all k. Closed forms: Q₍₋ᵢ₎ = Q − w_i (y_i − μ̂_FE)² Σw/(Σw − w_i) with w = 1/v; DL's
    τ²₍₋ᵢ₎ = max(0, (Q₍₋ᵢ₎ − (k − 2))/trp₍₋ᵢ₎); sums over j ≠ i as the sum over all studies (by the power
    series of :class:`_ReSums` around τ̂²) minus study i's own term; REML by :func:`_reml_by_series`.
    Rows the series cannot reach, and the other τ² estimators, are refitted (``chunk`` cells a block).
    """
    key = (yi.tobytes(), vi.tobytes(), method, test, chunk)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    k = len(yi)
    full = _fit_batch(yi, vi, np.ones((k, 1)), np.ones((1, k), bool), method, test, 0.95)
    mu, tau2_full = float(full["beta"][0, 0]), float(full["tau2"][0])
    w = 1 / vi
    sw_fe = w.sum()
    e = yi - (w @ yi) / sw_fe
    q = (w * e * e).sum()
    swd = sw_fe - w
    qe_del = np.maximum(0.0, q - w * e * e * sw_fe / swd)
    trp_del = swd - ((w * w).sum() - w * w) / swd
    yc = yi - mu  # centred at the full estimate: the sums below lose no digits to a common offset
    everyone = np.arange(k)
    series = method in ("FE", "DL", "REML")
    sums = _ReSums(np.vstack([np.ones(k), yc, yc * yc]), vi + tau2_full) if series else None
    refit = np.zeros(k, bool)
    if method == "FE":
        tau2 = np.zeros(k)
    elif method == "DL":
        tau2 = np.maximum(0.0, (qe_del - (k - 2)) / trp_del)
    elif method == "REML":
        tau2, refit = _reml_by_series(sums, yc, vi, tau2_full)
    else:
        tau2, refit = np.empty(k), np.ones(k, bool)
    if refit.any():
        tau2[refit] = _exact_tau2(yi, vi, everyone[refit], method, chunk)
    if series:
        direct = np.abs(tau2 - tau2_full) > _SERIES_RADIUS * sums.m
    else:
        direct = np.ones(k, bool)
    sw, swy, swyy = np.empty(k), np.empty(k), np.empty(k)
    if (~direct).any():
        rows = everyone[~direct]
        sw[rows], swy[rows], swyy[rows] = _series_sums(sums, yc, vi, rows, tau2[rows], tau2[rows] - tau2_full)
    if direct.any():
        rows = everyone[direct]
        sw[rows], swy[rows], swyy[rows] = _exact_sums(yc, vi, rows, tau2[rows], chunk)
    rss = np.maximum(0.0, swyy - swy * swy / sw)
    if test in ("knha", "adhoc"):  # as models._fit_with_tau2: s² of the k − 1 studies, at least 1 under adhoc
        s2w = np.where(rss <= np.finfo(float).eps, 0.0, rss / (k - 2))
        if test == "adhoc":
            s2w = np.maximum(s2w, 1.0)
    else:
        s2w = np.ones(k)
    result = dict(mu=mu, vb=float(full["vb"][0, 0, 0]), tau2=tau2_full, k=np.full(k, k - 1), tau2_del=tau2,
                  mu_del=mu + swy / sw, vb_del=s2w / sw, s2w_del=s2w, qe_del=qe_del, trp_del=trp_del,
                  sw_all_del=sw + 1 / (vi + tau2))
    for value in result.values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    _CACHE[key] = result
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


def leave_one_out(yi, vi, method: str = "REML", test: str = "z", level: float = 0.95,
                  labels: Sequence[str] | None = None, chunk: int = 2_000_000) -> pd.DataFrame:
    """The model fitted k times, each time without one study (metafor ``leave1out()``).

    Each row is the fit without study i: μ̂₍₋ᵢ₎ = Σ_{j≠i} w_j y_j / Σ_{j≠i} w_j with w_j = 1/(v_j + τ̂²₍₋ᵢ₎),
    its SE (Knapp–Hartung under knha, with t(k − 2); under adhoc never below the model-based SE), z or t statistic, p, confidence interval, Q₍₋ᵢ₎
    and its p, τ̂²₍₋ᵢ₎, I² and H² as :func:`meta_analysis.models.fit_meta` defines them. FE, DL and
    REML come from closed forms (:func:`_deleted_fits`, O(k) for all k fits); other estimators are
    refitted in blocks of at most ``chunk`` cells. Columns: left_out, estimate, se, stat, pval,
    ci_low, ci_high, q, q_p, tau2, i2, h2.

    References
    ----------
    Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
    Statistical Software, 36(3), 1–48 (``leave1out``).
    """
    _check_method(method, test, TESTS)
    yi, vi = _check_meta_input(yi, vi, min_k=3)
    k = len(yi)
    d = _deleted_fits(yi, vi, method, test, chunk)
    df = k - 2
    se = np.sqrt(d["vb_del"])
    stat = d["mu_del"] / se
    if test in ("knha", "adhoc"):
        crit, pval = stats.t.isf((1 - level) / 2, df), 2 * stats.t.sf(np.abs(stat), df)
    else:
        crit, pval = stats.norm.isf((1 - level) / 2), 2 * stats.norm.sf(np.abs(stat))
    q, tau2 = d["qe_del"], d["tau2_del"]
    vt = df / d["trp_del"]
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "FE":
            i2, h2 = np.where(q > 0, np.maximum(0.0, 100 * (q - df) / q), 0.0), q / df
        else:
            i2, h2 = 100 * tau2 / (vt + tau2), tau2 / vt + 1
    return pd.DataFrame({"left_out": list(labels) if labels is not None else [str(i + 1) for i in range(k)],
                         "estimate": d["mu_del"], "se": se, "stat": stat, "pval": pval,
                         "ci_low": d["mu_del"] - crit * se, "ci_high": d["mu_del"] + crit * se, "q": q,
                         "q_p": stats.chi2.sf(q, df), "tau2": tau2, "i2": i2, "h2": h2})


def _study_labels(labels, k: int) -> list[str]:
    """Labels as strings, "1" … "k" by default (metafor's ids); a wrong length is an error."""
    if labels is None:
        return [str(i + 1) for i in range(k)]
    labels = [str(label) for label in labels]
    if len(labels) != k:
        raise ValueError(f"labels has {len(labels)} entries, expected one per study (k = {k})")
    return labels


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
    taken from :func:`_deleted_fits` (closed forms for FE, DL and REML; refits in blocks of ``chunk`` cells otherwise).

    References
    ----------
    Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for meta-analysis.
    Research Synthesis Methods, 1(2), 112–125. Belsley, Kuh & Welsch (1980); Cook (1977).
    """
    _check_method(method, test)
    yi, vi = _check_meta_input(yi, vi, min_k=3)
    k = len(yi)
    names = _study_labels(labels, k)
    f = _deleted_fits(yi, vi, method, test, chunk)
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
    influential = ((np.abs(dffits) > 3 * np.sqrt(1 / (k - 1))) | (stats.chi2.cdf(cook_d, 1) > 0.5)
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
    f = _deleted_fits(yi, vi, method, test, chunk)
    x = (yi - f["mu"]) ** 2 / (vi + f["tau2"])
    y = (f["mu_del"] - f["mu"]) ** 2 / f["vb_del"]
    return pd.DataFrame({"study": names, "x": x, "y": y})
