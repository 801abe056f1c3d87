"""Value checks at the door: the ranges a codebook allows per column, rules across the columns of
one row (a correlation inside (−1, 1), a printed estimate inside its own interval), and the ids and
names that a dropped-in folder and ``new-review`` share (one validator for both paths).

Each failure raises :class:`sheets.SheetError` with one line that names the file, the line, the
study id, the column, the value and what is allowed, before anything is derived or written.
"""
from __future__ import annotations

import math
import re

import pandas as pd

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # ids, and values that end up in a file name
NAME = re.compile(r"[a-z][a-z0-9_]*")  # review names: folder names under data/raw/
ID_RULE = "use ASCII letters, digits, '_', '.' or '-' (no spaces, quotes, '/' or '..'), starting with a letter or digit"
NAME_RULE = "use lower-case ASCII letters, digits and '_', starting with a letter"


def id_problem(value) -> str | None:
    """Why ``value`` cannot be an id (a study or row id, an analysis name, an outcome that names a
    file), or None. An id is ASCII letters, digits, ``_``, ``.`` and ``-``, starts with a letter or
    digit and holds no ``..``: it is safe in a file name, a URL and a CSV cell without quotes."""
    if not isinstance(value, str) or not ID.fullmatch(value) or ".." in value:
        return ID_RULE
    return None


def name_problem(value) -> str | None:
    """Why ``value`` cannot be a review name (a folder under ``data/raw/``), or None.

    A whole-string match: a trailing newline or space is refused, not ignored."""
    if not isinstance(value, str) or not NAME.fullmatch(value):
        return NAME_RULE
    return None


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


def range_within(inner: tuple | None, outer: tuple) -> bool:
    """Whether every value the interval ``inner`` (bounds of :func:`parse_range`; None = any value)
    allows is inside ``outer``."""
    if inner is None:
        return False
    (low, high, closed_low, closed_high), (o_low, o_high, o_closed_low, o_closed_high) = inner, outer
    low_ok = low > o_low or (low == o_low and (o_closed_low or not closed_low))
    high_ok = high < o_high or (high == o_high and (o_closed_high or not closed_high))
    return low_ok and high_ok


# The ranges the conversion formulas need (harmonise.py, meta_analysis.effect_sizes): a codebook
# may narrow them, never widen them. r → z needs n > 3 (vi = 1/(n − 3)); Hedges' g and d → g
# need two SDs, so n ≥ 2 per group; the standardised mean change needs n ≥ 3; SDs, SEs and vi > 0.
_GROUP, _POSITIVE = "[2,inf)", "(0,inf)"
FORMULA_RANGES = {
    **{("effects", c): _POSITIVE for c in ("sd1", "sd2", "vi", "se", "sd_group1", "sd_group2")},
    ("effects", "r"): "(-1,1)", ("effects", "n"): "[4,inf)", ("effects", "n_effect"): "[4,inf)",
    **{("effects", c): _GROUP for c in ("n1", "n2", "n_group1", "n_group2")},
    **{("outcomes", c): _POSITIVE for c in ("sd_ig", "sd_cg", "sd_pre", "sd_post")},
    **{("outcomes", c): _GROUP for c in ("n_ig", "n_cg")}, ("outcomes", "n_within"): "[3,inf)",
    **{("studies", c): _GROUP for c in ("n_randomized_ig", "n_randomized_cg")},
}


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
