"""Helpers for the digital-mental-health meta-analysis compendium.

All analysis logic lives here, grouped in the order of the notebooks:

0. Paths and shared utilities
1. Data extraction: reading review folders and validating sheets against their codebook (notebook 01)
2. Effect-size harmonisation: escalc-style effect sizes and conversions of reported statistics (02)
3. Pooled models: random-effects engine matching R metafor's ``rma()`` (03)
4. Forest and funnel plots, small-study tests (04)
5. Box scores: vote counting and effect-direction plots (05)
6. Report: the HTML landing page

Names follow metafor's vocabulary (``yi``, ``vi``, ``tau2``, ``i2``, ``q``, ``ci_low`` ...).
Numbers are checked against metafor 3.8 at relative tolerance 1e-6 in ``tests/``.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

# ---------------------------------------------------------------------------------------------
# 0. Paths and shared utilities
# ---------------------------------------------------------------------------------------------


def project_root(start: Path | str | None = None) -> Path:
    """Return the repository root: the first folder upwards that holds ``environment.yml``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "environment.yml").exists() and (folder / "src" / "helpers.py").exists():
            return folder
    raise FileNotFoundError(f"no compendium root (environment.yml + src/helpers.py) above {here}")


def _as_array(name: str, values, allow_nan: bool = False) -> np.ndarray:
    """Turn ``values`` into a 1-d float array; raise a ValueError that names position and value."""
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not allow_nan:
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{name}[{i}] = {float(arr[i])} is not a finite number")
    return arr


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arguments differ in length: {lengths}")
    return next(iter(lengths.values()))


def _broadcast(**values) -> dict[str, np.ndarray]:
    """Broadcast scalars and arrays to one length, checking finiteness element by element."""
    arrays = {name: _as_array(name, v) for name, v in values.items()}
    size = max(len(a) for a in arrays.values())
    out = {}
    for name, a in arrays.items():
        if len(a) not in (1, size):
            raise ValueError(f"arguments differ in length: {name} has {len(a)}, expected {size}")
        out[name] = np.broadcast_to(a, (size,)).astype(float)
    return out


def _check_min(name: str, arr: np.ndarray, minimum: float, strict: bool = False) -> None:
    bad = np.flatnonzero(arr <= minimum) if strict else np.flatnonzero(arr < minimum)
    if bad.size:
        i = int(bad[0])
        op = ">" if strict else ">="
        raise ValueError(f"{name}[{i}] = {arr[i]:g}: must be {op} {minimum:g}")


def _frozen_frame(obj) -> pd.DataFrame:
    """One-row DataFrame of a result object's scalar fields."""
    row = {k: v for k, v in asdict(obj).items() if np.isscalar(v) or v is None}
    return pd.DataFrame([row])


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


def write_table(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write a CSV byte-identically on every run: fixed float format, LF line ends, no index."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
    return path


def read_table(path: Path | str) -> pd.DataFrame:
    """Read a CSV written by :func:`write_table`; text columns keep "" for empty cells."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run the earlier notebooks first (make build)")
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])  # keep words such as "null" and "none"
    for col in frame.columns:
        if frame[col].dtype == object or str(frame[col].dtype).startswith("str"):
            frame[col] = frame[col].fillna("").astype(object)
    return frame


# ---------------------------------------------------------------------------------------------
# 1. Data extraction: review folders, codebooks, validation (notebook 01)
# ---------------------------------------------------------------------------------------------

SHEETS = {
    "correlational": ("studies", "effects", "screening"),
    "intervention": ("studies", "outcomes", "box_scores", "screening"),
}


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
        """The sheet of effect rows: ``effects`` (correlational) or ``outcomes`` (intervention)."""
        return self.sheets["effects" if self.design == "correlational" else "outcomes"]

    @property
    def published(self) -> pd.DataFrame:
        return self.sheets["published_results"]


def list_reviews(raw_dir: Path | str) -> list[str]:
    """Folder names under ``raw_dir`` that hold a ``review.json``."""
    raw_dir = Path(raw_dir)
    return sorted(p.name for p in raw_dir.iterdir() if (p / "review.json").exists())


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
    for spec in book.itertuples():
        allowed = [a for a in str(spec.allowed).split("|") if a] if isinstance(spec.allowed, str) else []
        ctype = spec.type
        if ctype == "string" and allowed:
            ctype = "flags"
        parsed = []
        for i, value in enumerate(raw[spec.column]):
            label = raw[label_col].iloc[i] if label_col else f"row {i + 2}"
            if value == "" and spec.required == "yes":
                raise SheetError(f"{path}: study {label!r} (line {i + 2}): column {spec.column!r} is empty but required")
            result, problem = _parse_cell(value, ctype, allowed)
            if problem:
                raise SheetError(f"{path}: study {label!r} (line {i + 2}): column {spec.column!r} value {value!r} {problem}")
            parsed.append(result)
        out[spec.column] = parsed
    frame = pd.DataFrame(out, columns=expected)
    for unique_col in unique_cols:
        dup = frame[unique_col][frame[unique_col].duplicated()]
        if len(dup):
            raise SheetError(f"{path}: column {unique_col!r} value {dup.iloc[0]!r} occurs more than once")
    for col in expected:
        if book.loc[book["column"] == col, "type"].iloc[0] in ("string", "category", "id"):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), "")
    return frame


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
    if screening is not None:
        known = set(sheets["studies"]["study_id"])
        for i, row in screening.iterrows():
            if row["decision"] == "included" and row["study_id"] not in known:
                raise SheetError(
                    f"{folder / 'screening.csv'}: record {row['record_id']!r}: column 'study_id' value "
                    f"{row['study_id']!r} is included but not in studies.csv")


def load_review(folder: Path | str) -> Review:
    """Read and validate one review folder (``review.json``, ``codebook.csv``, its sheets).

    Every sheet is read as text and checked against ``codebook.csv`` before anything is derived,
    so a bad cell stops the pipeline with the study id, column and value (nothing half-written).
    """
    folder = Path(folder)
    meta = json.loads((folder / "review.json").read_text(encoding="utf-8"))
    if meta.get("design") not in SHEETS:
        raise SheetError(f"{folder / 'review.json'}: key 'design' value {meta.get('design')!r} is not one of {list(SHEETS)}")
    codebook = pd.read_csv(folder / "codebook.csv", dtype=str, keep_default_na=False)
    sheets = {}
    for sheet in SHEETS[meta["design"]]:
        path = folder / f"{sheet}.csv"
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        sheets[sheet] = validate_sheet(raw, sheet, codebook, str(path))
    _check_references(sheets, codebook, folder)
    published = folder / "published_results.csv"
    sheets["published_results"] = (pd.read_csv(published) if published.exists()
                                   else pd.DataFrame(columns=["review", "analysis", "metric", "estimate", "p", "k", "n", "source"]))
    return Review(review_id=folder.name, folder=folder, meta=meta, codebook=codebook, sheets=sheets)


def load_reviews(raw_dir: Path | str, reviews: Sequence[str] | None = None) -> dict[str, Review]:
    """Load and validate the named review folders (default: every folder with a review.json)."""
    raw_dir = Path(raw_dir)
    names = list(reviews) if reviews else list_reviews(raw_dir)
    return {name: load_review(raw_dir / name) for name in names}


def prisma_counts(screening: pd.DataFrame, effects: pd.DataFrame) -> pd.DataFrame:
    """Counts for a PRISMA-style flow of our own extraction.

    Records identified (by route), duplicates removed, records screened, excluded (by reason),
    studies included, and among them studies with at least one numeric statistic.
    """
    rows = [("identified", "calibration leads", int((screening["found_via"] == "lead").sum())),
            ("identified", "own search and citations", int((screening["found_via"] != "lead").sum())),
            ("removed", "duplicate records", int((screening["decision"] == "duplicate").sum()))]
    screened = screening[screening["decision"] != "duplicate"]
    rows.append(("screened", "records screened", len(screened)))
    for reason, n in screened.loc[screened["decision"] == "excluded", "reason"].value_counts().sort_index().items():
        rows.append(("excluded", reason.replace("_", " "), int(n)))
    included = screened[screened["decision"] == "included"]
    rows.append(("included", "studies included", included["study_id"].nunique()))
    numeric = effects.loc[~effects["statistic_type"].isin(["p_only", "direction_only"]), "study_id"].nunique()
    rows.append(("included", "with a numeric statistic", int(numeric)))
    return pd.DataFrame(rows, columns=["stage", "box", "n"])


def study_characteristics(review: Review) -> pd.DataFrame:
    """A compact table of included studies: id, year, country, design, n and what was extracted."""
    studies = review.sheets["studies"]
    effects = review.effects
    per_study = effects.groupby("study_id").agg(
        rows=("study_id", "size"),
        numeric=("statistic_type", lambda s: int((~s.isin(["p_only", "direction_only"])).sum())))
    columns = {"correlational": ["study_id", "year", "country", "design", "n", "mean_age", "population"],
               "intervention": ["study_id", "year", "country", "target_problem", "guidance", "control_type",
                                "n_randomized_total"]}[review.design]
    table = studies[columns].merge(per_study, left_on="study_id", right_index=True, how="left")
    if review.design == "intervention" and "box_scores" in review.sheets:
        box = review.sheets["box_scores"].groupby("study_id").size().rename("box_rows")
        table = table.merge(box, left_on="study_id", right_index=True, how="left")
    count_cols = [c for c in ("rows", "numeric", "box_rows") if c in table]
    table[count_cols] = table[count_cols].fillna(0).astype(int)
    return table.sort_values(["year", "study_id"]).reset_index(drop=True)


def extraction_summary(review: Review) -> pd.DataFrame:
    """Rows per analysis slice and statistic kind: what the public reports let us extract."""
    effects = review.effects
    by = ["help_seeking_type", "outcome"] if review.design == "correlational" else ["comparison", "timepoint"]
    kind = np.where(effects["statistic_type"].isin(["p_only", "direction_only"]), "significance only", "numeric")
    table = effects.assign(kind=kind).pivot_table(index=by, columns="kind", values="study_id",
                                                  aggfunc="count", fill_value=0)
    table.columns.name = None
    return table.reset_index()


def extraction_overview(reviews: dict[str, Review]) -> pd.DataFrame:
    """One row per validated review: design, studies, effect rows, box-score rows, screening records."""
    rows = []
    for name, r in reviews.items():
        rows.append({"review": name, "design": r.design, "studies": len(r.sheets["studies"]),
                     "effect_rows": len(r.effects),
                     "box_score_rows": len(r.sheets["box_scores"]) if "box_scores" in r.sheets else 0,
                     "screening_records": len(r.sheets["screening"])})
    return pd.DataFrame(rows)


def validation_demo(review: Review) -> str:
    """The error a sheet with an invalid category gets: the first effect row's direction set to 'upward'."""
    sheet = "effects" if review.design == "correlational" else "outcomes"
    raw = pd.read_csv(review.folder / f"{sheet}.csv", dtype=str, keep_default_na=False)
    raw.loc[0, "direction"] = "upward"
    try:
        validate_sheet(raw, sheet, review.codebook, f"data/raw/{review.review_id}/{sheet}.csv")
    except SheetError as error:
        return f"SheetError: {error}"
    return "no error (the codebook allows 'upward')"


def published_overview(review: Review) -> pd.DataFrame:
    """Published headline results beside how many rows our extraction holds for each analysis."""
    effects = review.effects
    if review.design == "intervention":
        effects = effects.merge(review.sheets["studies"][["study_id", "guidance", "control_type"]], on="study_id")
    published = review.published.set_index("analysis")
    rows = []
    for spec in review.meta["analyses"]:
        sel = filter_rows(effects, spec["filter"])
        numeric = sel[~sel["statistic_type"].isin(["p_only", "direction_only"])]
        pub = published.loc[spec["published"]] if spec.get("published") in published.index else None
        rows.append({"analysis": spec["label"],
                     "published": "" if pub is None else (f"{pub['metric']} = {pub['estimate']:g}" if pd.notna(pub["estimate"])
                                                          else "not significant, value not given"),
                     "studies_extracted": sel["study_id"].nunique(), "rows": len(sel),
                     "rows_with_numbers": len(numeric), "studies_with_numbers": numeric["study_id"].nunique()})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# 2. Effect-size harmonisation (notebook 02)
# ---------------------------------------------------------------------------------------------


def cmicalc(m) -> np.ndarray:
    """Exact small-sample correction factor J(m) = Γ(m/2) / (sqrt(m/2) Γ((m−1)/2)).

    Hedges (1981); as metafor's internal ``.cmicalc``. ``m`` is the degrees of freedom.
    """
    m = np.asarray(m, dtype=float)
    return np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))


def r_to_z(r, n) -> tuple[np.ndarray, np.ndarray]:
    """Fisher's r-to-z transformation: yi = atanh(r), vi = 1/(n − 3).

    As metafor ``escalc("ZCOR")``. Borenstein et al. (2009), ch. 6.
    """
    a = _broadcast(r=r, n=n)
    bad = np.flatnonzero(np.abs(a["r"]) >= 1)
    if bad.size:
        raise ValueError(f"r[{bad[0]}] = {a['r'][bad[0]]:g}: |r| must be < 1")
    _check_min("n", a["n"], 4)
    return np.arctanh(a["r"]), 1.0 / (a["n"] - 3)


def z_to_r(z) -> np.ndarray:
    """Back-transform Fisher's z to r: r = tanh(z)."""
    return np.tanh(_as_array("z", z))


def smd_variance(g, n1, n2):
    """Large-sample variance of a standardised mean difference: 1/n1 + 1/n2 + g²/(2(n1 + n2)).

    As metafor ``escalc("SMD")`` (vtype "LS"); Hedges & Olkin (1985).
    """
    return 1 / n1 + 1 / n2 + g ** 2 / (2 * (n1 + n2))


def hedges_g(m1, sd1, n1, m2, sd2, n2) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected standardised mean difference (Hedges' g) and its large-sample variance.

    g = J(n1+n2−2) (m1 − m2) / s_pooled,  vi = 1/n1 + 1/n2 + g² / (2 (n1 + n2)).
    As metafor ``escalc("SMD")`` (vtype "LS"). Hedges (1981); Borenstein et al. (2009), ch. 4.
    """
    a = _broadcast(m1=m1, sd1=sd1, n1=n1, m2=m2, sd2=sd2, n2=n2)
    for name in ("sd1", "sd2"):
        _check_min(name, a[name], 0, strict=True)
    for name in ("n1", "n2"):
        _check_min(name, a[name], 2)
    df = a["n1"] + a["n2"] - 2
    sd_pooled = np.sqrt(((a["n1"] - 1) * a["sd1"] ** 2 + (a["n2"] - 1) * a["sd2"] ** 2) / df)
    g = cmicalc(df) * (a["m1"] - a["m2"]) / sd_pooled
    return g, smd_variance(g, a["n1"], a["n2"])


def d_to_g(d, n1, n2) -> tuple[np.ndarray, np.ndarray]:
    """Hedges' g and its variance from a printed Cohen's d with the two group sizes.

    g = J(n1+n2−2) d,  vi = 1/n1 + 1/n2 + g² / (2 (n1 + n2)) (the SMD variance, as escalc "SMD").
    """
    a = _broadcast(d=d, n1=n1, n2=n2)
    for name in ("n1", "n2"):
        _check_min(name, a[name], 2)
    g = cmicalc(a["n1"] + a["n2"] - 2) * a["d"]
    return g, smd_variance(g, a["n1"], a["n2"])


def smcr(m_post, m_pre, sd_pre, n, r) -> tuple[np.ndarray, np.ndarray]:
    """Standardised mean change with raw-score (pre-test SD) standardisation.

    yi = J(n−1) (m_post − m_pre) / sd_pre,  vi = 2 (1 − r)/n + yi² / (2n).
    As metafor ``escalc("SMCR")``. Becker (1988); Morris (2008).
    """
    a = _broadcast(m_post=m_post, m_pre=m_pre, sd_pre=sd_pre, n=n, r=r)
    _check_min("sd_pre", a["sd_pre"], 0, strict=True)
    _check_min("n", a["n"], 3)
    bad = np.flatnonzero(np.abs(a["r"]) >= 1)
    if bad.size:
        raise ValueError(f"r[{bad[0]}] = {a['r'][bad[0]]:g}: |r| must be < 1")
    yi = cmicalc(a["n"] - 1) * (a["m_post"] - a["m_pre"]) / a["sd_pre"]
    return yi, 2 * (1 - a["r"]) / a["n"] + yi ** 2 / (2 * a["n"])


def smcc(m_post, m_pre, sd_post, sd_pre, n, r) -> tuple[np.ndarray, np.ndarray]:
    """Standardised mean change with change-score standardisation.

    sd_change = sqrt(sd_post² + sd_pre² − 2 r sd_post sd_pre);
    yi = J(n−1) (m_post − m_pre) / sd_change,  vi = 1/n + yi² / (2n).
    As metafor ``escalc("SMCC")`` (vtype "LS"). Gibbons et al. (1993); Morris (2008).
    """
    a = _broadcast(m_post=m_post, m_pre=m_pre, sd_post=sd_post, sd_pre=sd_pre, n=n, r=r)
    _check_min("n", a["n"], 3)
    sd_change = np.sqrt(a["sd_post"] ** 2 + a["sd_pre"] ** 2 - 2 * a["r"] * a["sd_post"] * a["sd_pre"])
    _check_min("sd_change", sd_change, 0, strict=True)
    yi = cmicalc(a["n"] - 1) * (a["m_post"] - a["m_pre"]) / sd_change
    return yi, 1 / a["n"] + yi ** 2 / (2 * a["n"])


def t_to_d(t, n1, n2) -> np.ndarray:
    """Cohen's d from an independent-groups t statistic: d = t sqrt(1/n1 + 1/n2).

    Borenstein et al. (2009), ch. 7; Lipsey & Wilson (2001).
    """
    a = _broadcast(t=t, n1=n1, n2=n2)
    for name in ("n1", "n2"):
        _check_min(name, a[name], 1)
    return a["t"] * np.sqrt(1 / a["n1"] + 1 / a["n2"])


def f_to_d(f, n1, n2, sign=1.0) -> np.ndarray:
    """Cohen's d from F(1, df) comparing two groups: t = sign · sqrt(F), then :func:`t_to_d`.

    Only valid for a one-numerator-df F; the sign comes from the reported direction.
    """
    a = _broadcast(f=f, sign=sign)
    _check_min("F", a["f"], 0)
    return t_to_d(np.sign(a["sign"]) * np.sqrt(a["f"]), n1, n2)


def p_to_d(p, n1, n2, sign=1.0) -> np.ndarray:
    """Cohen's d from an exact two-sided p of a two-group t test with group sizes.

    t = sign · t⁻¹(1 − p/2; n1+n2−2), then :func:`t_to_d`. Only exact p values convert; a bound
    ("p < .05") does not give a number and belongs in the box score.
    """
    a = _broadcast(p=p, n1=n1, n2=n2, sign=sign)
    bad = np.flatnonzero((a["p"] <= 0) | (a["p"] >= 1))
    if bad.size:
        raise ValueError(f"p[{bad[0]}] = {a['p'][bad[0]]:g}: must be in (0, 1)")
    t = np.sign(a["sign"]) * stats.t.isf(a["p"] / 2, a["n1"] + a["n2"] - 2)
    return t_to_d(t, a["n1"], a["n2"])


def p_to_r(p, n, sign=1.0) -> np.ndarray:
    """Correlation from an exact two-sided p and the sample size: r = sign · z(1 − p/2) / sqrt(n).

    Rosenthal (1994), r = Z / sqrt(N). Only exact p values convert.
    """
    a = _broadcast(p=p, n=n, sign=sign)
    bad = np.flatnonzero((a["p"] <= 0) | (a["p"] >= 1))
    if bad.size:
        raise ValueError(f"p[{bad[0]}] = {a['p'][bad[0]]:g}: must be in (0, 1)")
    _check_min("n", a["n"], 4)
    return np.sign(a["sign"]) * stats.norm.isf(a["p"] / 2) / np.sqrt(a["n"])


def or_to_d(odds_ratio, ci_low=None, ci_high=None, level: float = 0.95):
    """Cohen's d from an odds ratio by the logit method: d = ln(OR) · sqrt(3)/π.

    With a confidence interval also returns vi = v_lnOR · 3/π², where
    v_lnOR = ((ln ci_high − ln ci_low) / (2 z_{1−α/2}))². Hasselblad & Hedges (1995);
    Borenstein et al. (2009), ch. 7. Returns d, or (d, vi) when the CI is given.
    """
    odds = _as_array("odds_ratio", odds_ratio)
    _check_min("odds_ratio", odds, 0, strict=True)
    d = np.log(odds) * math.sqrt(3) / math.pi
    if ci_low is None:
        return d
    a = _broadcast(ci_low=ci_low, ci_high=ci_high)
    _check_min("ci_low", a["ci_low"], 0, strict=True)
    width = np.log(a["ci_high"]) - np.log(a["ci_low"])
    _check_min("ci_high - ci_low", width, 0, strict=True)
    v_log_or = (width / (2 * stats.norm.isf((1 - level) / 2))) ** 2
    return d, v_log_or * 3 / math.pi ** 2


def beta_to_r(beta) -> np.ndarray:
    """Correlation from a standardised regression coefficient: r = β + 0.05 λ, λ = 1 if β ≥ 0 else 0.

    Peterson & Brown (2005); intended for |β| < 0.5, a ValueError otherwise.
    """
    b = _as_array("beta", beta)
    bad = np.flatnonzero(np.abs(b) >= 0.5)
    if bad.size:
        raise ValueError(f"beta[{bad[0]}] = {b[bad[0]]:g}: Peterson & Brown's formula needs |beta| < 0.5")
    return b + 0.05 * (b >= 0)


def d_to_r(d, n1=None, n2=None) -> np.ndarray:
    """Point-biserial r from d: r = d / sqrt(d² + a), a = (n1+n2)² / (n1 n2) (a = 4 if sizes unknown).

    Borenstein et al. (2009), eq. 7.7.
    """
    d = _as_array("d", d)
    if n1 is None or n2 is None:
        a = np.full_like(d, 4.0)
    else:
        s = _broadcast(n1=n1, n2=n2)
        for name in ("n1", "n2"):
            _check_min(name, s[name], 1)
        a = (s["n1"] + s["n2"]) ** 2 / (s["n1"] * s["n2"])
    return d / np.sqrt(d ** 2 + a)


def r_to_d(r) -> np.ndarray:
    """Cohen's d from r: d = 2r / sqrt(1 − r²). Borenstein et al. (2009), eq. 7.5."""
    r = _as_array("r", r)
    bad = np.flatnonzero(np.abs(r) >= 1)
    if bad.size:
        raise ValueError(f"r[{bad[0]}] = {r[bad[0]]:g}: |r| must be < 1")
    return 2 * r / np.sqrt(1 - r ** 2)


def t_to_r(t, df) -> np.ndarray:
    """Correlation from a t statistic with its df (e.g. a regression or correlation test):
    r = t / sqrt(t² + df). Rosenthal (1994)."""
    a = _broadcast(t=t, df=df)
    _check_min("df", a["df"], 1)
    return a["t"] / np.sqrt(a["t"] ** 2 + a["df"])


def chi2_to_r(chi2, n, sign=1.0) -> np.ndarray:
    """Phi coefficient from a 1-df chi-square and the sample size: r = sign · sqrt(χ² / n).
    Rosenthal (1994); Lipsey & Wilson (2001)."""
    a = _broadcast(chi2=chi2, n=n, sign=sign)
    _check_min("chi2", a["chi2"], 0)
    _check_min("n", a["n"], 1, strict=True)
    return np.sign(a["sign"]) * np.sqrt(a["chi2"] / a["n"])


def proportions_to_or(p1, n1, p2, n2) -> np.ndarray:
    """Odds ratio from two printed percentages (0–100) with their group sizes.

    The cell counts are p·n/100; OR = (a/b)/(c/d). Used only when counts are implied by the print.
    """
    a = _broadcast(p1=p1, n1=n1, p2=p2, n2=n2)
    for name in ("p1", "p2"):
        bad = np.flatnonzero((a[name] <= 0) | (a[name] >= 100))
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}] = {a[name][bad[0]]:g}: percentage must be in (0, 100)")
    x1, x2 = a["p1"] / 100, a["p2"] / 100
    return (x1 / (1 - x1)) / (x2 / (1 - x2))


# -- harmonisation of whole sheets ------------------------------------------------------------

_SIGN = {"positive": 1.0, "negative": -1.0}


class NotConvertible(Exception):
    """Raised inside a row converter: the printed statistic cannot give an effect size."""


def _signed(magnitude: float, row) -> float:
    """Magnitude from the statistic, sign from the coded direction (the printed sign if null)."""
    if row["direction"] in _SIGN:
        return abs(magnitude) * _SIGN[row["direction"]]
    if row["direction"] == "null":
        return magnitude
    raise NotConvertible(f"direction is {row['direction']!r}")


def _exact_p(row) -> float:
    if pd.isna(row["p_value"]) or row["p_operator"] not in ("=", ""):
        raise NotConvertible("p is printed only as a bound")
    return float(row["p_value"])


def _row_to_r(row) -> tuple[float, str]:
    """One correlational-sheet row → (r, method). Raises NotConvertible with the reason."""
    kind, value = row["statistic_type"], row["value"]
    n = row["n_effect"]
    if kind in ("p_only", "direction_only"):
        raise NotConvertible("only direction and significance are printed")
    if kind in ("means", "percent"):
        n1, n2 = row["n_group1"], row["n_group2"]
        if pd.isna(n1) or pd.isna(n2):
            raise NotConvertible("group comparison printed without both group sizes")
        if kind == "percent":
            odds = proportions_to_or(row["m_group1"], n1, row["m_group2"], n2)[0]
            return _signed(float(d_to_r(or_to_d(odds), n1, n2)[0]), row), "percentages → OR → d (logit) → r"
        if not (pd.isna(row["sd_group1"]) or pd.isna(row["sd_group2"])):
            g, _ = hedges_g(row["m_group1"], row["sd_group1"], n1, row["m_group2"], row["sd_group2"], n2)
            return _signed(float(d_to_r(g, n1, n2)[0]), row), "means and SDs → g → r"
        d = p_to_d(_exact_p(row), n1, n2)[0]
        return _signed(float(d_to_r(d, n1, n2)[0]), row), "exact p with group sizes → d → r"
    if pd.isna(value):
        raise NotConvertible(f"no value printed for statistic type {kind!r}")
    if kind in ("r", "rho"):
        return _signed(float(value), row), "r as printed" if kind == "r" else "Spearman rho taken as r"
    if kind == "beta":
        if abs(value) >= 0.5:
            raise NotConvertible(f"standardised beta {value:g} outside Peterson & Brown's range")
        return float(beta_to_r(_signed(value, row))[0]), "standardised beta → r (Peterson & Brown 2005)"
    if kind in ("or", "aor"):
        n1, n2 = row["n_group1"], row["n_group2"]
        d = or_to_d(value)[0]
        r = d_to_r(d, n1, n2)[0] if not (pd.isna(n1) or pd.isna(n2)) else d_to_r(d)[0]
        return _signed(float(r), row), "odds ratio → d (logit) → r"
    if kind == "d" or kind == "smd":
        n1, n2 = row["n_group1"], row["n_group2"]
        r = d_to_r(value, n1, n2)[0] if not (pd.isna(n1) or pd.isna(n2)) else d_to_r(value)[0]
        return _signed(float(r), row), "d → r"
    if kind == "t":
        if pd.isna(row["df1"]):
            raise NotConvertible("t printed without its degrees of freedom")
        return _signed(float(t_to_r(value, row["df1"])[0]), row), "t with df → r"
    if kind == "f":
        if row["df1"] != 1 or pd.isna(row["df2"]):
            raise NotConvertible("F is not F(1, df)")
        return _signed(float(t_to_r(math.sqrt(value), row["df2"])[0]), row), "F(1, df) → t → r"
    if kind == "chi2":
        if row["df1"] != 1 or pd.isna(n):
            raise NotConvertible("chi-square is not 1-df or n is missing")
        return _signed(float(chi2_to_r(value, n)[0]), row), "chi-square(1) with n → phi"
    if kind == "z":
        if pd.isna(n):
            raise NotConvertible("z printed without n")
        return _signed(float(value / math.sqrt(n)), row), "z / sqrt(n)"
    raise NotConvertible(f"statistic type {kind!r} ({'unstandardised b' if kind == 'b' else 'no conversion'}) does not give r")


def harmonise_correlational(effects: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every row of a correlational ``effects`` sheet → r, Fisher z (yi) and vi = 1/(n − 3).

    Returns (converted, not_converted). ``converted`` has ``r``, ``yi``, ``vi``, ``n`` and the
    ``conversion`` used; ``not_converted`` keeps each remaining row with its ``reason`` and goes to
    the box score. Sign convention: positive = more web-based help seeking goes with a higher
    outcome score. References: Borenstein et al. (2009) ch. 6–7; Peterson & Brown (2005).
    """
    done, left = [], []
    for _, row in effects.iterrows():
        try:
            r, method = _row_to_r(row)
            n = row["n_effect"]
            if pd.isna(n) and not (pd.isna(row["n_group1"]) or pd.isna(row["n_group2"])):
                n = row["n_group1"] + row["n_group2"]
            if pd.isna(n):
                raise NotConvertible("no sample size for this association")
            if abs(r) >= 1:
                raise NotConvertible(f"converted r = {r:g} is not a correlation")
            yi, vi = r_to_z(r, n)
            done.append({**row.to_dict(), "r": r, "yi": float(yi[0]), "vi": float(vi[0]), "n": int(n),
                         "conversion": method})
        except NotConvertible as why:
            left.append({**row.to_dict(), "reason": str(why)})
    return pd.DataFrame(done), pd.DataFrame(left)


def _row_to_smd(row, prepost_r: float) -> tuple[float, float, str]:
    """One intervention-sheet outcome row → (yi, vi, method). Raises NotConvertible."""
    kind = row["statistic_type"]
    if kind in ("p_only", "direction_only"):
        raise NotConvertible("only direction and significance are printed")
    if row["comparison"] == "within":
        cols = ("m_pre", "sd_pre", "m_post", "n_within")
        if kind != "prepost_means" or any(pd.isna(row[c]) for c in cols):
            raise NotConvertible("within-group row without pre and post means, pre SD and n")
        yi, vi = smcr(row["m_post"], row["m_pre"], row["sd_pre"], row["n_within"], prepost_r)
        if row["direction"] == "negative" and yi[0] > 0 or row["direction"] == "positive" and yi[0] < 0:
            raise NotConvertible("coded direction contradicts the printed means")
        return float(yi[0]), float(vi[0]), f"pre-post means → SMCR (r = {prepost_r:g})"
    n1, n2 = row["n_ig"], row["n_cg"]
    if kind == "means_sds":
        cols = ("m_ig", "sd_ig", "n_ig", "m_cg", "sd_cg", "n_cg")
        if any(pd.isna(row[c]) for c in cols):
            raise NotConvertible("means printed without SDs or ns for both arms")
        g, vi = hedges_g(row["m_ig"], row["sd_ig"], n1, row["m_cg"], row["sd_cg"], n2)
        if row["direction"] in _SIGN and np.sign(g[0]) != _SIGN[row["direction"]]:
            g = -g  # scale where lower scores mean more self-efficacy: orient by the coded direction
        return float(g[0]), float(vi[0]), "means and SDs → Hedges' g"
    randomized = pd.isna(n1) or pd.isna(n2)
    if randomized:
        n1, n2 = row.get("n_randomized_ig", np.nan), row.get("n_randomized_cg", np.nan)
    by_n = "" if not randomized else " (n randomized per arm)"
    if kind in ("d", "g", "smd"):
        if pd.isna(row["es_value"]):
            raise NotConvertible("effect size named but no value printed")
        d = _signed(row["es_value"], row)
        if pd.isna(n1) or pd.isna(n2):
            if pd.isna(row["ci_low"]) or pd.isna(row["ci_high"]):
                raise NotConvertible("effect size printed without group sizes or a confidence interval")
            vi = ((row["ci_high"] - row["ci_low"]) / (2 * stats.norm.isf(0.025))) ** 2
            return float(d), float(vi), f"{kind} with its 95% CI (variance from the CI; no small-sample correction)"
        if kind == "g":
            return float(d), float(smd_variance(d, n1, n2)), "g as printed" + by_n
        g, vi = d_to_g(d, n1, n2)
        return float(g[0]), float(vi[0]), "d as printed → g" + by_n
    if pd.isna(n1) or pd.isna(n2):
        raise NotConvertible("group sizes of both arms are not printed")
    df = row["df1"] if kind == "t" else row["df2"]
    if randomized and not pd.isna(df) and df != n1 + n2 - 2:
        raise NotConvertible(f"test df {df:g} does not match the randomized arms ({n1:g} + {n2:g}): analysed group sizes unknown")
    if kind == "t":
        if pd.isna(row["t_value"]):
            raise NotConvertible("t named but not printed")
        d = _signed(float(t_to_d(row["t_value"], n1, n2)[0]), row)
        g, vi = d_to_g(d, n1, n2)
        return float(g[0]), float(vi[0]), "t with group sizes → d → g" + by_n
    if kind == "f":
        if pd.isna(row["f_value"]) or row["df1"] != 1:
            raise NotConvertible("F is not F(1, df)")
        d = _signed(float(f_to_d(row["f_value"], n1, n2)[0]), row)
        g, vi = d_to_g(d, n1, n2)
        return float(g[0]), float(vi[0]), "F(1, df) with group sizes → d → g" + by_n
    raise NotConvertible(f"statistic type {kind!r} does not give an SMD")


def harmonise_intervention(outcomes: pd.DataFrame, prepost_r: float = 0.5,
                           studies: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every row of an intervention ``outcomes`` sheet → Hedges' g (between) or SMCR (within).

    Between groups: g = J·d with vi = 1/n1 + 1/n2 + g²/(2(n1+n2)) (escalc "SMD"); within groups:
    the standardised mean change with pre-test SD and an assumed pre–post correlation
    ``prepost_r`` (escalc "SMCR"; Morris 2008). Positive = more self-efficacy with the intervention.
    When a result row gives no group sizes, the numbers randomized per arm from ``studies`` are
    used (said in ``conversion``), unless a printed test df shows that another sample was analysed;
    a d printed only with its 95% CI takes its variance from the CI.
    Returns (converted, not_converted) as :func:`harmonise_correlational`.
    """
    done, left = [], []
    if studies is not None:
        outcomes = outcomes.merge(studies[["study_id", "n_randomized_ig", "n_randomized_cg"]], on="study_id", how="left")
    for _, row in outcomes.iterrows():
        try:
            yi, vi, method = _row_to_smd(row, prepost_r)
            if row["comparison"] == "within":
                n = row["n_within"]
            elif not (pd.isna(row["n_ig"]) or pd.isna(row["n_cg"])):
                n = row["n_ig"] + row["n_cg"]
            else:
                n = row.get("n_randomized_ig", np.nan) + row.get("n_randomized_cg", np.nan)
            n = 0 if pd.isna(n) else n
            done.append({**row.to_dict(), "yi": yi, "vi": vi, "n": int(n), "conversion": method})
        except NotConvertible as why:
            left.append({**row.to_dict(), "reason": str(why)})
    return pd.DataFrame(done), pd.DataFrame(left)


GENERATIONS = (("Baby Boomers", 1946, 1964), ("Generation X", 1965, 1980),
               ("Millennials", 1981, 1996), ("Generation Z", 1997, 2012))


def derive_generation(studies: pd.DataFrame) -> pd.DataFrame:
    """Birth year and generation of each study's sample (Pew Research Center cohorts).

    birth_year = survey year (publication year − 1 when no survey year is printed) − mean age
    (midpoint of the age range when no mean is printed). Generations: Baby Boomers 1946–64,
    Generation X 1965–80, Millennials 1981–96, Generation Z 1997–2012 (Dimock 2019).
    ``generation_basis`` says which inputs were used, so that derived values are never mistaken
    for printed ones.
    """
    rows = []
    for _, s in studies.iterrows():
        year, basis = (s["survey_year"], "survey year") if not pd.isna(s["survey_year"]) else (s["year"] - 1, "publication year − 1")
        if not pd.isna(s["mean_age"]):
            age, age_basis = s["mean_age"], "mean age"
        elif not pd.isna(s["age_min"]) and not pd.isna(s["age_max"]):
            age, age_basis = (s["age_min"] + s["age_max"]) / 2, "age-range midpoint"
        else:
            rows.append({"study_id": s["study_id"], "birth_year": np.nan, "generation": "unknown",
                         "generation_basis": "no age printed"})
            continue
        birth = int(round(year - age))
        label = next((name for name, lo, hi in GENERATIONS if lo <= birth <= hi), "other")
        rows.append({"study_id": s["study_id"], "birth_year": birth, "generation": label,
                     "generation_basis": f"{basis} − {age_basis}"})
    return pd.DataFrame(rows)


def converted_view(converted: pd.DataFrame) -> pd.DataFrame:
    """The converted rows as a reader checks them: statistic as printed → conversion → effect size."""
    if converted.empty:
        return converted
    id_col = "effect_id" if "effect_id" in converted else "outcome_id"
    cols = [id_col, "statistic_as_printed", "conversion", "n"] + (["r"] if "r" in converted else []) + ["yi", "vi"]
    view = converted[cols].copy()
    view["statistic_as_printed"] = view["statistic_as_printed"].str.slice(0, 60)
    return view.round(4).reset_index(drop=True)


def not_converted_view(not_converted: pd.DataFrame) -> pd.DataFrame:
    """Rows that printed a number but could not be converted, each with its reason.

    Rows that print only direction and significance are counted in :func:`conversion_summary`
    and listed in ``not_converted.csv``; they are left out here to keep the table short.
    """
    if not_converted.empty:
        return not_converted
    id_col = "effect_id" if "effect_id" in not_converted else "outcome_id"
    rows = not_converted[~not_converted["statistic_type"].isin(["p_only", "direction_only"])]
    view = rows[[id_col, "statistic_type", "statistic_as_printed", "reason"]].copy()
    view["statistic_as_printed"] = view["statistic_as_printed"].str.slice(0, 70)
    return view.reset_index(drop=True)


def generation_summary(review: Review) -> pd.DataFrame:
    """Studies per derived generation and per basis of the derivation (see :func:`derive_generation`)."""
    gen = derive_generation(review.sheets["studies"])
    table = gen.groupby(["generation", "generation_basis"]).size().rename("studies").reset_index()
    return table.sort_values(["generation", "generation_basis"]).reset_index(drop=True)


def select_one_per_study(effects: pd.DataFrame) -> pd.DataFrame:
    """Keep one effect per study for a pooled analysis, so that no sample counts twice.

    Priority: the construct measured directly over a proxy; post over follow-up; unadjusted over
    adjusted; then the lowest effect id. (The rule is stated, not tuned.)
    """
    if effects.empty:
        return effects
    keys = pd.DataFrame(index=effects.index)
    keys["proxy"] = (effects["outcome_proxy"] != "none") if "outcome_proxy" in effects else False
    keys["follow"] = (effects["timepoint"] == "follow_up") if "timepoint" in effects else False
    keys["adjusted"] = (effects["adjusted"] == "yes") if "adjusted" in effects else False
    id_col = "effect_id" if "effect_id" in effects else "outcome_id"
    keys["id"] = effects[id_col]
    order = keys.sort_values(["proxy", "follow", "adjusted", "id"]).index
    return effects.loc[order].drop_duplicates("study_id").sort_values(id_col)


def filter_rows(frame: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Rows whose columns take one of the listed values: ``{"column": [values], ...}``."""
    mask = pd.Series(True, index=frame.index)
    for column, values in spec.items():
        if column not in frame:
            raise KeyError(f"analysis filter names column {column!r}, which the sheet does not have")
        values = values if isinstance(values, list) else [values]
        mask &= frame[column].isin(values)
    return frame[mask]


def with_scope(frame: pd.DataFrame, studies: pd.DataFrame, core_only: bool) -> pd.DataFrame:
    """Drop edge-of-scope rows (study- or row-level ``scope_flag``) when ``core_only``."""
    if not core_only or "scope_flag" not in studies:
        return frame
    flagged = set(studies.loc[~studies["scope_flag"].isin(["", "none"]), "study_id"])
    keep = ~frame["study_id"].isin(flagged)
    if "scope_flag" in frame:
        keep &= frame["scope_flag"].isin(["", "none"])
    return frame[keep]


# ---------------------------------------------------------------------------------------------
# 3. Pooled models: a random-effects engine that matches metafor's rma() (notebook 03)
# ---------------------------------------------------------------------------------------------

# Our own engine: statsmodels 0.15's combine_effects has no REML, does not truncate DL's tau2 at 0
# and has no Q-profile, subgroup, leave-one-out, Egger or trim-and-fill; WLS and distributions are
# still taken from statsmodels and scipy.
TAU2_METHODS = ("FE", "DL", "HE", "SJ", "ML", "REML", "PM")
_THRESHOLD = 1e-13  # convergence of iterative tau2 estimators (metafor run with the same control)
_MAXITER = 10000


def _check_meta_input(yi, vi, min_k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    yi = _as_array("yi", yi)
    vi = _as_array("vi", vi)
    _same_length(yi=yi, vi=vi)
    _check_min("vi", vi, 0, strict=True)
    if len(yi) < min_k:
        raise ValueError(f"k = {len(yi)} studies: this model needs at least {min_k}")
    return yi, vi


def _check_method(method: str, test: str) -> None:
    if method not in TAU2_METHODS:
        raise ValueError(f"method = {method!r}: use one of {TAU2_METHODS}")
    if test not in ("z", "knha"):
        raise ValueError(f"test = {test!r}: use 'z' or 'knha'")


class _WLS:
    """Weighted least squares for many fits at once.

    ``w`` has shape (m, k): one row of weights per fit, zero for studies a fit leaves out (this is
    how leave-one-out refits everything in one pass without k×k matrices). ``X`` is (k, p).
    All traces are computed from p×p blocks: tr(P) = Σw − tr(A X'W²X) with A = (X'WX)⁻¹.
    """

    def __init__(self, y: np.ndarray, X: np.ndarray, w: np.ndarray):
        self.y, self.X, self.w = y, X, w
        self.xwx = np.einsum("mk,kp,kq->mpq", w, X, X)
        self.A = np.linalg.inv(self.xwx)
        xwy = np.einsum("mk,kp,k->mp", w, X, y)
        self.beta = np.einsum("mpq,mq->mp", self.A, xwy)
        self.resid = y[None, :] - self.beta @ X.T
        self.rss = np.einsum("mk,mk->m", w, self.resid ** 2)

    def tr_p(self) -> np.ndarray:
        xw2x = np.einsum("mk,kp,kq->mpq", self.w ** 2, self.X, self.X)
        return self.w.sum(1) - np.einsum("mpq,mqp->m", self.A, xw2x)

    def tr_pp(self) -> np.ndarray:
        w = self.w
        xw2x = np.einsum("mk,kp,kq->mpq", w ** 2, self.X, self.X)
        xw3x = np.einsum("mk,kp,kq->mpq", w ** 3, self.X, self.X)
        b = self.A @ xw2x
        return (w ** 2).sum(1) - 2 * np.einsum("mpq,mqp->m", self.A, xw3x) + np.einsum("mpq,mqp->m", b, b)

    def py_py(self) -> np.ndarray:
        """y'PPy = Σ w² e² (P y = W e for the weighted residuals e)."""
        return np.einsum("mk,mk->m", self.w ** 2, self.resid ** 2)


def _tau2_he(y, v, X, mask) -> np.ndarray:
    ols = _WLS(y, X, mask.astype(float))
    k, p = mask.sum(1), X.shape[1]
    xvx = np.einsum("mk,kp,kq->mpq", mask * v, X, X)
    tr_pv = (mask * v).sum(1) - np.einsum("mpq,mqp->m", ols.A, xvx)
    return (ols.rss - tr_pv) / (k - p)


def _tau2_dl(y, v, X, mask) -> np.ndarray:
    fe = _WLS(y, X, mask / v)
    return (fe.rss - (mask.sum(1) - X.shape[1])) / fe.tr_p()


def _tau2_sj(y, v, X, mask) -> np.ndarray:
    k = mask.sum(1)
    ybar = (mask * y).sum(1) / k
    tau0 = (mask * (y[None, :] - ybar[:, None]) ** 2).sum(1) / k
    fit = _WLS(y, X, mask / (v[None, :] + tau0[:, None]))
    return tau0 * fit.rss / (k - X.shape[1])


def _q_gen(y, v, X, mask, tau2) -> np.ndarray:
    return _WLS(y, X, mask / (v[None, :] + tau2[:, None])).rss


def _tau2_pm(y, v, X, mask) -> np.ndarray:
    """Paule–Mandel: the τ² at which the generalised Q equals k − p (bisection, vectorised)."""
    target = mask.sum(1) - X.shape[1]
    lo = np.zeros(len(mask))
    positive = _q_gen(y, v, X, mask, lo) > target
    hi = np.full(len(mask), 100.0)
    while np.any(grow := positive & (_q_gen(y, v, X, mask, hi) > target)):
        hi = np.where(grow, hi * 10, hi)
    for _ in range(200):
        mid = (lo + hi) / 2
        above = _q_gen(y, v, X, mask, mid) > target
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        if np.all(hi - lo <= 1e-15 * np.maximum(hi, 1e-300)):
            break
    return np.where(positive, (lo + hi) / 2, 0.0)


def _loglik(y, v, X, mask, tau2, reml: bool) -> np.ndarray:
    fit = _WLS(y, X, mask / (v[None, :] + tau2[:, None]))
    k, p = mask.sum(1), X.shape[1]
    logdet_v = (mask * np.log(v[None, :] + tau2[:, None])).sum(1)
    if reml:
        return -0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * logdet_v - 0.5 * np.linalg.slogdet(fit.xwx)[1] - 0.5 * fit.rss
    return -0.5 * k * np.log(2 * np.pi) - 0.5 * logdet_v - 0.5 * fit.rss


def _tau2_fisher(y, v, X, mask, reml: bool) -> np.ndarray:
    """ML / REML by Fisher scoring from the HE estimate, with step halving, as metafor does.

    Update: τ² += (y'PPy − tr P)/tr(PP) for REML, (y'PPy − Σw)/Σw² for ML (Viechtbauer 2005).
    After convergence, τ² = 0 is taken if its likelihood is higher (metafor's ``ll0check``).
    """
    tau2 = np.maximum(0.0, _tau2_he(y, v, X, mask))
    for _ in range(_MAXITER):
        fit = _WLS(y, X, mask / (v[None, :] + tau2[:, None]))
        if reml:
            adj = (fit.py_py() - fit.tr_p()) / fit.tr_pp()
        else:
            adj = (fit.py_py() - fit.w.sum(1)) / (fit.w ** 2).sum(1)
        adj = np.where(np.isfinite(adj), adj, 0.0)
        while np.any(neg := tau2 + adj < 0):
            adj = np.where(neg, adj / 2, adj)
        tau2, old = tau2 + adj, tau2
        if np.all(np.abs(tau2 - old) <= _THRESHOLD):
            break
    else:
        raise RuntimeError("Fisher scoring for tau2 did not converge")
    zero = np.zeros_like(tau2)
    better_at_zero = _loglik(y, v, X, mask, zero, reml) > _loglik(y, v, X, mask, tau2, reml)
    return np.where(better_at_zero, 0.0, tau2)


def _estimate_tau2(y, v, X, mask, method: str) -> np.ndarray:
    if method == "FE":
        return np.zeros(len(mask))
    if method in ("ML", "REML"):
        return _tau2_fisher(y, v, X, mask, reml=method == "REML")
    estimator = {"DL": _tau2_dl, "HE": _tau2_he, "SJ": _tau2_sj, "PM": _tau2_pm}[method]
    return np.maximum(0.0, estimator(y, v, X, mask))


def _fit_batch(y, v, X, mask, method: str, test: str, level: float) -> dict:
    """Fit one model per row of ``mask`` (True = study included); return arrays keyed by field."""
    k, p = mask.sum(1), X.shape[1]
    tau2 = _estimate_tau2(y, v, X, mask, method)
    fit = _WLS(y, X, mask / (v[None, :] + tau2[:, None]))
    vb = fit.A.copy()
    if test == "knha":
        s2w = np.where(fit.rss <= np.finfo(float).eps, 0.0, fit.rss / (k - p))
        vb = vb * s2w[:, None, None]
        crit = stats.t.isf((1 - level) / 2, k - p)
    else:
        crit = np.full(len(mask), stats.norm.isf((1 - level) / 2))
    se = np.sqrt(np.einsum("mpp->mp", vb))
    stat = fit.beta / se
    if test == "knha":
        pval = 2 * stats.t.sf(np.abs(stat), (k - p)[:, None])
    else:
        pval = 2 * stats.norm.sf(np.abs(stat))
    fe = _WLS(y, X, mask / v)
    q = np.maximum(0.0, fe.rss)
    q_df = k - p
    with np.errstate(divide="ignore", invalid="ignore"):
        vt = q_df / fe.tr_p()
        if method == "FE":
            i2 = np.where(q > 0, np.maximum(0.0, 100 * (q - q_df) / q), 0.0)
            h2 = q / q_df
        else:
            i2 = 100 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1
    return dict(k=k, p=p, tau2=tau2, beta=fit.beta, vb=vb, se=se, stat=stat, pval=pval,
                ci_low=fit.beta - crit[:, None] * se, ci_high=fit.beta + crit[:, None] * se, crit=crit,
                q=q, q_df=q_df, q_p=stats.chi2.sf(q, q_df), i2=i2, h2=h2, vt=vt)


@dataclass(frozen=True)
class MetaResult:
    """A fitted intercept-only model (metafor ``rma(yi, vi)``); field names follow metafor."""

    k: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    stat: float
    pval: float
    tau2: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_p: float
    pi_low: float
    pi_high: float
    method: str
    test: str
    level: float
    vt: float = field(repr=False)
    yi: tuple = field(repr=False, default=())
    vi: tuple = field(repr=False, default=())

    @property
    def tau(self) -> float:
        return math.sqrt(self.tau2)

    @property
    def weights(self) -> np.ndarray:
        """Percentage weights 100·w_i/Σw, w_i = 1/(v_i + τ²) (metafor ``weights()``)."""
        w = 1 / (np.asarray(self.vi) + self.tau2)
        return 100 * w / w.sum()

    def to_frame(self) -> pd.DataFrame:
        """One-row summary (metafor's print/``summary_frame``)."""
        return _frozen_frame(self).drop(columns=["vt"])


def fit_meta(yi, vi, method: str = "REML", test: str = "z", level: float = 0.95) -> MetaResult:
    """Fixed- or random-effects meta-analysis of k estimates, as metafor ``rma(yi, vi, ...)``.

    Estimate μ̂ = Σ w_i y_i / Σ w_i with w_i = 1/(v_i + τ²̂); SE = sqrt(1/Σ w_i); z or, with
    ``test="knha"``, the Hartung–Knapp–Sidik–Jonkman SE sqrt(s²/Σw), s² = Σ w_i (y_i − μ̂)²/(k − 1),
    with t(k − 1) (Hartung & Knapp 2001; no truncation of s², as metafor's default).
    τ² estimators: FE (τ² = 0), DL (DerSimonian & Laird 1986), HE (Hedges 1983), SJ (Sidik &
    Jonkman 2005), ML and REML by Fisher scoring (Viechtbauer 2005), PM (Paule & Mandel 1982);
    all truncated at 0. Q = Σ (y_i − μ̂_FE)²/v_i. Following metafor, I² = 100 τ²/(τ² + ṽ) and
    H² = (τ² + ṽ)/ṽ with ṽ = (k − 1)/(Σw − Σw²/Σw) (Higgins & Thompson 2002) for random-effects
    models, and I² = max(0, 100 (Q − (k − 1))/Q), H² = Q/(k − 1) for the FE model.
    Prediction interval μ̂ ± c·sqrt(SE² + τ²) with c from N(0,1), or t(k − 1) under knha, as
    metafor ``predict()`` (Riley et al. 2011 discuss the choice).
    """
    _check_method(method, test)
    yi, vi = _check_meta_input(yi, vi, min_k=2 if test == "knha" else 1)
    X = np.ones((len(yi), 1))
    out = _fit_batch(yi, vi, X, np.ones((1, len(yi)), bool), method, test, level)
    est, se, crit, tau2 = out["beta"][0, 0], out["se"][0, 0], out["crit"][0], out["tau2"][0]
    half = crit * math.sqrt(se ** 2 + tau2)
    return MetaResult(k=len(yi), estimate=float(est), se=float(se), ci_low=float(out["ci_low"][0, 0]),
                      ci_high=float(out["ci_high"][0, 0]), stat=float(out["stat"][0, 0]),
                      pval=float(out["pval"][0, 0]), tau2=float(tau2), i2=float(out["i2"][0]),
                      h2=float(out["h2"][0]), q=float(out["q"][0]), q_df=int(out["q_df"][0]),
                      q_p=float(out["q_p"][0]), pi_low=float(est - half), pi_high=float(est + half),
                      method=method, test=test, level=level, vt=float(out["vt"][0]),
                      yi=tuple(map(float, yi)), vi=tuple(map(float, vi)))


@dataclass(frozen=True)
class Tau2CI:
    """Q-profile confidence intervals for τ², τ, I² and H² (metafor ``confint()``)."""

    tau2: float
    tau2_low: float
    tau2_high: float
    i2_low: float
    i2_high: float
    h2_low: float
    h2_high: float
    level: float

    @property
    def tau_low(self) -> float:
        return math.sqrt(self.tau2_low)

    @property
    def tau_high(self) -> float:
        return math.sqrt(self.tau2_high)

    def to_frame(self) -> pd.DataFrame:
        return _frozen_frame(self)


def tau2_ci(result: MetaResult, level: float | None = None) -> Tau2CI:
    """Q-profile CI for τ² (Viechtbauer 2007), as metafor ``confint(rma(...))``.

    The bounds solve Q_gen(τ²) = Σ (y_i − μ̂(τ²))²/(v_i + τ²) = χ²_{k−1; 1−α/2} (lower) and
    χ²_{k−1; α/2} (upper), each set to 0 when Q_gen(0) already lies below. I² and H² bounds follow
    from τ² bounds with the model's ṽ. The search interval is [0, max(100, 10τ²̂)] as in metafor.
    """
    if result.method == "FE":
        raise ValueError("the FE model has no tau2 to give an interval for")
    level = result.level if level is None else level
    y, v = np.asarray(result.yi), np.asarray(result.vi)
    k = len(y)
    if k < 2:
        raise ValueError(f"k = {k}: a tau2 interval needs at least 2 studies")
    X, mask = np.ones((k, 1)), np.ones((1, k), bool)
    upper_limit = max(100.0, result.tau2 * 10)

    def q_minus(tau2: float, target: float) -> float:
        return float(_q_gen(y, v, X, mask, np.array([tau2]))[0]) - target

    crit_u = stats.chi2.isf((1 - level) / 2, k - 1)
    crit_l = stats.chi2.ppf((1 - level) / 2, k - 1)
    bounds = []
    for target in (crit_u, crit_l):
        if q_minus(0.0, target) < 0:
            bounds.append(0.0)
        elif q_minus(upper_limit, target) > 0:
            bounds.append(upper_limit)
        else:
            bounds.append(optimize.brentq(q_minus, 0.0, upper_limit, args=(target,), xtol=1e-15, rtol=1e-15, maxiter=1000))
    low, high = bounds
    vt = result.vt
    return Tau2CI(tau2=result.tau2, tau2_low=low, tau2_high=high, i2_low=100 * low / (vt + low),
                  i2_high=100 * high / (vt + high), h2_low=low / vt + 1, h2_high=high / vt + 1, level=level)


@dataclass(frozen=True)
class MetaRegResult:
    """A mixed-effects meta-regression (metafor ``rma(yi, vi, mods = ...)``)."""

    k: int
    coef: pd.DataFrame
    tau2: float
    i2: float
    h2: float
    r2: float
    qm: float
    qm_df: tuple
    qm_p: float
    qe: float
    qe_df: int
    qe_p: float
    method: str
    test: str

    def to_frame(self) -> pd.DataFrame:
        return self.coef


def _design(mods, k: int, names: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    if isinstance(mods, pd.DataFrame):
        names = list(mods.columns)
        mods = mods.to_numpy(dtype=float)
    mods = np.asarray(mods, dtype=float)
    if mods.ndim == 1:
        mods = mods[:, None]
    if mods.shape[0] != k:
        raise ValueError(f"mods has {mods.shape[0]} rows but there are {k} studies")
    bad = np.argwhere(~np.isfinite(mods))
    if bad.size:
        i, j = bad[0]
        raise ValueError(f"mods[{i}, {j}] = {mods[i, j]!r} is not a finite number")
    names = list(names) if names is not None else [f"mod{j + 1}" for j in range(mods.shape[1])]
    return np.column_stack([np.ones(k), mods]), ["intrcpt", *names]


def meta_regression(yi, vi, mods, method: str = "REML", test: str = "z", level: float = 0.95,
                    names: Sequence[str] | None = None) -> MetaRegResult:
    """Meta-regression y_i = x_i'β + u_i + e_i with u_i ~ N(0, τ²), as metafor ``rma(yi, vi, mods)``.

    β̂ = (X'WX)⁻¹X'Wy, Var(β̂) = (X'WX)⁻¹ (times s² = Σw e²/(k − p) under knha). The omnibus test
    QM = β̂₁'V₁⁻¹β̂₁ of all slopes is χ²(p − 1), or F(p − 1, k − p) = QM/(p − 1) under knha.
    QE = Σ e_FE²/v_i on k − p df tests residual heterogeneity. Pseudo-R² = max(0, 100 (τ²₀ − τ²)/τ²₀)
    with τ²₀ from the intercept-only model (Raudenbush 2009), 0 when τ²₀ = 0.
    """
    _check_method(method, test)
    yi, vi = _check_meta_input(yi, vi)
    X, labels = _design(mods, len(yi), names)
    k, p = X.shape
    if k <= p:
        raise ValueError(f"k = {k} studies for {p} coefficients: a meta-regression needs k > p")
    if np.linalg.matrix_rank(X) < p:
        raise ValueError("the moderators are collinear (design matrix not of full rank)")
    out = _fit_batch(yi, vi, X, np.ones((1, k), bool), method, test, level)
    beta, vb = out["beta"][0], out["vb"][0]
    slopes = slice(1, p)
    qm = float(beta[slopes] @ np.linalg.solve(vb[slopes, slopes], beta[slopes]))
    if test == "knha":
        qm, qm_df = qm / (p - 1), (p - 1, k - p)
        qm_p = float(stats.f.sf(qm, *qm_df))
    else:
        qm_df = (p - 1,)
        qm_p = float(stats.chi2.sf(qm, p - 1))
    tau2 = float(out["tau2"][0])
    if method == "FE":
        r2 = np.nan
    else:
        tau2_0 = fit_meta(yi, vi, method=method).tau2
        r2 = 0.0 if tau2_0 == 0 else max(0.0, 100 * (tau2_0 - tau2) / tau2_0)
    coef = pd.DataFrame({"term": labels, "estimate": beta, "se": out["se"][0], "stat": out["stat"][0],
                         "pval": out["pval"][0], "ci_low": out["ci_low"][0], "ci_high": out["ci_high"][0]})
    return MetaRegResult(k=k, coef=coef, tau2=tau2, i2=float(out["i2"][0]), h2=float(out["h2"][0]), r2=float(r2),
                         qm=qm, qm_df=qm_df, qm_p=qm_p, qe=float(out["q"][0]), qe_df=int(out["q_df"][0]),
                         qe_p=float(out["q_p"][0]), method=method, test=test)


@dataclass(frozen=True)
class SubgroupResult:
    """Per-group fits and the test of subgroup differences, both ways."""

    groups: pd.DataFrame
    common: pd.DataFrame
    q_between_common: float
    q_between_common_p: float
    q_between_separate: float
    q_between_separate_p: float
    df: int
    tau2_common: float

    def to_frame(self) -> pd.DataFrame:
        return self.groups


def subgroup_analysis(yi, vi, groups, method: str = "REML", test: str = "z", level: float = 0.95) -> SubgroupResult:
    """Subgroup analysis with a test of differences between groups.

    Separate τ² (R meta's default, Borenstein et al. 2009 ch. 19): each group fitted on its own;
    Q_between = Σ_g (μ̂_g − μ̄)²/SE_g² with μ̄ the inverse-SE²-weighted mean, χ²(G − 1).
    Common τ² (metafor's mixed-effects model ``rma(yi, vi, mods = ~ factor(group))``): QM for the
    G − 1 group contrasts (F under knha), and the group means from ``mods = ~ factor(group) − 1``.
    """
    yi, vi = _check_meta_input(yi, vi)
    groups = np.asarray(groups, dtype=object)
    if len(groups) != len(yi):
        raise ValueError(f"groups has {len(groups)} entries but there are {len(yi)} studies")
    levels = sorted(pd.unique(groups))
    if len(levels) < 2:
        raise ValueError(f"only one group ({levels}): nothing to compare")
    rows = []
    for level_name in levels:
        sel = groups == level_name
        res = fit_meta(yi[sel], vi[sel], method=method if sel.sum() > 1 else "FE",
                       test=test if sel.sum() > 1 else "z", level=level)
        rows.append({"group": level_name, "k": res.k, "estimate": res.estimate, "se": res.se,
                     "ci_low": res.ci_low, "ci_high": res.ci_high, "pval": res.pval,
                     "tau2": res.tau2, "i2": res.i2, "q": res.q})
    table = pd.DataFrame(rows)
    w = 1 / table["se"].to_numpy() ** 2
    mean = np.sum(w * table["estimate"]) / w.sum()
    q_sep = float(np.sum(w * (table["estimate"] - mean) ** 2))
    dummies = pd.get_dummies(pd.Categorical(groups, categories=levels)).astype(float)
    contrasts = meta_regression(yi, vi, dummies.iloc[:, 1:], method=method, test=test, level=level,
                                names=[str(c) for c in levels[1:]])
    cell = _fit_batch(yi, vi, dummies.to_numpy(), np.ones((1, len(yi)), bool), method, test, level)
    common = pd.DataFrame({"group": levels, "estimate": cell["beta"][0], "se": cell["se"][0],
                           "ci_low": cell["ci_low"][0], "ci_high": cell["ci_high"][0], "pval": cell["pval"][0]})
    return SubgroupResult(groups=table, common=common, q_between_common=contrasts.qm,
                          q_between_common_p=contrasts.qm_p, q_between_separate=q_sep,
                          q_between_separate_p=float(stats.chi2.sf(q_sep, len(levels) - 1)),
                          df=len(levels) - 1, tau2_common=contrasts.tau2)


def leave_one_out(yi, vi, method: str = "REML", test: str = "z", level: float = 0.95,
                  labels: Sequence[str] | None = None, chunk: int = 2_000_000) -> pd.DataFrame:
    """Refit the model k times, each time without one study (metafor ``leave1out()``).

    All k fits run together on a (k × k) weight array processed in row blocks of at most
    ``chunk`` cells, so memory stays bounded and no per-fit k×k covariance matrix is built.
    Columns: estimate, se, stat, pval, ci_low, ci_high, q, q_p, tau2, i2, h2.
    """
    _check_method(method, test)
    yi, vi = _check_meta_input(yi, vi, min_k=3)
    k = len(yi)
    X = np.ones((k, 1))
    parts = []
    step = max(1, chunk // k)
    for start in range(0, k, step):
        rows = np.arange(start, min(k, start + step))
        mask = np.ones((len(rows), k), bool)
        mask[np.arange(len(rows)), rows] = False
        out = _fit_batch(yi, vi, X, mask, method, test, level)
        parts.append(pd.DataFrame({"estimate": out["beta"][:, 0], "se": out["se"][:, 0],
                                   "stat": out["stat"][:, 0], "pval": out["pval"][:, 0],
                                   "ci_low": out["ci_low"][:, 0], "ci_high": out["ci_high"][:, 0],
                                   "q": out["q"], "q_p": out["q_p"], "tau2": out["tau2"],
                                   "i2": out["i2"], "h2": out["h2"]}))
    table = pd.concat(parts, ignore_index=True)
    table.insert(0, "left_out", list(labels) if labels is not None else [str(i + 1) for i in range(k)])
    return table


def compare_estimators(yi, vi, methods: Sequence[str] = ("FE", "DL", "REML", "PM"),
                       tests: Sequence[str] = ("z", "knha"), level: float = 0.95) -> pd.DataFrame:
    """One row per τ² estimator × CI method: estimate, CI, p, τ², I² (a sensitivity table)."""
    rows = []
    for method in methods:
        for test in tests:
            if len(yi) < 2 and test == "knha":
                continue
            res = fit_meta(yi, vi, method=method, test=test, level=level)
            rows.append({"method": method, "test": test, "k": res.k, "estimate": res.estimate,
                         "ci_low": res.ci_low, "ci_high": res.ci_high, "pval": res.pval,
                         "tau2": res.tau2, "i2": res.i2})
    return pd.DataFrame(rows)


# -- analyses as the review folder's review.json describes them ---------------------------------

TRANSFORMS = {"tanh": np.tanh, None: None, "none": None}


def harmonise(review: Review, prepost_r: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Convert a review's effect rows to its metric and attach study-level columns.

    Correlational reviews: :func:`harmonise_correlational` plus the derived generation;
    intervention reviews: :func:`harmonise_intervention` plus guidance, control type and scope
    flags of the trial. Returns (converted, not_converted).
    """
    studies = review.sheets["studies"]
    if review.design == "correlational":
        converted, left = harmonise_correlational(review.effects)
        extra = derive_generation(studies)
    else:
        converted, left = harmonise_intervention(review.effects, prepost_r=prepost_r, studies=studies)
        extra = studies[["study_id", "guidance", "control_type", "scope_flag"]].rename(
            columns={"scope_flag": "study_scope_flag"})
    frames = []
    for frame in (converted, left):
        frames.append(frame if frame.empty else
                      frame.merge(extra, on="study_id", how="left").assign(label=lambda d: d["study_id"]))
    return frames[0], frames[1]


def conversion_summary(converted: pd.DataFrame, not_converted: pd.DataFrame) -> pd.DataFrame:
    """How many rows each conversion handled, and how many could not be converted (by reason)."""
    done = converted.groupby("conversion").size().rename("rows").reset_index() if len(converted) else \
        pd.DataFrame(columns=["conversion", "rows"])
    left = not_converted.groupby("reason").size().rename("rows").reset_index().rename(columns={"reason": "conversion"}) \
        if len(not_converted) else pd.DataFrame(columns=["conversion", "rows"])
    done.insert(0, "status", "converted")
    left.insert(0, "status", "not converted (to box score)")
    return pd.concat([done, left], ignore_index=True).sort_values(["status", "rows", "conversion"],
                                                                  ascending=[True, False, True]).reset_index(drop=True)


@dataclass(frozen=True)
class Analysis:
    """One pooled analysis: its specification, the studies it pooled and the fit (None if k = 0)."""

    name: str
    label: str
    data: pd.DataFrame
    fit: MetaResult | None
    published: str | None
    note: str


def run_analyses(review: Review, converted: pd.DataFrame, method: str = "REML", test: str = "z",
                 level: float = 0.95, core_only: bool = False) -> dict[str, Analysis]:
    """Fit every analysis that ``review.json`` lists, one effect per study (:func:`select_one_per_study`).

    k = 0: nothing to fit; k = 1: the single study is reported as a common-effect "pool" of one;
    k = 2 under HKSJ falls back to nothing special (t with 1 df), as metafor would.
    """
    out = {}
    studies = review.sheets["studies"]
    for spec in review.meta["analyses"]:
        rows = filter_rows(converted, spec["filter"]) if len(converted) else converted
        rows = with_scope(rows, studies, core_only) if len(rows) else rows
        rows = select_one_per_study(rows) if len(rows) else rows
        note = ""
        if len(rows) == 0:
            fit, note = None, "no convertible study in our extraction"
        elif len(rows) == 1:
            fit, note = fit_meta(rows["yi"], rows["vi"], method="FE", level=level), "single study, not pooled"
        else:
            fit = fit_meta(rows["yi"], rows["vi"], method=method, test=test, level=level)
        out[spec["name"]] = Analysis(spec["name"], spec["label"], rows, fit, spec.get("published"), note)
    return out


def analyses_table(analyses: dict[str, Analysis], transform: str | None = None, digits: int = 3) -> pd.DataFrame:
    """Tidy table of all analyses: k, N, estimate with CI, p, Q, I², τ², prediction interval.

    Estimates and intervals are shown on the display scale (``transform``, e.g. Fisher z → r);
    τ² stays on the analysis scale.
    """
    f = TRANSFORMS[transform] or (lambda x: x)
    rows = []
    for a in analyses.values():
        fit = a.fit
        row = {"analysis": a.label, "k": 0 if fit is None else fit.k,
               "n": int(a.data["n"].sum()) if len(a.data) else 0}
        if fit is not None:
            row.update(estimate=f(fit.estimate), ci_low=f(fit.ci_low), ci_high=f(fit.ci_high), pval=fit.pval,
                       q=fit.q, i2=fit.i2, tau2=fit.tau2, pi_low=f(fit.pi_low), pi_high=f(fit.pi_high))
        row["note"] = a.note
        rows.append(row)
    return pd.DataFrame(rows).round(digits)


def reproduction_table(review: Review, analyses: dict[str, Analysis], transform: str | None = None) -> pd.DataFrame:
    """Every published headline number of the review beside ours, with k and CI."""
    f = TRANSFORMS[transform] or (lambda x: x)
    published = review.published
    by_name = {a.published: a for a in analyses.values() if a.published}
    subgroup_specs = {s.get("published"): s for s in review.meta.get("subgroups", []) if s.get("published")}
    rows = []
    for p in published.itertuples():
        if p.metric == "count":
            continue
        row = {"review": review.review_id, "analysis": p.analysis, "metric": p.metric,
               "published_estimate": p.estimate, "published_p": p.p}
        a = by_name.get(p.analysis)
        if a is None and p.analysis in subgroup_specs:
            row["note"] = "subgroup: see the subgroup table"
        elif a is None or a.fit is None:
            row["note"] = "no convertible study in our extraction" if a else "no matching analysis"
        else:
            row.update(our_k=a.fit.k, our_n=int(a.data["n"].sum()), our_estimate=f(a.fit.estimate),
                       our_ci_low=f(a.fit.ci_low), our_ci_high=f(a.fit.ci_high), our_p=a.fit.pval,
                       our_i2=a.fit.i2, note=a.note)
        if pd.isna(p.estimate) and ":" in str(p.source):
            published_note = "published: " + str(p.source).split(":", 1)[1].strip()
            row["note"] = "; ".join(x for x in (published_note, row.get("note", "")) if x)
        rows.append(row)
    columns = ["review", "analysis", "metric", "published_estimate", "published_p", "our_k", "our_n",
               "our_estimate", "our_ci_low", "our_ci_high", "our_p", "our_i2", "note"]
    return pd.DataFrame(rows, columns=columns)


def run_subgroups(review: Review, analyses: dict[str, Analysis], method: str = "REML", test: str = "z",
                  level: float = 0.95, transform: str | None = None) -> pd.DataFrame:
    """Subgroup tests that ``review.json`` lists; rows say why a test was not possible."""
    f = TRANSFORMS[transform] or (lambda x: x)
    rows = []
    for spec in review.meta.get("subgroups", []):
        data = analyses[spec["analysis"]].data
        data = data[~data[spec["by"]].isin(["", "unknown", "unclear"])] if len(data) else data
        groups = data[spec["by"]].value_counts() if len(data) else pd.Series(dtype=int)
        base = {"subgroup_test": spec["label"], "by": spec["by"]}
        if len(groups) < 2 or len(data) < 3:
            rows.append({**base, "note": f"not estimable: {len(data)} studies in {len(groups)} group(s) with a known {spec['by']}"})
            continue
        res = subgroup_analysis(data["yi"], data["vi"], data[spec["by"]], method=method, test=test, level=level)
        for g in res.groups.itertuples():
            rows.append({**base, "group": g.group, "k": g.k, "estimate": f(g.estimate), "ci_low": f(g.ci_low),
                         "ci_high": f(g.ci_high), "q_between_separate": res.q_between_separate,
                         "p_separate": res.q_between_separate_p, "q_between_common": res.q_between_common,
                         "p_common": res.q_between_common_p, "note": ""})
    return pd.DataFrame(rows)


def heterogeneity_table(analyses: dict[str, Analysis], level: float = 0.95) -> pd.DataFrame:
    """τ², I² and H² with Q-profile confidence intervals for every random-effects analysis (k ≥ 2)."""
    rows = []
    for a in analyses.values():
        if a.fit is None or a.fit.k < 2 or a.fit.method == "FE":
            continue
        ci = tau2_ci(a.fit, level=level)
        rows.append({"analysis": a.label, "k": a.fit.k, "tau2": ci.tau2, "tau2_ci_low": ci.tau2_low,
                     "tau2_ci_high": ci.tau2_high, "i2": a.fit.i2, "i2_ci_low": ci.i2_low,
                     "i2_ci_high": ci.i2_high, "h2": a.fit.h2, "q": a.fit.q, "q_p": a.fit.q_p})
    return pd.DataFrame(rows)


def leave_one_out_tables(analyses: dict[str, Analysis], method: str = "REML", test: str = "z",
                         level: float = 0.95, min_k: int = 3, digits: int = 3) -> list:
    """(label, table) of :func:`leave_one_out` for every analysis with at least ``min_k`` studies."""
    out = []
    for a in analyses.values():
        if a.fit is None or a.fit.k < min_k:
            continue
        table = leave_one_out(a.data["yi"], a.data["vi"], method=method, test=test, level=level, labels=a.data["label"])
        out.append((a.label, table[["left_out", "estimate", "ci_low", "ci_high", "pval", "tau2", "i2"]].round(digits)))
    return out


def estimator_table(analyses: dict[str, Analysis], level: float = 0.95, transform: str | None = None) -> pd.DataFrame:
    """:func:`compare_estimators` for every analysis with k ≥ 2, on the display scale."""
    f = TRANSFORMS[transform] or (lambda x: x)
    frames = []
    for a in analyses.values():
        if a.fit is None or a.fit.k < 2:
            continue
        t = compare_estimators(a.data["yi"], a.data["vi"], level=level)
        for col in ("estimate", "ci_low", "ci_high"):
            t[col] = f(t[col])
        t.insert(0, "analysis", a.label)
        frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def reproduction_all(reviews: dict[str, Review], results: dict[str, dict]) -> pd.DataFrame:
    """:func:`reproduction_table` for every review, stacked."""
    frames = [reproduction_table(r, results[name], r.meta.get("transform")) for name, r in reviews.items()]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else reproduction_table(next(iter(reviews.values())), {})


def prepost_sensitivity(review: Review, correlations: Sequence[float] = (0.3, 0.5, 0.7), method: str = "REML",
                        test: str = "z") -> pd.DataFrame:
    """Pooled within-group effects (SMCR) under several assumed pre–post correlations."""
    rows = []
    for r in correlations:
        converted, _ = harmonise(review, prepost_r=r)
        within = converted[converted["comparison"] == "within"] if len(converted) else converted
        within = select_one_per_study(within) if len(within) else within
        row = {"prepost_r": r, "k": len(within)}
        if len(within) >= 2:
            fit = fit_meta(within["yi"], within["vi"], method=method, test=test)
            row.update(estimate=fit.estimate, ci_low=fit.ci_low, ci_high=fit.ci_high, tau2=fit.tau2)
        elif len(within) == 1:
            row.update(estimate=float(within["yi"].iloc[0]), note="single study")
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# 4. Small-study effects: Egger's test and trim-and-fill; forest and funnel plots (notebook 04)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EggerResult:
    """Regression test for funnel-plot asymmetry (metafor ``regtest()``)."""

    model: str
    k: int
    stat: float
    pval: float
    df: float
    limit_estimate: float
    limit_ci_low: float
    limit_ci_high: float

    def to_frame(self) -> pd.DataFrame:
        return _frozen_frame(self)


def egger_test(yi, vi, model: str = "rma", method: str = "REML", test: str = "z", level: float = 0.95) -> EggerResult:
    """Egger's regression test with the standard error as predictor (Egger et al. 1997).

    ``model="rma"``: the meta-regression y_i = β₀ + β₁·sqrt(v_i) + u_i + e_i fitted with the same
    τ² estimator (metafor ``regtest(x, model = "rma", predictor = "sei")``); z (or t(k − 2)) test
    of β₁. ``model="lm"``: the classic form, weighted least squares of y_i on sqrt(v_i) with
    weights 1/v_i and a multiplicative dispersion, t(k − 2) test of β₁ (statsmodels WLS).
    The intercept β₀ is the "limit estimate" at SE = 0 (Stanley & Doucouliagos 2014).
    """
    yi, vi = _check_meta_input(yi, vi, min_k=3)
    sei = np.sqrt(vi)
    if model == "rma":
        res = meta_regression(yi, vi, sei, method=method, test=test, level=level, names=["sei"])
        row = res.coef.iloc[1]
        df = float(len(yi) - 2) if test == "knha" else np.inf
        return EggerResult(model="rma", k=len(yi), stat=float(row["stat"]), pval=float(row["pval"]), df=df,
                           limit_estimate=float(res.coef["estimate"].iloc[0]),
                           limit_ci_low=float(res.coef["ci_low"].iloc[0]),
                           limit_ci_high=float(res.coef["ci_high"].iloc[0]))
    if model == "lm":
        import statsmodels.api as sm  # WLS with an estimated scale is exactly R's lm(weights=)

        fit = sm.WLS(yi, sm.add_constant(sei), weights=1 / vi).fit()
        ci = fit.conf_int(alpha=1 - level)
        return EggerResult(model="lm", k=len(yi), stat=float(fit.tvalues[1]), pval=float(fit.pvalues[1]),
                           df=float(fit.df_resid), limit_estimate=float(fit.params[0]),
                           limit_ci_low=float(ci[0, 0]), limit_ci_high=float(ci[0, 1]))
    raise ValueError(f"model = {model!r}: use 'rma' or 'lm'")


@dataclass(frozen=True)
class TrimFillResult:
    """Trim-and-fill (metafor ``trimfill()``): the filled studies and the refitted model."""

    k0: int
    se_k0: float
    side: str
    filled_yi: tuple
    filled_vi: tuple
    fit: MetaResult

    def to_frame(self) -> pd.DataFrame:
        frame = self.fit.to_frame()
        frame.insert(0, "side", self.side)
        frame.insert(0, "k0", self.k0)
        return frame


def trim_and_fill(yi, vi, method: str = "REML", side: str | None = None, maxiter: int = 100) -> TrimFillResult:
    """Duval & Tweedie's (2000) trim-and-fill with the L0 estimator, as metafor ``trimfill()``.

    Side: if not given, "left" (missing studies with small effects) unless the slope of the
    Egger-type meta-regression on sqrt(v_i) is negative. Iteration: drop the k0 most extreme
    studies on the other side, refit, rank |y_i − μ̂|, T_n = sum of positive signed ranks,
    L0 = (4 T_n − k(k + 1))/(2k − 1), rounded and truncated at 0, until k0 repeats. The k0
    mirror images 2μ̂ − y_i are added and the model refitted (z test, as metafor).
    """
    yi, vi = _check_meta_input(yi, vi, min_k=3)
    if side is None:
        slope = meta_regression(yi, vi, np.sqrt(vi), method=method).coef["estimate"].iloc[1]
        side = "right" if slope < 0 else "left"
    if side not in ("left", "right"):
        raise ValueError(f"side = {side!r}: use 'left' or 'right'")
    flip = -1.0 if side == "right" else 1.0
    order = np.argsort(flip * yi, kind="stable")
    y, v = flip * yi[order], vi[order]
    k = len(y)
    k0, previous, se_k0 = 0, -1, 0.0
    for _ in range(maxiter):
        if k0 == previous:
            break
        previous = k0
        beta = fit_meta(y[: k - k0], v[: k - k0], method=method).estimate
        centred = y - beta
        ranks = stats.rankdata(np.abs(centred), method="ordinal")
        s_r = float(np.sum(ranks[centred > 0]))
        l0 = (4 * s_r - k * (k + 1)) / (2 * k - 1)
        var_sr = (k * (k + 1) * (2 * k + 1) + 10 * l0 ** 3 + 27 * l0 ** 2 + 17 * l0
                  - 18 * k * l0 ** 2 - 18 * k * l0 + 6 * k ** 2 * l0) / 24
        se_k0 = max(0.0, 4 * math.sqrt(var_sr) / (2 * k - 1)) if var_sr > 0 else 0.0
        k0 = max(0, int(np.round(l0)))
    else:
        raise RuntimeError("trim-and-fill did not converge")
    if k0 == 0:
        return TrimFillResult(k0=0, se_k0=se_k0, side=side, filled_yi=(), filled_vi=(), fit=fit_meta(yi, vi, method=method))
    filled_y = flip * (2 * beta - y[k - k0:])
    filled_v = v[k - k0:]
    fit = fit_meta(np.concatenate([yi, filled_y]), np.concatenate([vi, filled_v]), method=method)
    return TrimFillResult(k0=k0, se_k0=se_k0, side=side, filled_yi=tuple(map(float, filled_y)),
                          filled_vi=tuple(map(float, filled_v)), fit=fit)


def small_study_table(analyses: dict, method: str = "REML", min_k: int = 3, transform: str | None = None) -> pd.DataFrame:
    """Egger's test (rma form) and trim-and-fill for every analysis with at least ``min_k`` studies.

    With fewer than 10 studies both have little power (Sterne et al. 2011): the table says so
    rather than leaving the numbers to speak alone.
    """
    f = TRANSFORMS[transform] or (lambda x: x)
    rows = []
    for a in analyses.values():
        k = 0 if a.fit is None else a.fit.k
        if k < min_k:
            rows.append({"analysis": a.label, "k": k, "note": f"not tested: k < {min_k}"})
            continue
        eg = egger_test(a.data["yi"], a.data["vi"], model="rma", method=method)
        tf = trim_and_fill(a.data["yi"], a.data["vi"], method=method)
        rows.append({"analysis": a.label, "k": k, "egger_z": eg.stat, "egger_p": eg.pval,
                     "limit_estimate": f(eg.limit_estimate), "k0_filled": tf.k0, "side": tf.side,
                     "adjusted_estimate": f(tf.fit.estimate), "adjusted_ci_low": f(tf.fit.ci_low),
                     "adjusted_ci_high": f(tf.fit.ci_high),
                     "note": "low power: k < 10" if k < 10 else ""})
    return pd.DataFrame(rows)


# -- figures: one style for all -----------------------------------------------------------------

PALETTE = {"ink": "#222222", "muted": "#777777", "accent": "#1f5a96", "accent2": "#b8572b",
           "light": "#d9d9d9", "positive": "#1f5a96", "negative": "#b8572b", "null": "#8c8c8c"}


def set_style() -> None:
    """One look for every figure: serif-free fonts, readable sizes, deterministic SVG output."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10, "axes.titleweight": "bold",
        "axes.labelsize": 9, "axes.spines.top": False, "axes.spines.right": False,
        "axes.edgecolor": PALETTE["ink"], "xtick.color": PALETTE["ink"], "ytick.color": PALETTE["ink"],
        "savefig.dpi": 150, "figure.dpi": 100, "svg.hashsalt": "compendium", "svg.fonttype": "path",
    })


class FigureOutput:
    """What a notebook shows for a figure: the PNG, and as text only its caption and file names.

    Keeping the text stable (no figure repr, no memory address) lets nbval compare outputs.
    """

    def __init__(self, png: Path, svg: Path, caption: str, root: Path | None = None):
        self.png, self.svg, self.caption = Path(png), Path(svg), caption
        self.root = root

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root)) if self.root else path.name
        except ValueError:
            return path.name

    def _repr_png_(self) -> bytes:
        return self.png.read_bytes()

    def __repr__(self) -> str:
        return f"Figure: {self.caption} [{self._rel(self.png)}, {self._rel(self.svg)}]"


def save_figure(fig, name: str, figures_dir: Path | str, caption: str, root: Path | None = None) -> FigureOutput:
    """Write ``fig`` as PNG and SVG without timestamps or software tags, close it, return a FigureOutput."""
    import matplotlib.pyplot as plt

    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    png, svg = figures_dir / f"{name}.png", figures_dir / f"{name}.svg"
    fig.savefig(png, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(svg, bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return FigureOutput(png, svg, caption, root)


def plot_prisma(counts: pd.DataFrame, title: str):
    """A PRISMA-style flow diagram of our own extraction from :func:`prisma_counts`."""
    import matplotlib.pyplot as plt

    def total(stage, box=None):
        sel = counts[(counts["stage"] == stage) & ((counts["box"] == box) if box else True)]
        return int(sel["n"].sum())

    excluded = counts[counts["stage"] == "excluded"]
    fig, ax = plt.subplots(figsize=(7.2, 5.2))
    ax.set_axis_off()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    boxes = [
        (9.0, f"Records identified\nleads: {total('identified', 'calibration leads')}, "
              f"own search: {total('identified', 'own search and citations')}"),
        (6.8, f"Records screened (after removing {total('removed')} duplicates)\nn = {total('screened')}"),
        (4.2, f"Studies included\nn = {total('included', 'studies included')}"),
        (1.8, f"with a printed numeric statistic\nn = {total('included', 'with a numeric statistic')}"),
    ]
    for y, text in boxes:
        ax.text(2.9, y, text, ha="center", va="center", fontsize=8.5,
                bbox=dict(boxstyle="round,pad=0.5", fc="white", ec=PALETTE["ink"], lw=0.8))
    for (y0, _), (y1, _) in zip(boxes, boxes[1:]):
        ax.annotate("", xy=(2.9, y1 + 0.75), xytext=(2.9, y0 - 0.75),
                    arrowprops=dict(arrowstyle="->", color=PALETTE["ink"], lw=0.8))
    lines = [f"{row.box}: {row.n}" for row in excluded.itertuples()]
    ax.text(6.0, 5.5, f"Records excluded (n = {int(excluded['n'].sum())})\n" + "\n".join(lines),
            ha="left", va="center", fontsize=8,
            bbox=dict(boxstyle="round,pad=0.5", fc="#f4f4f4", ec=PALETTE["muted"], lw=0.8))
    ax.annotate("", xy=(5.95, 5.5), xytext=(4.9, 6.8), arrowprops=dict(arrowstyle="->", color=PALETTE["muted"], lw=0.8))
    ax.set_title(title)
    return fig


def _fmt_ci(est: float, low: float, high: float, digits: int = 2) -> str:
    return f"{est:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def forest_plot(studies: pd.DataFrame, result: MetaResult, title: str, xlabel: str,
                transform=None, group_col: str | None = None, group_results: dict | None = None):
    """A forest plot in the manner of metafor's ``forest()``.

    ``studies`` has columns ``label``, ``yi``, ``vi`` (and ``group_col`` for subgroup blocks).
    Each study is a square sized by its random-effects weight with its CI; the pooled estimate is
    a diamond, the prediction interval a bar beneath it, the dashed line marks no effect. Numbers
    and weights stand in aligned columns. ``transform`` (e.g. ``np.tanh`` for Fisher z → r) is
    applied to everything drawn and printed.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    f = transform or (lambda x: np.asarray(x, float))
    crit = stats.norm.isf((1 - result.level) / 2)
    w = 1 / (studies["vi"].to_numpy() + result.tau2)
    studies = studies.assign(weight=100 * w / w.sum(), low=studies["yi"] - crit * np.sqrt(studies["vi"]),
                             high=studies["yi"] + crit * np.sqrt(studies["vi"]))
    rows = []  # (kind, label, payload)
    blocks = [(None, studies)] if group_col is None else list(studies.groupby(group_col, sort=True))
    for group, block in blocks:
        if group is not None:
            rows.append(("header", str(group).replace("_", " ").capitalize(), None))
        rows.extend(("study", r.label, r) for r in block.itertuples())
        if group is not None and group_results and group in group_results:
            rows.append(("diamond", f"Subtotal (k = {len(block)})", group_results[group]))
        rows.append(("gap", "", None))
    rows.append(("diamond", f"RE model, {result.method} (k = {result.k})" if result.method != "FE"
                 else f"Common-effect model (k = {result.k})", result))
    if result.k > 1 and result.method != "FE":
        rows.append(("pi", "Prediction interval", result))
    height = 1.2 + 0.26 * len(rows)
    fig = plt.figure(figsize=(9.0, height))
    grid = fig.add_gridspec(1, 3, width_ratios=[3.1, 3.6, 2.3], wspace=0.02)
    ax_lab, ax, ax_num = (fig.add_subplot(grid[0, i]) for i in range(3))
    n = len(rows)
    max_w = studies["weight"].max()
    xs = []
    for i, (kind, label, obj) in enumerate(rows):
        y = n - i
        weight_text = ""
        if kind == "study":
            lo, est, hi = f(obj.low), f(obj.yi), f(obj.high)
            ax.plot([lo, hi], [y, y], color=PALETTE["ink"], lw=0.9)
            size = 4 + 10 * math.sqrt(obj.weight / max_w)
            ax.plot(est, y, marker="s", ms=size, color=PALETTE["accent"], mec=PALETTE["ink"], mew=0.4)
            text, weight_text, xs = _fmt_ci(est, lo, hi), f"{obj.weight:.1f}%", xs + [lo, hi]
        elif kind == "diamond":
            lo, est, hi = f(obj.ci_low), f(obj.estimate), f(obj.ci_high)
            ax.add_patch(Polygon([[lo, y], [est, y + 0.32], [hi, y], [est, y - 0.32]], closed=True,
                                 fc=PALETTE["ink"] if obj is result else PALETTE["muted"], ec=PALETTE["ink"]))
            text, xs = _fmt_ci(est, lo, hi), xs + [lo, hi]
            weight_text = "100%" if obj is result else ""
        elif kind == "pi":
            lo, hi = f(obj.pi_low), f(obj.pi_high)
            ax.plot([lo, hi], [y, y], color=PALETTE["accent2"], lw=2.2, solid_capstyle="butt")
            text, xs = f"[{lo:.2f}, {hi:.2f}]", xs + [lo, hi]
        else:
            text = ""
        weight = "bold" if kind in ("header", "diamond") else "normal"
        ax_lab.text(0.0, y, label, ha="left", va="center", fontsize=8.5, fontweight=weight)
        ax_num.text(0.62, y, text, ha="right", va="center", fontsize=8.5, family="DejaVu Sans Mono")
        ax_num.text(0.98, y, weight_text, ha="right", va="center", fontsize=8.5, family="DejaVu Sans Mono")
    top = n + 1
    ax_lab.text(0.0, top, "Study", fontweight="bold", va="center")
    ax_num.text(0.62, top, "Estimate [95% CI]", fontweight="bold", va="center", ha="right")
    ax_num.text(0.98, top, "Weight", fontweight="bold", va="center", ha="right")
    for a in (ax_lab, ax_num):
        a.set_xlim(0, 1)
        a.set_axis_off()
    for a in (ax_lab, ax, ax_num):
        a.set_ylim(0.3, top + 0.6)
    span = (min(xs + [0.0]), max(xs + [0.0]))
    pad = 0.08 * (span[1] - span[0] or 1)
    ax.set_xlim(span[0] - pad, span[1] + pad)
    ax.axvline(float(f(0.0)), color=PALETTE["muted"], ls="--", lw=0.8)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(xlabel)
    fig.subplots_adjust(top=1 - 0.42 / height, bottom=0.5 / height, left=0.02, right=0.98)
    fig.suptitle(title, x=0.02, y=1 - 0.12 / height, ha="left", va="top", fontsize=10, fontweight="bold")
    return fig


def funnel_plot(yi, vi, result: MetaResult, title: str, xlabel: str, filled: TrimFillResult | None = None):
    """Contour-enhanced funnel plot (Peters et al. 2008): effect against its SE (inverted axis).

    Shaded bands mark where a study's two-sided p against 0 lies in (.10, .05], (.05, .01] and
    ≤ .01; asymmetry that follows the bands hints at selective reporting rather than other causes.
    Studies added by trim-and-fill are drawn as open circles.
    """
    import matplotlib.pyplot as plt

    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    sei = np.sqrt(vi)
    se_max = max(sei.max(), *(np.sqrt(filled.filled_vi) if filled and filled.k0 else [0])) * 1.08
    se_grid = np.linspace(0, se_max, 100)
    fig, ax = plt.subplots(figsize=(7.4, 4.6))
    shades = [(0.10, "#ffffff"), (0.05, "#e6e6e6"), (0.01, "#c8c8c8")]
    reach = max(np.abs(yi).max(), stats.norm.isf(0.005) * se_max) * 1.15
    ax.fill_betweenx(se_grid, -reach, reach, color="#a9a9a9", lw=0, label="p ≤ .01")
    for p, colour in reversed(shades):
        z = stats.norm.isf(p / 2)
        label = {0.10: "p > .10", 0.05: ".05 < p ≤ .10", 0.01: ".01 < p ≤ .05"}[p]
        ax.fill_betweenx(se_grid, -z * se_grid, z * se_grid, color=colour, lw=0, label=label)
    ax.axvline(result.estimate, color=PALETTE["ink"], lw=0.9, label="pooled estimate")
    ax.axvline(0, color=PALETTE["muted"], ls="--", lw=0.7)
    ax.scatter(yi, sei, s=26, color=PALETTE["accent"], edgecolor=PALETTE["ink"], lw=0.4, zorder=3, label="studies")
    if filled is not None and filled.k0:
        ax.scatter(filled.filled_yi, np.sqrt(filled.filled_vi), s=26, facecolor="white",
                   edgecolor=PALETTE["accent2"], lw=1.0, zorder=3, label="filled (trim-and-fill)")
    ax.set_ylim(se_max, 0)
    ax.set_xlim(-reach, reach)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Standard error")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    return fig


def forest_plots(review: Review, analyses: dict[str, Analysis], figures_dir: Path, root: Path | None = None) -> list:
    """A forest plot for every analysis of ``review`` with at least two studies (see :func:`forest_plot`).

    An analysis spec with ``"forest_by": column`` is drawn in subgroup blocks with subtotals.
    """
    transform = TRANSFORMS[review.meta.get("transform")]
    specs = {s["name"]: s for s in review.meta["analyses"]}
    out = []
    for name, a in analyses.items():
        if a.fit is None or a.fit.k < 2:
            continue
        by = specs[name].get("forest_by")
        group_results = None
        if by:
            group_results = {g: fit_meta(d["yi"], d["vi"], method=a.fit.method if len(d) > 1 else "FE",
                                         level=a.fit.level)
                             for g, d in a.data.groupby(by)}
        fig = forest_plot(a.data, a.fit, f"{a.label} ({review.review_id})", review.meta["xlabel"],
                          transform=transform, group_col=by, group_results=group_results)
        out.append(save_figure(fig, f"{review.review_id}_forest_{name}", figures_dir, f"forest plot, {a.label}", root))
    return out


def funnel_plots(review: Review, analyses: dict[str, Analysis], figures_dir: Path, root: Path | None = None,
                 method: str = "REML", min_k: int = 3) -> list:
    """A contour-enhanced funnel plot with trim-and-fill for every analysis with at least ``min_k`` studies."""
    scale = "Fisher z" if review.meta.get("transform") == "tanh" else review.meta.get("display_metric", "effect")
    out = []
    for name, a in analyses.items():
        if a.fit is None or a.fit.k < min_k:
            continue
        filled = trim_and_fill(a.data["yi"], a.data["vi"], method=method)
        fig = funnel_plot(a.data["yi"], a.data["vi"], a.fit, f"{a.label} ({review.review_id})",
                          f"Effect size ({scale})", filled=filled)
        out.append(save_figure(fig, f"{review.review_id}_funnel_{name}", figures_dir, f"funnel plot, {a.label}", root))
    return out


# ---------------------------------------------------------------------------------------------
# 5. Box scores: vote counting and effect-direction plots (notebook 05)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteCount:
    """Vote count of effect directions with a sign test and a Wilson interval."""

    n_positive: int
    n_negative: int
    n_null: int
    n_unclear: int
    proportion_positive: float
    ci_low: float
    ci_high: float
    sign_test_p: float

    def to_frame(self) -> pd.DataFrame:
        return _frozen_frame(self)


def vote_count(directions: Iterable[str], level: float = 0.95) -> VoteCount:
    """Count directions and test whether positive and negative are equally likely.

    Following the Cochrane Handbook (McKenzie & Brennan 2023, 12.4.2.3): every study with a
    direction counts, regardless of significance. Sign test: two-sided exact binomial test of
    #positive among #positive + #negative against 1/2; Wilson score interval for that proportion.
    Null and unclear results are reported but do not enter the test.
    """
    directions = list(directions)
    allowed = {"positive", "negative", "null", "mixed", "unclear"}
    for i, d in enumerate(directions):
        if d not in allowed:
            raise ValueError(f"directions[{i}] = {d!r}: use one of {sorted(allowed)}")
    pos, neg = directions.count("positive"), directions.count("negative")
    null = directions.count("null")
    unclear = len(directions) - pos - neg - null
    if pos + neg == 0:
        return VoteCount(pos, neg, null, unclear, np.nan, np.nan, np.nan, np.nan)
    test = stats.binomtest(pos, pos + neg, 0.5)
    ci = test.proportion_ci(confidence_level=level, method="wilson")
    return VoteCount(pos, neg, null, unclear, pos / (pos + neg), float(ci.low), float(ci.high), float(test.pvalue))


def box_score_table(rows: pd.DataFrame, by: Sequence[str], level: float = 0.95) -> pd.DataFrame:
    """:func:`vote_count` for each group of ``rows`` (one row per study result, column ``direction``)."""
    out = []
    for key, group in rows.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        vc = vote_count(group["direction"], level=level)
        out.append({**dict(zip(by, key)), "studies": group["study_id"].nunique(), "results": len(group),
                    "significant": int((group["significant"] == "yes").sum()), **asdict(vc)})
    return pd.DataFrame(out)


def effect_direction_plot(rows: pd.DataFrame, column: str, title: str, row_label: str = "study_id"):
    """Effect-direction plot (Thomson & Thomas 2013): one row per study, one column per category.

    ▲ positive, ▼ negative, ● no effect, ◆ mixed or unclear; filled = statistically significant,
    open = not significant or not reported.
    """
    import matplotlib.pyplot as plt

    categories = sorted(rows[column].unique())
    labels = sorted(rows[row_label].unique(), key=str.lower, reverse=True)
    marker = {"positive": "^", "negative": "v", "null": "o", "mixed": "D", "unclear": "D"}
    colour = {"positive": PALETTE["positive"], "negative": PALETTE["negative"], "null": PALETTE["null"],
              "mixed": PALETTE["muted"], "unclear": PALETTE["muted"]}
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(categories), 1.0 + 0.2 * len(labels)))
    offsets = {}
    for r in rows.itertuples():
        key = (getattr(r, row_label), getattr(r, column))
        offsets[key] = offsets.get(key, -1) + 1
        x = categories.index(getattr(r, column)) + 0.18 * offsets[key]
        y = labels.index(getattr(r, row_label))
        filled = r.significant == "yes"
        ax.scatter(x, y, marker=marker[r.direction], s=42, edgecolor=colour[r.direction],
                   facecolor=colour[r.direction] if filled else "white", lw=1.0, zorder=3)
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels([c.replace("_", " ") for c in categories], rotation=30, ha="right")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlim(-0.6, len(categories) - 0.2)
    ax.set_ylim(-0.8, len(labels) - 0.2)
    ax.grid(axis="y", color="#eeeeee", lw=0.6)
    handles = [plt.Line2D([], [], marker=m, ls="", color=PALETTE["ink"], mfc="white", label=l)
               for m, l in (("^", "positive"), ("v", "negative"), ("o", "no effect"), ("D", "mixed / unclear"))]
    handles.append(plt.Line2D([], [], marker="s", ls="", color=PALETTE["ink"], label="filled = significant"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    ax.set_title(title)
    return fig


def box_rows(review: Review, not_converted: pd.DataFrame) -> pd.DataFrame:
    """All results that enter the box score, one row each, with a common set of columns.

    Correlational reviews: every association that could not be converted (category =
    help-seeking type × outcome). Intervention reviews: the predictor/moderator/mediator rows of
    ``box_scores.csv`` and every outcome row that could not be converted (role "outcome").
    """
    columns = ["study_id", "category", "outcome", "direction", "significant", "statistic_as_printed", "source"]
    frames = []
    if review.design == "correlational":
        if len(not_converted):
            frames.append(not_converted.assign(category=not_converted["help_seeking_type"]))
    else:
        box = review.sheets["box_scores"]
        if len(box):
            frames.append(box.assign(category=box["role"]))
        if len(not_converted):
            frames.append(not_converted.assign(category="outcome (" + not_converted["comparison"] + ")",
                                               outcome="self-efficacy"))
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat([f[columns] for f in frames], ignore_index=True).sort_values(["category", "study_id"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# 6. Report: every notebook as HTML and a landing page (the build's last step)
# ---------------------------------------------------------------------------------------------

NOTEBOOKS = ("01_data_extraction", "02_effect_size_harmonisation", "03_pooled_models",
             "04_forest_funnel_plots", "05_box_score_mediator_synthesis")


def _html_table(frame: pd.DataFrame) -> str:
    """A compact HTML table: whole numbers without decimals, p values below .001 as "<.001"."""
    shown = frame.copy()
    for col in shown.columns:
        if not pd.api.types.is_float_dtype(shown[col]):
            continue
        values = shown[col].dropna()
        if len(values) and (values == values.round()).all() and not col.endswith("estimate"):
            shown[col] = shown[col].map(lambda x: "" if pd.isna(x) else f"{x:.0f}")
        elif col.endswith("_p") or col == "pval":
            shown[col] = shown[col].map(lambda x: "" if pd.isna(x) else ("<.001" if x < 0.001 else f"{x:.3f}"))
        else:
            shown[col] = shown[col].map(lambda x: "" if pd.isna(x) else f"{x:.3f}")
    shown.columns = [c.replace("_", " ") for c in shown.columns]
    return shown.fillna("").to_html(index=False, border=0, classes="repro", escape=True)


def build_report(root: Path | str, reports_dir: Path | str | None = None) -> Path:
    """Render each executed notebook to HTML (inputs hidden, images embedded) and write ``index.html``.

    The template is nbconvert's lab template without the scripts it would fetch from the network
    (``tools/report_template``), so the report opens offline and without console errors.
    """
    from nbconvert import HTMLExporter
    import nbformat

    root = Path(root)
    reports_dir = Path(reports_dir) if reports_dir else root / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="compendium", extra_template_basedirs=[str(root / "tools" / "report_template")],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    links = []
    for name in NOTEBOOKS:
        nb = nbformat.read(root / "notebooks" / f"{name}.ipynb", as_version=4)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}})
        (reports_dir / f"{name}.html").write_text(body, encoding="utf-8")
        title = next((c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown"), name)
        links.append(f'<li><a href="{name}.html">{title}</a></li>')
    repro_path = root / "reports" / "tables" / "reproduction.csv"
    repro = _html_table(read_table(repro_path)) if repro_path.exists() else "<p>Run the build to make this table.</p>"
    tables = sorted((root / "reports" / "tables").glob("*.csv")) if (root / "reports" / "tables").exists() else []
    table_links = "".join(f'<li><a href="tables/{p.name}">{p.name}</a></li>' for p in tables) \
        if reports_dir == root / "reports" else "".join(f"<li>{p.name}</li>" for p in tables)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Digital mental health meta-analysis compendium</title>
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; max-width: 1100px; margin: 2rem auto; padding: 0 1.5rem; color: #222; line-height: 1.45; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.2rem; margin-top: 2rem; }}
table.repro {{ border-collapse: collapse; font-size: 0.82rem; }}
table.repro th, table.repro td {{ border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }}
table.repro th {{ background: #f3f3f3; }}
</style>
</head>
<body>
<h1>Re-running two meta-analyses in digital mental health</h1>
<p>Bizzotto et al. 2023 (web-based help seeking and depressive symptoms) and Behr et al. 2025 (self-efficacy in
internet-based interventions), re-run from an open extraction of public study reports. Every extracted number
carries its source; every pooled number agrees with R metafor to 1e-6.</p>
<h2>Published headline results beside ours</h2>
{repro}
<h2>The notebooks</h2>
<ol>
{chr(10).join(links)}
</ol>
<h2>Tables</h2>
<ul>{table_links}</ul>
</body>
</html>
"""
    index = reports_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def role_rows(box: pd.DataFrame, roles: Sequence[str] = ("mediator", "moderator", "predictor")) -> pd.DataFrame:
    """The box-score rows of the given roles, with what a reader checks: outcome, direction, statistic."""
    rows = box[box["category"].isin(roles)]
    return rows[["category", "study_id", "outcome", "direction", "significant", "statistic_as_printed"]].reset_index(drop=True)
