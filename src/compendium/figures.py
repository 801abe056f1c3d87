"""Figures in one style: the shared look, saving without timestamps, the PRISMA 2020 flow and the
effect-direction plot. Forest and funnel plots are in ``forest_funnel.py``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd


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
        "savefig.dpi": 150, "figure.dpi": 100, "svg.hashsalt": "compendium", "svg.fonttype": "none",
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
    """A PRISMA 2020 flow diagram (Page et al. 2021) of our own extraction from :func:`prisma_counts`.

    Records, reports and studies stand in separate boxes; exclusions branch to the right.
    """
    import matplotlib.pyplot as plt

    n = {(r.stage, r.box): int(r.n) for r in counts.itertuples()}
    excluded = counts[counts["stage"] == "excluded"]
    fig, ax = plt.subplots(figsize=(8.4, 7.4))
    ax.set_axis_off()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 12)
    box = dict(boxstyle="round,pad=0.45", fc="white", ec=PALETTE["ink"], lw=0.8)
    side = dict(boxstyle="round,pad=0.45", fc="#f4f4f4", ec=PALETTE["muted"], lw=0.8)
    left = [
        (11.0, f"Records identified\ncalibration leads: {n[('identification', 'records: calibration leads')]}\n"
               f"own search and citations: {n[('identification', 'records: own search and citations')]}"),
        (8.9, f"Records screened\nn = {n[('screening', 'records screened')]}"),
        (7.1, f"Reports sought for retrieval\nn = {n[('screening', 'reports sought for retrieval')]}"),
        (5.3, f"Reports assessed for eligibility\nn = {n[('screening', 'reports assessed for eligibility')]}"),
        (2.6, f"Studies included: {n[('included', 'studies included')]}\n"
              f"reports of included studies: {n[('included', 'reports of included studies')]}\n"
              f"studies with a numeric statistic: {n[('included', 'studies with a numeric statistic')]}"),
    ]
    right = [
        (11.0, f"Duplicate records removed\nn = {n[('identification', 'duplicate records removed')]}"),
        (8.9, "Records excluded at title/abstract\nnot counted apart (read with the report)"),
        (7.1, f"Reports not retrieved\nn = {n[('screening', 'reports not retrieved')]}"),
        (5.3, f"Reports excluded (n = {int(excluded['n'].sum())})\n"
              + "\n".join(f"{r.box}: {r.n}" for r in excluded.itertuples())),
    ]
    for y, text in left:
        ax.text(2.6, y, text, ha="center", va="center", fontsize=8, bbox=box)
    for y, text in right:
        ax.text(6.0, y, text, ha="left", va="center", fontsize=7.5, bbox=side)
        ax.annotate("", xy=(5.9, y), xytext=(4.7, y), arrowprops=dict(arrowstyle="->", color=PALETTE["muted"], lw=0.8))
    for (y0, _), (y1, _) in zip(left, left[1:]):
        ax.annotate("", xy=(2.6, y1 + 0.55), xytext=(2.6, y0 - 0.55),
                    arrowprops=dict(arrowstyle="->", color=PALETTE["ink"], lw=0.8))
    for y, label in ((11.0, "Identification"), (7.1, "Screening"), (2.6, "Included")):
        ax.text(0.05, y, label, rotation=90, ha="left", va="center", fontsize=8, color=PALETTE["muted"])
    ax.set_title(title)
    return fig


MARKS = {"positive": ("^", "positive"), "negative": ("v", "negative"), "null": ("o", "no effect"),
         "mixed": ("D", "mixed (no direction in ≥ 70 % of results)")}


def effect_direction_plot(votes: pd.DataFrame, cells: list[str], title: str):
    """Effect-direction plot (Thomson & Thomas 2013; Boon & Thomson 2021): one vote per study per cell.

    Rows are studies, columns the cells of the box score (e.g. help-seeking type × outcome); the
    mark is the study's vote by the 70 % rule: ▲ positive, ▼ negative, ● no effect, ◆ mixed.
    Filled = at least one statistically significant result in the cell; open = none. The legend
    draws only the marks the plot uses; a study admitted by a stated rule carries its mark after its
    name († proxy, ‡ other comparator, § published after the review).
    """
    import matplotlib.pyplot as plt

    marks = votes.groupby("study_id")["marks"].agg(lambda m: "".join(dict.fromkeys("".join(m.fillna("").astype(str)))))
    votes = votes.assign(cell=votes[cells].astype(str).agg(" · ".join, axis=1).str.replace("_", " "),
                         study_label=votes["study_id"] + " " + votes["study_id"].map(marks))
    votes["study_label"] = votes["study_label"].str.strip()
    columns = sorted(votes["cell"].unique())
    labels = sorted(votes["study_label"].unique(), key=str.lower, reverse=True)
    colour = {"positive": PALETTE["positive"], "negative": PALETTE["negative"], "null": PALETTE["null"],
              "mixed": PALETTE["muted"]}
    fig, ax = plt.subplots(figsize=(2.4 + 1.0 * len(columns), 1.2 + 0.19 * len(labels)))
    for r in votes.itertuples():
        filled = r.significant == "yes"
        ax.scatter(columns.index(r.cell), labels.index(r.study_label), marker=MARKS[r.vote][0], s=40,
                   edgecolor=colour[r.vote], facecolor=colour[r.vote] if filled else "white", lw=1.0, zorder=3)
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, rotation=35, ha="right", fontsize=7.5)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylim(-0.8, len(labels) - 0.2)
    ax.grid(axis="y", color="#eeeeee", lw=0.6)
    used = [v for v in MARKS if (votes["vote"] == v).any()]
    handles = [plt.Line2D([], [], marker=MARKS[v][0], ls="", color=colour[v], mfc=colour[v], label=MARKS[v][1])
               for v in used]
    if (votes["significant"] == "yes").any():
        handles.append(plt.Line2D([], [], marker="s", ls="", color=PALETTE["ink"], label="filled: a significant result"))
    if (votes["significant"] != "yes").any():
        handles.append(plt.Line2D([], [], marker="s", ls="", color=PALETTE["ink"], mfc="white",
                                  label="open: no significant result"))
    for mark, words in (("†", "proxy measure"), ("‡", "other comparator"), ("§", "published after the review")):
        if mark in "".join(marks):
            handles.append(plt.Line2D([], [], ls="", label=f"{mark} {words}"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    ax.set_title(title)
    return fig
