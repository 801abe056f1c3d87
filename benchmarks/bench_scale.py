"""A scaffolded review of k = 20, 2,000 and 20,000 studies, built as a drop-in run: wall time and peak memory.

    .venv/bin/python benchmarks/bench_scale.py [--k 20 2000 20000] [--repo PATH] [--keep DIR]

For each k the script writes a plain table of k studies (``study_id, yi, vi, year``; effects drawn
from a random-effects model with a fixed seed), scaffolds it with ``tools/compendium.py new-review``
in a copy of the repository's tracked files (the working tree is not touched), and builds it as a
drop-in run: ``build -p reviews='["scale_<k>"]' --out runs/scale_<k>`` (notebooks 01–05 rerun, the
others copied). It reports

- the build's wall time;
- peak memory per process: the peak resident set (``VmHWM`` in /proc/<pid>/status, which the kernel
  keeps for each process) of the build and of every process it starts (the notebooks' kernels),
  read from /proc every 50 ms while they run; ``max`` is the largest single process, ``sum`` the
  sum of all their peaks (an upper bound of what ran at once);
- the ratios of each against the k = 20 build of the same run (the machine's load moves the
  seconds; the ratios move less);
- the size of the largest report page and of the largest figure of the run.

Targets (issue 20): k = 2,000 in <= 30 s with peak <= 1 GB, k = 20,000 in <= 3 min with peak <= 2 GB
(peak = the largest process). Linux only (/proc).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "benchmarks"))
from bench_build import make_copy  # noqa: E402

TARGETS = {2_000: (30.0, 1024.0), 20_000: (180.0, 2048.0)}  # k: (wall seconds, peak MiB of one process)


def plain_table(k: int, path: Path, seed: int = 20231) -> Path:
    """k studies from a random-effects model (mu 0.3, tau2 0.04, vi uniform on (0.005, 0.2)) as a plain table."""
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.005, 0.2, k)
    yi = rng.normal(0.3, np.sqrt(0.04 + vi))
    year = rng.integers(1990, 2024, k)
    width = len(str(k))
    lines = ["study_id,yi,vi,year"] + [f"S{i + 1:0{width}d},{float(y)!r},{float(v)!r},{int(t)}" for i, (y, v, t) in enumerate(zip(yi, vi, year))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _children(pid: int) -> list[int]:
    """The direct children of ``pid`` (from /proc/<pid>/task/*/children)."""
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                out += [int(c) for c in handle.read().split()]
    except OSError:
        pass
    return out


def _peak_kib(pid: int) -> int | None:
    """VmHWM of ``pid`` in KiB (None once it has gone)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakWatcher(threading.Thread):
    """Poll the process tree under ``root_pid`` every ``every`` seconds; keep each process's last seen VmHWM."""

    def __init__(self, root_pid: int, every: float = 0.05):
        super().__init__(daemon=True)
        self.root_pid, self.every, self.peaks, self.done = root_pid, every, {}, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            todo, seen = [self.root_pid], set()
            while todo:
                pid = todo.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                peak = _peak_kib(pid)
                if peak is not None:
                    self.peaks[pid] = max(peak, self.peaks.get(pid, 0))
                todo += _children(pid)
            self.done.wait(self.every)


def largest(folder: Path, pattern: str) -> tuple[str, float]:
    """The largest file matching ``pattern`` under ``folder`` and its size in MiB."""
    files = sorted(folder.glob(pattern), key=lambda p: p.stat().st_size)
    if not files:
        return "-", 0.0
    return files[-1].name, files[-1].stat().st_size / 2 ** 20


def build_one(copy: Path, k: int, tmp: Path) -> dict:
    """Scaffold and build the review of k studies in ``copy``; wall seconds, peaks in MiB, page and figure sizes."""
    name = f"scale_{k}"
    python = str(copy / ".venv" / "bin" / "python")
    tool = str(copy / "tools" / "compendium.py")
    table = plain_table(k, tmp / f"{name}.csv")
    made = subprocess.run([python, tool, "new-review", name, "--from", str(table)], cwd=copy, capture_output=True, text=True)
    if made.returncode:
        return {"k": k, "error": f"new-review exit {made.returncode}: {made.stderr.strip().splitlines()[-1:]}"}
    out = f"runs/{name}"
    t0 = time.perf_counter()
    process = subprocess.Popen([python, tool, "build", "-p", f'reviews=["{name}"]', "--out", out], cwd=copy,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watcher = PeakWatcher(process.pid)
    watcher.start()
    log = process.communicate()[0]
    wall = time.perf_counter() - t0
    watcher.done.set()
    watcher.join()
    peaks = [kib / 1024 for kib in watcher.peaks.values()]
    result = {"k": k, "wall": wall, "max": max(peaks, default=0.0), "sum": sum(peaks), "processes": len(peaks)}
    if process.returncode:
        lines = [line for line in log.splitlines() if "failed" in line] or log.splitlines()[-1:]
        result["error"] = f"build exit {process.returncode}: {lines[0][:200] if lines else ''}"
        return result
    result["page"] = largest(copy / out / "reports", "*.html")
    result["figure"] = largest(copy / out / "figures", f"{name}_*")
    return result


def report(results: list[dict]) -> None:
    """One line per k: wall, peaks, ratios against the first k and the targets."""
    base = results[0]
    print(f"{'k':>7} {'wall s':>8} {'max MiB':>8} {'sum MiB':>8} {'wall/k0':>8} {'max/k0':>7}  target")
    for r in results:
        if "wall" not in r:
            print(f"{r['k']:>7}  {r['error']}")
            continue
        ratio_wall = r["wall"] / base["wall"] if "wall" in base else float("nan")
        ratio_max = r["max"] / base["max"] if base.get("max") else float("nan")
        target = TARGETS.get(r["k"])
        verdict = "" if target is None else (f"<= {target[0]:.0f} s, <= {target[1]:.0f} MiB: "
                                              + ("met" if r["wall"] <= target[0] and r["max"] <= target[1] else "MISSED"))
        print(f"{r['k']:>7} {r['wall']:>8.1f} {r['max']:>8.0f} {r['sum']:>8.0f} {ratio_wall:>8.2f} {ratio_max:>7.2f}  {verdict}")
        if "error" in r:
            print(f"{'':>9}{r['error']}")
        else:
            print(f"{'':>9}largest page {r['page'][0]} {r['page'][1]:.2f} MiB; largest figure {r['figure'][0]} "
                  f"{r['figure'][1]:.2f} MiB; {r['processes']} processes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, nargs="+", default=[20, 2_000, 20_000], help="review sizes (the first is the base of the ratios)")
    parser.add_argument("--repo", type=Path, default=HERE, help="checkout to measure (default: this one)")
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        print("[bench] needs Linux (/proc)")
        return 1
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        tmp = Path(tmp)
        copy = make_copy(args.repo.resolve(), tmp / "repo")
        print(f"[bench] os.cpu_count() = {os.cpu_count()}; building {args.repo.resolve()} in a copy", flush=True)
        for k in args.k:
            results.append(build_one(copy, k, tmp))
            r = results[-1]
            print(f"[bench] k = {k}: " + (f"{r['wall']:.1f} s, max {r['max']:.0f} MiB" if "wall" in r else "")
                  + (f" {r['error']}" if "error" in r else ""), flush=True)
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
