"""Estimators of the between-study variance τ², vectorised over blocks of studies.

HE, DL, SJ and PM in closed form or by root finding; ML and REML by Fisher scoring. Each takes
``y, v, X, mask`` (rows of ``mask`` select the studies of one fit) so that leave-one-out can fit
all k submodels in one pass. ``y`` and ``v`` are either 1-d (k,), shared by every row of ``mask``,
or 2-d (m, k), one meta-analysis per row (a simulation's batch). Converged to the same threshold
as metafor (``control``); in a 2-d batch each row stops at its own convergence, so a row gives what
it gives when fitted alone.
"""
from __future__ import annotations

import functools

import numpy as np

_THRESHOLD = 1e-13  # convergence of iterative tau2 estimators (metafor run with the same control)


_MAXITER = 10000


def _take(a: np.ndarray, rows: np.ndarray, batch_ndim: int = 2) -> np.ndarray:
    """The rows ``rows`` of a batch (y, v: (m, k); X: (m, k, p)); a shared array is returned as is."""
    return a[rows] if a.ndim == batch_ndim else a


def _wxx(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """X'WX for every row of weights: X shared (k, p) or one design per row (m, k, p)."""
    return np.einsum("mk,kp,kq->mpq", w, X, X) if X.ndim == 2 else np.einsum("mk,mkp,mkq->mpq", w, X, X)


def _rows(a: np.ndarray) -> np.ndarray:
    """(k,) → (1, k) to broadcast against the rows of ``mask``; an (m, k) batch is returned as is."""
    return a if a.ndim == 2 else a[None, :]


class _WLS:
    """Weighted least squares for many fits at once.

    ``w`` has shape (m, k): one row of weights per fit, zero for studies a fit leaves out (this is
    how leave-one-out refits everything in one pass without k×k matrices). ``X`` is (k, p) or
    (m, k, p), one design per fit; ``y`` is (k,) shared by all fits or (m, k), one row per fit.
    All traces are computed from p×p blocks: tr(P) = Σw − tr(A X'W²X) with A = (X'WX)⁻¹; X'W²X and
    tr(P) are computed once per fit, however often they are asked for.
    """

    def __init__(self, y: np.ndarray, X: np.ndarray, w: np.ndarray):
        self.y, self.X, self.w = y, X, w
        self.xwx = _wxx(w, X)
        if X.shape[-1] == 1 and np.all(self.xwx != 0):
            # a 1×1 inverse: LAPACK's is 1/x bit for bit, and 1/x over a batch is 100 times faster
            with np.errstate(over="ignore"):
                self.A = 1 / self.xwx
        else:
            self.A = np.linalg.inv(self.xwx)  # a zero X'WX raises LinAlgError here, as it always did
        if X.ndim == 3:
            xwy = np.einsum("mk,mkp,mk->mp", w, X, y)
        else:
            xwy = np.einsum("mk,kp,k->mp", w, X, y) if y.ndim == 1 else np.einsum("mk,kp,mk->mp", w, X, y)
        self.beta = np.einsum("mpq,mq->mp", self.A, xwy)
        self.resid = _rows(y) - (self.beta @ X.T if X.ndim == 2 else np.einsum("mp,mkp->mk", self.beta, X))
        self.rss = np.einsum("mk,mk->m", w, self.resid ** 2)

    @functools.cached_property
    def _xw2x(self) -> np.ndarray:
        return _wxx(self.w ** 2, self.X)

    @functools.cached_property
    def _tr_p(self) -> np.ndarray:
        return self.w.sum(1) - np.einsum("mpq,mqp->m", self.A, self._xw2x)

    def tr_p(self) -> np.ndarray:
        return self._tr_p

    def tr_pp(self) -> np.ndarray:
        w = self.w
        xw2x = self._xw2x
        xw3x = _wxx(w ** 3, self.X)
        b = self.A @ xw2x
        return (w ** 2).sum(1) - 2 * np.einsum("mpq,mqp->m", self.A, xw3x) + np.einsum("mpq,mqp->m", b, b)

    def py_py(self) -> np.ndarray:
        """y'PPy = Σ w² e² (P y = W e for the weighted residuals e)."""
        return np.einsum("mk,mk->m", self.w ** 2, self.resid ** 2)


def _tau2_he(y, v, X, mask) -> np.ndarray:
    ols = _WLS(y, X, mask.astype(float))
    k, p = mask.sum(1), X.shape[-1]
    xvx = _wxx(mask * v, X)
    tr_pv = (mask * v).sum(1) - np.einsum("mpq,mqp->m", ols.A, xvx)
    return (ols.rss - tr_pv) / (k - p)


def _tau2_dl(y, v, X, mask, fe: _WLS | None = None) -> np.ndarray:
    fe = _WLS(y, X, mask / v) if fe is None else fe
    return (fe.rss - (mask.sum(1) - X.shape[-1])) / fe.tr_p()


def _tau2_sj(y, v, X, mask) -> np.ndarray:
    k = mask.sum(1)
    ybar = (mask * y).sum(1) / k
    tau0 = (mask * (_rows(y) - ybar[:, None]) ** 2).sum(1) / k
    fit = _WLS(y, X, mask / (_rows(v) + tau0[:, None]))
    return tau0 * fit.rss / (k - X.shape[-1])


def _q_gen(y, v, X, mask, tau2) -> np.ndarray:
    return _WLS(y, X, mask / (_rows(v) + tau2[:, None])).rss


def _tau2_pm(y, v, X, mask) -> np.ndarray:
    """Paule–Mandel: the τ² at which the generalised Q equals k − p (bisection, vectorised)."""
    target = mask.sum(1) - X.shape[-1]
    lo = np.zeros(len(mask))
    positive = _q_gen(y, v, X, mask, lo) > target
    hi = np.full(len(mask), 100.0)
    while np.any(grow := positive & (_q_gen(y, v, X, mask, hi) > target)):
        hi = np.where(grow, hi * 10, hi)
    batch = y.ndim == 2  # a batch drops each row as it converges; shared y keeps all rows to the end
    active = np.flatnonzero(positive) if batch else np.arange(len(mask))
    for _ in range(200):
        if not active.size:
            break
        mid = (lo[active] + hi[active]) / 2
        above = _q_gen(_take(y, active), _take(v, active), _take(X, active, 3), mask[active], mid) > target[active]
        lo[active], hi[active] = np.where(above, mid, lo[active]), np.where(above, hi[active], mid)
        converged = hi[active] - lo[active] <= 1e-15 * np.maximum(hi[active], 1e-300)
        if not batch and np.all(converged):
            break
        active = active[~converged] if batch else active
    return np.where(positive, (lo + hi) / 2, 0.0)


def _loglik(y, v, X, mask, tau2, reml: bool) -> np.ndarray:
    fit = _WLS(y, X, mask / (_rows(v) + tau2[:, None]))
    k, p = mask.sum(1), X.shape[-1]
    logdet_v = (mask * np.log(_rows(v) + tau2[:, None])).sum(1)
    if reml:
        return -0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * logdet_v - 0.5 * np.linalg.slogdet(fit.xwx)[1] - 0.5 * fit.rss
    return -0.5 * k * np.log(2 * np.pi) - 0.5 * logdet_v - 0.5 * fit.rss


def _tau2_fisher(y, v, X, mask, reml: bool) -> np.ndarray:
    """ML / REML by Fisher scoring from the HE estimate, with step halving, as metafor does.

    Update: τ² += (y'PPy − tr P)/tr(PP) for REML, (y'PPy − Σw)/Σw² for ML (Viechtbauer 2005).
    After convergence, τ² = 0 is taken if its likelihood is higher (metafor's ``ll0check``).
    In a 2-d batch, rows not converged after ``_MAXITER`` steps get NaN instead of an error.
    """
    tau2 = np.maximum(0.0, _tau2_he(y, v, X, mask))
    batch = y.ndim == 2  # a batch drops each row as it converges; shared y keeps all rows to the end
    active = np.arange(len(mask))
    for _ in range(_MAXITER):
        old = tau2[active]
        fit = _WLS(_take(y, active), _take(X, active, 3), mask[active] / (_rows(_take(v, active)) + old[:, None]))
        if reml:
            adj = (fit.py_py() - fit.tr_p()) / fit.tr_pp()
        else:
            adj = (fit.py_py() - fit.w.sum(1)) / (fit.w ** 2).sum(1)
        adj = np.where(np.isfinite(adj), adj, 0.0)
        adj = np.where((old == 0) & (adj < 0), 0.0, adj)  # what halving ~1,075 times would reach, at once
        while np.any(neg := old + adj < 0):
            adj = np.where(neg, adj / 2, adj)
        tau2[active] = old + adj
        converged = np.abs(tau2[active] - old) <= _THRESHOLD
        if np.all(converged):
            break
        active = active[~converged] if batch else active
    else:
        if not batch:
            raise RuntimeError("Fisher scoring for tau2 did not converge")
        tau2[active] = np.nan  # a batch marks the rows that did not converge (a lone fit raises)
    zero = np.zeros_like(tau2)
    better_at_zero = _loglik(y, v, X, mask, zero, reml) > _loglik(y, v, X, mask, tau2, reml)
    return np.where(better_at_zero, 0.0, tau2)


def _estimate_tau2(y, v, X, mask, method: str, fe: _WLS | None = None) -> np.ndarray:
    """τ² of every row by ``method``; ``fe`` (``_WLS(y, X, mask / v)``), if at hand, spares DL refitting it."""
    if method == "FE":
        return np.zeros(len(mask))
    if method in ("ML", "REML"):
        return _tau2_fisher(y, v, X, mask, reml=method == "REML")
    if method == "DL":
        return np.maximum(0.0, _tau2_dl(y, v, X, mask, fe))
    estimator = {"HE": _tau2_he, "SJ": _tau2_sj, "PM": _tau2_pm}[method]
    return np.maximum(0.0, estimator(y, v, X, mask))
