"""Make src/ importable for the tests, and let nbval's run of the notebooks double as the build check.

``tools/compendium.py test`` runs one pytest session over a fresh copy's notebooks (nbval reruns them
there, so the copy gets every table and figure the notebooks write) and over tests/, with
``--built=<the copy>``. Each group of notebooks that share inputs (``lanes()`` of the build graph) runs
on one worker, in order, followed by the test that compares what it wrote with the committed files
(a pytest-xdist scheduler); the lanes and the test modules share the workers.
"""
import importlib.util
import sys
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


LANE_OF = {name: first for first, names in load_tool("compendium_tool_lanes").lanes().items() for name in names}


def pytest_addoption(parser):
    parser.addoption("--built", default=None,
                     help="a fresh copy of the repository whose notebooks nbval runs in this session "
                          "(set by `tools/compendium.py test`); without it the pipeline tests build a copy")
    parser.addoption("--screenshots", default=None, metavar="DIR",
                     help="the report test writes a full-page screenshot of every report page into DIR")


LANE_TEST = "test_notebooks_write_the_committed_tables_and_figures_byte_for_byte"  # in test_pipeline.py


def lane_of(nodeid: str) -> str | None:
    """The lane a test belongs to: a notebook's nbval cells and the test of what that lane wrote."""
    path, _, name = nodeid.partition("::")
    if path.endswith(".ipynb"):
        return LANE_OF.get(Path(path).stem)
    if name.startswith(LANE_TEST + "["):
        return name[len(LANE_TEST) + 1:-1]
    return None


SHARED = ("tests/test_parameter_run.py",)  # modules whose tests share one costly fixture: one unit each


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scheduling with units of work: each lane (its notebooks' cells in order, then its
    test), each module of :data:`SHARED`, and every other test on its own; the biggest units go first."""
    from xdist.scheduler import LoadScopeScheduling

    class LaneScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.partition("::")[0]
            return lane_of(nodeid) or (path if path in SHARED else nodeid)

    return LaneScheduling(config, log)
