"""The HTML report: every executed notebook as a page and a landing page (the build's last step).
"""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from .comparison import what_this_comparison_is
from .display import show
from .files import read_table

NOTEBOOKS = ("01_data_extraction", "02_effect_size_harmonisation", "03_pooled_models",
             "04_forest_funnel_plots", "05_box_score_mediator_synthesis")


def _html_table(frame: pd.DataFrame) -> str:
    """A compact HTML table in the display form of :func:`display.formatted`."""
    return show(frame).to_html(index=False, border=0, classes="repro", escape=True)


def build_report(root: Path | str, reports_dir: Path | str | None = None, parameters: dict | None = None) -> Path:
    """Render each executed notebook to HTML (inputs hidden, images embedded) and write ``index.html``.

    ``parameters`` (those a build was run with, if not the notebooks' defaults) are named at the
    top of the landing page. The template is nbconvert's lab template without the scripts it would fetch from the network
    (``tools/report_template``), so the report opens offline and without console errors.
    """
    import nbformat
    from nbconvert import HTMLExporter

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
    comparison_path = root / "reports" / "tables" / "comparison.csv"
    if comparison_path.exists():
        comparison = read_table(comparison_path)
        summary = "".join(f"<p>{html.escape(s)}</p>" for s in what_this_comparison_is(comparison))
        shown = comparison[["review", "published_analysis", "metric", "published_estimate", "published_p", "k", "n",
                            "estimate", "ci_low", "ci_high", "ci_low_knha", "ci_high_knha", "k_le_3", "single_study",
                            "later_studies", "proxy_share", "other_comparator", "mapping_uncertain", "note"]]
        table = _html_table(shown)
    else:
        summary, table = "<p>Run the build to make the comparison.</p>", ""
    made_with = ("<p><strong>Built with parameters other than the defaults:</strong> " +
                 html.escape(", ".join(f"{k} = {v!r}" for k, v in sorted(parameters.items()))) + "</p>") if parameters else ""
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
body {{ font-family: "DejaVu Sans", Arial, sans-serif; max-width: 1500px; margin: 2rem auto; padding: 0 1.5rem; color: #222; line-height: 1.45; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.2rem; margin-top: 2rem; }}
table.repro {{ border-collapse: collapse; font-size: 0.82rem; }}
table.repro th, table.repro td {{ border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }}
table.repro th {{ background: #f3f3f3; }}
table.repro td:last-child {{ min-width: 22rem; }}
div.wide {{ overflow-x: auto; }}
</style>
</head>
<body>
<h1>Re-running two meta-analyses in digital mental health</h1>
{made_with}
<h2>What this comparison is</h2>
{summary}
<p>Bizzotto et al. 2023 (web-based help seeking and depressive symptoms) and Behr et al. 2025 (self-efficacy in
internet-based interventions), re-run from an open extraction of public study reports. Every extracted number
carries its source; the engine agrees with R metafor to 1e-6.</p>
<h2>Published pooled results beside ours (comparison.csv)</h2>
<p>Our estimate with its z and Hartung–Knapp intervals; the flags say where k is 3 or less, where a single study
stands alone, and where later studies, proxies, other comparators or an uncertain mapping enter.</p>
<div class="wide">{table}</div>
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
