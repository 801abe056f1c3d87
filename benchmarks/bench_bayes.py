"""Timings of the Bayesian random-effects model (fit_bayes, fit_bayes_batch) beside the DL fit.

    .venv/bin/python benchmarks/bench_bayes.py

One fit at k = 2, 3, 10 and 100 for each τ prior, as the best of many repeats, and its ratio to
``fit_meta(method="DL")`` on the same data in the same run (ratios, not seconds, compare across
machines and loads); the target is ≤ 5 ms a fit at k = 10. Then ``fit_bayes_batch`` on 10,000
simulated meta-analyses per cell (the simulation lab's size) at k = 2, 3 and 10, with peak memory.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import meta_analysis as ma  # noqa: E402
from measure import best_of, peak_mib, simulate  # noqa: E402

PRIORS = [("halfnormal", 0.5), ("halfcauchy", 0.5), ("loguniform", (0.001, 5.0))]


def main() -> None:
    print(f"{'task':<40}{'k':>6}{'seconds':>11}{'× DL fit':>10}{'peak MiB':>10}")
    for k in (2, 3, 10, 100):
        yi, vi = simulate(k)
        dl = best_of(lambda: ma.fit_meta(yi, vi, method="DL"), 200)
        for prior, scale in PRIORS:
            fit = lambda: ma.fit_bayes(yi, vi, tau_prior=prior, tau_scale=scale)  # noqa: E731
            seconds = best_of(fit, 50)
            print(f"{'fit_bayes ' + prior:<40}{k:>6}{seconds:>11.5f}{seconds / dl:>10.1f}{peak_mib(fit):>10.2f}")
    rng = np.random.default_rng(2026)
    for k in (2, 3, 10):
        vi = rng.uniform(0.005, 0.2, (10_000, k))
        yi = rng.normal(0.3, np.sqrt(0.04 + vi))
        dl = best_of(lambda: ma.fit_meta_batch(yi, vi, method="DL"), 3)
        for prior, scale in PRIORS[:2]:
            batch = lambda: ma.fit_bayes_batch(yi, vi, tau_prior=prior, tau_scale=scale)  # noqa: E731
            seconds = best_of(batch, 2)
            print(f"{'fit_bayes_batch ' + prior + ' (10,000)':<40}{k:>6}{seconds:>11.3f}{seconds / dl:>10.1f}"
                  f"{peak_mib(batch):>10.1f}")


if __name__ == "__main__":
    main()
