"""What notebooks show: sub-headings and pandas display options.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .figures import set_style
from .files import project_root


class heading:
    """A notebook sub-heading that renders as Markdown and prints as plain text."""

    def __init__(self, text: str, level: int = 3):
        self.text, self.level = text, level

    def _repr_markdown_(self) -> str:
        return f"{'#' * self.level} {self.text}"

    def __repr__(self) -> str:
        return self.text


def notebook_setup() -> Path:
    """Pandas display options and the figure style every notebook shares; returns the repo root."""
    pd.set_option("display.max_rows", 80)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 160)
    pd.set_option("display.max_colwidth", 60)
    set_style()
    return project_root()
