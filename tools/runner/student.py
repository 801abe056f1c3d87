"""Student copies of the notebooks: every ``solution`` cell removed, outputs of ``clear-output`` cells
cleared, everything else (exercises included) as committed. Standard library and nbformat only.

    python3 tools/compendium.py student DIR

A DIR outside the repository also gets what the notebooks read (the tracked files under ``src/`` and
``data/``, and ``environment.yml``, by which a notebook finds its root), so Run All works there; the
copies then write their figures and tables under DIR.

Tags (cell metadata ``tags``): ``exercise`` marks an exercise (a Markdown cell), ``solution`` its
answer (Markdown or code, in the cells that follow it), ``clear-output`` a code cell students should
run themselves.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from .environment import ROOT
CARRIED = ("src/", "data/", "environment.yml")  # what a copy outside the repository needs to run
SOLUTION, CLEAR, EXERCISE = "solution", "clear-output", "exercise"


def tags(cell) -> list[str]:
    """The tags of a notebook cell (an empty list when it has none)."""
    return list(cell.get("metadata", {}).get("tags", []))


def student_copy(nb):
    """The student version of a notebook node (a new node; ``nb`` is left as it is).

    Parameters
    ----------
    nb : nbformat.NotebookNode
        A notebook read with ``nbformat.read(..., as_version=4)``.

    Returns
    -------
    nbformat.NotebookNode
        Without ``solution`` cells; ``clear-output`` code cells without outputs or execution count.
    """
    import copy

    out = copy.deepcopy(nb)
    out.cells = [c for c in out.cells if SOLUTION not in tags(c)]
    for cell in out.cells:
        if cell.cell_type == "code" and CLEAR in tags(cell):
            cell.outputs, cell.execution_count = [], None
    return out


def write_student_copies(target: Path | str, notebooks: Path | str = ROOT / "notebooks") -> list[Path]:
    """Write the student copy of every ``*.ipynb`` in ``notebooks`` to ``target`` (created).

    Returns the written paths. Raises ValueError when ``target`` is the notebooks folder itself,
    so the committed notebooks can never be overwritten. A ``target`` outside the repository of
    ``notebooks`` also gets the files the notebooks read (:func:`carry_inputs`).
    """
    import nbformat

    source, target = Path(notebooks).resolve(), Path(target).resolve()
    if target == source:
        raise ValueError(f"target = {target}: the student copies must go to another folder than the notebooks")
    target.mkdir(parents=True, exist_ok=True)
    if not target.is_relative_to(source.parent):
        carry_inputs(source.parent, target)
    written = []
    for path in sorted(source.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.write(student_copy(nb), target / path.name)
        written.append(target / path.name)
    return written


def carry_inputs(root: Path, target: Path) -> list[str]:
    """Copy the tracked files of ``root`` under :data:`CARRIED` into ``target`` (a folder outside the
    repository), so the student copies there find ``src/helpers.py`` and their data; existing files
    are left as they are. Returns the copied paths (relative)."""
    from .publish import tracked_files

    copied = []
    for rel in tracked_files(root):
        if rel.startswith(CARRIED) and not (target / rel).exists():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, target / rel)
            copied.append(rel)
    return copied


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    written = write_student_copies(argv[0])
    print(f"[compendium] {len(written)} student copies written to {argv[0]}")
    return 0
