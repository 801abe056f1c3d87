"""Figures in one style: the shared look, saving without timestamps, the PRISMA 2020 flow and the
effect-direction plot. Forest and funnel plots are in ``forest_funnel.py``.
"""
from __future__ import annotations

import base64
import html
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd


PALETTE = {"ink": "#222222", "muted": "#777777", "accent": "#1f5a96", "accent2": "#b8572b",
           "light": "#d9d9d9", "positive": "#1f5a96", "negative": "#b8572b", "null": "#8c8c8c"}


def set_style() -> None:
    """One look for every figure: serif-free fonts, readable sizes, deterministic SVG output.

    Sets matplotlib's rcParams without importing pyplot (a third of a second), which the drawing
    functions import when a notebook first draws.
    """
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({
        "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10, "axes.titleweight": "bold",
        "axes.labelsize": 9, "axes.spines.top": False, "axes.spines.right": False,
        "axes.edgecolor": PALETTE["ink"], "xtick.color": PALETTE["ink"], "ytick.color": PALETTE["ink"],
        "savefig.dpi": 150, "figure.dpi": 100, "svg.hashsalt": "compendium", "svg.fonttype": "none",
    })


def room_for(fig, right: float = 0.0, top: float = 0.0) -> None:
    """Widen the canvas of ``fig`` by ``right`` inches and raise it by ``top`` inches, every axes and
    figure text staying where it is (in inches from the bottom-left corner).

    For a figure that places something beyond its axes, e.g. a legend to the right: once it lies
    on the canvas, :func:`save_figure` cuts the PNG from its one drawing instead of drawing it again
    into the tight box. The saved files are the same size either way (both are cut to the tight box).
    A position (x, y) in figure fractions of a W × H inch canvas becomes (x·W/(W + right),
    y·H/(H + top)); axes positions and figure texts are moved so, while what is anchored to an axes
    (its legend, titles, labels) moves with it. Figure legends (``fig.legend``) are not moved: call
    it before adding one.
    """
    from matplotlib.transforms import Bbox

    width, height = fig.get_size_inches()
    scale = np.array([width / (width + right), height / (height + top)])
    for ax in fig.axes:
        ax.set_position(Bbox(ax.get_position().get_points() * scale))
    for text in fig.texts:
        if text.get_transform() == fig.transFigure:
            text.set_position(np.asarray(text.get_position()) * scale)
    fig.set_size_inches(width + right, height + top)


class FigureOutput:
    """What a notebook shows for a figure: the PNG with alt text, and as text only its caption and files.

    The notebook output is HTML (an ``<img>`` whose ``alt`` is the caption, the PNG embedded, and a
    caption line naming the files), so JupyterLab, nbconvert and screen readers all get a description;
    keeping the plain text stable (no figure repr, no memory address) lets nbval compare outputs.
    """

    def __init__(self, png: Path, svg: Path, caption: str, root: Path | None = None):
        self.png, self.svg, self.caption = Path(png), Path(svg), caption
        self.root = root

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root)) if self.root else path.name
        except ValueError:
            return path.name

    @property
    def alt(self) -> str:
        """The alt text: the caption as a sentence."""
        text = self.caption.strip()
        return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.png.read_bytes()).decode("ascii")
        return (f'<figure class="repro-figure" style="margin: 0.5rem 0 1.2rem 0">'
                f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt)}" '
                f'style="max-width: 100%; height: auto">'
                f'<figcaption style="font: 12px sans-serif; color: #555">{html.escape(self.alt)} '
                f'Files: {html.escape(self._rel(self.png))}, {html.escape(self._rel(self.svg))}.</figcaption></figure>')

    def __repr__(self) -> str:
        return f"Figure: {self.caption} [{self._rel(self.png)}, {self._rel(self.svg)}]"


def _draw_and_measure(fig):
    """Draw ``fig`` at the saving resolution (``savefig.dpi``); return its pixels, that dpi and its tight box.

    The tight box (inches, unpadded) is what ``savefig(bbox_inches="tight")`` measures before it
    draws; measured here on the drawing itself, it costs no layout pass of its own.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    dpi = matplotlib.rcParams["savefig.dpi"]
    screen_dpi = fig.dpi
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    fig.dpi = screen_dpi if dpi == "figure" else dpi
    try:
        dpi = fig.dpi
        canvas.draw()
        content = fig.get_tightbbox(canvas.get_renderer())
        pixels = np.array(canvas.buffer_rgba())
    finally:
        fig.dpi = screen_dpi
    return pixels, dpi, content


def _crop(fig, pixels: np.ndarray, dpi: float, box) -> np.ndarray:
    """The part of ``pixels`` (the whole figure drawn at ``dpi``) inside ``box`` (inches).

    Where ``box`` reaches past the canvas (the padding round a figure drawn to its edges) the
    pixels are the figure's face colour, as a tight save paints them.
    """
    import matplotlib
    from matplotlib.colors import to_rgba

    face = matplotlib.rcParams["savefig.facecolor"]
    face = fig.get_facecolor() if face == "auto" else to_rgba(face)
    out = np.empty((int(box.height * dpi), int(box.width * dpi), 4), np.uint8)
    out[...] = np.round(np.asarray(face) * 255).astype(np.uint8)
    left, top = round(box.x0 * dpi), round((fig.get_size_inches()[1] - box.y1) * dpi)  # rows count from the top
    rows = slice(max(top, 0), min(top + out.shape[0], pixels.shape[0]))
    cols = slice(max(left, 0), min(left + out.shape[1], pixels.shape[1]))
    out[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left] = pixels[rows, cols]
    return out


def save_figure(fig, name: str, figures_dir: Path | str, caption: str, root: Path | None = None) -> FigureOutput:
    """Write ``fig`` as PNG and SVG without timestamps or software tags, close it, return a FigureOutput.

    Both files are cropped to one box: the figure's tight box padded by ``savefig.pad_inches``, the
    box of ``bbox_inches="tight"``. The figure is drawn once at the PNG's resolution and the box
    measured on that drawing (:func:`_draw_and_measure`); when everything drawn lies on the canvas,
    the PNG is that drawing cut to the box (:func:`_crop`; the picture of a tight save, up to where
    the box's edge falls within a pixel), else it is drawn again into the box, as a tight save does.
    The SVG, drawn into the same box, has the PNG's size and padding (a tight SVG save would measure
    text with the SVG backend's metrics, whose extents differ by up to 0.2 in). Two passes over the
    figure, or three when something is drawn off the canvas, where two tight saves take four.
    """
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.image import imsave

    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    png, svg = figures_dir / f"{name}.png", figures_dir / f"{name}.svg"
    pixels, dpi, content = _draw_and_measure(fig)
    box = content.padded(matplotlib.rcParams["savefig.pad_inches"])
    width, height = fig.get_size_inches()
    tolerance = 1e-6  # inches: text set flush with the canvas edge measures a hair beyond it
    if min(content.x0, content.y0, width - content.x1, height - content.y1) >= -tolerance:
        imsave(png, _crop(fig, pixels, dpi, box), format="png", origin="upper", dpi=dpi, metadata={"Software": None})
    else:
        fig.savefig(png, bbox_inches=box, metadata={"Software": None})
    fig.savefig(svg, bbox_inches=box, metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return FigureOutput(png, svg, caption, root)


def _wrap(text: str, width: int) -> list[str]:
    return [line for part in text.split("\n") for line in (textwrap.wrap(part, width, subsequent_indent="  "
                                                                               if part.startswith("  ") else "") or [""])]


def plot_prisma(counts: pd.DataFrame, title: str):
    """A PRISMA 2020 flow diagram (Page et al. 2021) of our own extraction from :func:`prisma_counts`.

    Laid out as the statement's template: phases down the left (identification, screening,
    included), the flow of records, reports and studies in aligned boxes down the middle, and what
    leaves the flow at each step in boxes to the right, reached by horizontal arrows.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    n = {(r.stage, r.box): int(r.n) for r in counts.itertuples()}
    excluded = counts[counts["stage"] == "excluded"]
    reasons = "".join(f"\n  {r.box} (n = {int(r.n)})" for r in excluded.itertuples())
    rows = [  # (phase, left box, right box or None)
        ("Identification",
         f"Records identified:\n  calibration leads (n = {n[('identification', 'records: calibration leads')]})\n"
         f"  own search and citations (n = {n[('identification', 'records: own search and citations')]})",
         f"Records removed before screening:\n  duplicate records (n = {n[('identification', 'duplicate records removed')]})"),
        ("Screening", f"Records screened\n(n = {n[('screening', 'records screened')]})",
         "Records excluded: not counted apart (title, abstract and full report were read together)"),
        ("Screening", f"Reports sought for retrieval\n(n = {n[('screening', 'reports sought for retrieval')]})",
         f"Reports not retrieved\n(n = {n[('screening', 'reports not retrieved')]})"),
        ("Screening", f"Reports assessed for eligibility\n(n = {n[('screening', 'reports assessed for eligibility')]})",
         f"Reports excluded (n = {int(excluded['n'].sum())}):{reasons}"),
        ("Included", f"Studies included in the review (n = {n[('included', 'studies included')]})\n"
                     f"Reports of included studies (n = {n[('included', 'reports of included studies')]})\n"
                     f"Studies with a numeric statistic (n = {n[('included', 'studies with a numeric statistic')]})", None),
    ]
    line, pad, gap, header = 0.165, 0.16, 0.34, 0.42  # inches
    wrapped = [(phase, _wrap(left, 44), _wrap(right, 40) if right else []) for phase, left, right in rows]
    alone = {p for p in (r[0] for r in rows) if sum(r[0] == p for r in rows) == 1}  # a phase of one row
    heights = [max(max(len(a), len(b)) * line + 2 * pad, 1.1 if phase in alone else 0) for phase, a, b in wrapped]
    total = 0.55 + header + sum(heights) + gap * (len(rows) - 1) + 0.1
    fig = plt.figure(figsize=(8.0, total))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_axis_off()
    ax.set_xlim(0, 8.0)
    ax.set_ylim(0, total)
    xl, wl, xr, wr = 0.75, 3.45, 4.75, 3.15  # left and right box: x and width
    style = dict(boxstyle="round,pad=0,rounding_size=0.05", lw=0.8)
    top = total - 0.55
    ax.add_patch(FancyBboxPatch((xl, top - header + 0.08), xr + wr - xl, header - 0.12, fc="#f6d77a", ec=PALETTE["ink"],
                                **style))
    ax.text((xl + xr + wr) / 2, top - header / 2 + 0.02, "Identification of studies via databases, registers and other "
            "sources", ha="center", va="center", fontsize=8.5, fontweight="bold")
    y, spans, centres = top - header, {}, []
    for (phase, left, right), h in zip(wrapped, heights):
        ax.add_patch(FancyBboxPatch((xl, y - h), wl, h, fc="white", ec=PALETTE["ink"], **style))
        ax.text(xl + 0.12, y - h / 2, "\n".join(left), ha="left", va="center", fontsize=8, linespacing=1.3)
        if right:
            ax.add_patch(FancyBboxPatch((xr, y - h), wr, h, fc="#f4f4f4", ec=PALETTE["muted"], **style))
            ax.text(xr + 0.12, y - h / 2, "\n".join(right), ha="left", va="center", fontsize=8, linespacing=1.3)
            ax.annotate("", xy=(xr, y - h / 2), xytext=(xl + wl, y - h / 2),
                        arrowprops=dict(arrowstyle="-|>", color=PALETTE["ink"], lw=0.8, shrinkA=0, shrinkB=0))
        lo, hi = spans.get(phase, (y - h, y))
        spans[phase] = (min(lo, y - h), max(hi, y))
        centres.append((y, y - h))
        y -= h + gap
    for (_, bottom), (next_top, _) in zip(centres, centres[1:]):
        ax.annotate("", xy=(xl + wl / 2, next_top), xytext=(xl + wl / 2, bottom),
                    arrowprops=dict(arrowstyle="-|>", color=PALETTE["ink"], lw=0.8, shrinkA=0, shrinkB=0))
    for phase, (lo, hi) in spans.items():
        ax.add_patch(FancyBboxPatch((0.2, lo), 0.34, hi - lo, fc="#a9c6e8", ec=PALETTE["ink"], **style))
        ax.text(0.37, (lo + hi) / 2, phase, rotation=90, ha="center", va="center", fontsize=8.5, fontweight="bold")
    ax.text(0.2, total - 0.25, title, ha="left", va="center", fontsize=10, fontweight="bold")
    return fig


MARKS = {"positive": ("^", "positive"), "negative": ("v", "negative"), "null": ("o", "no effect"),
         "mixed": ("D", "mixed (< 70 % agree)"), "unclear": ("s", "unclear (no direction)")}
VOTE_COLOURS = {"positive": PALETTE["positive"], "negative": PALETTE["negative"], "null": PALETTE["null"],
                "mixed": PALETTE["muted"], "unclear": PALETTE["light"]}  # one colour per vote, every plot


LEGEND_ROW = 0.15  # inches per legend entry at font size 7 (its marker and spacing; measured 0.146)
ROB_RATED = ("low", "some concerns", "high")  # overall judgements drawn in robvis' colours; any other study: n/r
EFFECT_DIRECTION_MAX_ROWS = 150  # more studies than this: counts per cell instead of one row per study


def effect_direction_summary(votes: pd.DataFrame, cells: list[str], title: str, table_name: str = "the study votes table"):
    """The effect-direction plot of many studies as a summary: per cell of the box score, one bar of
    the number of studies voting each way (positive, negative, no effect, mixed; the significant
    ones darker), since a row per study is unreadable beyond a few dozen. The figure says so and
    names ``table_name``, which keeps every vote. Boon & Thomson (2021) on summarising the plot.
    """
    import matplotlib.pyplot as plt

    set_style()
    cell = votes[cells].astype(str).agg(" · ".join, axis=1).str.replace("_", " ")
    columns = sorted(cell.unique())
    colour = VOTE_COLOURS
    n = votes["study_id"].nunique()
    heading = textwrap.wrap(f"{title}: {n:,} studies, counted per cell (a summary: one row per study is "
                            f"unreadable); every vote is in {table_name}", 70)
    top, bottom, body = 0.3 + 0.17 * len(heading), 0.6, 0.5 * len(columns) + 0.3
    fig, ax = plt.subplots(figsize=(7.4, top + body + bottom))
    fig.subplots_adjust(left=1.9 / 7.4, right=0.97, top=1 - top / (top + body + bottom), bottom=bottom / (top + body + bottom))
    left = np.zeros(len(columns))
    for vote in MARKS:
        for sig in ("yes", "no"):
            chosen = (votes["vote"] == vote) & ((votes["significant"] == "yes") == (sig == "yes"))
            counts = np.array([int((chosen & (cell == c)).sum()) for c in columns], float)
            if counts.any():
                ax.barh(range(len(columns)), counts, left=left.copy(), color=colour[vote],
                        alpha=1.0 if sig == "yes" else 0.45,
                        label=f"{MARKS[vote][1]}, {'significant' if sig == 'yes' else 'not significant'}")
                left += counts
    ax.set_yticks(range(len(columns)))
    ax.set_yticklabels(["\n".join(textwrap.wrap(c, 24)) for c in columns], fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlabel("Studies (one vote per study per cell)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    ax.set_title("\n".join(heading), loc="left", fontsize=9)
    room_for(fig, right=2.4)  # the legend, right of the plot, on the canvas
    return fig


def effect_direction_plot(votes: pd.DataFrame, cells: list[str], title: str,
                          max_rows: int = EFFECT_DIRECTION_MAX_ROWS, table_name: str = "the study votes table",
                          overall: dict[str, str] | None = None):
    """Effect-direction plot (Thomson & Thomas 2013; Boon & Thomson 2021): one vote per study per cell.

    Rows are studies, columns the cells of the box score (e.g. help-seeking type × outcome, named
    above each column); the mark is the study's vote by the 70 % rule: triangle up positive,
    triangle down negative, circle no effect, diamond mixed, square unclear, each in its colour.
    Filled = at least one result in the cell printed significant; open = none. Columns are as
    narrow as their longest word allows so that a plot of a few cells stays readable at a report's column width (call it
    once per value of the first cell column when there are many cells). The legend draws exactly the
    marks the plot uses (shape, colour and fill); a study admitted by a stated rule carries its mark
    after its name († proxy, ‡ other comparator, § published after the review, ¶ adjusted estimate). With more than
    ``max_rows`` studies it is drawn as :func:`effect_direction_summary` (counts per cell).

    ``overall`` (study_id → overall risk of bias, :func:`~compendium.appraisal.overall_of`) adds a
    column between the study names and the cells, as Boon & Thomson (2021) draw each study's risk of
    bias beside its votes: a circle in robvis' colours and symbols (McGuinness & Higgins 2021;
    :data:`~compendium.appraisal.ROBVIS`: + low, − some concerns, × high), and an open circle marked
    ``n/r`` for a study without a row in the risk-of-bias sheet (not rated, never low or high). The
    summary drawn beyond ``max_rows`` has no such column (notebook 05's votes-by-risk-of-bias table
    counts it per cell).
    """
    import matplotlib.pyplot as plt

    from .appraisal import ROBVIS  # imported here: appraisal's own imports reach far into the compendium

    if votes["study_id"].nunique() > max_rows:
        return effect_direction_summary(votes, cells, title, table_name)
    marks = votes.groupby("study_id")["marks"].agg(lambda m: "".join(dict.fromkeys("".join(m.fillna("").astype(str)))))
    votes = votes.assign(cell=votes[cells].astype(str).agg(" · ".join, axis=1).str.replace("_", " "),
                         study_label=votes["study_id"] + " " + votes["study_id"].map(marks))
    votes["study_label"] = votes["study_label"].str.strip()
    columns = sorted(votes["cell"].unique())
    labels = sorted(votes["study_label"].unique(), key=str.lower, reverse=True)
    colour = VOTE_COLOURS
    with_rob = overall is not None
    if with_rob:
        study_of = dict(zip(votes["study_label"], votes["study_id"]))
        rob = {label: overall.get(study_of[label], "not rated") for label in labels}
        unknown = {s: w for s, w in overall.items() if w not in ROB_RATED}
        if unknown:
            study, word = next(iter(unknown.items()))
            raise ValueError(f"overall risk of bias of study {study!r} is {word!r}, not one of {'|'.join(ROB_RATED)}")
    heads = ["\n".join(textwrap.wrap(c, 11, break_long_words=False))
             for c in [*columns, *(["Risk of bias"] if with_rob else [])]]
    head_lines = max(h.count("\n") + 1 for h in heads)
    longest = max(len(word) for c in columns for word in c.split())  # a column as wide as its longest word
    unit = max(0.55, 0.06 * longest)
    width = unit * len(columns) + (0.55 if with_rob else 0.0)  # the risk-of-bias column: a circle and its head
    handles = []
    for v in MARKS:
        if (votes["vote"] == v).any():
            filled = ((votes["vote"] == v) & (votes["significant"] == "yes")).any()
            handles.append(plt.Line2D([], [], marker=MARKS[v][0], ls="", ms=6.5, mec=colour[v], mew=1.0,
                                      mfc=colour[v] if filled else "white", label=MARKS[v][1]))
    for mark, words in (("†", "proxy measure"), ("‡", "other comparator"), ("§", "published after the review"),
                        ("¶", "adjusted estimate")):
        if mark in "".join(marks):
            handles.append(plt.Line2D([], [], ls="", label=f"{mark} {words}"))
    if with_rob:
        handles.append(plt.Line2D([], [], ls="", label="overall risk of bias:"))
        for level in (*ROB_RATED, "not rated"):
            if level in rob.values():
                face, symbol = ROBVIS[level] if level in ROBVIS else ("white", "n/r")
                words = level if level in ROBVIS else "not rated"
                handles.append(plt.Line2D([], [], marker="o", ls="", ms=7, mfc=face, mec=PALETTE["ink"], mew=0.5,
                                          label=f"{symbol}  {words}"))
    top_in, rows_in = 0.5 + 0.13 * head_lines, 0.75 + 0.13 * head_lines + 0.19 * len(labels)
    height = max(rows_in, top_in + 0.15 + LEGEND_ROW * (len(handles) + 1))  # a long legend: room below the rows
    fig, ax = plt.subplots(figsize=(1.8 + width + 0.2, height))
    fig.subplots_adjust(left=1.8 / (2.0 + width), right=(1.8 + width) / (2.0 + width), top=1 - top_in / height,
                        bottom=(height - rows_in + 0.25) / height)
    x = votes["cell"].map({c: i for i, c in enumerate(columns)})
    y = votes["study_label"].map({label: i for i, label in enumerate(labels)})
    filled = votes["significant"] == "yes"
    for (vote, fill), rows in votes.groupby([votes["vote"], filled], sort=False).groups.items():  # one artist per mark
        ax.scatter(x[rows], y[rows], marker=MARKS[vote][0], s=40, edgecolor=colour[vote],
                   facecolor=colour[vote] if fill else "white", lw=1.0, zorder=3)
    rob_x = -0.5 - 0.55 / unit / 2  # the risk-of-bias column's centre, left of the first cell (data units)
    if with_rob:
        for level in (*ROB_RATED, "not rated"):
            chosen = [i for i, label in enumerate(labels) if rob[label] == level]
            if not chosen:
                continue
            face, symbol = ROBVIS[level] if level in ROBVIS else ("white", "n/r")
            ax.scatter([rob_x] * len(chosen), chosen, marker="o", s=70, facecolor=face, edgecolor=PALETTE["ink"],
                       lw=0.5, zorder=3)
            for i in chosen:
                ax.text(rob_x, i, symbol, ha="center", va="center", fontsize=7 if level in ROBVIS else 4.5,
                        fontweight="bold", zorder=4)
        ax.axvline(-0.5, color=PALETTE["muted"], lw=0.8)
    ax.xaxis.tick_top()
    ax.set_xticks([*range(len(columns)), *([rob_x] if with_rob else [])])
    ax.set_xticklabels(heads, fontsize=7.5, ha="center", va="bottom")
    ax.tick_params(axis="x", length=0, pad=4)
    ax.spines["top"].set_visible(True)
    ax.spines["bottom"].set_visible(False)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlim(-0.5 - (0.55 / unit if with_rob else 0.0), len(columns) - 0.5)
    ax.set_ylim(-0.8, len(labels) - 0.2)
    ax.grid(axis="y", color="#eeeeee", lw=0.6)
    for x in range(1, len(columns)):
        ax.axvline(x - 0.5, color="#dddddd", lw=0.6)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False,
              title="filled = printed significant", title_fontsize=7, alignment="left")
    fig.suptitle(title, x=0.02, y=1 - 0.08 / height, ha="left", va="top", fontsize=10, fontweight="bold")
    room_for(fig, right=1.75)  # the legend, right of the plot, on the canvas
    return fig


def comparison_plot(comparison: pd.DataFrame, metrics: dict[str, str] | None = None, title: str | None = None,
                    titles: dict[str, str] | None = None):
    """Published pooled results beside ours, one panel per review (its own effect metric).

    Each row is one published analysis: our estimate (dot) with the leading test's interval (thick
    line; ``test``, notebook 03's ``ci_method``) and the z interval (thin line), and the published
    estimate (open diamond). An interval that runs beyond the axis ends in an arrowhead. A row without a
    convertible study, or a published result without a value, says so in words.
    ``metrics`` gives each review's display metric (e.g. {"behr2025": "g"}). ``titles`` a readable panel title per review
    (e.g. {"behr2025": "Behr et al. 2025"}); the folder id without it.
    """
    import matplotlib.pyplot as plt

    metrics = metrics or {}
    reviews = list(dict.fromkeys(comparison["review"]))
    sizes = [int((comparison["review"] == r).sum()) for r in reviews]
    fig, axes = plt.subplots(len(reviews), 1, figsize=(9.0, 1.0 + sum(0.42 * s + 0.75 for s in sizes)),
                             gridspec_kw={"height_ratios": [s + 1.8 for s in sizes]}, squeeze=False)
    for ax, review in zip(axes[:, 0], reviews):
        rows = comparison[comparison["review"] == review].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        values = pd.concat([rows[c] for c in ("ci_low_z", "ci_high_z", "estimate", "published_estimate")]).astype(float)
        values = values[np.isfinite(values)]
        lo, hi = min(values.min(), 0.0) - 0.1, max(values.max(), 0.0) + 0.1  # a wider leading interval may run off
        for yy, r in zip(y, rows.itertuples()):
            for low, high, dy, colour, lw in ((r.ci_low_z, r.ci_high_z, -0.2, PALETTE["muted"], 0.9),
                                              (r.ci_low, r.ci_high, 0.0, PALETTE["accent"], 2.4)):
                if not np.isfinite(low):
                    continue
                a, b = max(low, lo), min(high, hi)
                ax.plot([a, b], [yy + dy] * 2, color=colour, lw=lw, solid_capstyle="butt")
                for end, cut, mark in ((a, low < lo, "<"), (b, high > hi, ">")):
                    if cut:  # runs beyond the axis: an arrowhead says so
                        ax.plot(end, yy + dy, mark, ms=4 + lw, color=colour)
            if np.isfinite(r.estimate):
                ax.plot(r.estimate, yy, "o", ms=6, color=PALETTE["accent"], mec=PALETTE["ink"], mew=0.5)
            else:
                ax.text(0.0, yy, "  no convertible study in our extraction", va="center", fontsize=7.5,
                        color=PALETTE["muted"])
            if np.isfinite(r.published_estimate):
                ax.plot(r.published_estimate, yy, "D", ms=6.5, mfc="white", mec=PALETTE["accent2"], mew=1.4)
            elif np.isfinite(r.estimate):
                ax.text(hi, yy + 0.3, "published: no value given", ha="right", va="center", fontsize=7,
                        color=PALETTE["accent2"])
        ax.axvline(0, color=PALETTE["muted"], ls="--", lw=0.7)
        ax.set_yticks(y)
        ax.set_yticklabels(["\n".join(textwrap.wrap(f"{label} (k\u00a0=\u00a0{k})", 44)) for label, k in
                            zip(rows["our_analysis"], rows["k"])], fontsize=7.5)
        ax.set_ylim(-0.7, len(rows) - 0.4)
        ax.set_xlim(lo, hi)
        metric = metrics.get(review, "effect")
        published = ", ".join(dict.fromkeys(rows["metric"].astype(str)))
        ax.set_xlabel(f"{metric} (ours) · published as {published}", fontsize=8)
        ax.set_title((titles or {}).get(review, review), loc="left", fontsize=9)
        ax.grid(axis="x", color="#eeeeee", lw=0.6)
    lead = ", ".join(t for t in dict.fromkeys(comparison["test"].dropna().astype(str)) if t) or "leading test"
    handles = [plt.Line2D([], [], marker="o", ms=6, color=PALETTE["accent"], mec=PALETTE["ink"], lw=2.4,
                          label=f"ours: estimate, {lead} interval"),
               plt.Line2D([], [], color=PALETTE["muted"], lw=0.9, label="ours: z interval"),
               plt.Line2D([], [], marker="D", ls="", ms=6.5, mfc="white", mec=PALETTE["accent2"], mew=1.4,
                          label="published estimate")]
    fig.legend(handles=handles, loc="upper right", ncol=3, fontsize=7.5, frameon=False, bbox_to_anchor=(0.99, 0.995))
    if title != "":  # the landing page names the figure in its heading
        fig.suptitle(title or "Published pooled results beside ours", x=0.01, y=0.995, ha="left", va="top",
                     fontsize=10, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig
