"""Make src/ importable for the tests, and let nbval's run of the notebooks double as the build check.

``tools/compendium.py test`` runs one pytest session over the notebooks, each in a copy of its own
without its outputs (nbval reruns it there, so it writes its tables and figures again from the
committed inputs), and over tests/, with ``--built=<the copies' folder>``. Each notebook runs on one
worker followed by the test that compares what it wrote with the committed files (a pytest-xdist
scheduler); the notebooks and the test modules share the workers.
"""
import atexit
import contextlib
import importlib.util
import os
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def load_tool(name: str = "compendium_tool"):
    """tools/compendium.py as a module (under its own name: src/compendium is a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "compendium.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (but a build's working copy) and its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and ".build-" not in p.as_posix()}


_TOOL = load_tool("compendium_tool_notebooks")
NOTEBOOKS = _TOOL.NOTEBOOKS
REVIEW_NOTEBOOKS = _TOOL.review_notebooks(_TOOL.notebook_parameters(ROOT))  # the notebooks that read data/raw


def pytest_addoption(parser):
    parser.addoption("--built", default=None,
                     help="the folder of the copies (one per notebook) in which nbval runs the notebooks in this "
                          "session (set by `tools/compendium.py test`); without it the pipeline tests build a copy")
    parser.addoption("--screenshots", default=None, metavar="DIR",
                     help="the report test writes a full-page screenshot of every report page into DIR")


OUTPUTS_TEST = "test_notebooks_write_the_committed_tables_and_figures_byte_for_byte"  # in test_pipeline.py


def notebook_of(nodeid: str) -> str | None:
    """The notebook a test belongs to: its nbval cells and the test of what it wrote."""
    path, _, name = nodeid.partition("::")
    if path.endswith(".ipynb"):
        return Path(path).stem if Path(path).stem in NOTEBOOKS else None
    if name.startswith(OUTPUTS_TEST + "["):
        return name[len(OUTPUTS_TEST) + 1:-1]
    return None


SHARED = ("tests/test_parameter_run.py",)  # modules whose tests share one costly fixture: one unit each
# Single tests that take seconds (a kernel, Chromium, the report's exporter): started before the many
# short ones, so that no worker is left with one of them at the end while the other waits.
LONG = ("tests/test_pipeline.py::test_the_report_rebuilt_from_the_committed_notebooks_is_the_committed_report",
        "tests/test_pipeline.py::test_report_opens_without_missing_images_broken_links_or_console_errors",
        "tests/test_pipeline.py::test_papermill_with_other_parameters_never_writes_over_committed_results",
        "tests/test_pipeline.py::test_a_broken_sheet_stops_the_build_and_leaves_the_tree_as_it_was",
        "tests/test_student_copies.py::test_student_copies_outside_the_repository_run_all_there")


def unit_order(scope: str, size: int) -> tuple:
    """Where a unit of work goes in the queue: the modules of :data:`SHARED` (the drop-in run, the
    longest), then the notebooks, then the tests of :data:`LONG`, then the rest; within each, the
    biggest first (pytest-xdist's order)."""
    rank = 0 if scope in SHARED else 1 if scope in NOTEBOOKS else 2 if scope in LONG else 3
    return rank, -size


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scheduling with units of work: each notebook (its cells in order, then the test
    of what it wrote), each module of :data:`SHARED`, and every other test on its own, queued by
    :func:`unit_order`."""
    from xdist.scheduler import LoadScopeScheduling

    class NotebookScheduling(LoadScopeScheduling):
        queued = False

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.partition("::")[0]
            return notebook_of(nodeid) or (path if path in SHARED else nodeid)

        def _assign_work_unit(self, node) -> None:
            if not self.queued:  # the queue is complete by the first assignment
                self.queued = True
                units = sorted(self.workqueue.items(), key=lambda unit: unit_order(unit[0], len(unit[1])))
                self.workqueue.clear()
                self.workqueue.update(units)
            super()._assign_work_unit(node)

    return NotebookScheduling(config, log)


# -- nbval's kernels, forked from a warm parent ---------------------------------------------------

_WARM: dict = {}  # this process's warm parent, made at its first notebook


def warm_parent():
    """This process's warm parent (:class:`runner.kernels.WarmParent`, the packages behind ``helpers``
    imported), made at first use and closed when the session ends; None where there is no fork."""
    if not hasattr(os, "fork"):
        return None
    if "parent" not in _WARM:
        _WARM["parent"] = _TOOL.runner.kernels.WarmParent(None, dict(os.environ), cwd=ROOT / "notebooks")
    return _WARM["parent"]


@contextlib.contextmanager
def kernel_manager():
    """A kernel manager (not yet started) for a test that runs a notebook (nbclient's or papermill's
    ``km``), its kernel forked from :func:`warm_parent` where there is one: the same kernel at a tenth
    of the CPU. They leave a kernel they were given running: it is shut down on leaving the block."""
    kernels = _TOOL.runner.kernels
    km = kernels.kernel_manager_class()(kernel_name="python3")
    parent = warm_parent()
    try:
        yield kernels.fork_from(km, parent) if parent is not None else km
    finally:
        if km.has_kernel:
            kernels.stop_kernel(km)


def pytest_configure(config):
    """Under ``--nbval`` (the test command), nbval's kernels are forked from one warm parent per
    worker (:class:`runner.kernels.WarmParent`, with the packages behind ``helpers`` imported; each
    notebook imports the compendium's own modules from its copy): about 0.4 s of CPU per kernel instead
    of 1.7 s. A kernel is the same as ``python -m ipykernel_launcher`` makes, in a session of its own.
    In the session's own process, Ctrl-C and SIGTERM stop the session once, a repeat within a second
    ignored (:func:`runner.signals.install_repeat_handlers`)."""
    if not hasattr(config, "workerinput") and threading.current_thread() is threading.main_thread():
        _SIGNALS.update(_TOOL.runner.signals.install_repeat_handlers())
    if not (config.getoption("--nbval", default=False) and hasattr(os, "fork")):
        return
    import nbval.kernel

    kernels = _TOOL.runner.kernels

    class ForkedKernelManager(nbval.kernel.KernelManager):
        def start_kernel(self, **kwargs):
            kernels.fork_from(self, warm_parent())
            return super().start_kernel(**kwargs)

    nbval.kernel.KernelManager = ForkedKernelManager


def pytest_unconfigure(config):
    if "parent" in _WARM:
        _WARM.pop("parent").close()
    _TOOL.runner.signals.restore(_SIGNALS)  # the caller's handlers again (pytest.main() run in-process)
    _SIGNALS.clear()
    if hasattr(config, "workerinput"):  # a pytest-xdist worker, its results sent: it ends when the others do
        atexit.register(_exit_at_once)


_SIGNALS: dict = {}  # the handlers the session's own ones replaced


def _exit_at_once():
    """Registered last, run first: run a worker's other exit handlers now, then leave without the
    interpreter's slow teardown of numpy, pandas, scipy and matplotlib (about 0.5 s, for which the
    whole session waits at its end)."""
    atexit.unregister(_exit_at_once)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
