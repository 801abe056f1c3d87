"""Speed of the batch fits behind notebook 06 (simulation lab), with peak memory.

    .venv/bin/python benchmarks/bench_simulation.py

Prints meta-analyses fitted per second by REML in one batch (k = 5 and 20, 10,000 meta-analyses),
the same fits one at a time with fit_meta, the comparison with "metafor needs about 6 ms per REML
fit" (the issue's measurement, not ours), and the time of the notebook's default grids. Data are
simulated with fixed seeds; each timing is the best of a few repeats.
"""
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import helpers as h  # noqa: E402
from measure import best_of, peak_mib  # noqa: E402

METAFOR_SECONDS_PER_FIT = 0.006  # the measurement of one rma(method = "REML") call
M = 10_000


def notebook_grids() -> None:
    """The three grids of notebook 06 with its default parameters."""
    k_values, tau2_values, seed = [3, 5, 10, 20], [0.0, 0.05, 0.2], 20240601
    h.simulation_grid(k_values, tau2_values, sizes=("equal", "unequal"), methods=("DL",),
                      tests=("z", "knha", "adhoc"), replications=M, seed=seed)
    h.simulation_grid(k_values, [0.1], sizes=("equal",), methods=("DL", "HE", "SJ", "ML", "REML", "PM"),
                      tests=("z",), replications=M, seed=seed, measure="SMD")
    h.small_study_grid([10, 20], tau2_values, sizes="spread", replications=M, seed=seed, method="DL")


def main() -> None:
    warnings.simplefilter("ignore", RuntimeWarning)
    print(f"{'task':<44}{'seconds':>9}{'fits/s':>11}{'peak MiB':>10}  vs metafor (6 ms/fit)")
    for k in (5, 20):
        sim = h.simulate_meta(k, 0.05, sizes="equal", replications=M, seed=1)
        batch = best_of(lambda: h.fit_meta_batch(sim.yi, sim.vi, method="REML"), 3)
        mib = peak_mib(lambda: h.fit_meta_batch(sim.yi, sim.vi, method="REML"))
        print(f"{f'REML batch, {M:,} meta-analyses, k = {k}':<44}{batch:9.3f}{M / batch:11,.0f}{mib:10.1f}"
              f"  {METAFOR_SECONDS_PER_FIT * M / batch:,.0f}× faster")
        n_alone = 500
        alone = best_of(lambda: [h.fit_meta(y, v, method="REML") for y, v in zip(sim.yi[:n_alone], sim.vi[:n_alone])], 2)
        print(f"{f'REML fit_meta one at a time, k = {k}':<44}{alone:9.3f}{n_alone / alone:11,.0f}{'':>10}"
              f"  {METAFOR_SECONDS_PER_FIT * n_alone / alone:,.1f}× faster")
    seconds = best_of(notebook_grids, 1)
    mib = peak_mib(notebook_grids)
    print(f"{'notebook 06 default grids (34 scenarios)':<44}{seconds:9.3f}{'':>11}{mib:10.1f}")


if __name__ == "__main__":
    main()
