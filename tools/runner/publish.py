"""The one module that writes: the build's own copy, its scratch folders, and publishing the outputs.

Its rules, checked before anything runs (one line and exit 2 when one fails):

- **A run writes only into its own folder.** ``--out DIR`` must be new, empty, or hold the marker file
  (:data:`RUN_MARKER`) an earlier run wrote; never the repository, a folder above it, a folder holding
  committed files, anything under ``data/``, or a file (:func:`check_out`).
- **Path parameters stay inside the build's copy.** Every ``*_dir`` parameter is a relative path that
  resolves inside the copy; the folders notebooks write to lie outside ``data/raw`` (raw review folders
  are read only); every ``reviews`` entry is the plain name of a folder under the raw folder
  (:func:`check_paths`).

and, while the build runs:

- **Publishing is atomic per folder** (:func:`publish`): the new folders are staged complete next to the
  target, then each output folder is swapped in by rename, the old one kept until every swap succeeded
  and put back if one fails. Files in an output folder that no notebook writes (``WRITES``) are carried
  over: a build removes only outputs.
- **One build at a time** per working tree (:func:`lock`): a second build waits up to :data:`LOCK_WAIT`
  seconds, then stops with one line.
- **Nothing is left behind**: every folder the build makes is named ``.build-*`` and holds an owner file
  (:data:`OWNER`, the process id and host); a stopped build removes its own, and the next build removes
  any whose owner process is dead (a SIGKILL) (:func:`remove_stale`).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .graph import NOTEBOOKS, OUTPUTS, RUNS, declared_defaults, written_by

RUN_MARKER = ".compendium-run"  # in a run folder: an earlier run of this tool wrote it
OWNER = ".owner"  # in every .build-* folder: {"pid": ..., "host": ...} of the process that made it
LOCK = ".build-lock"  # a folder in the working tree while a build holds it
LOCK_WAIT = 120.0  # seconds a second build waits for the first
IGNORED = {".git", ".venv", "__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
READ_ONLY = "data"  # nothing under data/ but the processed folder is ever a target
RAW = "data/raw"


class UnsafePath(ValueError):
    """A target or path parameter that would write outside the run's own folder (one line)."""


class PublishError(RuntimeError):
    """Publishing failed; every folder was put back as it was (one line)."""


def _step(label: str) -> None:
    """Called between every two publishing steps; the tests replace it to inject a failure there."""


# -- what belongs to this build --------------------------------------------------------------------

def _owner() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def scratch(root: Path, kind: str):
    """A folder ``root/.build-<kind>-*`` holding an owner file, removed on exit (also on Ctrl-C)."""
    folder = Path(tempfile.mkdtemp(prefix=f".build-{kind}-", dir=root))
    try:
        (folder / OWNER).write_text(json.dumps(_owner()))
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale(root: Path) -> list[Path]:
    """Remove the ``.build-*`` folders under ``root`` whose owner file names a dead process of this host.

    Folders without an owner file, or of a live process or another host, are left alone: only what
    this tool can prove is its own is removed. Returns the removed folders.
    """
    removed = []
    for folder in sorted(root.glob(".build-*")):
        try:
            owner = json.loads((folder / OWNER).read_text())
        except (OSError, ValueError):
            continue
        if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int) and not _alive(owner["pid"]):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@contextlib.contextmanager
def lock(root: Path, wait: float | None = None, tell=lambda line: None):
    """Hold the working tree's build lock (a folder ``root/.build-lock`` with an owner file).

    A lock whose owner is dead is taken over. While another build holds it, wait up to ``wait``
    seconds (default :data:`LOCK_WAIT`; ``tell`` says so once), then raise :class:`PublishError`.
    """
    path = root / LOCK
    deadline = time.monotonic() + (LOCK_WAIT if wait is None else wait)
    told = False
    while True:
        try:
            path.mkdir()
            break
        except FileExistsError:
            try:
                owner = json.loads((path / OWNER).read_text())
            except (OSError, ValueError):
                owner = {}
            if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int) \
                    and not _alive(owner["pid"]):
                shutil.rmtree(path, ignore_errors=True)
                continue
            if time.monotonic() > deadline:
                raise PublishError(f"another build (process {owner.get('pid', '?')}) is running in {root}: "
                                   f"try again when it has finished (or remove {LOCK}/ if it is gone)") from None
            if not told:
                tell(f"waiting for the build (process {owner.get('pid', '?')}) that is running in this tree")
                told = True
            time.sleep(0.2)
    try:
        (path / OWNER).write_text(json.dumps(_owner()))
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- the rules at the door ---------------------------------------------------------------------------

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


def check_out(root: Path, out: str | Path) -> Path:
    """The folder a run with ``--out out`` writes to, resolved; :class:`UnsafePath` if it may not.

    Relative paths are taken from the repository root. The folder must not exist, be empty, or hold
    :data:`RUN_MARKER`; it must not be the repository, a folder above it, a folder that holds (or lies
    in a folder that holds) committed files, anything under ``data/``, or a file.
    """
    root = Path(root).resolve()
    target = (root / out).resolve()
    shown = f"--out {out}"
    if target.exists() and not target.is_dir():
        raise UnsafePath(f"{shown}: {target} is a file; name a new or empty folder")
    if root.is_relative_to(target):
        raise UnsafePath(f"{shown}: {target} is the repository or a folder above it; name a new folder, "
                         f"e.g. --out {RUNS}/my_run")
    if target.is_relative_to(root):
        rel = target.relative_to(root).as_posix()
        if rel == READ_ONLY or rel.startswith(f"{READ_ONLY}/") or rel.split("/")[0] in OUTPUTS:
            raise UnsafePath(f"{shown}: {rel}/ lies in a folder the build reads or writes; name a new folder, "
                             f"e.g. --out {RUNS}/my_run")
        holding = [f for f in tracked_files(root) if f.startswith(f"{rel}/")]
        if holding:
            raise UnsafePath(f"{shown}: {rel}/ holds committed files ({holding[0]}); name a new folder, "
                             f"e.g. --out {RUNS}/my_run")
    if target.is_dir() and any(target.iterdir()) and not (target / RUN_MARKER).is_file():
        raise UnsafePath(f"{shown}: {target} holds files and no {RUN_MARKER} (an earlier run's marker): "
                         f"name a new or empty folder")
    return target


def check_paths(parameters: dict, declared: dict[str, dict], root: Path) -> None:
    """Raise :class:`UnsafePath` (one line) when a path parameter would leave the build's copy.

    Every ``*_dir`` parameter must be relative and resolve inside ``root`` (the build's copy has the
    layout of the working tree); the folders the notebooks write to (every ``*_dir`` but ``raw_dir``
    and ``classic_dir``) must lie outside ``data/raw`` and the raw folder given; every ``reviews`` entry
    must be the plain name of a folder with a ``review.json`` under the raw folder.
    """
    root = Path(root).resolve()
    defaults = declared_defaults(declared)
    values = {**defaults, **parameters}

    def inside(name: str) -> Path:
        value = values[name]
        if not isinstance(value, str) or not value.strip() or Path(value).is_absolute():
            raise UnsafePath(f"-p {name}={value!r}: give a folder relative to the repository root, e.g. {defaults[name]!r}")
        path = (root / value).resolve()
        if not path.is_relative_to(root):
            raise UnsafePath(f"-p {name}={value!r}: {path} lies outside the repository; the build writes only "
                             f"inside its own copy")
        return path

    folders = {name: inside(name) for name in values if name.endswith("_dir")}
    raw_folders = {(root / RAW).resolve(), *([folders["raw_dir"]] if "raw_dir" in folders else [])}
    for name, path in folders.items():
        if name in ("raw_dir", "classic_dir"):
            continue
        for raw in raw_folders:
            if path.is_relative_to(raw) or raw.is_relative_to(path):
                raise UnsafePath(f"-p {name}={values[name]!r}: the notebooks would write into {raw.relative_to(root)}/, "
                                 f"and raw review folders are read only")
    raw = folders.get("raw_dir", (root / RAW).resolve())
    for review in values.get("reviews", []):
        if (not isinstance(review, str) or review in ("", ".", "..") or review != review.strip()
                or any(c in review for c in "/\\:") or not review.isprintable()):
            raise UnsafePath(f"-p reviews: {review!r} is not a review folder's name (a plain name such as "
                             f"'bizzotto2023', no path)")
        if not (raw / review / "review.json").is_file():
            raise UnsafePath(f"-p reviews: no review folder {raw.relative_to(root).as_posix()}/{review}/ with a "
                             f"review.json")


# -- the build's own copy ----------------------------------------------------------------------------

def copy_tracked(root: Path, target: Path) -> Path:
    """Copy the tracked files of ``root`` into ``target`` (created) and return ``target``."""
    for name in tracked_files(root):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target / name)
    return target


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
            if not rel.startswith(derived) and rel != RUN_MARKER:
                files.append(rel)
    return files


@contextlib.contextmanager
def build_copy(root: Path):
    """A copy of the working tree's inputs (:func:`working_files`) in ``root/.build-copy-*``, removed on exit."""
    with scratch(root, "copy") as work:
        for name in working_files(root):
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, work / name)
        yield work


def copy_outputs(source: Path, target: Path, names: list[str]) -> None:
    """Copy the notebooks ``names`` and their outputs (``WRITES``) from ``source`` into the copy ``target``."""
    from .graph import outputs_of

    for name in names:
        for rel in [f"notebooks/{name}.ipynb", *outputs_of(source, name)]:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, target / rel)


def commit_notebooks(root: Path, staging: Path, notebooks: list[str] = NOTEBOOKS) -> dict[Path, bytes]:
    """Replace the notebooks in ``root`` (the build's copy) with the executed ones; return the old contents."""
    old = {}
    for name in notebooks:
        target = root / "notebooks" / f"{name}.ipynb"
        old[target] = target.read_bytes()
        partial = target.with_name(f".{name}.ipynb.partial")
        shutil.copyfile(staging / f"{name}.ipynb", partial)
        os.replace(partial, target)
    return old


def restore_notebooks(old: dict[Path, bytes]) -> None:
    """Put back the notebooks :func:`commit_notebooks` replaced (the report failed)."""
    for path, content in old.items():
        path.write_bytes(content)


# -- publishing --------------------------------------------------------------------------------------

def _is_output(folder: str, rel: str) -> bool:
    """True when the file ``rel`` (under the output folder ``folder``) is one the build makes."""
    if folder == "notebooks":
        return rel in {f"notebooks/{n}.ipynb" for n in NOTEBOOKS}
    return bool(written_by(rel))


def publish(built: Path, target: Path, run: bool = False) -> None:
    """Put the output folders (``OUTPUTS``) of the build's copy ``built`` in place under ``target``.

    Each folder is staged complete in ``target/.build-publish-*`` (the copy's folder plus the files of
    the old one that no notebook writes: a build removes only outputs), then swapped in by two renames
    (old aside, new in). When every folder is swapped the old ones are removed; when a step fails,
    the swapped folders are put back in reverse order and :class:`PublishError` is raised, every file
    as it was. ``run`` marks ``target`` as a run folder (:data:`RUN_MARKER`) before anything else.
    """
    target.mkdir(parents=True, exist_ok=True)
    if run and not (target / RUN_MARKER).exists():
        (target / RUN_MARKER).write_text("written by: python3 tools/compendium.py build (a run folder; "
                                         "a later run may replace its outputs)\n")
    swapped: list[str] = []
    with scratch(target, "publish") as stage:
        try:
            _step("stage")
            for folder in OUTPUTS:
                new, old = stage / "new" / folder, target / folder
                if (built / folder).is_dir():
                    shutil.copytree(built / folder, new)
                else:
                    new.mkdir(parents=True)
                if old.is_dir():
                    for path in old.rglob("*"):
                        rel = path.relative_to(target).as_posix()
                        kept = new / path.relative_to(old)
                        if (path.is_file() or path.is_symlink()) and not _is_output(folder, rel) and not kept.exists():
                            kept.parent.mkdir(parents=True, exist_ok=True)
                            shutil.copy2(path, kept, follow_symlinks=False)
            for folder in OUTPUTS:
                _step(f"{folder}: old aside")
                old, aside = target / folder, stage / "old" / folder
                aside.parent.mkdir(parents=True, exist_ok=True)
                old.parent.mkdir(parents=True, exist_ok=True)
                if old.exists():
                    os.rename(old, aside)
                swapped.append(folder)
                _step(f"{folder}: new in")
                os.rename(stage / "new" / folder, old)
            _step("done")
        except BaseException as exc:
            for folder in reversed(swapped):
                old, aside = target / folder, stage / "old" / folder
                if old.exists() and not (stage / "new" / folder).exists():
                    os.rename(old, stage / "new" / folder)
                if aside.exists():
                    os.rename(aside, old)
            if isinstance(exc, Exception):
                raise PublishError(f"publishing into {target} failed at {exc.__class__.__name__}: {exc}; "
                                   f"every folder was put back as it was") from exc
            raise
