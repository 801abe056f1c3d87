"""What notebooks and the report show: sub-headings, sentences built from numbers, and the one
place where numbers are rounded for display (machine tables keep full precision).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .figures import set_style
from .files import guard_committed_outputs, project_root


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
    try:
        shell = get_ipython()  # noqa: F821 (defined inside IPython kernels)
    except NameError:
        shell = None
    if shell is not None:
        guard_committed_outputs(list(shell.user_ns.get("In", [])))
    return project_root()


class Text:
    """A paragraph of Markdown, e.g. a sentence built from the numbers (an f-string)."""

    def __init__(self, text: str):
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def bullets(sentences) -> Text:
    """Sentences as a Markdown list (an empty list says so)."""
    sentences = list(sentences)
    return Text("\n".join(f"- {s}" for s in sentences) if sentences else "- (nothing to report)")


def _is_p(column: str) -> bool:
    return column == "pval" or column.startswith("p_") or column.endswith("_p") or column.startswith("pval")


def formatted(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The display form of a table: rounding lives here and nowhere else.

    Whole-number columns print without decimals, p values with three decimals or as "<.001",
    other numbers with ``digits`` decimals, booleans as "yes" or "", missing values as "".
    """
    shown = frame.copy()
    for col in shown.columns:
        values = shown[col]
        if pd.api.types.is_bool_dtype(values):
            shown[col] = values.map(lambda x: "yes" if x else "")
            continue
        if not pd.api.types.is_numeric_dtype(values):  # text, or booleans mixed with missing values
            shown[col] = values.map(lambda x: ("yes" if x else "") if isinstance(x, (bool, np.bool_))
                                    else "" if pd.isna(x) else x)
            continue
        present = values.dropna()
        if _is_p(col):
            shown[col] = values.map(lambda x: "" if pd.isna(x) else ("<.001" if x < 0.001 else f"{x:.3f}"))
        elif len(present) and (present == present.round()).all() and not col.startswith(("estimate", "ci_", "pi_")):
            shown[col] = values.map(lambda x: "" if pd.isna(x) else f"{x:.0f}")
        else:
            shown[col] = values.map(lambda x: "" if pd.isna(x) else f"{x:.{digits}f}")
    return shown


def show(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`formatted` with column names as words, for a notebook cell's output."""
    shown = formatted(frame, digits)
    shown.columns = [str(c).replace("_", " ") for c in shown.columns]
    return shown.reset_index(drop=True)


def p_text(p: float) -> str:
    """A p value in a sentence: "= .032" or "< .001" (APA style, no leading zero)."""
    return "< .001" if p < 0.001 else f"= {p:.3f}".replace("0.", ".", 1)


def count_text(n: int, noun: str, plural: str | None = None) -> str:
    """ "1 study", "3 studies": a count with its noun in the right number."""
    plural = plural or (noun[:-1] + "ies" if noun.endswith("y") else noun + "s")
    return f"{int(n)} {noun if int(n) == 1 else plural}"
