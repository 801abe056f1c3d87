"""The test command: one pytest session over tests/ and, through nbval, over the notebooks, each notebook
in a copy of the tracked files of its own without that notebook's outputs.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from . import publish
from .environment import PY, ROOT
from .graph import NOTEBOOKS, OUTPUTS, outputs_of
from .publish import copy_tracked
from .signals import run_forwarding


def notebook_copy(root: Path, target: Path, name: str) -> Path:
    """:func:`copy_tracked` without the outputs of the notebook ``name`` (``WRITES``): running it
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


def test(extra: list[str]) -> int:
    """pytest over tests/ (unit tests, metafor agreement, data checks, pipeline, report) and nbval over the notebooks.

    One pytest session: nbval reruns every committed notebook, cell by cell against its outputs, each
    in a copy of the tracked files of its own without that notebook's outputs (``.build-test-*/<notebook>``,
    removed afterwards). There it reads the committed inputs and writes its own tables, processed files
    and figures again; the pipeline tests compare those with the committed ones byte for byte
    (``--built``). If every notebook makes its committed outputs from the committed inputs, the build,
    which runs them in order, makes them all. The notebooks need not wait for one another, so each runs
    with its comparison on one worker, side by side with the others and the other tests, one worker per
    core (pytest-xdist). A test's temporary folder is removed when it passes and kept when it fails
    (pytest's ``tmp_path_retention_policy=failed``; an error in setup loses it too), and the
    folders of module- and session-wide fixtures go when the session ends with every test passed:
    /tmp does not keep a copy of the repository per test and run. ``extra`` arguments go to pytest.
    pytest's exit code 5 (nothing collected) is kept.
    """
    workers = os.cpu_count() or 1
    with publish.scratch(ROOT, "test") as copy:  # inside the rootdir: its test ids
        notebooks = [notebook_copy(ROOT, Path(copy) / name, name) / "notebooks" / f"{name}.ipynb" for name in NOTEBOOKS]
        command = [str(PY), "-m", "pytest", "-p", "no:cacheprovider", "-p", "nbval.plugin", "-q", "--rootdir", str(ROOT),
                   "-o", "tmp_path_retention_policy=failed",  # a passed test's folder goes at once, a failed one's stays
                   *(["-p", "xdist.plugin", "-n", str(workers)] if workers > 1 else []),
                   f"--built={copy}", *map(str, notebooks), "--nbval", "--nbval-current-env", "tests", *extra]
        env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # only the plugins named here (e.g. not anyio's)
        return run_forwarding(command, cwd=ROOT, env=env)
