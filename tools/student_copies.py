"""Student copies of the notebooks: every ``solution`` cell removed, outputs of ``clear-output`` cells
cleared, everything else (exercises included) as committed. Standard library and nbformat only.

    python3 tools/compendium.py student DIR      # or: python3 tools/student_copies.py DIR

Tags (cell metadata ``tags``): ``exercise`` marks an exercise (a Markdown cell), ``solution`` its
answer (Markdown or code, in the cells that follow it), ``clear-output`` a code cell students should
run themselves.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
    so the committed notebooks can never be overwritten.
    """
    import nbformat

    source, target = Path(notebooks).resolve(), Path(target).resolve()
    if target == source:
        raise ValueError(f"target = {target}: the student copies must go to another folder than the notebooks")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(source.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.write(student_copy(nb), target / path.name)
        written.append(target / path.name)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    written = write_student_copies(argv[0])
    print(f"[compendium] {len(written)} student copies written to {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
