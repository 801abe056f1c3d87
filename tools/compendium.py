"""The compendium's two commands. Needs only Python 3.11+ with pip and venv.

    python3 tools/compendium.py build   # set up .venv, run notebooks 01-05 with papermill, write the HTML report
    python3 tools/compendium.py test    # set up .venv, run pytest (unit tests, metafor agreement) and nbval

Both create (or reuse) a local virtual environment in .venv from the pinned requirements.txt;
the environment is rebuilt when requirements.txt changes.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
NOTEBOOKS = ["01_data_extraction", "02_effect_size_harmonisation", "03_pooled_models",
             "04_forest_funnel_plots", "05_box_score_mediator_synthesis"]


def say(message: str) -> None:
    print(f"[compendium] {message}", flush=True)


def ensure_venv() -> None:
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
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "-r", str(requirements)], check=True)
    stamp.write_text(digest)


def in_venv(code: str, *args: str) -> None:
    subprocess.run([str(PY), "-c", code, *args], check=True, cwd=ROOT)


def build(parameters: dict | None = None) -> None:
    """Run the five notebooks in order with papermill, strip run-time metadata, write the report."""
    ensure_venv()
    start = time.perf_counter()
    for i, name in enumerate(NOTEBOOKS, 1):
        t0 = time.perf_counter()
        say(f"[{i}/{len(NOTEBOOKS)}] running notebooks/{name}.ipynb")
        in_venv(RUN_NOTEBOOK, name, json.dumps(parameters or {}))
        say(f"[{i}/{len(NOTEBOOKS)}] done in {time.perf_counter() - t0:.1f} s")
    say("writing the HTML report (reports/index.html)")
    in_venv("import sys; sys.path.insert(0, 'src'); import helpers; print(helpers.build_report('.'))")
    say(f"build finished in {time.perf_counter() - start:.1f} s")


# Runs inside .venv: execute one notebook in place with papermill from notebooks/, then remove the
# timestamps and durations papermill and nbclient write into the metadata, so reruns are identical.
RUN_NOTEBOOK = r"""
import json, sys
from pathlib import Path
import nbformat, papermill

name, params = sys.argv[1], json.loads(sys.argv[2])
path = Path("notebooks") / f"{name}.ipynb"
papermill.execute_notebook(str(path), str(path), parameters=params, cwd="notebooks", kernel_name="python3",
                           progress_bar=False, report_mode=False)
nb = nbformat.read(path, as_version=4)
nb.metadata.pop("papermill", None)
nb.metadata.pop("widgets", None)
for i, cell in enumerate(nb.cells):
    cell.metadata.pop("papermill", None)
    cell.metadata.pop("execution", None)
    cell["id"] = f"{name[:2]}-{i:02d}"
nbformat.write(nb, path)
"""


def test(extra: list[str]) -> int:
    """pytest over tests/ (unit tests, metafor agreement, data checks, report) and nbval over notebooks/."""
    ensure_venv()
    command = [str(PY), "-m", "pytest", "tests", "notebooks", "--nbval", "--nbval-current-env",
               "-p", "no:cacheprovider", "-q", *extra]
    say("running: " + " ".join(command[1:]))
    return subprocess.run(command, cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("build", "test"):
        print(__doc__)
        return 2
    if argv[0] == "build":
        build()
        return 0
    code = test(argv[1:])
    if code == 5:
        say("pytest collected no tests: that is a failure here")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
