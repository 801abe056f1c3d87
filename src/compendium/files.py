"""Where the compendium is, and CSV tables written byte-identically on every run.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

FOLDER_PARAMETERS = ("processed_dir", "tables_dir", "figures_dir")  # where a notebook writes (raw_dir is read only)


def project_root(start: Path | str | None = None) -> Path:
    """Return the repository root: the first folder upwards that holds ``environment.yml``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "environment.yml").exists() and (folder / "src" / "helpers.py").exists():
            return folder
    raise FileNotFoundError(f"no compendium root (environment.yml + src/helpers.py) above {here}")


def write_table(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write a CSV byte-identically on every run, at full precision: LF line ends, no index.

    Floats are written as Python's shortest round-trip form, so a machine table loses nothing
    (rounding is for display: ``display.formatted``). An empty table keeps its header row.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def read_table(path: Path | str) -> pd.DataFrame:
    """Read a CSV written by :func:`write_table`; text columns keep "" for empty cells."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run the earlier notebooks first (make build)")
    if not path.read_text(encoding="utf-8").strip():
        return pd.DataFrame()  # a table with no columns at all (written from an empty result)
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])  # keep words such as "null" and "none"
    for col in frame.columns:
        if frame[col].dtype == object or str(frame[col].dtype).startswith("str"):
            frame[col] = frame[col].fillna("").astype(object)
    return frame


def guard_committed_outputs(executed_cells: list[str], notebook: str = "this notebook") -> None:
    """Refuse a papermill run with other parameters that would write over the committed results.

    papermill injects a cell that starts with ``# Parameters`` after the ``parameters`` cell. When
    its values differ from the defaults and every output folder (:data:`FOLDER_PARAMETERS`) is
    still the committed one, the run stops with one line saying what to do instead. The build
    (environment variable ``COMPENDIUM_BUILD``) runs in a copy of its own and is not stopped.
    ``executed_cells`` is IPython's ``In``: the sources of the cells run so far.
    """
    if os.environ.get("COMPENDIUM_BUILD"):
        return
    injected = [i for i, cell in enumerate(executed_cells) if i > 0 and cell.lstrip().startswith("# Parameters")]
    if not injected:
        return
    defaults, given = {}, {}
    exec(executed_cells[injected[-1] - 1], {}, defaults)  # the notebook's own parameters cell: assignments only
    exec(executed_cells[injected[-1]], {}, given)
    changed = {k: v for k, v in given.items() if k in defaults and k not in FOLDER_PARAMETERS and v != defaults[k]}
    folders = [k for k in FOLDER_PARAMETERS if k in defaults]
    if changed and all(given.get(k, defaults[k]) == defaults[k] for k in folders):
        options = " ".join(f"-p {k}={v}" for k, v in changed.items())
        raise RuntimeError(f"{notebook}: parameters {changed} differ from the defaults, but the outputs would go to the "
                           f"committed folders ({', '.join(defaults[k] for k in folders)}): run "
                           f"'python3 tools/compendium.py build {options}' (into runs/), or set "
                           f"{', '.join(folders)} to folders of your own")
