"""Where the compendium is, and CSV tables written byte-identically on every run.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd


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
