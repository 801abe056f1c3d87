"""What notebooks and the report show: sub-headings, sentences built from numbers, and the one
place where numbers are rounded and tables are laid out for reading (machine tables written by
``write_table`` keep full precision; only their display changes here).

The house table style (APA 7th edition, section 6.36 and table 7.x conventions):

- counts (k, n, studies, results) as integers; estimates with three decimals, Q and H² with two;
  a variance or SE below .1 with three significant digits (0.000412, never 0.000);
- p values without a leading zero, ``< .001`` below one in a thousand (APA 6.36);
- I² as a percentage with one decimal (Higgins & Thompson 2002 report I² in per cent);
- bounds side by side in one column, ``[low, high]``; "–" where a value does not apply, never "NaN";
- readable headers and labels (``review.json`` labels for analysis ids, words for codebook codes),
  no index, the note last, long text wrapped, and a table too wide for the page split into parts
  that repeat its key columns, so nothing is cut or hidden at 1,400 px.
"""
from __future__ import annotations

import builtins
import functools
import html
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .figures import set_style
from .sources import CANONICAL
from .files import guard_committed_outputs, project_root

NA = "–"  # en dash: the value does not apply
PAGE_WIDTH_PX = 980  # the widest table the report's text column holds (1,100 px page less its margins)
CHAR_PX = 6.8  # mean width of one character of the table font (DejaVu Sans 12.5 px) in Chromium, rounded up
CELL_PAD_PX = 14  # left + right padding of a cell
WRAP_CHARS = 34  # text cells longer than this wrap onto several lines

HEADERS = {
    "analysis": "Analysis", "label": "Analysis", "our_analysis": "Our analysis", "published_analysis": "Published analysis",
    "review": "Review", "study_id": "Study", "k": "k", "n": "n", "estimate": "Estimate", "pval": "p",
    "pval_knha": "p (HK)", "pval_z": "p (z)", "test": "Leading test", "i2": "I²", "tau2": "τ²", "h2": "H²", "q": "Q", "q_df": "df", "q_p": "p (Q)",
    "pi_dist": "PI from", "note": "Note", "metric": "Published metric", "published_estimate": "Published estimate",
    "published_p": "Published p", "published_included": "Studies in the review", "published_k": "Published k", "k_le_3": "k ≤ 3", "yi": "yi", "vi": "vi",
    "egger_z": "Egger z", "egger_p": "Egger p", "k0_filled": "k₀ filled", "limit_estimate": "Limit estimate",
    "k_studies": "Studies", "sign_test_p": "Sign test p", "q_between_separate": "Q between (separate τ²)",
    "p_separate": "p (separate τ²)", "q_between_common": "Q between (common τ²)", "p_common": "p (common τ²)",
    "tau2_ci_high_at_limit": "τ² bound at search limit", "prepost_r": "Pre–post r", "left_out": "Left out",
    "subgroup_test": "Subgroup test", "by": "By", "se": "SE", "vi_from_n": "vi from n", "r": "r", "d": "d", "g": "g",
    "z": "z", "model": "Model", "k_effects": "Effects", "df": "df", "sigma2_between": "σ² between",
    "sigma2_within": "σ² within", "pet_estimate": "PET", "pet_pval": "p (PET)", "peese_estimate": "PEESE",
    "chosen": "Rule keeps", "pet_peese_estimate": "PET-PEESE", "selection_estimate": "Selection model",
    "selection_tau2": "τ² (selection)", "delta": "δ", "lrt": "LRT", "lrt_p": "p (LRT)", "study": "Study",
    "rstudent": "rstudent", "dffits": "DFFITS", "cook_d": "Cook's d", "cov_r": "Cov. ratio",
    "tau2_del": "τ² without", "qe_del": "Q without", "hat": "Hat", "weight": "Weight %", "dfbetas": "DFBETAS",
    "influential": "Influential", "link": "DOI / PMID", "read_at": "Read at",
}
PAIR_HEADERS = {"ci_low": "CI", "ci_low_knha": "CI (Hartung–Knapp)", "ci_low_z": "CI (z)", "pi_low": "Prediction interval",
                "tau2_ci_low": "τ² CI", "i2_ci_low": "I² CI", "adjusted_ci_low": "Adjusted CI",
                "pet_peese_ci_low": "CI (PET-PEESE)", "selection_ci_low": "CI (selection)"}
VERBATIM = ("as_printed", "source", "location", "url", "title", "doi", "authors", "population", "measure", "read_at",
            "link")

DECIMAL_NAMES = re.compile(r"^(estimate|ci_|pi_(low|high)|tau2|yi|vi|se$|q$|q_between|h2$|[rdgz]$|egger_z|limit_|"
                           r"adjusted_|published_estimate|prepost_r|pet_|peese_|selection_|delta|lrt$|sigma2_|df$|rstudent|dffits|cook_d|"
                           r"cov_r|tau2_del|qe_del|hat$|weight|dfbetas)")
SNAKE = re.compile(r"(?<![\w.])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w]|\.[a-z])")


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
    for option, value in (("max_rows", 80), ("max_columns", 30), ("width", 160), ("max_colwidth", 60)):
        pd.set_option(f"display.{option}", value)
    set_style()
    shell = getattr(builtins, "get_ipython", lambda: None)()  # IPython kernels define get_ipython
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


# -- one value ---------------------------------------------------------------------------------------

def _missing(x) -> bool:
    return x is None or (isinstance(x, (float, np.floating)) and math.isnan(x)) or x is pd.NA or x is pd.NaT


def number_text(x, digits: int = 3) -> str:
    """A number with ``digits`` decimals; "–" when missing; never "-0.000" (a rounded zero has no sign)."""
    if _missing(x):
        return NA
    text = f"{float(x):.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def sentence_number(x: float, digits: int = 2) -> str:
    """A number inside a sentence, APA style: ".12", "−.56", "1.09" (no leading zero below 1, a true minus sign;
    a number that rounds to zero has no sign: −0.001 → ".00")."""
    text = f"{x:.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]  # a rounded zero has no sign: ".00", never "−.00"
    text = text.replace("0.", ".", 1) if abs(float(text)) < 1 else text
    return text.replace("-", "−")


def integer_text(x) -> str:
    """A count as an integer ("6", not "6.0"); "–" when missing."""
    return NA if _missing(x) else str(int(round(float(x))))


def p_value_text(p) -> str:
    """A p value in APA form: three decimals without a leading zero, "< .001" below one in a thousand,
    "> .999" above; "–" when missing (APA Publication Manual, 7th ed., 6.36)."""
    if _missing(p):
        return NA
    p = float(p)
    return "< .001" if p < 0.001 else "> .999" if p > 0.999 else f"{p:.3f}".lstrip("0")


def p_text(p: float) -> str:
    """A p value in a sentence: "= .032" or "< .001" (APA style, no leading zero)."""
    text = p_value_text(p)
    return text if text[0] in "<>" else f"= {text}"


def probability_text(p, sentence: bool = False) -> str:
    """A posterior probability, one rule for tables and sentences: as :func:`p_value_text` (".995", "> .999"), never
    "1.00" for .995; ``sentence`` puts "= " before a plain value ("= .995", "> .999")."""
    return p_text(p) if sentence else p_value_text(p)


def percent_text(x, digits: int = 1, fraction: bool = False) -> str:
    """A percentage, e.g. I² = 57.63 → "57.6%"; ``fraction`` multiplies a share (0.25 → "25.0%") first."""
    if _missing(x):
        return NA
    return f"{number_text(float(x) * (100 if fraction else 1), digits)}%"


def interval_text(low: str, high: str) -> str:
    """Two displayed bounds as one interval, "[0.244, 0.868]"; "–" when both are missing."""
    return NA if low == NA and high == NA else f"[{low}, {high}]"


def count_text(n: int, noun: str, plural: str | None = None) -> str:
    """ "1 study", "3 studies": a count with its noun in the right number."""
    plural = plural or (noun[:-1] + "ies" if noun.endswith("y") else noun + "s")
    return f"{int(n)} {noun if int(n) == 1 else plural}"


# -- labels ------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def review_labels(root: Path | None = None) -> dict[str, str]:
    """Readable labels of machine ids from every ``data/raw/*/review.json``: each analysis ``name`` and
    the ``published`` id it is set beside map to the analysis ``label``; a published id without an
    analysis of ours keeps its words."""
    try:
        root = Path(root) if root else project_root()
    except FileNotFoundError:
        return {}
    labels = {}
    for path in sorted((root / "data" / "raw").glob("*/review.json")):
        meta = json.loads(path.read_text(encoding="utf-8"))
        for spec in meta.get("analyses", []):
            if "label" in spec:
                labels[spec["name"]] = labels.get(spec["name"], spec["label"])
                if spec.get("published"):
                    labels[spec["published"]] = spec["label"]
    return labels


def words(text: str) -> str:
    """Codebook codes inside a text as words: "internet_general: k = 3" → "internet general: k = 3".

    Only lower-case ids joined by underscores change; study ids (``Dean2016_u2``) and file names
    (``effect_sizes.csv``) stay as they are.
    """
    return SNAKE.sub(lambda m: m.group(1).replace("_", " "), text)


def header_text(column: str) -> str:
    """The header a reader sees for a machine column name (``HEADERS``, else its words, a Latin first
    letter capitalised: "τ² = 0" keeps its τ)."""
    column = str(column).replace(" ", "_")
    if column in HEADERS:
        return HEADERS[column]
    text = column.replace("_", " ")
    return text[:1].upper() + text[1:] if text[:1].isascii() else text


QUANTITIES = {
    "weight_1": "weight of study 1 (%)", "weight_1_fe": "weight of study 1, fixed effect (%)",
    "weight_1_dl": "weight of study 1, DL random effects (%)", "q_df": "df of Q", "q_p": "p of Q", "pval": "p",
    "ci_low": "CI lower bound", "ci_high": "CI upper bound", "pi_low": "PI lower bound", "pi_high": "PI upper bound",
    "tau2": "τ²", "i2": "I² (%)", "h2": "H²", "q": "Q", "se": "SE", "se_tau2": "SE of τ²", "k0": "k₀ filled",
    "filled_estimate": "estimate after filling", "filled_ci_low": "CI lower bound after filling",
    "filled_ci_high": "CI upper bound after filling", "limit_estimate": "limit estimate",
    "i2_between": "I² between (%)", "i2_within": "I² within (%)", "i2_total": "I² total (%)",
    "sigma2_between": "σ² between", "sigma2_within": "σ² within", "stat": "test statistic",
}


def quantity_text(name: str) -> str:
    """A machine quantity name as words, token by token (``QUANTITIES``, then ``HEADERS``, then the
    words): "weight_1_fe" → "weight of study 1, fixed effect (%)", "CR2 ci_low" → "CR2 CI lower bound",
    "cook_d: Jerant et al. 2011" → "Cook's d: Jerant et al. 2011"."""
    def one(token: str) -> str:
        core, colon = (token[:-1], ":") if token.endswith(":") else (token, "")
        return QUANTITIES.get(core, (HEADERS.get(core, words(core)) if "_" in core else core)) + colon

    return " ".join(one(token) for token in str(name).split(" "))


# -- a table -----------------------------------------------------------------------------------------

def column_kind(column: str, values: pd.Series) -> str:
    """How a column is shown: "bool", "text", "p", "percent", "share", "integer" or "number".

    By name first (p values: ``pval``, ``p_*``, ``*_p``; I²: ``i2``, ``i2_*``; shares ``*_share``),
    then by content: numbers that are all whole are counts unless the name says estimate, interval,
    variance or statistic.
    """
    name = str(column).replace(" ", "_")
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if not pd.api.types.is_numeric_dtype(values):
        return "text"
    if name in ("p", "pval", "q_p") or name.startswith(("pval", "p_")) or name.endswith("_p"):
        return "p"
    if name == "i2" or name.startswith("i2_"):
        return "percent"
    if name.endswith("_share"):
        return "share"
    present = values.dropna()
    decimal_name = bool(DECIMAL_NAMES.match(name))
    if not decimal_name and (len(present) == 0 or (present == present.round()).all()):
        return "integer"
    return "number"


def _digits(column: str, digits: int) -> int:
    name = str(column).replace(" ", "_")
    if name.startswith(("tau2", "vi")) or name == "se":
        return max(digits, 3)
    if name in ("q", "h2", "egger_z") or name.startswith("q_between"):
        return 2
    return digits


def _cell(x, kind: str, column: str, digits: int) -> str:
    if kind == "bool" or isinstance(x, (bool, np.bool_)):
        return NA if _missing(x) else ("yes" if x else "")
    if kind == "text":
        if _missing(x):
            return NA
        text = str(x)
        name = str(column).replace(" ", "_")
        if not text.strip():  # an empty text cell: not given (a note or a mark may simply be empty)
            return "" if name in ("note", "notes", "marks") else NA
        if name in ("analysis", "published_analysis", "our_analysis"):
            text = review_labels().get(text, text)
        return text if name.endswith(VERBATIM) else words(text)
    if kind == "p":
        return p_value_text(x)
    if kind in ("percent", "share"):
        return percent_text(x, fraction=kind == "share")
    if kind == "integer":
        return integer_text(x)
    name = str(column).replace(" ", "_")
    if (name.startswith("vi") or name == "se") and not _missing(x) and 0 < abs(float(x)) < 0.1:
        # a small variance keeps three significant digits: 0.000412, not 0.000 (a ratio of two must be checkable)
        return number_text(x, max(_digits(column, digits), 2 - math.floor(math.log10(abs(float(x))))))
    return number_text(x, _digits(column, digits))


def formatted(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The display form of a table: rounding lives here and nowhere else (column names unchanged).

    Counts without decimals, p values in APA form (".032", "< .001"), I² as a percentage,
    other numbers with ``digits`` decimals (τ² and variances at least three; Q and H² two),
    booleans as "yes" or "", missing values as "–", codebook codes as words and analysis ids as
    their ``review.json`` labels (verbatim columns such as ``statistic_as_printed`` untouched).
    """
    shown = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        kind = column_kind(col, frame[col])
        shown[col] = [_cell(x, kind, col, digits) for x in frame[col]]
    return shown


class Table(pd.DataFrame):
    """A table in display form (strings, column names as words) that renders in the house style.

    It is a DataFrame, so a caller can still pick or overwrite cells (``heterogeneity_view`` does);
    its HTML (notebook output and report) merges bound pairs into intervals, uses readable
    headers, puts the note last, wraps long text and splits a table wider than the page.
    """

    @property
    def _constructor(self):
        return Table

    def _repr_html_(self) -> str:
        return table_html(self)


def show(frame: pd.DataFrame, digits: int = 3) -> Table:
    """:func:`formatted` with column names as words and no index: a notebook cell's table output."""
    shown = formatted(frame, digits)
    shown.columns = [str(c).replace("_", " ") for c in shown.columns]
    return Table(shown.reset_index(drop=True))


def _merged(frame: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(header, cells) per displayed column: bound pairs as one interval column, the note last."""
    names = [str(c).replace(" ", "_") for c in frame.columns]
    cells = {n: [str(v) for v in frame.iloc[:, i]] for i, n in enumerate(names)}
    out, used = [], set()
    for name in names:
        if name in used:
            continue
        high = name.replace("low", "high", 1) if "low" in name else None
        if any(cells[name] == cells[o] for o in used) and not _numeric(cells[name]):
            used.add(name)  # a text column that repeats an earlier one (e.g. our analysis = published analysis)
            continue
        if high and high in cells and high not in used:
            header = PAIR_HEADERS.get(name, header_text(name.replace("_low", "").replace("low_", "")))
            out.append((header, [interval_text(a, b) for a, b in zip(cells[name], cells[high])]))
            used |= {name, high}
        else:
            out.append((header_text(name), cells[name]))
            used.add(name)
    notes = [c for c in out if c[0] in ("Note", "Notes")]
    return [c for c in out if c not in notes] + notes


def _width_px(header: str, cells: list[str]) -> float:
    """Estimated rendered width of a column: its longest unbreakable word or, for long text, the wrap width."""
    longest = max([len(header.split()[0]) if header.split() else 1] + [len(w) for w in header.split()])
    for text in cells:
        size = len(text)
        if size > WRAP_CHARS and " " in text:
            size = max(WRAP_CHARS, *(len(w) for w in text.split()))
        longest = max(longest, size)
    return longest * CHAR_PX + CELL_PAD_PX


def _numeric(cells: list[str]) -> bool:
    return all(re.fullmatch(r"[<>]? ?[-−]?[\d.]+%?|–|\[.*\]|", c) for c in cells)


def split_columns(columns: list[tuple[str, list[str]]], width_px: float = PAGE_WIDTH_PX) -> list[list[int]]:
    """Positions of the columns of each part of a table too wide for ``width_px``.

    Every part repeats the row's name: its leading text columns, as few as tell the rows apart (at most
    four, e.g. analysis and variant, or variant, type, outcome and design; at most 70 % of the width;
    at least the first), so each part can be read alone.
    """
    widths = [_width_px(h, c) for h, c in columns]
    if sum(widths) <= width_px or len(columns) < 3:
        return [list(range(len(columns)))]
    keys = [0]
    for i in range(1, min(4, len(columns) - 2)):
        if len(set(zip(*(columns[j][1] for j in keys)))) == len(columns[0][1]) or _numeric(columns[i][1]) \
                or columns[i][0] in ("Note", "Notes") or sum(widths[j] for j in keys) + widths[i] > 0.7 * width_px:
            break
        keys.append(i)
    parts, current = [], list(keys)
    used = sum(widths[i] for i in keys)
    for i in range(len(keys), len(columns)):
        if used + widths[i] > width_px and len(current) > len(keys):
            parts.append(current)
            current, used = list(keys), sum(widths[j] for j in keys)
        current.append(i)
        used += widths[i]
    return parts + [current]


TABLE_CSS = """<style>
.jp-RenderedHTMLCommon table.repro, table.repro { border-collapse: collapse; margin: 0.3rem 0 1rem 0;
  font: 12.5px/1.35 "DejaVu Sans", Arial, sans-serif; table-layout: auto; width: auto; max-width: 100%; }
.jp-RenderedHTMLCommon table.repro th, table.repro th { background: #f3f3f3; font-weight: bold; text-align: left;
  vertical-align: bottom; padding: 4px 7px; border-bottom: 1px solid #bbb; white-space: normal; }
.jp-RenderedHTMLCommon table.repro td, table.repro td { text-align: left; vertical-align: top; padding: 3px 7px;
  border-bottom: 1px solid #e3e3e3; white-space: nowrap; }
.jp-RenderedHTMLCommon table.repro .num, table.repro .num { text-align: right; font-variant-numeric: tabular-nums; }
.jp-RenderedHTMLCommon table.repro td.long, table.repro td.long { white-space: normal; min-width: 14em; max-width: 24em; }
.jp-RenderedHTMLCommon table.repro tbody tr:nth-child(odd), table.repro tbody tr:nth-child(odd) { background: #fafafa; }
.jp-RenderedHTMLCommon table.repro td a, table.repro td a { overflow-wrap: anywhere; }
p.repro-part { font: italic 12px sans-serif; color: #555; margin: 0.2rem 0; }
</style>"""


COUNT_HEADERS = ("k", "Studies", "Effects")
MAX_TABLE_ROWS = 100  # a longer table shows its first rows and says how many more its CSV holds


def empty_table_sentence(columns: list[tuple[str, list[str]]]) -> str | None:
    """One sentence for a table with nothing in it, else None (the table is shown).

    A table says nothing when every row's result columns are "–" or empty and a note says why
    ("not tested: k < 10"), or when its count column is 0 in every row (nothing was pooled). The
    sentence names each row by its non-empty cells, and the note once when all rows share it.
    """
    if not columns or not columns[0][1]:
        return None
    rows = len(columns[0][1])
    counts = [c for h, c in columns if h in COUNT_HEADERS]
    if counts and all(v == "0" for v in counts[0]):
        first, cells = columns[0]
        return f"Nothing was pooled: k = 0 in every row ({first}: {', '.join(cells)})."
    note = next((c for h, c in columns if h in ("Note", "Notes")), None)
    rest = [(h, c) for h, c in columns if h not in ("Note", "Notes")]
    filled = [(h, c) for h, c in rest[1:] if any(v not in (NA, "") for v in c)]
    if note is None or not all(note) or any(h not in COUNT_HEADERS and _numeric(c) for h, c in filled) \
            or len(rest) - 1 - len(filled) < 2:
        return None
    def name(r: int) -> str:
        extra = "; ".join(f"{h} = {c[r]}" if h in COUNT_HEADERS else c[r] for h, c in filled if c[r] not in (NA, ""))
        return rest[0][1][r] + (f" ({extra})" if extra else "")
    if len(set(note)) == 1:
        return f"{note[0][:1].upper()}{note[0][1:]} for every row: {'; '.join(name(r) for r in range(rows))}."
    return " ".join(f"{name(r)}: {note[r]}." for r in range(rows))


def table_html(frame: pd.DataFrame, style: bool = True, width_px: float = PAGE_WIDTH_PX,
               max_rows: int = MAX_TABLE_ROWS) -> str:
    """The house-style HTML of a :func:`show` table (parts: :func:`split_columns`), or one sentence
    for a table with nothing in it (:func:`empty_table_sentence`); past ``max_rows`` rows, the first
    ``max_rows`` and how many more the CSV holds (a page stays small for thousands of studies)."""
    hidden = max(0, len(frame) - max_rows)
    if hidden:
        frame = frame.iloc[:max_rows]
    columns = _merged(frame)
    if not columns:
        return "<p><em>(empty table)</em></p>"
    sentence = empty_table_sentence(columns) if len(frame) else None
    if sentence:
        return f'<p class="repro-empty">{html.escape(sentence)}</p>'
    if len(frame) == 0:
        head = "".join(f"<th>{html.escape(h)}</th>" for h, _ in columns)
        return (TABLE_CSS if style else "") + f'<table class="repro"><thead><tr>{head}</tr></thead></table>' \
            "<p><em>No rows.</em></p>"
    parts = split_columns(columns, width_px)
    out = [TABLE_CSS] if style else []
    for p, positions in enumerate(parts):
        chosen = [columns[i] for i in positions]
        numeric = [_numeric(c) for _, c in chosen]
        if len(parts) > 1:
            repeated = [columns[i][0] for i in parts[0] if all(i in q for q in parts)]
            again = f" (continued; {', '.join(repeated)} repeat{'s' if len(repeated) == 1 else ''})" if p else ""
            out.append(f'<p class="repro-part">Part {p + 1} of {len(parts)}{html.escape(again)}</p>')
        head = "".join(f'<th{" class=num" if num else ""}>{html.escape(h)}</th>' for (h, _), num in zip(chosen, numeric))
        body = []
        for r in range(len(frame)):
            row = []
            for (_, cells), num in zip(chosen, numeric):
                text = cells[r]
                cls = "num" if num else ("long" if len(text) > WRAP_CHARS else "")
                shown = CANONICAL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', html.escape(text))
                row.append(f'<td{f" class={cls}" if cls else ""}>{shown}</td>')
            body.append(f"<tr>{''.join(row)}</tr>")
        out.append(f'<table class="repro"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')
    if hidden:
        out.append(f'<p class="repro-part">Shown: the first {max_rows:,} of {max_rows + hidden:,} rows '
                   f'({hidden:,} more not shown here).</p>')
    return "\n".join(out)
