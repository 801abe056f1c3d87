"""Timings and peak memory of influence diagnostics, Baujat data and GOSH.

    .venv/bin/python benchmarks/bench_influence.py

Targets: influence diagnostics (REML and DL) at k = 1,000 in <= 1 s; leave-one-out and influence
diagnostics (REML) at k = 20,000 in <= 5 s (closed forms, O(k) for all k deleted fits); GOSH over all
65,535 subsets of k = 16 studies (FE and DL) in <= 0.5 s. Data are simulated with a fixed seed; each
timing is the best of several repeats, with the cache of deleted fits emptied before each call; peak
memory is measured separately with tracemalloc (which slows the run).
"""
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import meta_analysis as ma  # noqa: E402
from meta_analysis import influence  # noqa: E402
from measure import best_of, peak_mib, simulate  # noqa: E402


def uncached(func):
    """``func`` with the cache of deleted fits emptied first, so every call computes them."""
    def run():
        influence._CACHE.clear()
        return func()
    return run


def main() -> None:
    big, sixteen, ten, many, huge = simulate(1_000), simulate(16), simulate(10), simulate(30), simulate(20_000)
    tasks = [
        ("leave-one-out REML", 20_000, lambda: ma.leave_one_out(*huge, method="REML"), 5.0),
        ("influence diagnostics REML", 20_000, lambda: ma.influence_diagnostics(*huge, method="REML"), 5.0),
        ("influence diagnostics REML", 1_000, lambda: ma.influence_diagnostics(*big, method="REML"), 1.0),
        ("influence diagnostics DL", 1_000, lambda: ma.influence_diagnostics(*big, method="DL"), 1.0),
        ("baujat FE", 1_000, lambda: ma.baujat(*big, method="FE"), None),
        ("GOSH FE, 65,535 subsets", 16, lambda: ma.gosh(*sixteen, method="FE"), 0.5),
        ("GOSH DL, 65,535 subsets", 16, lambda: ma.gosh(*sixteen, method="DL"), 0.5),
        # REML refits every subset by Fisher scoring (models.py): far slower, shown at k = 10
        ("GOSH REML, 1,023 subsets", 10, lambda: ma.gosh(*ten, method="REML"), None),
        ("GOSH DL, 10^6 random subsets", 30, lambda: ma.gosh(*many, method="DL"), None),
    ]
    print(f"{'task':<32}{'k':>7}{'seconds':>10}{'peak MiB':>10}  target")
    for task, k, func, target in tasks:
        func = uncached(func)
        func()  # warm up
        seconds = best_of(func, 1 if "REML, 1,023" in task or "10^6" in task else 5)
        mib = peak_mib(func)
        verdict = "" if target is None else f"<= {target:g} s {'met' if seconds <= target else 'MISSED'}"
        print(f"{task:<32}{k:>7}{seconds:>10.3f}{mib:>10.1f}  {verdict}")


if __name__ == "__main__":
    main()
