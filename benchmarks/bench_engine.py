"""Timings and peak memory of the engine, with the same work in PyMARE and statsmodels where they can do it.

    .venv/bin/python -m pip install -r benchmarks/requirements.txt   # optional: PyMARE
    .venv/bin/python benchmarks/bench_engine.py

Targets (issue 2): one REML fit at k = 100,000 in <= 0.05 s; leave-one-out at k = 1,000 in < 0.5 s.
Data are simulated with a fixed seed. Each timing is the best of several repeats.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import helpers as h  # noqa: E402
from measure import best_of, peak_mib, simulate  # noqa: E402

TARGETS = {("REML fit", 100_000): 0.05, ("leave-one-out REML", 1_000): 0.5}


def others(k: int, yi: np.ndarray, vi: np.ndarray) -> dict:
    out = {}
    try:
        from pymare.estimators import VarianceBasedLikelihoodEstimator

        def pymare_reml():
            VarianceBasedLikelihoodEstimator(method="REML").fit(y=yi[:, None], v=vi[:, None], X=np.ones((k, 1)))

        out["PyMARE REML"] = best_of(pymare_reml, 3)
    except ImportError:
        out["PyMARE REML"] = None
    from statsmodels.stats.meta_analysis import combine_effects

    out["statsmodels PM (iterated)"] = best_of(lambda: combine_effects(yi, vi, method_re="iterated"), 3)
    return out


def main() -> None:
    rows = []
    for k in (70, 1_000, 100_000):
        yi, vi = simulate(k)
        seconds = best_of(lambda: h.fit_meta(yi, vi, method="REML"), 5)
        rows.append(("REML fit", k, seconds, peak_mib(lambda: h.fit_meta(yi, vi, method="REML")), others(k, yi, vi)))
    yi, vi = simulate(1_000)
    seconds = best_of(lambda: h.leave_one_out(yi, vi, method="REML"), 3)
    rows.append(("leave-one-out REML", 1_000, seconds, peak_mib(lambda: h.leave_one_out(yi, vi, method="REML")), {}))
    yi, vi = simulate(200)
    rows.append(("trim-and-fill REML", 200, best_of(lambda: h.trim_and_fill(yi, vi), 3), None, {}))

    print(f"{'task':<22}{'k':>9}{'seconds':>11}{'peak MiB':>10}  target   comparison")
    for task, k, seconds, mib, comparison in rows:
        target = TARGETS.get((task, k))
        verdict = "" if target is None else (f"<= {target:g} s {'met' if seconds <= target else 'MISSED'}")
        extra = ", ".join(f"{name} {t:.4f} s" if t is not None else f"{name}: not installed" for name, t in comparison.items())
        mib_text = f"{mib:10.1f}" if mib is not None else f"{'':>10}"
        print(f"{task:<22}{k:>9,}{seconds:>11.4f}{mib_text}  {verdict:<14} {extra}")


if __name__ == "__main__":
    main()
