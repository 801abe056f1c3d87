"""robvis-style risk-of-bias figures (McGuinness & Higgins 2021): the traffic-light plot and the
weighted summary plot, per review (notebook 01).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .appraisal import LEVEL, ROBVIS, TOOL_NAMES, TOOLS, study_judgements


def _legend(tool: str):
    from matplotlib.patches import Patch
    words = {"rob2": {"low": "Low", "some concerns": "Some concerns", "high": "High", "no information": "No information"},
             "jbi_cross_sectional": {"low": "Yes (low)", "some concerns": "Unclear (some concerns)",
                                     "high": "No (high)", "no information": "No information"}}[tool]
    return [Patch(facecolor=ROBVIS[k][0], edgecolor="black", label=f"{ROBVIS[k][1]}  {v}") for k, v in words.items()]


def traffic_light_plot(rob: pd.DataFrame, title: str):
    """robvis' traffic-light plot: one row per study, one column per domain and the overall judgement.

    Colours and symbols as robvis (McGuinness & Higgins 2021, Res Synth Methods 12:55): green + low,
    yellow − some concerns, red × high, blue ? no information; a JBI answer is drawn on the same
    scale (yes → low, unclear → some concerns, no → high), not applicable left blank. One tool per
    figure (the first tool of the sheet).
    """
    import matplotlib.pyplot as plt
    table = study_judgements(rob)
    tool = table["tool"].iloc[0]
    table = table[table["tool"] == tool]
    domains = list(TOOLS[tool][0])
    columns = domains + ["overall"]
    n_rows = len(table)
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * len(columns) + 1.6, 1.4 + 0.45 * n_rows))
    for r, row in enumerate(table.itertuples(index=False)):
        values = row._asdict()
        for c, column in enumerate(columns):
            level = LEVEL.get(values.get(column)) if column != "overall" else values["overall"]
            colour, symbol = ROBVIS[level]
            ax.add_patch(plt.Circle((c, r), 0.36, facecolor=colour, edgecolor="black" if level else "#BBBBBB",
                                    linewidth=0.8))
            ax.text(c, r, symbol if level else "n/a", ha="center", va="center", fontsize=12 if level else 7,
                    fontweight="bold" if level else "normal")
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylim(n_rows - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks(range(len(columns)), [*domains, "Overall"])
    ax.xaxis.tick_top()
    ax.set_yticks(range(n_rows), list(table["study_id"]))
    ax.axvline(len(domains) - 0.5, color="#888888", linewidth=0.8)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    key = "; ".join(f"{d}: {name}" for d, name in TOOLS[tool][0].items())
    ax.set_xlabel(f"{TOOL_NAMES[tool]}. {key}", fontsize=7, wrap=True)
    ax.legend(handles=_legend(tool), loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8,
              title="Judgement", title_fontsize=8)
    ax.set_title(title, pad=28)
    fig.tight_layout()
    return fig


def summary_shares(rob: pd.DataFrame, weights: dict | None = None) -> pd.DataFrame:
    """Share of (weighted) studies at each level per domain and overall, as robvis' summary plot.

    ``weights``: study_id → weight (e.g. participants); equal weights when None. Not applicable
    answers drop out of their domain's denominator.
    """
    table = study_judgements(rob)
    tool = table["tool"].iloc[0]
    table = table[table["tool"] == tool]
    w = table["study_id"].map(weights or {}).fillna(1.0 if not weights else 0.0).astype(float)
    rows = []
    for column in [*TOOLS[tool][0], "overall"]:
        levels = table[column].map(LEVEL) if column != "overall" else table["overall"]
        keep = levels.notna()
        total = float(w[keep].sum())
        for level in ("low", "some concerns", "high", "no information"):
            share = float(w[keep & (levels == level)].sum()) / total if total else float("nan")
            rows.append({"domain": column, "level": level, "share": share})
    return pd.DataFrame(rows)


def summary_plot(rob: pd.DataFrame, title: str, weights: dict | None = None, weight_label: str = "studies"):
    """robvis' weighted summary plot: one stacked bar per domain and overall, share of weight at each level."""
    import matplotlib.pyplot as plt
    table = study_judgements(rob)
    tool = table["tool"].iloc[0]
    shares = summary_shares(rob, weights)
    order = [*TOOLS[tool][0], "overall"]
    names = {**TOOLS[tool][0], "overall": "Overall risk of bias"}
    fig, ax = plt.subplots(figsize=(8.0, 0.9 + 0.42 * len(order)))
    for r, domain in enumerate(order):
        left = 0.0
        for level in ("low", "some concerns", "high", "no information"):
            share = shares.loc[(shares["domain"] == domain) & (shares["level"] == level), "share"].iloc[0]
            if share > 0:
                ax.barh(r, share * 100, left=left, color=ROBVIS[level][0], edgecolor="black", linewidth=0.6)
            left += 0 if np.isnan(share) else share * 100
    ax.set_yticks(range(len(order)), [f"{d} {names[d]}" if d != "overall" else names[d] for d in order])
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"Share of {weight_label} (%)")
    ax.legend(handles=_legend(tool), loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig
