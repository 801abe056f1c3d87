"""Value checks at the door: the ranges a codebook allows per column, and rules across the columns
of one row (a correlation inside (−1, 1), a printed estimate inside its own interval).

Each failure raises :class:`sheets.SheetError` with one line that names the file, the line, the
study id, the column, the value and what is allowed, before anything is derived or written.
"""
from __future__ import annotations

import math
import re

import pandas as pd

RANGE = re.compile(r"^\s*([\[(])\s*(-?inf|-?[0-9.]+)\s*,\s*(-?inf|-?[0-9.]+)\s*([\])])\s*$")


def parse_range(text: str) -> tuple | None:
    """``"(0,1]"`` → (0.0, 1.0, False, True): bounds and whether each bound is included; "" → None."""
    if not text:
        return None
    match = RANGE.match(text)
    if not match:
        raise ValueError(f"range {text!r} is not an interval such as [0,1] or (0,inf)")
    left, low, high, right = match.groups()
    return float(low), float(high), left == "[", right == "]"


def in_range(value: float, bounds: tuple) -> bool:
    low, high, closed_low, closed_high = bounds
    above = value >= low if closed_low else value > low
    below = value <= high if closed_high else value < high
    return above and below


def describe_range(text: str) -> str:
    """"(0,1]" → "in (0, 1]"; "[4,inf)" → "at least 4"; "(0,inf)" → "greater than 0"."""
    low, high, closed_low, closed_high = parse_range(text)
    if math.isinf(high):
        return f"at least {low:g}" if closed_low else f"greater than {low:g}"
    return f"in {'[' if closed_low else '('}{low:g}, {high:g}{']' if closed_high else ')'}"


# -- rules across the columns of one row -----------------------------------------------------------

CORRELATION_LIKE = ("r", "rho", "beta")
RATIO_LIKE = ("or", "aor", "rr")


def row_problems(row: pd.Series | dict) -> list[tuple[str, object, str]]:
    """(column, value, what is allowed) for every cross-column rule that ``row`` (a Series or a dict) breaks."""
    problems = []
    kind = row.get("statistic_type", "")
    value_col = "value" if "value" in row else "es_value" if "es_value" in row else None
    value = row.get(value_col) if value_col else None
    present = value is not None and not pd.isna(value)
    if present and kind in CORRELATION_LIKE and not -1 < value < 1:
        problems.append((value_col, value, f"a {kind} must lie in (-1, 1)"))
    if present and kind in RATIO_LIKE and value <= 0:
        problems.append((value_col, value, f"an {kind} must be greater than 0"))
    if present and kind in ("chi2", "f") and value < 0:
        problems.append((value_col, value, f"a {kind} statistic cannot be negative"))
    if present and kind in RATIO_LIKE and "ci_low" in row and not pd.isna(row["ci_low"]) and row["ci_low"] <= 0:
        problems.append(("ci_low", row["ci_low"], f"the interval of an {kind} must lie above 0"))
    low, high = row.get("ci_low"), row.get("ci_high")
    if low is not None and high is not None and not (pd.isna(low) or pd.isna(high)):
        if low > high:
            problems.append(("ci_low", low, f"the lower limit must not exceed ci_high = {high:g}"))
        elif present and kind not in ("t", "f", "chi2", "z", "b") and not low <= value <= high:
            problems.append((value_col, value, f"the estimate must lie inside its interval [{low:g}, {high:g}]"))
    if "m_group1" in row and kind == "percent":
        for col in ("m_group1", "m_group2"):
            if not pd.isna(row[col]) and not 0 < row[col] < 100:
                problems.append((col, row[col], "a percentage must lie in (0, 100)"))
    return problems
