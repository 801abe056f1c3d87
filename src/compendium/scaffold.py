"""A new review folder from a plain table: ``python3 tools/compendium.py new-review NAME --from FILE.csv``.

A user with a table of effects should not have to learn the schema first. The plain table has a
``study_id`` column and one of three sets of columns:

==========================  ======================================  ===========================
columns                     what the build computes                 ``review.json``
==========================  ======================================  ===========================
``r, n``                    Fisher z, vi = 1/(n − 3); shown as r    ``effect_measure`` ZCOR
``m1, sd1, n1, m2, sd2, n2``  Hedges' g (escalc "SMD")              ``effect_measure`` SMD
``yi, vi``                  taken as given                          ``effect_measure`` generic
==========================  ======================================  ===========================

Optional columns: ``year``, ``label`` (a readable study name), ``source`` (DOI, PMID or URL) and
``outcome`` (outcomes never share a pooled analysis or a vote count). Several rows may share a
study id; the analyses then keep one effect per study by the stated rule.

The folder gets the generic design's ``codebook.csv``, ``studies.csv``, ``effects.csv``, a
``review.json`` with one pooled analysis per outcome, and header-only ``screening.csv`` and
``published_results.csv``. Each row's ``statistic_as_printed`` is the row's text as it stands in
the table and ``location`` names the table's file and line, so every number stays traceable.
Everything is validated (the same checks as a build) before a single file is written.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from .sheets import PUBLISHED_COLUMNS, SheetError, load_review, read_sheet, validate_sheet
from .value_checks import id_problem, name_problem

TEMPLATE = Path(__file__).resolve().parent / "templates" / "generic_codebook.csv"
KINDS = {  # statistic_type: (columns, effect_measure, transform, display metric, axis label)
    "r": (("r", "n"), "ZCOR", "tanh", "r", "Correlation (r)"),
    "means_sds": (("m1", "sd1", "n1", "m2", "sd2", "n2"), "SMD", None, "g",
                  "Standardised mean difference (Hedges' g; positive = group 1 higher)"),
    "yi_vi": (("yi", "vi"), "generic", None, "yi", "Effect size (yi, as given)"),
}
OPTIONAL = ("year", "label", "source", "outcome")


def plain_kind(columns, path: str) -> str:
    """Which of :data:`KINDS` a plain table's columns give; a one-line error if none or several."""
    if "study_id" not in columns:
        raise SheetError(f"{path}: line 1: no column 'study_id'; a plain table needs study_id and one of "
                         + "; ".join(", ".join(c) for c, *_ in KINDS.values()))
    kinds = [kind for kind, (needed, *_) in KINDS.items() if set(needed) <= set(columns)]
    if len(kinds) != 1:
        found = "none" if not kinds else " and ".join(kinds)
        raise SheetError(f"{path}: line 1: columns {list(columns)} give {found} of the kinds "
                         + "; ".join(", ".join(c) for c, *_ in KINDS.values()) + " (exactly one is needed)")
    allowed = {"study_id", *KINDS[kinds[0]][0], *OPTIONAL}
    extra = [c for c in columns if c not in allowed]
    if extra:
        raise SheetError(f"{path}: line 1: unexpected columns {extra}; allowed here: {sorted(allowed)}")
    return kinds[0]


def _direction(row: pd.Series, kind: str) -> str:
    value = {"r": lambda: float(row["r"]), "yi_vi": lambda: float(row["yi"]),
             "means_sds": lambda: float(row["m1"]) - float(row["m2"])}[kind]()
    return "positive" if value > 0 else "negative" if value < 0 else "null"


def sheets_from_plain(table: pd.DataFrame, kind: str, path: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(codebook, studies, effects) in the generic schema for a plain table read as text."""
    needed = KINDS[kind][0]
    for i, row in table.iterrows():
        sid = row["study_id"]
        if id_problem(sid):
            raise SheetError(f"{path}: line {i + 2}: column 'study_id' value {sid!r}: {id_problem(sid)}")
        outcome = row.get("outcome", "")
        if outcome and id_problem(outcome):
            raise SheetError(f"{path}: line {i + 2}: study {sid!r}: column 'outcome' value {outcome!r} (it names the "
                             f"analysis and its figures): {id_problem(outcome)}")
        for col in needed:
            try:
                float(row[col])
            except ValueError:
                raise SheetError(f"{path}: line {i + 2}: study {sid!r}: column {col!r} value {row[col]!r} "
                                 "is not a number") from None
    outcomes = table["outcome"].where(table["outcome"] != "", "outcome") if "outcome" in table else \
        pd.Series("outcome", index=table.index)
    book = pd.read_csv(TEMPLATE, dtype=str, keep_default_na=False)
    book.loc[(book["sheet"] == "effects") & (book["column"] == "outcome"), "allowed"] = "|".join(sorted(set(outcomes)))
    file_name = Path(path).name
    effects = pd.DataFrame({c: "" for c in book.loc[book["sheet"] == "effects", "column"]}, index=table.index)
    number = table.groupby("study_id").cumcount() + 1
    for col in needed:
        effects[col] = table[col]
    effects = effects.assign(
        study_id=table["study_id"], effect_id=table["study_id"] + "_" + number.astype(str), outcome=outcomes,
        statistic_type=kind, statistic_as_printed=[", ".join(f"{c} = {row[c]}" for c in needed) for _, row in table.iterrows()],
        direction=[_direction(row, kind) for _, row in table.iterrows()], significant="unclear",
        source=table["source"].where(table["source"] != "", file_name) if "source" in table else file_name,
        location=[f"{file_name}, line {i + 2}" for i in table.index])
    first = table.drop_duplicates("study_id")
    studies = pd.DataFrame({c: "" for c in book.loc[book["sheet"] == "studies", "column"]}, index=first.index)
    studies = studies.assign(study_id=first["study_id"],
                             year=first["year"] if "year" in first else "",
                             title=first["label"] if "label" in first else "")
    for sheet, frame in (("studies", studies), ("effects", effects)):
        validate_sheet(frame.astype(str), sheet, book, f"{path} (as {sheet}.csv)")
    return book, studies.reset_index(drop=True), effects.reset_index(drop=True)


def review_meta(name: str, kind: str, outcomes: list[str], path: str) -> dict:
    """``review.json`` of a scaffolded review: one pooled analysis of all rows per outcome."""
    _, measure, transform, metric, xlabel = KINDS[kind]
    analyses = [{"name": "all" if len(outcomes) == 1 else f"all_{o}",
                 "label": "All studies" if len(outcomes) == 1 else f"All studies, {o}",
                 "filter": {} if len(outcomes) == 1 else {"outcome": [o]}} for o in outcomes]
    return {"title": name, "citation": f"scaffolded from {Path(path).name} by tools/compendium.py new-review",
            "design": "generic", "effect_measure": measure, "transform": transform, "display_metric": metric,
            "xlabel": xlabel, "analyses": analyses, "box_score_by": []}


def new_review(name: str, table_path: Path | str, raw_dir: Path | str) -> Path:
    """Write ``raw_dir/name/`` from a plain table; validate everything before writing anything.

    Raises :class:`SheetError` (one line naming the file, line, study, column and value) for a bad
    table, and ``FileExistsError`` if the folder exists (raw data is never overwritten).
    """
    path, target = str(table_path), Path(raw_dir) / name
    if name_problem(name):
        raise SheetError(f"review name {name!r}: {name_problem(name)}")
    if target.exists():
        raise FileExistsError(f"{target}: exists; raw data is never overwritten (choose another name)")
    if not Path(path).exists():
        raise SheetError(f"{path}: file not found")
    table = read_sheet(path)  # the same reader as a build's: encoding, separator and ragged rows checked
    table.columns = [c.strip() for c in table.columns]
    if table.empty:
        raise SheetError(f"{path}: line 2: no rows below the header")
    kind = plain_kind(list(table.columns), path)
    table = table.apply(lambda col: col.str.strip())
    book, studies, effects = sheets_from_plain(table, kind, path)
    meta = review_meta(name, kind, sorted(set(effects["outcome"])), path)
    staging = Path(tempfile.mkdtemp(prefix=f".new-{name}-", dir=Path(raw_dir)))
    try:
        book.to_csv(staging / "codebook.csv", index=False)
        studies.to_csv(staging / "studies.csv", index=False)
        effects.to_csv(staging / "effects.csv", index=False)
        pd.DataFrame(columns=list(book.loc[book["sheet"] == "screening", "column"])).to_csv(staging / "screening.csv", index=False)
        pd.DataFrame(columns=PUBLISHED_COLUMNS).to_csv(staging / "published_results.csv", index=False)
        (staging / "review.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        load_review(staging)  # the folder as a build will read it
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
