"""Timings and peak memory of the selection-model fit and PET-PEESE.

    .venv/bin/python benchmarks/bench_selection.py

Step-function selection model (steps 0.025, and 0.025/0.5) at k = 20, 100, 1,000 and PET-PEESE at
k = 1,000. Data are simulated with a fixed seed and mild selection: a non-significant study is kept
with probability 0.6, so every p-value interval holds studies. Each timing is the best of several repeats;
peak memory is what tracemalloc sees during one call (numpy arrays included).
"""
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import meta_analysis as ma  # noqa: E402
from measure import best_of, peak_mib  # noqa: E402


def simulate(k: int, seed: int = 20240) -> tuple[np.ndarray, np.ndarray]:
    """k published studies: y ~ N(0.2, v + 0.02), kept always if p < 0.025 (one-sided), else with 0.6."""
    rng = np.random.default_rng(seed)
    ys, vs = [], []
    while len(ys) < k:
        v = rng.uniform(0.01, 0.15)
        y = rng.normal(0.2, np.sqrt(v + 0.02))
        if stats.norm.sf(y / np.sqrt(v)) < 0.025 or rng.random() < 0.6:
            ys.append(y)
            vs.append(v)
    return np.array(ys), np.array(vs)


def main() -> None:
    rows = []
    for steps in [(0.025,), (0.025, 0.5)]:
        for k in (20, 100, 1_000):
            yi, vi = simulate(k)
            fit = lambda: ma.selection_model(yi, vi, steps=steps)  # noqa: E731
            result = fit()
            rows.append((f"selection model {'/'.join(map(str, steps))}", k, best_of(fit, 5), peak_mib(fit),
                         f"estimate {result.estimate:.3f}, delta {', '.join(f'{d:.2f}' for d in result.delta[1:])}, "
                         f"LRT p {result.lrt_p:.3g}"))
    yi, vi = simulate(1_000)
    pp = lambda: ma.pet_peese(yi, vi)  # noqa: E731
    result = pp()
    rows.append(("PET-PEESE (lm)", 1_000, best_of(pp, 5), peak_mib(pp),
                 f"{result.chosen} {result.estimate:.3f} (PET {result.pet_estimate:.3f}, PEESE {result.peese_estimate:.3f})"))
    pp_rma = lambda: ma.pet_peese(yi, vi, model="rma")  # noqa: E731
    rows.append(("PET-PEESE (rma, REML)", 1_000, best_of(pp_rma, 5), peak_mib(pp_rma), ""))

    print(f"{'task':<34}{'k':>7}{'seconds':>10}{'peak MiB':>10}  result")
    for task, k, seconds, mib, note in rows:
        print(f"{task:<34}{k:>7,}{seconds:>10.4f}{mib:>10.2f}  {note}")


if __name__ == "__main__":
    main()
