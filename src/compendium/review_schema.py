"""``review.json`` checked at the door: its structure against a JSON Schema
(``templates/review.schema.json``), then what its keys name against the folder's sheets.

A misspelled key, column or value in ``review.json`` must not change a result quietly: a comparator
column the rows lack would admit every comparator, a filter value that matches nothing would
leave an analysis empty, a missing ``transform`` would draw Fisher's z where r is meant. Each
problem stops the build before any notebook runs, with one line naming the file, the key path
(e.g. ``analyses[2].filter.comparator``) and the value.

What the keys may name:

* ``analyses[i].filter``: columns of the effect rows as the sheet has them (intervention reviews
  also the trial's ``guidance`` and ``control_type``), each listed value occurring in that column;
* ``direct_measure`` and ``comparator``: a column of the rows the analyses admit, and values the
  column can take (a category column's codebook values, another column's values in the sheet);
* ``subgroups[i].by``, ``analyses[i].forest_by``, ``box_score_by``: a column of those rows,
  including what notebook 02 derives (:data:`ROW_COLUMNS`, e.g. ``generation``);
* ``published``, ``published_included_row``: a row (``analysis``) of ``published_results.csv``;
* ``subgroups[i].analysis``: the ``name`` of an analysis; names are ids (they name files) and unique.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

from .sheets import SheetError
from .value_checks import id_problem

SCHEMA = Path(__file__).resolve().parent / "templates" / "review.schema.json"

# Columns notebook 02 attaches to each effect row besides the sheet's (harmonise.harmonise), by design;
# tests/compendium/test_review_schema.py checks that harmonise gives every one of them.
ROW_COLUMNS = {
    "correlational": ("year", "design", "generation", "birth_year", "generation_basis", "sample_id"),
    "intervention": ("year", "guidance", "control_type", "study_scope_flag", "sample_id"),
    "generic": ("year", "sample_id"),
}
# Trial columns a filter may name (notebook 01's overview and 03's rows both carry them).
FILTER_STUDY_COLUMNS = {"intervention": ("guidance", "control_type")}
# Cells every vote row of an intervention review has (box_scores.vote_rows sets them).
VOTE_CELLS = {"intervention": ("role", "outcome")}


class ReviewJsonError(SheetError):
    """``review.json`` breaks its schema or names what the sheets lack (one line: file, key path, value)."""


def key_path(parts) -> str:
    """``["analyses", 2, "filter", "comparator"]`` → ``"analyses[2].filter.comparator"``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _shown(value, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[:width - 1] + "…"


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator  # imported when a review is first checked

    return Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))  # the schema's own check: a test


def _schema_message(error) -> str:
    """One line for a jsonschema error: the key path, the value and what is allowed."""
    path, where = list(error.absolute_path), key_path(error.absolute_path)
    kind, instance, rule = error.validator, error.instance, error.validator_value
    if kind in ("required", "dependentRequired"):
        needed = rule if kind == "required" else next(v for k, v in rule.items() if k in instance)
        missing = next(k for k in needed if k not in instance)
        why = " (null if the estimates are shown as fitted)" if missing == "transform" else ""
        return f"key {key_path(path + [missing])} is missing: it is required here{why}"
    if kind == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(k for k in instance if k not in known)[0]
        return f"key {key_path(path + [extra])} is not a key of review.json here; known keys: {', '.join(known)}"
    if kind == "type":
        kinds = {"object": "an object {...}", "array": "a list [...]", "string": "a string", "integer": "a whole number",
                 "number": "a number", "boolean": "true or false", "null": "null"}
        wanted = " or ".join(kinds[t] for t in ([rule] if isinstance(rule, str) else rule))
        return f"key {where} value {_shown(instance)} is not {wanted}"
    if kind == "enum":
        return f"key {where} value {_shown(instance)} is not one of {', '.join(_shown(v) for v in rule)}"
    if kind == "minItems":
        return f"key {where} value {_shown(instance)} needs at least {rule} item{'s' if rule > 1 else ''}"
    if kind == "minLength":
        return f"key {where} value {_shown(instance)} is empty"
    if kind in ("minimum", "maximum"):
        return f"key {where} value {_shown(instance)} is {'below' if kind == 'minimum' else 'above'} {rule}"
    return f"key {where} value {_shown(instance)}: {error.message}"


def check_structure(meta, path: str) -> None:
    """Check ``meta`` (the parsed ``review.json``) against :data:`SCHEMA` and its names as ids.

    Every key, its type and its allowed values; ``analyses`` not empty; ``transform`` present
    (``"tanh"`` or null) and consistent with the scale: Fisher's z, z = atanh(r), is shown as r
    by r = tanh(z) (Borenstein et al. 2009, ch. 6), and tanh means nothing on another scale;
    analysis and subgroup names ids (:func:`value_checks.id_problem`, they name files) and unique.

    Parameters
    ----------
    meta : object
        ``review.json`` as :func:`json.loads` returns it (anything, not only a dict).
    path : str
        The file, for the error.

    Raises
    ------
    ReviewJsonError
        One line: the file, the key path (e.g. ``analyses[2].filter.comparator``) and the value.
        Of several problems, the one :func:`jsonschema.exceptions.best_match` ranks first.

    References
    ----------
    JSON Schema draft 2020-12 (json-schema.org), validated by the ``jsonschema`` package.
    """
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(meta))
    if error is not None:
        raise ReviewJsonError(f"{path}: {_schema_message(error)}")
    for group in ("analyses", "subgroups"):
        seen: dict[str, int] = {}
        for i, spec in enumerate(meta.get(group, [])):
            name, where = spec["name"], key_path([group, i, "name"])
            problem = id_problem(name)
            if problem:
                raise ReviewJsonError(f"{path}: key {where} value {_shown(name)} is not a name: {problem} (it names files)")
            if name in seen:
                raise ReviewJsonError(f"{path}: key {where} value {_shown(name)} is also the name of "
                                      f"{key_path([group, seen[name], 'name'])}: names must be unique")
            seen[name] = i
    fisher_z = meta["design"] == "correlational" or meta.get("effect_measure") == "ZCOR"
    if fisher_z and meta["transform"] is None and meta["display_metric"] == "r":
        raise ReviewJsonError(f"{path}: key transform value null: the fits are on Fisher's z and display_metric is \"r\"; "
                              "set \"tanh\" to show them as r (or display_metric \"z\")")
    if not fisher_z and meta["transform"] == "tanh":
        raise ReviewJsonError(f"{path}: key transform value \"tanh\": tanh turns Fisher's z into r, but this review's "
                              f"effects are not on Fisher's z (design {meta['design']!r}, effect_measure "
                              f"{meta.get('effect_measure')!r}); use null")


def _values(frame: pd.DataFrame, column: str) -> set:
    return {v for v in frame[column] if not (v is None or v == "" or (isinstance(v, float) and pd.isna(v)))}


def check_against_sheets(meta: dict, sheets: dict, codebook: pd.DataFrame, path: str) -> None:
    """Check that what ``review.json`` names exists in the folder's validated ``sheets``.

    Filter columns exist and every filter value occurs in its column; the admission rules'
    columns exist and their values are ones the column can take; subgroup, forest and vote-cell
    columns are columns of the effect rows (:data:`ROW_COLUMNS`); every ``published`` and
    ``published_included_row`` is a row of ``published_results.csv``; every subgroup names an analysis.

    Parameters
    ----------
    meta : dict
        ``review.json``, already through :func:`check_structure`.
    sheets : dict
        The folder's validated sheets (:func:`sheets.validate_sheet`) and ``published_results``.
    codebook : pandas.DataFrame
        The folder's codebook (a category column's allowed values).
    path : str
        The ``review.json`` file, for the error.

    Raises
    ------
    ReviewJsonError
        One line: the file, the key path, the value, and what the sheets hold instead.
    """
    design = meta["design"]
    effect_sheet = "outcomes" if design == "intervention" else "effects"
    effects, studies = sheets[effect_sheet], sheets["studies"]
    filterable = {c: effects for c in effects.columns}
    filterable.update({c: studies for c in FILTER_STUDY_COLUMNS.get(design, ()) if c in studies})
    rows = set(effects.columns) | set(ROW_COLUMNS[design])

    def fail(parts, value, why: str):
        raise ReviewJsonError(f"{path}: key {key_path(parts)} value {_shown(value)} {why}")

    def check_filter(parts, spec: dict, sheet_name: str) -> None:
        for column, values in spec.items():
            if column not in filterable:
                fail(parts + [column], column, f"names a column {sheet_name} does not have; its columns: "
                                               f"{', '.join(sorted(filterable))}")
            present = _values(filterable[column], column)
            for j, value in enumerate(values):
                if value not in present:
                    fail(parts + [column, j], value, f"matches no row: column {column!r} holds "
                                                     f"{', '.join(map(repr, sorted(present, key=str)[:12])) or 'nothing'}")

    for i, spec in enumerate(meta["analyses"]):
        check_filter(["analyses", i, "filter"], spec["filter"], f"{effect_sheet}.csv")
    check_filter(["box_score_filter"], meta.get("box_score_filter", {}), f"{effect_sheet}.csv")

    book = codebook[codebook["sheet"] == effect_sheet].set_index("column")
    def need_column(parts, column: str, whose: str, columns: set) -> None:
        if column not in columns:
            fail(parts, column, f"names a column the {whose} do not have; their columns: {', '.join(sorted(columns))}")

    for key in ("direct_measure", "comparator"):
        rule = meta.get(key)
        if not rule:
            continue
        column = rule["column"]
        need_column([key, "column"], column, "effect rows", rows)
        if column in book.index and book.loc[column, "type"] == "category":
            known, what = set(book.loc[column, "allowed"].split("|")), "the codebook's values"
        else:
            source = effects if column in effects else studies if column in studies else None
            known, what = (_values(source, column) if source is not None else set()), "the values in the sheet"
        for j, value in enumerate(rule["values"]):
            if known and value not in known:
                fail([key, "values", j], value, f"is not a value of column {column!r}; {what}: "
                                                f"{', '.join(map(repr, sorted(known)[:12]))}")

    cells = rows | set(VOTE_CELLS.get(design, ())) | set(sheets["box_scores"].columns if "box_scores" in sheets else ())
    for j, column in enumerate(meta.get("box_score_by", [])):
        need_column(["box_score_by", j], column, "vote rows", cells)
    for column in meta.get("box_score_one_direction", {}):
        need_column(["box_score_one_direction", column], column, "vote rows", cells)
    names = [spec["name"] for spec in meta["analyses"]]
    for i, spec in enumerate(meta["analyses"]):
        if "forest_by" in spec:
            need_column(["analyses", i, "forest_by"], spec["forest_by"], "effect rows", rows)
    for i, spec in enumerate(meta.get("subgroups", [])):
        if spec["analysis"] not in names:
            fail(["subgroups", i, "analysis"], spec["analysis"], f"is not the name of an analysis; analyses: {', '.join(names)}")
        need_column(["subgroups", i, "by"], spec["by"], "effect rows", rows)

    published = sheets["published_results"]
    known = list(published["analysis"]) if "analysis" in published else []
    listed = ", ".join(known) if known else "none (the file is missing or header-only)"
    named = [(["published_included_row"], meta.get("published_included_row"))] + [
        ([group, i, "published"], spec.get("published")) for group in ("analyses", "subgroups")
        for i, spec in enumerate(meta.get(group, []))]
    for parts, row in named:
        if row is not None and row not in known:
            fail(parts, row, f"is not a row of published_results.csv; its analyses: {listed}")
