"""Student copies (tools/runner/student.py): no solution left, every exercise kept, outputs of
clear-output cells removed, and the committed notebooks untouched."""
import hashlib
import re
import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import kernel_manager, load_tool

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
student_copies = load_tool().runner.student


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def digests():
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in NOTEBOOKS}


def test_every_notebook_has_three_to_five_exercises_each_with_a_solution():
    assert len(NOTEBOOKS) == 7
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        exercises = [i for i, c in enumerate(cells) if "exercise" in tags(c)]
        assert 3 <= len(exercises) <= 5, path.name
        for start, end in zip(exercises, exercises[1:] + [len(cells)]):
            assert cells[start].cell_type == "markdown"
            assert any("solution" in tags(c) for c in cells[start + 1:end]), f"{path.name}: cell {start}"
        for c in cells:
            if "clear-output" in tags(c):
                assert c.cell_type == "code" and c.outputs, f"{path.name}: a clear-output cell without output"


def test_student_copies_keep_exercises_and_drop_solutions_and_outputs(tmp_path):
    before = digests()
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "compendium.py"), "student", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert digests() == before
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        original = nbformat.read(path, as_version=4)
        copy = nbformat.read(tmp_path / path.name, as_version=4)
        assert not [c for c in copy.cells if "solution" in tags(c)]
        assert [c.source for c in copy.cells if "exercise" in tags(c)] == \
            [c.source for c in original.cells if "exercise" in tags(c)]
        for c in copy.cells:
            if "clear-output" in tags(c):
                assert c.outputs == [] and c.execution_count is None
        kept = [c for c in original.cells if "solution" not in tags(c) and "clear-output" not in tags(c)]
        assert [c.get("outputs") for c in kept] == [c.get("outputs") for c in copy.cells if "clear-output" not in tags(c)]
        assert len(copy.cells) == len(original.cells) - sum("solution" in tags(c) for c in original.cells)


def test_student_copies_refuse_to_overwrite_the_notebooks():
    with pytest.raises(ValueError, match="another folder"):
        student_copies.write_student_copies(ROOT / "notebooks", ROOT / "notebooks")


def test_notebooks_open_clean_in_jupyterlab():
    """JupyterLab marks a notebook modified on open when its kernelspec differs from the installed kernel's
    or when it must add cell ids (nbformat < 4.5): every notebook names the project's kernel as installed."""
    from jupyter_client.kernelspec import KernelSpecManager

    installed = KernelSpecManager().get_kernel_spec("python3")
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        spec = nb.metadata["kernelspec"]
        assert (spec["name"], spec["display_name"], spec["language"]) == ("python3", installed.display_name, "python"), path.name
        assert (nb.nbformat, nb.nbformat_minor) == (4, 5) and all(c.get("id") for c in nb.cells), path.name


def test_compute_and_extend_exercises_leave_students_a_code_cell_and_nothing_dangles(tmp_path):
    """Under every compute or extend exercise the student copy keeps a code cell (a ``starter`` naming the
    variables to use, or a ``clear-output`` cell to run); an exercise that points at "the next cell" or
    "the cell below" has one there once the solutions are gone."""
    for path in NOTEBOOKS:
        cells = student_copies.student_copy(nbformat.read(path, as_version=4)).cells
        for i, cell in enumerate(cells):
            if "exercise" not in tags(cell):
                continue
            title = cell.source.split("**")[1] if cell.source.startswith("**") else cell.source[:40]
            follows = cells[i + 1] if i + 1 < len(cells) else None
            needs = any(w in title for w in ("Compute", "Extend")) or re.search(r"next cell|cell below", cell.source)
            if needs:
                assert follows is not None and follows.cell_type == "code" and "solution" not in tags(follows), \
                    f"{path.name}: {title}"
            if follows is not None and "starter" in tags(follows):
                assert follows.source.startswith("# Your turn"), f"{path.name}: {title}"
                assert not follows.get("outputs"), f"{path.name}: a starter prints nothing (no answer)"


def test_no_two_exercises_critique_the_same_study():
    named = {}
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if "exercise" in tags(cell):
                for study in set(re.findall(r"\b[A-Z][a-z]+20\d\d\b", cell.source)):
                    named.setdefault(study, []).append(path.name)
    assert {s: where for s, where in named.items() if len(where) > 1} == {}


def test_student_copies_outside_the_repository_run_all_there(tmp_path):
    """A DIR outside the repository gets what the notebooks read (src/, data/, environment.yml); a copy
    run there from top to bottom (here 01, a notebook that reads the raw sheets) writes under DIR only."""
    from nbclient import NotebookClient

    before = digests()
    handout = tmp_path / "handout"
    assert student_copies.main([str(handout)]) == 0
    assert (handout / "src" / "helpers.py").is_file() and (handout / "data" / "raw" / "behr2025" / "review.json").is_file()
    path = handout / "01_data_extraction.ipynb"
    nb = nbformat.read(path, as_version=4)
    with kernel_manager() as km:
        NotebookClient(nb, km=km, timeout=120, resources={"metadata": {"path": str(handout)}}).execute()
    assert list((handout / "figures").glob("*_prisma.png"))
    assert digests() == before
