"""GOSH: the model fitted to every subset of the studies (metafor ``gosh()``).

A "graphical display of study heterogeneity" (Olkin, Dahabreh & Trikalinos 2012) plots the pooled
estimate against I² for all 2^k − 1 non-empty subsets of k studies, or a random sample of them when
k is large. Clusters in that cloud point to studies that drive heterogeneity or the result.

For the common-effect (FE) and DerSimonian–Laird (DL) models every fit has a closed form in sums
of masked weights, so a block of subsets is fitted with a few matrix products of the 0/1
membership matrix M (subsets × studies) with w = 1/v and w²; the other τ² estimators refit each
subset with the batched model of ``models.py``. A random sample is drawn and fitted in blocks of a
bounded number of cells, so its memory does not grow with k × subsets; the membership matrix is kept
only when asked for (``members``) and when it fits in :data:`_MAX_MEMBER_CELLS` cells.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .influence import _study_labels
from .models import _check_meta_input, _check_method, _fit_batch

FIELDS = ("k", "estimate", "q", "i2", "h2", "tau2")
_MAX_EXACT = 2 ** 25  # more subsets than this cannot be enumerated in memory
_DRAW_CELLS = 2 ** 22  # cells of one block of random subsets (each block drawn, then fitted, then dropped)
_MAX_MEMBER_CELLS = 2 ** 28  # a membership matrix (subsets × studies, one byte each) larger than this is refused


@dataclass(frozen=True, eq=False)
class GoshResult:
    """One fit per subset (rows sorted by subset size k, as metafor); ``incl[r, i]`` is True when
    study i is in subset r (None when fitted with ``members=False``). ``exact`` tells whether every
    subset was fitted or a random sample; ``total`` is the number of non-empty subsets, 2^k − 1."""

    method: str
    exact: bool
    labels: tuple
    k: np.ndarray
    estimate: np.ndarray
    q: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    tau2: np.ndarray
    incl: np.ndarray | None
    total: int = 0

    def to_frame(self) -> pd.DataFrame:
        """k, estimate, q, i2, h2, tau2 and one boolean membership column per study (named by its label),
        the latter only when the membership was kept."""
        stats = pd.DataFrame({name: getattr(self, name) for name in FIELDS})
        if self.incl is None:
            return stats
        members = pd.DataFrame(self.incl, columns=list(self.labels))
        return pd.concat([stats, members], axis=1)


def _all_subsets(k: int) -> np.ndarray:
    """Every non-empty subset of k studies as a boolean matrix, in metafor's order.

    metafor enumerates with ``expand.grid`` (study 1 varies fastest, i.e. binary counting with
    study i as bit i) and then sorts stably by subset size.
    """
    codes = np.arange(1, 2 ** k, dtype=np.int64)
    size = np.zeros(len(codes), np.int64)
    for i in range(k):
        size += (codes >> i) & 1
    codes = codes[np.argsort(size, kind="stable")]
    incl = np.empty((len(codes), k), bool)
    for i in range(k):
        incl[:, i] = (codes >> i) & 1
    return incl


def _random_blocks(k: int, n: int, seed):
    """n random non-empty subsets in blocks of at most :data:`_DRAW_CELLS` cells, each study in with
    probability ½ (uniform over the non-empty subsets, like metafor's draw of a Binomial(k, ½) size and
    then the studies), from one generator ``np.random.default_rng(seed)``: the blocks depend on k only,
    so a seed gives the same sample whatever ``chunk`` is."""
    rng = np.random.default_rng(seed)
    rows = max(1, _DRAW_CELLS // k)
    for start in range(0, n, rows):
        incl = rng.integers(0, 2, size=(min(rows, n - start), k), dtype=bool)
        while (empty := ~incl.any(1)).any():
            incl[empty] = rng.integers(0, 2, size=(int(empty.sum()), k), dtype=bool)
        yield incl


def _fit_closed_form(yi, vi, incl: np.ndarray, method: str) -> dict:
    """FE and DL fits of every row of ``incl`` from masked sums (metafor's fast path for gosh).

    FE: μ̂ = Σ_M w y / Σ_M w, Q = Σ_M w (y − μ̂)². DL: τ² = max(0, (Q − (k − 1)) / (Σ_M w − Σ_M w² / Σ_M w)),
    then μ̂ with weights 1/(v + τ²). I² = max(0, 100 (Q − (k − 1))/Q) and H² = Q/(k − 1) for k > 1;
    a single study has Q = 0, I² = 0, H² = 1, τ² = 0.
    """
    m = incl.astype(float)
    w = 1 / vi
    k = incl.sum(1)
    sw = m @ w
    est = (m @ (w * yi)) / sw
    q = np.einsum("mk,mk->m", m * w, (yi[None, :] - est[:, None]) ** 2)  # two-pass Q: no cancellation
    several = k > 1
    q = np.where(several, q, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        i2 = np.where(several, np.maximum(0.0, 100 * (q - (k - 1)) / q), 0.0)
        h2 = np.where(several, q / (k - 1), 1.0)
        tau2 = np.zeros(len(k))
        if method == "DL":
            tau2 = np.where(several, np.maximum(0.0, (q - (k - 1)) / (sw - (m @ (w * w)) / sw)), 0.0)
            wr = m / (vi[None, :] + tau2[:, None])
            est = (wr @ yi) / wr.sum(1)
    i2 = np.where(np.isnan(i2), 0.0, i2)  # Q = 0 with k > 1: metafor's max(0, -Inf) is 0
    return dict(k=k, estimate=est, q=q, i2=i2, h2=h2, tau2=tau2)


def _fit_iterative(yi, vi, incl: np.ndarray, method: str) -> dict:
    """Any τ² estimator: subsets of two or more studies through the batched model; single studies
    as metafor fits them (estimate y_i, Q = 0, I² = 0, H² = 1, τ² = 0)."""
    k = incl.sum(1)
    out = dict(k=k, estimate=np.zeros(len(k)), q=np.zeros(len(k)), i2=np.zeros(len(k)), h2=np.ones(len(k)),
               tau2=np.zeros(len(k)))
    one = k == 1
    out["estimate"][one] = yi[np.argmax(incl[one], axis=1)]
    several = ~one
    if several.any():
        fit = _fit_batch(yi, vi, np.ones((len(yi), 1)), incl[several], method, "z", 0.95)
        out["estimate"][several] = fit["beta"][:, 0]
        for name in ("q", "i2", "h2", "tau2"):
            out[name][several] = fit[name]
    return out


def _plan(k: int, subsets: int | None, max_exact_k: int) -> tuple[bool, int, int]:
    """Whether :func:`gosh` enumerates every subset of k studies or draws a sample, as metafor decides.

    Returns (exact, rows, total): every one of the total = 2^k − 1 non-empty subsets when total ≤
    ``subsets`` (default 1,000,000) and k ≤ ``max_exact_k``, else ``subsets`` random ones.
    """
    if isinstance(max_exact_k, bool) or not isinstance(max_exact_k, (int, np.integer)) or max_exact_k < 1:
        raise ValueError(f"max_exact_k = {max_exact_k!r}: must be an integer >= 1")
    if subsets is None:
        subsets = 1_000_000
    elif isinstance(subsets, bool) or not isinstance(subsets, (int, np.integer)) or subsets < 2:
        raise ValueError(f"subsets = {subsets!r}: must be an integer >= 2")
    total = 2 ** k - 1
    exact = total <= subsets and k <= max_exact_k
    if exact and total > _MAX_EXACT:
        raise ValueError(f"max_exact_k = {max_exact_k}: 2^{k} - 1 = {total} subsets are too many to enumerate; "
                         f"use max_exact_k <= 25 or a number of random subsets")
    return exact, (total if exact else int(subsets)), total


def gosh(yi, vi, method: str = "FE", subsets: int | None = None, max_exact_k: int = 20, seed=20231,
         labels=None, chunk: int = 2_000_000, members: bool = True) -> GoshResult:
    """Fit the model to subsets of the studies, as metafor ``gosh()`` (Olkin, Dahabreh & Trikalinos 2012).

    ``subsets`` (default 1,000,000, as metafor) caps the number of fits: every non-empty subset
    (2^k − 1 fits, in metafor's order) is used only when 2^k − 1 ≤ ``subsets`` and k ≤ ``max_exact_k``;
    otherwise ``subsets`` random subsets are drawn with the seeded generator
    ``np.random.default_rng(seed)``, each study in with probability ½, and fitted block by block
    (at most ``chunk`` cells at a time), so memory stays bounded whatever k. With ``members=False``
    the membership matrix is not kept (``incl`` is None); kept, it may hold at most 2^28 cells.
    Each fit reports k, the estimate, Q, I², H² and τ² (FE and DL in closed form; I² =
    max(0, 100 (Q − (k − 1))/Q) for FE and DL, 100 τ²/(τ² + ṽ) for the other estimators, as
    metafor). Rows are sorted by subset size. FE and DL need well under a second for the 65,535
    subsets of 16 studies; the iterative estimators (REML, ML, PM, ...) refit every subset and need
    seconds per thousand subsets.

    References
    ----------
    Olkin, I., Dahabreh, I. J., & Trikalinos, T. A. (2012). GOSH – a graphical display of study
    heterogeneity. Research Synthesis Methods, 3(3), 214–223.
    """
    _check_method(method, "z")
    yi, vi = _check_meta_input(yi, vi, min_k=3)
    k = len(yi)
    names = _study_labels(labels, k)
    if len(set(names)) < k or set(names) & set(FIELDS):
        raise ValueError(f"labels = {names}: must be distinct and none of {FIELDS}")
    exact, rows, total = _plan(k, subsets, max_exact_k)
    if members and rows * k > _MAX_MEMBER_CELLS:
        raise ValueError(f"subsets = {1_000_000 if subsets is None else subsets}: {rows:,} subsets x {k} studies is too large a membership matrix to keep; "
                         f"pass members=False (the fits only) or fewer subsets")
    fit = _fit_closed_form if method in ("FE", "DL") else _fit_iterative
    step = max(1, chunk // k)
    blocks = [_all_subsets(k)] if exact else _random_blocks(k, rows, seed)
    parts, kept = [], []
    for block in blocks:
        parts += [fit(yi, vi, block[start:start + step], method) for start in range(0, len(block), step)]
        if members:
            kept.append(block)
    out = {name: np.concatenate([p[name] for p in parts]) for name in FIELDS}
    order = np.argsort(out["k"], kind="stable")  # by subset size, as metafor (the enumeration is sorted already)
    out = {name: value[order] for name, value in out.items()}
    incl = np.concatenate(kept)[order] if members else None
    return GoshResult(method=method, exact=exact, labels=tuple(names), incl=incl, total=total, **out)
