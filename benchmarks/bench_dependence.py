"""Timings and peak memory of the dependent-effects engine (three-level REML, CR2 tests).

    .venv/bin/python benchmarks/bench_dependence.py

Targets (issue): three-level REML at k = 1,000 effects in 250 studies in <= 0.2 s and at k = 100,000
in 25,000 studies in <= 5 s; a CR2 test at k = 1,000 in <= 0.2 s. metafor's rma.mv, as measured for
the issue: 0.44 s at k = 200 in 50 studies and 49 s at k = 1,000 in 250 studies (it works with the
full k x k matrices). Data are simulated with a fixed seed; each timing is the best of several repeats.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import meta_analysis as ma  # noqa: E402
from measure import best_of, peak_mib  # noqa: E402

METAFOR = {("three-level REML", 200): 0.44, ("three-level REML", 1_000): 49.0}
TARGETS = {("three-level REML", 1_000): 0.2, ("three-level REML", 100_000): 5.0, ("CR2 robust test", 1_000): 0.2}


def simulate(k: int, n_studies: int, seed: int = 20231):
    """k effects spread over n_studies studies (about k/n_studies each), sigma2 0.05 and 0.02."""
    rng = np.random.default_rng(seed)
    study = np.sort(rng.integers(0, n_studies, k))
    vi = rng.uniform(0.01, 0.1, k)
    yi = 0.3 + rng.normal(0, np.sqrt(0.05), n_studies)[study] + rng.normal(0, np.sqrt(0.02 + vi))
    return yi, vi, study


def main() -> None:
    rows = []
    for k, n_studies, repeats in [(200, 50, 5), (1_000, 250, 5), (100_000, 25_000, 2)]:
        yi, vi, study = simulate(k, n_studies)
        fit = lambda: ma.fit_multilevel(yi, vi, study)  # noqa: E731
        rows.append(("three-level REML", k, n_studies, best_of(fit, repeats), peak_mib(fit)))
    yi, vi, study = simulate(1_000, 250)
    rows.append(("CHE REML (rho 0.6)", 1_000, 250, best_of(lambda: ma.fit_multilevel(yi, vi, study, rho=0.6), 5),
                 peak_mib(lambda: ma.fit_multilevel(yi, vi, study, rho=0.6))))
    for k, n_studies in [(1_000, 250), (100_000, 25_000)]:
        yi, vi, study = simulate(k, n_studies)
        model = ma.fit_multilevel(yi, vi, study)
        rows.append(("CR2 robust test", k, n_studies, best_of(lambda: ma.robust_test(model), 3),
                     peak_mib(lambda: ma.robust_test(model))))

    print(f"{'task':<20}{'k':>9}{'studies':>9}{'seconds':>10}{'peak MiB':>10}  {'target':<16}metafor rma.mv")
    for task, k, n_studies, seconds, mib in rows:
        target = TARGETS.get((task, k))
        verdict = "" if target is None else f"<= {target:g} s {'met' if seconds <= target else 'MISSED'}"
        metafor = METAFOR.get((task, k))
        versus = "" if metafor is None else f"{metafor:g} s ({metafor / seconds:,.0f} x slower)"
        print(f"{task:<20}{k:>9,}{n_studies:>9,}{seconds:>10.4f}{mib:>10.1f}  {verdict:<16}{versus}")


if __name__ == "__main__":
    main()
