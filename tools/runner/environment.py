"""Step 0 of every command: the pinned virtual environment in .venv, and the runner's one way of speaking.

The commands need only Python 3.11+ with pip and venv; everything else (papermill, the notebooks'
packages) lives in .venv, installed from requirements.txt and reinstalled when that file changes.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def say(message: str, stream=None) -> None:
    """Print one line of the runner's output, prefixed ``[compendium]``."""
    print(f"[compendium] {message}", file=stream or sys.stdout, flush=True)


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
