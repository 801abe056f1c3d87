"""What every benchmark script measures with: the best of several wall times, and peak memory.

Timings are the minimum over ``repeats`` runs (the least disturbed by other processes on a shared
machine); peak memory is what ``tracemalloc`` saw Python allocate during one run (numpy's buffers
included), in MiB.
"""
from __future__ import annotations

import time
import tracemalloc

import numpy as np


def best_of(func, repeats: int) -> float:
    """The shortest wall time of ``repeats`` calls of ``func()``, in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def peak_mib(func) -> float:
    """Peak memory traced while ``func()`` runs once, in MiB."""
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def simulate(k: int, seed: int = 20231) -> tuple[np.ndarray, np.ndarray]:
    """k effects from a random-effects model (mu 0.3, tau2 0.04) with variances uniform on (0.005, 0.2)."""
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.005, 0.2, k)
    yi = rng.normal(0.3, np.sqrt(0.04 + vi))
    return yi, vi
