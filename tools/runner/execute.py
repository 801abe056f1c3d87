"""The build itself: the notebooks of ``GRAPH`` run side by side where their inputs allow, one per core,
each in its own kernel, into a staging folder; then the notebooks are put in place and the report is
written. Everything here happens inside the folder it is given (the build's own copy); publishing to
the working tree or a run folder is :mod:`runner.publish`'s.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from . import publish
from .environment import ROOT, say
from .graph import (GRAPH, NOTEBOOKS, critical_path_order, notebook_parameters, rerun_notebooks, review_notebooks,
                    with_inputs)
from .kernels import (IMPORTING, Stopped, WarmParent, import_kernel_machinery, kernel_environment, kill_kernel,
                      run_notebook, start_kernel, stop_kernel)
from .parameters import check_parameters


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


def quiet_thread() -> None:
    """Block SIGINT and SIGTERM in the calling thread (and the threads it starts): they reach the main
    thread only, which stops the build; a signal landing in a thread inside a zmq poll can abort libzmq."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


class _Run:
    """One build: a thread per notebook, each starting its kernel, waiting, then running its notebook.

    The threads take turns for the cores (``os.cpu_count()`` steps at a time): a notebook whose
    inputs are done and whose kernel is ready runs first, and of several such the one with the most
    work behind it (:func:`critical_path_order`); otherwise the next kernel starts, in that same
    order; the report's imports come last.
    """

    def __init__(self, root: Path, parameters: dict | None, verbose: bool, staging: Path, report: bool,
                 notebooks: list[str], declared: dict[str, dict]):
        self.root, self.parameters, self.verbose, self.staging = root, parameters or {}, verbose, staging
        self.notebooks = notebooks
        self.order = critical_path_order(notebooks)  # which kernel starts, and which ready notebook runs, first
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
        self.stopping = False  # stop() has begun
        self.imported = threading.Event()  # papermill and nbformat, imported by the main thread
        self.report_ready = threading.Event()  # the report's exporter made (or not wanted)
        self.exporter = None
        self.rendering = threading.Lock()  # one page at a time through the exporter
        self.pages: dict[str, object] = {}  # report pages rendered as their notebooks finished
        self.kernels: set = set()  # running kernels, shut down at once if the build is stopped
        self.warm_parent: WarmParent | None = None  # forks the kernels, where the system can fork
        self.threads: list[threading.Thread] = []

    # -- whose turn it is (called with self.changed held) --

    def runnable(self, name: str) -> bool:
        inputs_done = all(d in self.seconds or d not in self.notebooks for d in GRAPH[name])  # else not rerun
        return name in self.ready and name not in self.running and inputs_done

    def first_runnable(self, name: str) -> bool:
        ahead = self.order[:self.order.index(name)]
        return self.runnable(name) and not any(map(self.runnable, ahead))

    def may_start_kernel(self, name: str) -> bool:
        before = self.order[:self.order.index(name)]
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
        quiet_thread()
        km, log, holding = None, None, False
        try:
            if not self.verbose:
                log = open(self.staging / f"{name}.kernel.log", "wb")
            if not self.claim(lambda: self.may_start_kernel(name), name, self.starting):
                return
            holding = True
            km = start_kernel(self.root, log, stopped=lambda: self.failure is not None, connection_dir=self.staging,
                              warm_parent=self.warm_parent)
            with self.changed:
                self.kernels.add(km)
            holding = False
            self.release(name, self.ready)
            self.imported.wait()
            if not self.claim(lambda: self.first_runnable(name), name, self.running):
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
                with self.changed:
                    self.kernels.discard(km)
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
        quiet_thread()
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
        except BaseException:  # Ctrl-C or SIGTERM (KeyboardInterrupt) while the notebooks run
            self.stop()
            raise
        finally:
            with self.changed:
                self.finished = True
                self.changed.notify_all()
            if self.warm_parent is not None:
                self.warm_parent.close()

    def stop(self, wait: float = 20.0) -> None:
        """Stop the build: no step starts, every running kernel is killed (its notebook fails, its
        thread shuts it down), and the threads are waited for (``wait`` seconds at most), so nothing
        writes into the staging folder after it is removed. Once: a second call returns at once."""
        with self.changed:
            if self.stopping:
                return
            self.stopping = True
            self.failure = self.failure or BuildError("build", "stopped", "")
            kernels = list(self.kernels)
            self.changed.notify_all()
        if not self.verbose:  # papermill's "Kernel died while waiting for execute reply": the stop's own line says it
            logging.disable(logging.CRITICAL)
        try:
            for km in kernels:  # the thread running each shuts it down: no two threads touch one kernel's sockets
                kill_kernel(km)
            if self.warm_parent is not None:  # a kernel still being forked is not waited for
                self.warm_parent.close()
            deadline = time.monotonic() + wait
            for thread in self.threads:
                thread.join(max(0.0, deadline - time.monotonic()))
        finally:
            logging.disable(logging.NOTSET)

    def run_notebooks(self) -> dict[str, float]:
        """Start the notebooks' threads, import papermill meanwhile, wait for all of them."""
        if hasattr(os, "fork"):  # it imports while the rest starts
            self.warm_parent = WarmParent(self.root, kernel_environment(), quiet=not self.verbose)
        with IMPORTING:
            import_kernel_machinery()
        threads = self.threads = [threading.Thread(target=self.notebook, args=(name,), daemon=True)
                                  for name in self.notebooks]
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
        if self.failure:  # the build has failed: what still runs, or is still being started, is stopped
            self.stop()
            raise self.failure
        for thread in threads:
            thread.join()
        return dict(self.seconds)


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
          reuse: Path | str | None = None, report_at: str | None = None) -> dict[str, float]:
    """Run the notebooks of ``GRAPH`` with papermill, then write the HTML report.

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
        Run only these notebooks of ``GRAPH`` (with every notebook they depend on; default all),
        e.g. the notebooks that read review folders, for a drop-in review without the report.
    reuse : Path or str, optional
        A built repository (the working tree, for a run with other parameters). Notebooks the run's
        parameters do not reach (:func:`rerun_notebooks`) are not rerun: their notebooks and outputs
        (``WRITES``) are copied from there.
    report_at : str, optional
        Where the report will be once published, for the line that names it (default: its path
        under ``root``).

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
    with publish.scratch(root, "staging") as staging, quiet_papermill(verbose):
        chosen = with_inputs(notebooks) if notebooks else NOTEBOOKS
        if reuse is not None:
            rerun = rerun_notebooks(parameters, declared, chosen)
            kept = [n for n in chosen if n not in rerun]
            publish.copy_outputs(Path(reuse), root, kept)
            for name in kept:
                say(f"{name:<34}  kept: no parameter of this run reaches it")
            chosen = rerun
        run = _Run(root, parameters, verbose, Path(staging), report, chosen, declared)
        seconds = run.run() if chosen else {}
        old = publish.commit_notebooks(root, Path(staging), chosen)
    if report:
        t0 = time.perf_counter()
        try:
            with IMPORTING:
                helpers = load_helpers(root)
            index = helpers.build_report(root, parameters=report_parameters or parameters, rendered=run.pages)
        except Exception as exc:
            publish.restore_notebooks(old)
            raise build_error("report", exc) from exc
        seconds["report"] = time.perf_counter() - t0
        say(f"{'report ' + (report_at or index.relative_to(root).as_posix()):<34}{seconds['report']:6.1f} s")
    seconds["total"] = time.perf_counter() - start
    say(f"{'build finished':<34}{seconds['total']:6.1f} s")
    return seconds
