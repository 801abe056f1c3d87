"""The compendium's two commands. Needs only Python 3.11+ with pip and venv.

    python3 tools/compendium.py build [--verbose]   # set up .venv, run notebooks 00-06 with papermill, write the HTML report
    python3 tools/compendium.py build -p tau2_method=PM -p ci_method=knha [--out DIR]
                                                    # the same with other parameters, into runs/<parameters> or DIR
                                                    # (notebooks no parameter reaches are copied, not rerun)
    python3 tools/compendium.py new-review NAME --from FILE.csv   # data/raw/NAME/ from a plain table (study_id + r,n | yi,vi | m1,sd1,n1,m2,sd2,n2)
    python3 tools/compendium.py test [pytest args]  # set up .venv, one pytest session: unit, metafor agreement, pipeline,
                                                    # report, and nbval over the notebooks (one worker per core)

Both create (or reuse) a local virtual environment in .venv from the pinned requirements.txt;
the environment is rebuilt when requirements.txt changes.

The build runs the notebooks as a dependency graph (``GRAPH``): notebooks whose inputs are ready run at
the same time, and each notebook's kernel is started (and has imported ``helpers``) while the notebooks it
depends on still run. Every notebook executes into a temporary file; the committed notebooks are replaced
only when all of them succeeded. It prints one line per notebook, one for the report and the total;
``--verbose`` adds everything else (pip, papermill's log, the kernels' own output, full tracebacks).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

# Each notebook and the notebooks it must wait for: 01 checks the sheets all others read (a sheet that
# breaks its codebook stops the build there), 03 and 05 read what 02 writes (05 nothing else), 04 reads
# the fits 03 writes. The report comes after all five.
GRAPH: dict[str, tuple[str, ...]] = {
    "00_worked_example": (),
    "01_data_extraction": (),
    "02_effect_size_harmonisation": ("01_data_extraction",),
    "03_pooled_models": ("02_effect_size_harmonisation",),
    "04_forest_funnel_plots": ("03_pooled_models",),
    "05_box_score_mediator_synthesis": ("02_effect_size_harmonisation",),
    "06_simulation_lab": (),
}
NOTEBOOKS = list(GRAPH)

# What each notebook writes, as patterns (``fnmatch``, ``*`` crossing folders) under the repository root
# with the default folders, and what the report writes. A run with other parameters copies the outputs
# of a notebook it does not rerun; the test command compares each notebook's files with the committed
# ones; a test checks that every committed output matches exactly one entry.
WRITES: dict[str, tuple[str, ...]] = {
    "00_worked_example": ("figures/classic_*",),
    "01_data_extraction": ("data/processed/*/prisma_counts.csv", "figures/*_prisma.*",
                           "reports/tables/*_study_characteristics.csv", "figures/*_rob_*",
                           "reports/tables/*_risk_of_bias.csv"),
    "02_effect_size_harmonisation": ("data/processed/*/effect_sizes.csv", "data/processed/*/not_converted.csv",
                                     "reports/tables/*_plausibility.csv"),
    "03_pooled_models": ("data/processed/*/fits.csv", "data/processed/*/analysis_rows.csv",
                         "data/processed/*/subgroup_fits.csv", "reports/tables/*_analyses.csv",
                         "reports/tables/*_choices.csv", "reports/tables/*_subgroups.csv",
                         "reports/tables/*_sensitivity.csv", "reports/tables/*_dependence.csv",
                         "reports/tables/comparison.csv", "reports/tables/*_multiverse.csv", "figures/*_multiverse_*",
                         "reports/tables/*_certainty.csv", "reports/tables/*_summary_of_findings.csv",
                         "reports/tables/*_risk_of_bias_variants.csv",
                         "reports/tables/*_bayes.csv", "figures/*_tau_posterior.*"),  # *_sensitivity.csv holds *_prior_sensitivity.csv
    "04_forest_funnel_plots": ("figures/*_forest_*", "figures/*_funnel_*", "figures/*_baujat_*", "figures/*_gosh_*",
                               "reports/tables/*_small_study.csv", "reports/tables/*_selection_methods.csv",
                               "reports/tables/*_influence.csv"),
    "05_box_score_mediator_synthesis": ("reports/tables/*_vote_counts.csv", "reports/tables/*_study_votes.csv",
                                        "reports/tables/*_roles.csv", "figures/*_effect_direction*"),
    "06_simulation_lab": ("figures/simulation_*", "reports/tables/simulation_*"),
    "report": ("reports/*.html", "figures/comparison_published_vs_ours.*"),
}

# What a kernel imports while it waits for its inputs: the notebooks' one import and the matplotlib
# modules behind pyplot (not pyplot itself: the notebooks choose the backend before importing it).
WARM_UP_IMPORTS = ("helpers", "matplotlib.figure", "matplotlib.backends.backend_agg")
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]  # as nbclient starts kernels: no history file
# Imports from several threads at once can fail (pyzmq's do), so the build imports under this lock.
IMPORTING = threading.Lock()


def say(message: str, stream=None) -> None:
    """Print one line of the build's output."""
    print(f"[compendium] {message}", file=stream or sys.stdout, flush=True)


# -- the virtual environment ---------------------------------------------------------------------

def ensure_venv(verbose: bool = False) -> None:
    """Create .venv and install requirements.txt unless the installed set already matches it."""
    requirements = ROOT / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = VENV / ".requirements.sha256"
    if PY.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return
    if not PY.exists():
        say(f"creating virtual environment {VENV.relative_to(ROOT)}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    say("installing pinned packages from requirements.txt (first run only; a few minutes)")
    pip_install(["--upgrade", "pip"], verbose)
    pip_install(["-r", str(requirements)], verbose)
    stamp.write_text(digest)


def pip_install(args: list[str], verbose: bool) -> None:
    """``pip install`` into .venv; its output is shown only with ``--verbose`` or when it fails."""
    command = [str(PY), "-m", "pip", "install", *([] if verbose else ["--quiet"]), *args]
    done = subprocess.run(command, capture_output=not verbose, text=True)
    if done.returncode:
        if not verbose:
            sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"[compendium] pip install {' '.join(args)} failed (exit {done.returncode})")


def running_in_venv() -> bool:
    """True when this interpreter is the one in .venv (papermill and the notebooks' packages are here)."""
    return Path(sys.prefix).resolve() == VENV.resolve()


# -- tracked files (for the tests and the benchmark, which build in a copy) ------------------------

IGNORED = {".git", ".venv", "__pycache__", ".pytest_cache", ".ipynb_checkpoints"}


def tracked_files(root: Path) -> list[str]:
    """The repository's tracked files (``git ls-files``); outside git, every file but caches and .venv.

    Parameters
    ----------
    root : Path
        The repository root.

    Returns
    -------
    list of str
        Paths relative to ``root``, with forward slashes.
    """
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
        files = [p for p in listed.decode().split("\0") if p and (root / p).is_file()]
    except (OSError, subprocess.CalledProcessError):
        files = []
    if files:
        return files
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in IGNORED and not d.startswith(".build-")]
        files += [(Path(folder) / n).relative_to(root).as_posix() for n in names]
    return files


def copy_tracked(root: Path, target: Path) -> Path:
    """Copy the tracked files of ``root`` into ``target`` (created) and return ``target``."""
    for name in tracked_files(root):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target / name)
    return target


def notebook_copy(root: Path, target: Path, name: str) -> Path:
    """:func:`copy_tracked` without the outputs of the notebook ``name`` (:data:`WRITES`): running it
    there must make its tables, processed files and figures again, from the committed inputs."""
    copy_tracked(root, target)
    for rel in outputs_of(target, name):
        (target / rel).unlink()
    return target


def fresh_copy(root: Path, target: Path) -> Path:
    """:func:`copy_tracked` without the derived outputs (:data:`OUTPUTS` but the notebooks), so that
    running the notebooks there must make every table, processed file and figure again."""
    copy_tracked(root, target)
    for folder in OUTPUTS[1:]:
        shutil.rmtree(target / folder, ignore_errors=True)
    return target


# -- the build -------------------------------------------------------------------------------------

class BuildError(Exception):
    """A notebook (or the report) failed.

    Attributes
    ----------
    step : str
        The notebook's name, or ``"report"``.
    line : str
        One line: the exception's last line, for a notebook the cell's error and its cell number.
    detail : str
        The full traceback.
    """

    def __init__(self, step: str, line: str, detail: str):
        super().__init__(f"{step}: {line}")
        self.step, self.line, self.detail = step, line, detail


def build_error(step: str, exc: BaseException) -> BuildError:
    """Summarise ``exc`` (a papermill cell error or any other exception) as a :class:`BuildError`."""
    if hasattr(exc, "ename"):  # papermill.PapermillExecutionError: the error the cell raised
        line = " ".join(f"{exc.ename}: {exc.evalue}".split()) + f" (cell [{exc.exec_count}])"
        return BuildError(step, line, str(exc))
    line = " ".join(f"{type(exc).__name__}: {exc}".split())
    return BuildError(step, line, "".join(traceback.format_exception(exc)))


def strip_run_metadata(nb, name: str):
    """Drop the timestamps and durations papermill and nbclient write, number the cells, and join
    consecutive stream outputs (the kernel may send one print in one message or in two).

    With these removed a rerun writes a byte-identical notebook.
    """
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        cell["id"] = f"{name[:2]}-{i:02d}"
        outputs = []
        for out in cell.get("outputs", []):
            if (out.get("output_type") == "stream" and outputs and outputs[-1].get("output_type") == "stream"
                    and outputs[-1].get("name") == out.get("name")):
                outputs[-1]["text"] += out["text"]
            else:
                outputs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outputs
    return nb


@functools.cache
def kernel_manager_class() -> type:
    """jupyter_client's AsyncKernelManager, keeping the clients it makes so :func:`stop_kernel` can close
    them (papermill leaves a kernel it was given running, and its client open)."""
    from jupyter_client.manager import AsyncKernelManager

    class KernelManager(AsyncKernelManager):
        def client(self, **kwargs):
            client = super().client(**kwargs)
            self.__dict__.setdefault("clients_made", []).append(client)
            return client

    return KernelManager


def import_kernel_machinery() -> None:
    """Import all that :func:`start_kernel` needs (kernel spec included), so its threads import nothing."""
    import jupyter_client.blocking  # noqa: F401
    import jupyter_core.utils  # noqa: F401

    kernel_manager_class()(kernel_name="python3").kernel_spec  # noqa: B018 - loads ipykernel's spec code


class Stopped(Exception):
    """The build stopped (another step failed) while this kernel was starting."""


def start_kernel(root: Path, log, stopped=lambda: False) -> object:
    """Start a Python kernel in ``root/notebooks`` and let it import :data:`WARM_UP_IMPORTS`.

    The imports run silently (no output, no execution count, names removed afterwards), so the
    notebook later finds them in ``sys.modules`` and nothing else differs. If ``stopped()`` turns
    true meanwhile (e.g. a bad sheet), the kernel is shut down at once and :class:`Stopped` raised.

    Parameters
    ----------
    root : Path
        The repository root.
    log : file or None
        Where the kernel process writes its own stdout and stderr; None inherits the terminal.
    stopped : callable
        Asked every tenth of a second while the imports run.

    Returns
    -------
    jupyter_client.AsyncKernelManager
        The running kernel (of :func:`kernel_manager_class`), for ``papermill.execute_notebook(km=...)``.
    """
    from jupyter_core.utils import run_sync

    km = kernel_manager_class()(kernel_name="python3")
    run_sync(km.start_kernel)(cwd=str(root / "notebooks"), extra_arguments=KERNEL_ARGUMENTS,
                              stdout=log, stderr=log, env={**os.environ, "COMPENDIUM_BUILD": "1"})
    src = str(root / "src")
    code = (f"import importlib as _i, sys as _s\n_s.path.insert(0, {src!r})\n"
            f"for _m in {WARM_UP_IMPORTS!r}:\n    try:\n        _i.import_module(_m)\n"
            f"    except Exception:\n        pass\n_s.path.remove({src!r})\ndel _i, _s, _m\n")
    client = km.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        msg_id = client.execute(code, silent=True, store_history=False)
        deadline = time.monotonic() + 120
        while True:
            if stopped():
                raise Stopped()
            try:
                if client.get_shell_msg(timeout=0.1)["parent_header"].get("msg_id") == msg_id:
                    break
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise TimeoutError("the kernel took over 120 s to import the notebooks' modules") from None
    except BaseException:
        stop_kernel(km)
        raise
    finally:
        client.stop_channels()
    return km


def stop_kernel(km) -> None:
    """Close the kernel's clients and shut it down (it has finished its notebook, or the build stopped)."""
    from jupyter_core.utils import run_sync

    with contextlib.suppress(Exception):
        for client in km.__dict__.get("clients_made", []):
            client.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)


def run_notebook(km, source: Path, target: Path, name: str, parameters: dict | None) -> None:
    """Run ``source`` with papermill in the kernel ``km``; write it, metadata stripped, to ``target``."""
    import nbformat
    import papermill

    nb = nbformat.read(source, as_version=4)
    nb = papermill.execute_notebook(nb, None, parameters=parameters or None, kernel_name="python3",
                                    progress_bar=False, request_save_on_cell_execute=False, km=km)
    nbformat.write(strip_run_metadata(nb, name), target)


class _Run:
    """One build: a thread per notebook, each starting its kernel, waiting, then running its notebook.

    The threads take turns for the cores (``os.cpu_count()`` steps at a time): a notebook whose
    inputs are done and whose kernel is ready runs first; otherwise the next kernel starts, in the
    order of :data:`NOTEBOOKS`; the report's imports come last.
    """

    def __init__(self, root: Path, parameters: dict | None, verbose: bool, staging: Path, report: bool,
                 notebooks: list[str], declared: dict[str, dict]):
        self.root, self.parameters, self.verbose, self.staging = root, parameters or {}, verbose, staging
        self.notebooks = notebooks
        self.declared = declared  # each notebook's parameters (notebook_parameters)
        self.report = report
        self.free = os.cpu_count() or 1
        self.changed = threading.Condition()
        self.starting: set[str] = set()  # kernel started or starting
        self.ready: set[str] = set()     # kernel has its imports
        self.running: set[str] = set()   # notebook running or done
        self.seconds: dict[str, float] = {}  # notebook done
        self.failure: BuildError | None = None
        self.finished = False  # all notebooks done or stopped: the report's imports are no longer wanted
        self.imported = threading.Event()  # papermill and nbformat, imported by the main thread
        self.report_ready = threading.Event()  # the report's exporter made (or not wanted)
        self.exporter = None
        self.rendering = threading.Lock()  # one page at a time through the exporter
        self.pages: dict[str, object] = {}  # report pages rendered as their notebooks finished

    # -- whose turn it is (called with self.changed held) --

    def runnable(self, name: str) -> bool:
        inputs_done = all(d in self.seconds or d not in self.notebooks for d in GRAPH[name])  # else not rerun
        return name in self.ready and name not in self.running and inputs_done

    def may_start_kernel(self, name: str) -> bool:
        before = self.notebooks[:self.notebooks.index(name)]
        return self.starting.issuperset(before) and not any(map(self.runnable, self.notebooks))

    def may_prepare_report(self) -> bool:
        return self.starting.issuperset(self.notebooks) and not any(map(self.runnable, self.notebooks))

    # -- taking and giving back a core --

    def claim(self, turn, name: str | None = None, into: set | None = None) -> bool:
        """Wait for a free core and ``turn()``; record ``name`` in ``into``. False if the build is over."""
        with self.changed:
            self.changed.wait_for(lambda: self.failure or self.finished or (self.free and turn()))
            if self.failure or self.finished:
                return False
            self.free -= 1
            if into is not None:
                into.add(name)
            return True

    def release(self, name: str | None = None, into: set | None = None) -> None:
        with self.changed:
            self.free += 1
            if into is not None:
                into.add(name)
            self.changed.notify_all()

    def fail(self, step: str, exc: BaseException) -> None:
        with self.changed:
            self.failure = self.failure or build_error(step, exc)
            self.changed.notify_all()

    # -- the threads --

    def notebook(self, name: str) -> None:
        """Start the kernel, wait for the inputs, run the notebook, record its time."""
        km, log, holding = None, None, False
        try:
            if not self.verbose:
                log = open(self.staging / f"{name}.kernel.log", "wb")
            if not self.claim(lambda: self.may_start_kernel(name), name, self.starting):
                return
            holding = True
            km = start_kernel(self.root, log, stopped=lambda: self.failure is not None)
            holding = False
            self.release(name, self.ready)
            self.imported.wait()
            if not self.claim(lambda: self.runnable(name), name, self.running):
                return
            holding = True
            start = time.perf_counter()
            given = {k: v for k, v in self.parameters.items() if k in self.declared[name]}  # its own only
            run_notebook(km, self.root / "notebooks" / f"{name}.ipynb", self.staging / f"{name}.ipynb",
                         name, given)
            seconds = time.perf_counter() - start
            say(f"{name:<34}{seconds:6.1f} s")
            with self.changed:
                self.seconds[name] = seconds
            holding = False
            self.release()
        except BaseException as exc:  # noqa: BLE001 - build() raises it
            self.fail(name, exc)
            if holding:
                self.release()
        finally:
            if km is not None:
                stop_kernel(km)
            if log is not None:
                log.close()
        if self.report and name in self.seconds:
            self.render(name)

    def render(self, name: str) -> None:
        """Render the finished notebook's report page on a core no notebook wants (the report takes it)."""
        self.report_ready.wait()
        if self.exporter is None or not self.claim(lambda: not any(map(self.runnable, self.notebooks))):
            return
        try:
            with self.rendering:
                helpers = sys.modules["helpers"]
                self.pages[name] = helpers.render_page(self.staging / f"{name}.ipynb", name, self.exporter)
        except Exception:  # noqa: BLE001 - the report renders the page itself, and says what fails
            pass
        finally:
            self.release()

    def prepare_report(self) -> None:
        """Import what the report needs and make its exporter while a core is free."""
        try:
            if self.claim(self.may_prepare_report):
                with contextlib.suppress(Exception), IMPORTING:
                    self.exporter = load_helpers(self.root).report_exporter(self.root)
                self.release()
        finally:
            self.report_ready.set()  # also when the build stopped: no page waits for ever

    def run(self) -> dict[str, float]:
        """Run every notebook; return their wall seconds or raise the first :class:`BuildError`."""
        try:
            return self.run_notebooks()
        finally:
            with self.changed:
                self.finished = True
                self.changed.notify_all()

    def run_notebooks(self) -> dict[str, float]:
        """Start the notebooks' threads, import papermill meanwhile, wait for all of them."""
        with IMPORTING:
            import_kernel_machinery()
        threads = [threading.Thread(target=self.notebook, args=(name,), daemon=True) for name in self.notebooks]
        for thread in threads:
            thread.start()
        try:
            with IMPORTING:  # while the first kernels start
                import nbformat  # noqa: F401
                import papermill  # noqa: F401
        except Exception as exc:
            self.fail("papermill", exc)
        try:  # while the first kernels start: a bad sheet stops the build before any notebook runs
            with IMPORTING:
                check_sheets(self.root, self.parameters, {n: self.declared[n] for n in self.notebooks})
        except Exception as exc:  # noqa: BLE001 - build() raises it
            self.fail("sheet check", exc)
        self.imported.set()
        if self.report:
            threading.Thread(target=self.prepare_report, daemon=True).start()
        with self.changed:
            self.changed.wait_for(lambda: self.failure or len(self.seconds) == len(self.notebooks))
        for thread in threads:
            thread.join()
        if self.failure:
            raise self.failure
        return dict(self.seconds)


def notebook_parameters(root: Path) -> dict[str, dict]:
    """Each notebook's parameters and their defaults, read from its cell tagged ``parameters``.

    Returns
    -------
    dict
        Notebook name → {parameter: default value} (assignments of literals; comments ignored).
    """
    import ast
    import json

    found = {}
    for name in NOTEBOOKS:
        cells = json.loads((root / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
        source = "".join(next((c["source"] for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])), ""))
        found[name] = {t.id: ast.literal_eval(node.value) for node in ast.parse(source).body
                       if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    return found


def check_parameters(parameters: dict, declared: dict[str, dict]) -> None:
    """Raise ValueError naming a parameter no notebook has (a typo would otherwise change nothing)."""
    known = sorted({p for names in declared.values() for p in names})
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ValueError(f"no notebook has a parameter {', '.join(map(repr, unknown))}: "
                         f"the notebooks' parameters are {', '.join(known)}")


def review_notebooks(declared: dict[str, dict]) -> list[str]:
    """The notebooks that read the review folders under data/raw: those with a ``reviews`` parameter."""
    return [name for name in declared if "reviews" in declared[name]]


def rerun_notebooks(parameters: dict, declared: dict[str, dict], chosen: list[str]) -> list[str]:
    """The notebooks of ``chosen`` a run with ``parameters`` must rerun, in build order.

    A notebook reruns when it has one of the run's parameters, when it reads the review folders
    (it has a ``reviews`` parameter: a drop-in folder is read by the run as it is now), or when it
    reads a notebook that reruns. The others would give their committed outputs again.
    """
    rerun: list[str] = []
    for name in chosen:
        if (set(parameters) & set(declared[name]) or name in review_notebooks(declared)
                or any(d in rerun for d in GRAPH[name])):
            rerun.append(name)
    return rerun


def written_by(rel: str) -> list[str]:
    """The steps (notebooks, ``"report"``) whose :data:`WRITES` patterns match the path ``rel``."""
    import fnmatch

    return [step for step, patterns in WRITES.items() if any(fnmatch.fnmatchcase(rel, p) for p in patterns)]


def outputs_of(root: Path, step: str) -> list[str]:
    """The files under ``root`` that ``step`` (a notebook or ``"report"``) writes (:data:`WRITES`)."""
    found = []
    for folder in OUTPUTS[1:]:
        for path in sorted((root / folder).rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and step in written_by(rel):
                found.append(rel)
    return found


def copy_outputs(source: Path, target: Path, names: list[str]) -> None:
    """Copy the notebooks ``names`` and their outputs (:data:`WRITES`) from ``source`` to ``target``."""
    for name in names:
        for rel in [f"notebooks/{name}.ipynb", *outputs_of(source, name)]:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, target / rel)


def check_sheets(root: Path, parameters: dict, declared: dict[str, dict]) -> None:
    """Validate every review folder the notebooks of ``declared`` read (if any reads review folders)
    against its codebook, before any notebook runs.

    Notebook 01 validates them too; this makes a bad sheet stop the build at once, with its one-line
    error (file, line, study, column, value), instead of after the kernels have started.
    """
    readers = [declared[name] for name in review_notebooks(declared) if "raw_dir" in declared[name]]
    if not readers:
        return
    defaults = readers[0]
    helpers = load_helpers(root)
    helpers.load_reviews(root / parameters.get("raw_dir", defaults["raw_dir"]),
                         parameters.get("reviews", defaults["reviews"]))


def load_helpers(root: Path):
    """Import the notebooks' ``helpers`` module from ``root/src`` (once per process)."""
    if "helpers" not in sys.modules:
        sys.path.insert(0, str(root / "src"))
    import helpers

    return helpers


def _with_inputs(names: list[str]) -> list[str]:
    """``names`` and every notebook they depend on, in the order of :data:`NOTEBOOKS`."""
    unknown = [n for n in names if n not in GRAPH]
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}: choose from {NOTEBOOKS}")
    wanted, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += GRAPH[name]
    return [n for n in NOTEBOOKS if n in wanted]


def commit(root: Path, staging: Path, notebooks: list[str] = NOTEBOOKS) -> dict[Path, bytes]:
    """Replace the committed notebooks with the executed ones; return the old contents."""
    old = {}
    for name in notebooks:
        target = root / "notebooks" / f"{name}.ipynb"
        old[target] = target.read_bytes()
        partial = target.with_name(f".{name}.ipynb.partial")
        shutil.copyfile(staging / f"{name}.ipynb", partial)
        os.replace(partial, target)
    return old


_QUIET = {"builds": 0, "level": logging.NOTSET}  # builds hiding papermill's log, its level before them
_QUIET_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_papermill(verbose: bool):
    """Hide papermill's (and nbclient's) log messages unless ``verbose``, while any quiet build runs."""
    logger = logging.getLogger("papermill")
    if not verbose:
        with _QUIET_LOCK:
            if not _QUIET["builds"]:
                _QUIET["level"] = logger.level
                logger.setLevel(logging.ERROR)
            _QUIET["builds"] += 1
    try:
        yield
    finally:
        if not verbose:
            with _QUIET_LOCK:
                _QUIET["builds"] -= 1
                if not _QUIET["builds"]:
                    logger.setLevel(_QUIET["level"])


def build(parameters: dict | None = None, *, root: Path | str = ROOT, verbose: bool = False,
          report: bool = True, report_parameters: dict | None = None, notebooks: list[str] | None = None,
          reuse: Path | str | None = None) -> dict[str, float]:
    """Run the notebooks of :data:`GRAPH` with papermill, then write the HTML report.

    Must run in the environment of .venv (``main`` sees to that). Notebooks whose inputs are ready run
    in parallel, one per core. Each executes into a temporary file; only when all succeeded do they
    replace the notebooks in ``root/notebooks`` (and they are put back if the report fails).

    Parameters
    ----------
    parameters : dict, optional
        Papermill parameters; each notebook gets those its ``parameters`` cell has (a name no
        notebook has raises ValueError); default none.
    root : Path or str
        The repository to build (default: this one). The notebooks write their tables, figures and
        processed data under it.
    verbose : bool
        Show papermill's log and the kernels' own output.
    report : bool
        Write ``reports/`` after the notebooks.
    report_parameters : dict, optional
        The parameters the report's landing page names (default: ``parameters``).
    notebooks : list of str, optional
        Run only these notebooks of :data:`GRAPH` (with every notebook they depend on; default all),
        e.g. the notebooks that read review folders, for a drop-in review without the report.
    reuse : Path or str, optional
        A built repository (the working tree, for a run with other parameters). Notebooks the run's
        parameters do not reach (:func:`rerun_notebooks`) are not rerun: their notebooks and outputs
        (:data:`WRITES`) are copied from there.

    Returns
    -------
    dict
        Wall seconds per notebook, ``"report"`` and ``"total"``.

    Raises
    ------
    BuildError
        Naming the notebook (or the report) that failed and its error.
    """
    root = Path(root).resolve()
    start = time.perf_counter()
    parameters = parameters or {}
    declared = notebook_parameters(root)
    check_parameters(parameters, declared)
    with tempfile.TemporaryDirectory(prefix="compendium-build-") as staging, quiet_papermill(verbose):
        chosen = _with_inputs(notebooks) if notebooks else NOTEBOOKS
        if reuse is not None:
            rerun = rerun_notebooks(parameters, declared, chosen)
            kept = [n for n in chosen if n not in rerun]
            copy_outputs(Path(reuse), root, kept)
            for name in kept:
                say(f"{name:<34}  kept: no parameter of this run reaches it")
            chosen = rerun
        run = _Run(root, parameters, verbose, Path(staging), report, chosen, declared)
        seconds = run.run() if chosen else {}
        old = commit(root, Path(staging), chosen)
    if report:
        t0 = time.perf_counter()
        try:
            with IMPORTING:
                helpers = load_helpers(root)
            index = helpers.build_report(root, parameters=report_parameters or parameters, rendered=run.pages)
        except Exception as exc:
            for path, content in old.items():
                path.write_bytes(content)
            raise build_error("report", exc) from exc
        seconds["report"] = time.perf_counter() - t0
        say(f"{'report ' + index.relative_to(root).as_posix():<34}{seconds['report']:6.1f} s")
    seconds["total"] = time.perf_counter() - start
    say(f"{'build finished':<34}{seconds['total']:6.1f} s")
    return seconds


# -- the commands ----------------------------------------------------------------------------------

OUTPUTS = ("notebooks", "data/processed", "figures", "reports")  # what a build writes; all else is input
RUNS = "runs"  # where a build with other parameters goes unless --out says otherwise


def working_files(root: Path) -> list[str]:
    """Every file of the working tree but caches, .venv, earlier runs and derived outputs (not notebooks).

    Untracked drop-in folders under ``data/raw/`` are included, so a new review builds before it is
    committed; derived outputs are left out, so outputs of a review that no longer exists vanish.
    """
    derived = ("data/processed/", "figures/", "reports/", f"{RUNS}/")
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in IGNORED and not d.startswith(".build-")]
        for name in names:
            rel = (Path(folder) / name).relative_to(root).as_posix()
            if not rel.startswith(derived):
                files.append(rel)
    return files


def publish(staging: Path, target: Path) -> None:
    """Replace the outputs under ``target`` with those built in ``staging`` (stale ones disappear)."""
    for name in OUTPUTS:
        source, dest = staging / name, target / name
        if name == "notebooks":
            dest.mkdir(parents=True, exist_ok=True)
            for nb in source.glob("*.ipynb"):
                shutil.copyfile(nb, dest / nb.name)
            continue
        if dest.exists():
            shutil.rmtree(dest)
        if source.exists():
            shutil.copytree(source, dest)


def parse_parameters(pairs: list[str]) -> dict:
    """``["tau2_method=PM", "level=0.9"]`` → {"tau2_method": "PM", "level": 0.9} (numbers, lists, booleans parsed)."""
    import ast

    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"-p {pair!r}: write -p name=value, e.g. -p tau2_method=PM")
        key, value = pair.split("=", 1)
        try:
            out[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key.strip()] = value
    return out


def run_folder(parameters: dict) -> str:
    """The default folder of a run with other parameters, e.g. ``runs/ci_method-knha_tau2_method-PM``."""
    def text(value) -> str:
        value = "+".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        return "".join(c for c in value if c.isalnum() or c in "._+-")

    return f"{RUNS}/" + "_".join(f"{k}-{text(v)}" for k, v in sorted(parameters.items()))


def build_command(verbose: bool, parameters: dict | None = None, out: str | None = None, root: Path = ROOT) -> int:
    """``build``: build a copy of the working tree in .venv and publish its outputs only on success.

    Without parameters and ``--out`` the outputs replace those of the working tree (a failed build
    leaves the tree as it was, and outputs of removed reviews disappear). With parameters other
    than the notebooks' defaults, or with ``--out DIR``, everything goes to that folder (default
    ``runs/<parameters>``) and the committed results stay untouched; notebooks the parameters do
    not reach (:func:`rerun_notebooks`) are not rerun, their notebooks and outputs are copied from
    the working tree. A parameter no notebook has stops the command before anything runs.
    """
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    else:
        import warnings

        warnings.simplefilter("ignore")
    parameters = parameters or {}
    root = Path(root)
    try:
        check_parameters(parameters, notebook_parameters(root))
    except ValueError as error:
        say(str(error), sys.stderr)
        return 2
    target = root / out if out else (root / run_folder(parameters) if parameters else root)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=root) as work:
        work = Path(work)
        for name in working_files(root):
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, work / name)
        try:
            build(parameters, root=work, verbose=verbose, report_parameters=parameters, reuse=root if parameters else None)
        except BuildError as error:
            if verbose:
                print(error.detail, file=sys.stderr)
            line = error.line.replace(str(work) + os.sep, "")  # name files as the reader sees them
            say(f"{error.step} failed: {line}" + ("" if verbose else " (--verbose shows the traceback)"), sys.stderr)
            say("nothing was written: the working tree is as it was", sys.stderr)
            return 2 if error.step == "sheet check" else 1  # bad input (a sheet, review.json) exits 2
        publish(work, target)
    if target != root:
        say(f"written to {target.relative_to(root) if target.is_relative_to(root) else target}")
    return 0


def test(extra: list[str]) -> int:
    """pytest over tests/ (unit tests, metafor agreement, data checks, pipeline, report) and nbval over the notebooks.

    One pytest session: nbval reruns every committed notebook, cell by cell against its outputs, each
    in a copy of the tracked files of its own without that notebook's outputs (``.build-test-*/<notebook>``,
    removed afterwards). There it reads the committed inputs and writes its own tables, processed files
    and figures again; the pipeline tests compare those with the committed ones byte for byte
    (``--built``). If every notebook makes its committed outputs from the committed inputs, the build,
    which runs them in order, makes them all. The notebooks need not wait for one another, so each runs
    with its comparison on one worker, side by side with the others and the other tests, one worker per
    core (pytest-xdist). ``extra`` arguments go to pytest. pytest's exit code 5 (nothing collected) is kept.
    """
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix=".build-test-", dir=ROOT) as copy:  # inside the rootdir: its test ids
        notebooks = [notebook_copy(ROOT, Path(copy) / name, name) / "notebooks" / f"{name}.ipynb" for name in NOTEBOOKS]
        command = [str(PY), "-m", "pytest", "-p", "no:cacheprovider", "-p", "nbval.plugin", "-q", "--rootdir", str(ROOT),
                   *(["-p", "xdist.plugin", "-n", str(workers)] if workers > 1 else []),
                   f"--built={copy}", *map(str, notebooks), "--nbval", "--nbval-current-env", "tests", *extra]
        env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # only the plugins named here (e.g. not anyio's)
        return subprocess.run(command, cwd=ROOT, env=env).returncode


def new_review_command(options: list[str]) -> int:
    """``new-review NAME --from FILE.csv``: scaffold data/raw/NAME/ from a plain table (src/compendium/scaffold.py)."""
    if len(options) != 3 or options[1] != "--from":
        print(__doc__)
        return 2
    from compendium.scaffold import new_review
    from compendium.sheets import load_review

    name, table = options[0], options[2]
    try:
        folder = new_review(name, table, ROOT / "data" / "raw")
    except (ValueError, FileExistsError) as error:
        say(str(error), sys.stderr)
        return 2
    review = load_review(folder)
    say(f"{folder.relative_to(ROOT)}/ written: {len(review.sheets['studies'])} studies, {len(review.effects)} effect rows "
        f"({review.meta['effect_measure']}); next: python3 tools/compendium.py build")
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "student":  # student copies: tools/student_copies.py, standard library + nbformat
        return subprocess.run([str(PY if PY.exists() else sys.executable), str(ROOT / "tools" / "student_copies.py"), *argv[1:]]).returncode
    if not argv or argv[0] not in ("build", "test", "new-review"):
        print(__doc__)
        return 2
    command, options = argv[0], argv[1:]
    verbose = "--verbose" in options
    parameters, out = {}, None
    if command == "build":
        rest = [o for o in options if o != "--verbose"]
        pairs = []
        while rest:
            flag = rest.pop(0)
            if flag not in ("-p", "--out") or not rest:
                print(__doc__)
                return 2
            value = rest.pop(0)
            if flag == "-p":
                pairs.append(value)
            else:
                out = value
        try:
            parameters = parse_parameters(pairs)
        except ValueError as error:
            say(str(error), sys.stderr)
            return 2
    ensure_venv(verbose)
    if command == "test":
        code = test(options)
        if code == 5:
            say("pytest collected no tests: that is a failure here")
            return 1
        return code
    if not running_in_venv():  # one interpreter in .venv runs the whole build
        return subprocess.run([str(PY), str(Path(__file__).resolve()), *argv]).returncode
    sys.path.insert(0, str(ROOT / "src"))  # before tools/: src/compendium is a package of that name
    if command == "new-review":
        return new_review_command(options)
    return build_command(verbose, parameters, out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
