"""Review folders and their sheets: reading ``data/raw/<review>/`` and validating every cell
against the folder's ``codebook.csv`` before anything is derived (notebook 01).
"""
from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .value_checks import (FORMULA_RANGES, describe_range, id_problem, in_range, name_problem, parse_range,
                           range_within, row_problems)

SHEETS = {
    "correlational": ("studies", "effects", "screening"),
    "intervention": ("studies", "outcomes", "box_scores", "screening"),
    "generic": ("studies", "effects", "screening"),  # any effect size: r with n, means and SDs, or yi with vi
}


OPTIONAL_SHEETS = ("screening", "box_scores")  # may be missing or header-only; the others need rows
PUBLISHED_COLUMNS = ["review", "analysis", "metric", "estimate", "p", "k", "n", "source"]


class SheetError(ValueError):
    """A sheet does not match its codebook. The message names file, study id, column and value."""


@dataclass(frozen=True)
class Review:
    """One review folder under ``data/raw/``: its metadata, codebook and validated sheets."""

    review_id: str
    folder: Path
    meta: dict
    codebook: pd.DataFrame
    sheets: dict

    @property
    def design(self) -> str:
        return self.meta["design"]

    @property
    def effects(self) -> pd.DataFrame:
        """The sheet of effect rows: ``outcomes`` (intervention) or ``effects`` (correlational, generic)."""
        return self.sheets["outcomes" if self.design == "intervention" else "effects"]

    @property
    def published(self) -> pd.DataFrame:
        return self.sheets["published_results"]


def list_reviews(raw_dir: Path | str) -> list[str]:
    """Folder names under ``raw_dir`` that hold a ``review.json``."""
    raw_dir = Path(raw_dir)
    return sorted(p.name for p in raw_dir.iterdir() if (p / "review.json").exists())


def sheet_text(path: Path | str) -> str:
    """The text of a CSV file, as UTF-8 (a byte-order mark is dropped).

    Raises :class:`SheetError` naming the file and the line of the first byte that is not UTF-8
    (a sheet saved as Latin-1 or Windows-1252), and for an empty file.
    """
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise SheetError(f"{path}: line {line}: byte {data[error.start]:#04x} is not UTF-8 (the file looks saved as "
                         "Latin-1 or Windows-1252); save it as UTF-8") from None
    if not text.strip():
        raise SheetError(f"{path}: line 1: the file is empty; it needs at least the header row of the codebook")
    return text


def separator(header: str) -> str:
    """``","``, or ``";"`` for a header with semicolons and no comma (a spreadsheet's European CSV)."""
    return ";" if ";" in header and "," not in header else ","


def read_sheet(path: Path | str) -> pd.DataFrame:
    """Read a CSV sheet as text cells (empty cells are ``""``), checked before pandas parses it.

    The encoding (UTF-8, with or without a byte-order mark) and the separator (``,``, or ``;``
    when the header has no comma) are detected; a file that is not UTF-8, a header that names a
    column twice, and a row with more or fewer cells than the header stop with one line naming
    the file and the line (pandas would name neither, or fill a short row silently).

    Parameters
    ----------
    path : Path or str
        The CSV file (a sheet, a codebook, ``published_results.csv`` or a plain table).

    Returns
    -------
    pandas.DataFrame
        One column per header cell, every cell a string; blank lines skipped.

    Raises
    ------
    SheetError
        One line: the file, the line and what is wrong with it.

    Notes
    -----
    RFC 4180 quoting (a cell with the separator, a quote or a line break is quoted) as Python's
    ``csv`` module and ``pandas.read_csv`` read it.
    """
    text = sheet_text(path)
    sep = separator(text.splitlines()[0])
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    header = next(reader)
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise SheetError(f"{path}: line 1: column {twice[0]!r} is named twice in the header")
    for row in reader:
        if row and len(row) != len(header):
            raise SheetError(f"{path}: line {reader.line_num}: {len(row)} cells where the header has {len(header)} "
                             f"(a stray or missing {sep!r}, or a cell with {sep!r} that is not in quotes)")
    return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)


def _parse_cell(value: str, ctype: str, allowed: list[str]):
    """Parse one CSV cell by codebook type; return (parsed, error message or None)."""
    if value == "":
        return None, None
    if ctype == "integer":
        try:
            number = float(value)
        except ValueError:
            return None, "is not a number"
        if not number.is_integer():
            return None, "is not a whole number"
        return int(number), None
    if ctype == "number":
        try:
            number = float(value)
        except ValueError:
            return None, "is not a number"
        if not math.isfinite(number):
            return None, "is not finite"
        return number, None
    if ctype == "category" and value not in allowed:
        return None, f"is not one of {'|'.join(allowed)}"
    if ctype == "flags":
        unknown = [part for part in value.split(";") if part.strip() not in allowed]
        if unknown:
            return None, f"has flag(s) {unknown} not in {'|'.join(allowed)}"
    return value, None


def validate_sheet(raw: pd.DataFrame, sheet: str, codebook: pd.DataFrame, path: str) -> pd.DataFrame:
    """Check one sheet (read as strings) against the codebook and return it typed.

    Checks: the columns are exactly the codebook's (same order not required), required cells are
    filled, integers and numbers parse, categories are allowed, and columns of type ``id`` that
    reference no other sheet hold unique values. Raises
    :class:`SheetError` naming the file, the row's id, the column and the offending value.
    """
    book = codebook[codebook["sheet"] == sheet]
    expected = list(book["column"])
    missing = [c for c in expected if c not in raw.columns]
    extra = [c for c in raw.columns if c not in expected]
    if missing or extra:
        raise SheetError(f"{path}: columns differ from the codebook: missing {missing}, unexpected {extra}")
    refs = book["references"].fillna("")
    unique_cols = list(book.loc[(book["type"] == "id") & (refs == ""), "column"])
    label_col = "study_id" if "study_id" in expected else (unique_cols[0] if unique_cols else None)
    out = {}
    labels = raw[label_col].tolist() if label_col else [f"row {i + 2}" for i in range(len(raw))]  # for the errors
    for spec in book.itertuples():
        allowed = [a for a in str(spec.allowed).split("|") if a] if isinstance(spec.allowed, str) else []
        ctype = spec.type
        if ctype == "string" and allowed:
            ctype = "flags"
        parsed = []
        for i, value in enumerate(raw[spec.column].tolist()):
            label = labels[i]
            if value == "" and spec.required == "yes":
                raise SheetError(f"{path}: study {label!r} (line {i + 2}): column {spec.column!r} is empty but required")
            result, problem = _parse_cell(value, ctype, allowed)
            if not problem and ctype == "id" and value != "":
                problem = id_problem(value)
                problem = problem and f"is not an id: {problem}"
            if problem:
                raise SheetError(f"{path}: study {label!r} (line {i + 2}): column {spec.column!r} value {value!r} {problem}")
            parsed.append(result)
        out[spec.column] = parsed
    frame = pd.DataFrame(out, columns=expected)
    _check_values(frame, book, label_col, path)
    for unique_col in unique_cols:
        first: dict = {}
        for i, value in enumerate(frame[unique_col]):
            if value in first:
                raise SheetError(f"{path}: study {labels[i]!r} (line {i + 2}): column {unique_col!r} value {value!r} "
                                 f"occurs more than once (also on line {first[value]})")
            first[value] = i + 2
    for col in expected:
        if book.loc[book["column"] == col, "type"].iloc[0] in ("string", "category", "id"):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), "")
    return frame


def _number(value) -> str:
    return f"{float(value):g}" if isinstance(value, (int, float)) else repr(value)


def _check_values(frame: pd.DataFrame, book: pd.DataFrame, label_col: str | None, path: str) -> None:
    """Codebook ranges (column ``range``, e.g. ``(0,1]``) and the cross-column rules of a row."""
    def where(i: int) -> str:
        label = frame[label_col].iloc[i] if label_col else f"row {i + 2}"
        return f"{path}: study {label!r} (line {i + 2})"

    ranges = dict(zip(book["column"], book["range"])) if "range" in book else {}
    for column, text in ranges.items():
        if not text:
            continue
        bounds = parse_range(text)
        for i, value in enumerate(frame[column]):
            if value is not None and not pd.isna(value) and not in_range(value, bounds):
                raise SheetError(f"{where(i)}: column {column!r} value {_number(value)} is out of range: "
                                 f"allowed {describe_range(text)}")
    for i, row in enumerate(frame.to_dict("records")):
        problems = row_problems(row)
        if problems:
            column, value, allowed = problems[0]
            raise SheetError(f"{where(i)}: column {column!r} value {_number(value)} is not allowed: {allowed}")


def _check_references(sheets: dict, codebook: pd.DataFrame, folder: Path) -> None:
    for spec in codebook.dropna(subset=["references"]).itertuples():
        if not spec.references:
            continue
        target_sheet, target_col = spec.references.split(".")
        known = set(sheets[target_sheet][target_col])
        for i, value in enumerate(sheets[spec.sheet][spec.column]):
            if value and value not in known:
                raise SheetError(
                    f"{folder / (spec.sheet + '.csv')}: line {i + 2}: column {spec.column!r} value {value!r} "
                    f"is not a {target_col} in {target_sheet}.csv")
    screening = sheets.get("screening")
    if screening is not None and len(screening):
        known = set(sheets["studies"]["study_id"])
        for i, row in screening.iterrows():
            if row["decision"] in ("included", "further_report") and row["study_id"] not in known:
                raise SheetError(
                    f"{folder / 'screening.csv'}: record {row['record_id']!r} (line {i + 2}): column 'study_id' value "
                    f"{row['study_id']!r} is {row['decision'].replace('_', ' ')} but not a study in studies.csv")
        included = set(screening.loc[screening["decision"] == "included", "study_id"])
        for i, study in enumerate(sheets["studies"]["study_id"]):
            if study not in included:
                raise SheetError(f"{folder / 'studies.csv'}: study {study!r} (line {i + 2}): column 'study_id' value "
                                 f"{study!r} has no record with decision 'included' in screening.csv")


def check_same_sample(studies: pd.DataFrame, path: str) -> None:
    """``same_sample_as`` names another study that is itself independent (no self-links, no chains)."""
    if "same_sample_as" not in studies:
        return
    links = dict(zip(studies["study_id"], studies["same_sample_as"]))
    for i, (study, target) in enumerate(links.items()):
        if target and (target == study or links.get(target)):
            why = "names the study itself" if target == study else f"names {target!r}, which names {links[target]!r}"
            raise SheetError(f"{path}: study {study!r} (line {i + 2}): column 'same_sample_as' value {target!r} {why}; "
                             "link every paper on one sample to the same independent study")


def normalise_title(title: str) -> str:
    """A title reduced to lower-case letters and digits, so that spelling variants compare equal."""
    return re.sub(r"[^0-9a-z]", "", unicodedata.normalize("NFKD", str(title)).lower())


def normalise_doi(doi: str) -> str:
    """A DOI without its resolver prefix, lower-case (DOIs are case-insensitive)."""
    return re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", str(doi).strip().lower())


def check_one_study_once(studies: pd.DataFrame, path: str) -> None:
    """No two study ids may share a DOI, a PMID or a normalised title: one study counts once.

    Raises :class:`SheetError` naming the file, the lines and ids of both rows, the column and the
    shared value. A second report of the same study belongs in ``screening.csv`` as a
    ``further_report`` linked to the study, not as a second study.
    """
    keys = {"doi": normalise_doi, "pmid": lambda v: str(v).strip(), "title": normalise_title}
    for column, normalise in keys.items():
        if column not in studies:
            continue
        seen: dict[str, tuple[int, str]] = {}
        for i, (study, value) in enumerate(zip(studies["study_id"], studies[column])):
            key = normalise(value) if value not in ("", None) else ""
            if not key or (column == "title" and len(key) < 12):
                continue
            if key in seen:
                line, other = seen[key]
                raise SheetError(f"{path}: study {study!r} (line {i + 2}): column {column!r} value {value!r} is also "
                                 f"the {column} of study {other!r} (line {line}): one study must have one id")
            seen[key] = (i + 2, study)


CODEBOOK_COLUMNS = ["sheet", "column", "type", "required", "allowed", "range", "references", "description"]
TYPES = ("id", "string", "integer", "number", "category")


def check_codebook(codebook: pd.DataFrame, path: str) -> None:
    """A codebook's own columns, types and ranges, and the ranges the formulas need.

    A column that a conversion formula reads (:data:`value_checks.FORMULA_RANGES`) may be given a
    tighter range than the formula needs, never a wider one: n1 = n2 = 1 would pass the door and
    fail in notebook 02 (Hedges' g pools two SDs, s² = ((n1 − 1) s1² + (n2 − 1) s2²)/(n1 + n2 − 2);
    Fisher's z has vi = 1/(n − 3); Borenstein et al. 2009, ch. 4 and 6).

    Parameters
    ----------
    codebook : pandas.DataFrame
        The codebook read as text (:func:`read_sheet`).
    path : str
        The codebook's file, for the error.

    Raises
    ------
    SheetError
        One line naming the file, the line, the sheet and column it describes, and the value.
    """
    missing = [c for c in CODEBOOK_COLUMNS if c not in codebook.columns]
    if missing:
        raise SheetError(f"{path}: line 1: columns differ from a codebook's: missing {missing}")
    for i, spec in enumerate(codebook.itertuples()):
        where = f"{path}: line {i + 2}: {spec.sheet}.{spec.column}"
        if spec.type not in TYPES:
            raise SheetError(f"{where}: column 'type' value {spec.type!r} is not one of {'|'.join(TYPES)}")
        try:
            bounds = parse_range(spec.range)
        except ValueError:
            raise SheetError(f"{where}: column 'range' value {spec.range!r} is not an interval such as [0,1] or "
                             "(0,inf)") from None
        needed = FORMULA_RANGES.get((spec.sheet, spec.column))
        if needed and not range_within(bounds, parse_range(needed)):
            raise SheetError(f"{where}: column 'range' value {spec.range!r} is wider than the formulas allow: "
                             f"{spec.column} must be {describe_range(needed)} (use {needed!r} or a narrower range)")


def check_published(published: pd.DataFrame, path: str) -> pd.DataFrame:
    """``published_results.csv`` (read as text): its columns, numbers that parse, one row per analysis.

    Returns the table with estimate, p, k and n as numbers, empty cells NaN (as ``pandas.read_csv``).
    """
    missing = [c for c in PUBLISHED_COLUMNS if c not in published.columns]
    if missing:
        raise SheetError(f"{path}: line 1: columns differ from {PUBLISHED_COLUMNS}: missing {missing}")
    seen: dict = {}
    for i, row in published.iterrows():
        label = f"{path}: analysis {row['analysis']!r} (line {i + 2})"
        if row["analysis"] in seen:
            raise SheetError(f"{label}: column 'analysis' value {row['analysis']!r} occurs more than once "
                             f"(also on line {seen[row['analysis']]})")
        seen[row["analysis"]] = i + 2
        for column in ("estimate", "p", "k", "n"):
            parsed, problem = _parse_cell(row[column], "number", [])
            if problem:
                raise SheetError(f"{label}: column {column!r} value {row[column]!r} {problem}")
    published = published.replace("", np.nan)  # as pandas.read_csv reads empty cells
    return published.assign(**{c: pd.to_numeric(published[c]) for c in ("estimate", "p", "k", "n")})


def load_review(folder: Path | str) -> Review:
    """Read and validate one review folder (``review.json``, ``codebook.csv``, its sheets).

    Every sheet is read as text (:func:`read_sheet`) and checked against ``codebook.csv`` before
    anything is derived, so a bad cell stops the pipeline with the study id, column and value
    (nothing half-written); ``review.json`` is checked against its schema and against the sheets
    (:mod:`compendium.review_schema`). The sheets a design requires need at least one row; the
    optional ones (``screening``, ``box_scores``, ``published_results``) may be missing or
    header-only.
    """
    from .review_schema import check_against_sheets, check_structure

    folder = Path(folder)
    for name in ("review.json", "codebook.csv"):
        if not (folder / name).exists():
            raise SheetError(f"{folder / name}: file not found; a review folder needs review.json, codebook.csv and "
                             "the sheets its design names (README, drop-in section)")
    try:
        meta = json.loads(sheet_text(folder / "review.json"))
    except json.JSONDecodeError as error:
        raise SheetError(f"{folder / 'review.json'}: line {error.lineno}: not valid JSON ({error.msg})") from None
    check_structure(meta, str(folder / "review.json"))
    codebook = read_sheet(folder / "codebook.csv")
    check_codebook(codebook, str(folder / "codebook.csv"))
    sheets = {}
    for sheet in SHEETS[meta["design"]]:
        path = folder / f"{sheet}.csv"
        if not path.exists() and sheet in OPTIONAL_SHEETS:
            raw = pd.DataFrame(columns=list(codebook.loc[codebook["sheet"] == sheet, "column"]), dtype=str)
        elif not path.exists():
            required = [s for s in SHEETS[meta["design"]] if s not in OPTIONAL_SHEETS]
            raise SheetError(f"{path}: file not found; a {meta['design']} review needs {', '.join(required)} "
                             f"(optional: {', '.join(OPTIONAL_SHEETS)})")
        else:
            raw = read_sheet(path)
            if raw.empty and sheet not in OPTIONAL_SHEETS:
                raise SheetError(f"{path}: line 2: no rows below the header; {sheet}.csv needs at least one row "
                                 f"(only {', '.join(OPTIONAL_SHEETS)} and published_results may be header-only)")
        sheets[sheet] = validate_sheet(raw, sheet, codebook, str(path))
    from .appraisal import load_risk_of_bias  # optional sheet; its rules live with the appraisal
    sheets["risk_of_bias"] = load_risk_of_bias(folder, codebook)
    _check_references(sheets, codebook, folder)
    check_one_study_once(sheets["studies"], str(folder / "studies.csv"))
    check_same_sample(sheets["studies"], str(folder / "studies.csv"))
    published = folder / "published_results.csv"
    if published.exists():
        sheets["published_results"] = check_published(read_sheet(published), str(published))
    else:
        sheets["published_results"] = pd.DataFrame(columns=PUBLISHED_COLUMNS)
    check_against_sheets(meta, sheets, codebook, str(folder / "review.json"))
    return Review(review_id=folder.name, folder=folder, meta=meta, codebook=codebook, sheets=sheets)


def load_reviews(raw_dir: Path | str, reviews: Sequence[str] | None = None) -> dict[str, Review]:
    """Load and validate the named review folders (default: every folder with a review.json).

    ``reviews`` is a list of folder names, each a review name (:func:`value_checks.name_problem`):
    a string (``-p reviews=bizzotto2023``) or a path is refused with one line, not read letter by
    letter or outside ``raw_dir``.
    """
    raw_dir = Path(raw_dir)
    if reviews is not None and not isinstance(reviews, (list, tuple)):
        raise SheetError(f"parameter 'reviews' value {reviews!r} is not a list: write -p 'reviews=[\"name\", ...]'")
    names = list(reviews) if reviews else list_reviews(raw_dir)
    for name in names:
        problem = name_problem(name)
        if problem:
            raise SheetError(f"{raw_dir / str(name)}: review name {name!r} is not a folder name under {raw_dir}: {problem}")
    return {name: load_review(raw_dir / name) for name in names}


def validation_demo(review: Review) -> str:
    """The error a sheet with an invalid category gets: the first effect row's direction set to 'upward'."""
    sheet = "outcomes" if review.design == "intervention" else "effects"
    raw = pd.read_csv(review.folder / f"{sheet}.csv", dtype=str, keep_default_na=False)
    raw.loc[0, "direction"] = "upward"
    try:
        validate_sheet(raw, sheet, review.codebook, f"data/raw/{review.review_id}/{sheet}.csv")
    except SheetError as error:
        return f"SheetError: {error}"
    return "no error (the codebook allows 'upward')"
