"""The build and the test command against a floor, in one run.

    .venv/bin/python benchmarks/bench_build.py [--repeat 3] [--repo PATH] [--no-test] [--variant ARGS] [--verbose]

The floor is what any build of these notebooks pays: papermill running, one after the other, an
import-only notebook (one code cell importing ``helpers`` and the numpy, pandas, scipy, statsmodels,
matplotlib and seaborn modules that src/ and the notebooks import) once for each notebook the build
runs. Against it the script times

- the build: the ``build`` function the build command calls, on a temporary copy of the repository's
  tracked files (the working tree is not touched);
- the test command: ``tools/compendium.py test`` in that copy.

Floor, build and test take turns, ``--repeat`` times. The script prints their median times, the ratios
build/floor and test/floor (the median of each turn's ratio: the machine's speed drifts less within a
turn than across turns), and ``os.cpu_count()``. It prints the same for the CPU seconds each took
(user + system, of the process and its kernels and subprocesses): the work itself, which neither
the number of cores nor other load on the machine changes much. ``--repo`` times another checkout with this
same floor (e.g. ``git archive HEAD`` unpacked in /tmp, for a before/after comparison). ``--variant``
adds, in each turn, the test command with other pytest arguments (e.g. without one test module), so
what a part of the tests costs is measured against the same floor. The script
writes nothing into the repository; the copy links to the .venv the script runs in.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import importlib.util
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the repository from loading tools/compendium.py
HERE = Path(__file__).resolve().parents[1]
SCIENTIFIC = ("numpy", "pandas", "scipy", "statsmodels", "matplotlib", "seaborn")


def load_module(path: Path, name: str):
    """Import the file ``path`` as module ``name`` (tools/compendium.py would clash with src/compendium)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the floor -------------------------------------------------------------------------------------

def code_cells(root: Path) -> list[str]:
    """The source of every Python file under src/ and every code cell of the notebooks."""
    sources = [p.read_text(encoding="utf-8") for p in sorted((root / "src").rglob("*.py"))]
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        sources += ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return sources


def scientific_imports(root: Path) -> list[str]:
    """Each distinct import statement of :data:`SCIENTIFIC` packages in src/ and the notebooks."""
    found = set()
    for source in code_cells(root):
        try:
            tree = ast.parse(source)
        except SyntaxError:  # a cell with IPython magics
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module or ""]
            else:
                continue
            if any(m.split(".")[0] in SCIENTIFIC for m in modules):
                found.add(ast.unparse(node))
    return sorted(found)


def floor_notebook(root: Path, folder: Path) -> Path:
    """Write the import-only notebook for ``root`` into ``folder``; return its path."""
    import nbformat

    source = "\n".join(["import sys", f"sys.path.insert(0, {str(root / 'src')!r})",
                        *scientific_imports(root), "import helpers"])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "imports_only.ipynb"
    nbformat.write(nb, path)
    return path


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished children (kernels, subprocesses)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextlib.contextmanager
def timed(into: dict, key: str):
    """Append the wall seconds to ``into[key]`` and the CPU seconds (:func:`cpu_seconds`) to ``into[key + " cpu"]``."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    yield
    into.setdefault(key, []).append(time.perf_counter() - wall)
    into.setdefault(key + " cpu", []).append(cpu_seconds() - cpu)


def run_floor(notebook: Path, root: Path, count: int) -> None:
    """``count`` sequential papermill runs of ``notebook`` (kernel started in notebooks/)."""
    import papermill

    for _ in range(count):
        papermill.execute_notebook(str(notebook), str(notebook.with_name("out.ipynb")), kernel_name="python3",
                                   progress_bar=False, cwd=str(root / "notebooks"))


# -- the build and the test command ------------------------------------------------------------------

@contextlib.contextmanager
def silenced(enabled: bool):
    """Send this process's stdout and stderr (and its children's) to the null device."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_test_command(copy: Path, extra: list[str] = ()) -> str:
    """Run ``tools/compendium.py test`` (with the pytest arguments ``extra``) in ``copy``; return the
    summary lines of pytest and nbval."""
    done = subprocess.run([sys.executable, str(copy / "tools" / "compendium.py"), "test", *extra], cwd=copy,
                          capture_output=True, text=True)
    summaries = [line for line in done.stdout.splitlines() if " passed" in line or " failed" in line]  # pytest, nbval
    return "; ".join(summaries) + (f" (exit {done.returncode})" if done.returncode else "")


def same_environment(copy: Path) -> bool:
    """True when the shared .venv was installed from the copy's requirements.txt (nothing to install)."""
    stamp = copy / ".venv" / ".requirements.sha256"
    digest = hashlib.sha256((copy / "requirements.txt").read_bytes()).hexdigest()
    return stamp.exists() and stamp.read_text().strip() == digest


def make_copy(repo: Path, target: Path) -> Path:
    """The tracked files of ``repo`` in ``target``, with .venv linked to this interpreter's environment."""
    load_module(HERE / "tools" / "compendium.py", "compendium_tool").copy_tracked(repo, target)
    (target / ".venv").symlink_to(Path(sys.prefix).resolve(), target_is_directory=True)
    return target


# -- the report --------------------------------------------------------------------------------------

def show(label: str, times: list[float], floors: list[float] | None = None, target: float | None = None) -> None:
    """One line: the median and every run, and against ``floors`` the median of the per-turn ratios."""
    line = f"[bench] {label:<10} median {statistics.median(times):6.1f} s   runs " + " ".join(f"{t:5.1f}" for t in times)
    if floors:
        ratio = statistics.median(t / f for t, f in zip(times, floors))
        line += f"   {label}/floor {ratio:.2f}" + (f" (target <= {target})" if target else "")
    print(line, flush=True)


def measure(copy: Path, tool, notebook: Path, repeat: int, test: bool, verbose: bool,
            variant: list[str] | None = None) -> dict[str, list]:
    """Floor, build and (if ``test``) test command, and the test command with the pytest arguments
    ``variant`` if given, ``repeat`` times in turn; their wall and CPU seconds."""
    times = {"summary": [""]}
    with silenced(not verbose):
        run_floor(notebook, copy, 1)  # unmeasured: imports papermill, warms the disk cache
    for _ in range(repeat):
        with silenced(not verbose):
            with timed(times, "floor"):
                run_floor(notebook, copy, len(tool.NOTEBOOKS))
            with timed(times, "build"):
                tool.build()  # the build command's build(), the copy's own tools/compendium.py
        if test:
            with timed(times, "test"):
                times["summary"][0] = run_test_command(copy)
            if variant:
                with timed(times, "variant"):
                    times.setdefault("variant summary", [""])[0] = run_test_command(copy, variant)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (median; default 3)")
    parser.add_argument("--repo", type=Path, default=HERE, help="checkout to time (default: this one)")
    parser.add_argument("--no-test", action="store_true", help="skip the test command")
    parser.add_argument("--verbose", action="store_true", help="show the build's own output")
    parser.add_argument("--variant", default="", metavar="ARGS",
                        help="also time the test command with these pytest arguments in each turn, e.g. "
                             "\"--deselect tests/test_parameter_run.py\" (what a test costs, against the same floor)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        copy = make_copy(args.repo.resolve(), Path(tmp) / "repo")
        tool = load_module(copy / "tools" / "compendium.py", "compendium_target")
        notebook = floor_notebook(copy, Path(tmp))
        test = not args.no_test and same_environment(copy)
        print(f"[bench] os.cpu_count() = {os.cpu_count()}; timing {args.repo.resolve()} in a copy, "
              f"{args.repeat} runs each", flush=True)
        print(f"[bench] floor: {len(tool.NOTEBOOKS)} x papermill of an import-only notebook:", flush=True)
        print("        " + "; ".join(scientific_imports(copy) + ["import helpers"]), flush=True)
        if not test and not args.no_test:
            print("[bench] skipping the test command: .venv was not installed from this requirements.txt")
        variant = shlex.split(args.variant) if test else []
        times = measure(copy, tool, notebook, args.repeat, test, args.verbose, variant)
    show("floor", times["floor"])
    show("build", times["build"], times["floor"], target=1.2)
    if "test" in times:
        show("test", times["test"], times["floor"], target=2.5)
    show("floor cpu", times["floor cpu"])  # CPU seconds: what the work costs, whatever the cores and the machine's load
    show("build cpu", times["build cpu"], times["floor cpu"])
    if "test" in times:
        show("test cpu", times["test cpu"], times["floor cpu"])
        print(f"[bench] test command: {times['summary'][0]}")
    if "variant" in times:
        print(f"[bench] variant: the test command with {args.variant}")
        show("variant", times["variant"], times["floor"], target=2.5)
        show("variant cpu", times["variant cpu"], times["floor cpu"])
        print(f"[bench] variant: {times['variant summary'][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
