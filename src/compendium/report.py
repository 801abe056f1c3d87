"""The HTML report (the build's last step): every executed notebook as a page that shows the parameters
it ran with, and a landing page that summarises the comparison (a figure of published against our
estimates, the caveat, one line per notebook) and names the build: parameters, commit, its date and
package versions.

Everything on the pages is deterministic: the date is the commit date of HEAD, not the clock, so a
rebuild of one commit gives the same bytes. Only the landing page's provenance paragraph
(``<p id="build-provenance">``) names the commit; :func:`mask_provenance` blanks it for comparing
builds of different commits.
"""
from __future__ import annotations

import ast
import copy
import html
import importlib.metadata
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .certainty import findings_html
from .comparison import what_this_comparison_is
from .display import NA, integer_text, number_text, p_text, show, table_html
from .figures import comparison_plot, save_figure, set_style
from .files import read_table

NOTEBOOKS = ("00_worked_example", "01_data_extraction", "02_effect_size_harmonisation", "03_pooled_models",
             "04_forest_funnel_plots", "05_box_score_mediator_synthesis", "06_simulation_lab")
PROVENANCE = re.compile(r'(<p id="build-provenance">).*?(</p>)', re.S)


@dataclass(frozen=True)
class BuildInfo:
    """What a build was made from: the commit (HEAD when it ran) and its date, Python, package versions.

    ``commit`` and ``commit_date`` are "" outside a git checkout (e.g. a copy of the tracked files).
    """

    commit: str
    commit_date: str
    python: str
    packages: tuple

    def to_frame(self) -> pd.DataFrame:
        """One row per package: ``package``, ``version``."""
        return pd.DataFrame(list(self.packages), columns=["package", "version"])


def build_info(root: Path | str) -> BuildInfo:
    """The commit of ``root`` (``git log -1``: hash and ISO commit date) and the installed versions of
    the packages ``requirements.txt`` pins (``importlib.metadata``). No clock: the same commit built
    twice gives the same answer."""
    root = Path(root)
    try:
        out = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%H%n%cI"], capture_output=True,
                             text=True, check=True, timeout=20).stdout.split()
        commit, date = (out + ["", ""])[:2]
    except (OSError, subprocess.SubprocessError):
        commit, date = "", ""
    names = []
    requirements = root / "requirements.txt"
    if requirements.exists():
        names = re.findall(r"^\s*([A-Za-z0-9_.-]+)\s*==", requirements.read_text(), flags=re.M)
    packages = []
    for name in names:
        try:
            packages.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            packages.append((name, "not installed"))
    return BuildInfo(commit, date, ".".join(map(str, sys.version_info[:3])), tuple(packages))


def mask_provenance(text: str) -> str:
    """``text`` (a landing page) with the provenance paragraph blanked: builds of different commits compare equal."""
    return PROVENANCE.sub(r"\1(provenance)\2", text)


# -- parameters ------------------------------------------------------------------------------------

def cell_parameters(source: str) -> list[tuple[str, object, str]]:
    """(name, value, comment) of every ``name = literal  # comment`` line of a parameters cell."""
    out = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                value = ast.get_source_segment(source, node.value)
            line = source.splitlines()[node.lineno - 1]
            comment = line.split("#", 1)[1].strip() if "#" in line[node.value.end_col_offset:] else ""
            out.append((node.targets[0].id, value, comment))
    return out


def notebook_parameters(nb) -> pd.DataFrame:
    """The parameters an executed notebook ran with: its ``parameters`` cell (the defaults), overridden by
    papermill's ``injected-parameters`` cell. Columns ``parameter``, ``value``, ``set_by``, ``meaning``."""
    defaults, injected = [], {}
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and "parameters" in tags:
            defaults = cell_parameters(cell.source)
        elif cell.cell_type == "code" and "injected-parameters" in tags:
            injected = {name: value for name, value, _ in cell_parameters(cell.source)}
    rows = [(name, injected.get(name, value), "this build" if name in injected else "default", comment)
            for name, value, comment in defaults]
    rows += [(name, value, "this build", "") for name, value in injected.items() if name not in dict.fromkeys(
        n for n, _, _ in defaults)]
    return pd.DataFrame(rows, columns=["parameter", "value", "set_by", "meaning"])


def _value_text(value) -> str:
    if isinstance(value, list) and not value:
        return "[] (all)"
    return repr(value)


def parameters_html(table: pd.DataFrame, heading: str = "Parameters this page ran with") -> str:
    """A boxed table of :func:`notebook_parameters` (``id="parameters"``, so the browser test finds it)."""
    rows = "".join(f"<tr><td><code>{html.escape(r.parameter)}</code></td><td><code>{html.escape(_value_text(r.value))}"
                   f"</code></td><td>{html.escape(r.set_by)}</td><td>{html.escape(r.meaning)}</td></tr>"
                   for r in table.itertuples())
    return (f'<div id="parameters" class="repro-parameters"><p><strong>{html.escape(heading)}</strong> '
            f"(the notebook's <code>parameters</code> cell; a build run with <code>-p name=value</code> "
            f"overrides it)</p><table class=\"repro\"><thead><tr><th>Parameter</th><th>Value</th><th>Set by</th>"
            f"<th>Meaning</th></tr></thead><tbody>{rows}</tbody></table></div>")


def with_parameters(nb):
    """A copy of ``nb`` with an output cell after its parameters showing :func:`parameters_html` (the code
    cells themselves are hidden in the report)."""
    import nbformat

    nb = copy.deepcopy(nb)
    tags = [c.get("metadata", {}).get("tags", []) for c in nb.cells]
    where = max((i for i, t in enumerate(tags) if "parameters" in t or "injected-parameters" in t), default=-1)
    cell = nbformat.v4.new_code_cell(source="# parameters as run (added by the report)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": parameters_html(notebook_parameters(nb)),
                                                                  "text/plain": "parameters"})]
    cell.metadata["tags"] = ["report-parameters"]
    cell["id"] = "report-parameters"  # fixed, not nbformat's random id: the page must rebuild byte for byte
    nb.cells.insert(where + 1, cell)
    return nb


# -- the landing page ------------------------------------------------------------------------------

def one_line(nb) -> tuple[str, str]:
    """(title, one line) of a notebook: its first heading and the sentence after "What this step does."."""
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    title = first.splitlines()[0].lstrip("# ").strip() if first else ""
    found = re.search(r"\*\*What this step does\.\*\*\s*(.+?)(?:\n|$)", first)
    line = found.group(1).strip() if found else ""
    line = html.escape(line)
    return title, re.sub(r"`([^`]+)`", r"<code>\1</code>", line)


def comparison_view(comparison: pd.DataFrame) -> pd.DataFrame:
    """The comparison table for the landing page: published value and ours side by side, flags as one note."""
    def published(r) -> str:
        if pd.isna(r.published_estimate):
            return f"{r.metric}: not significant, value not given"
        p = "" if pd.isna(r.published_p) else f", p {p_text(r.published_p)}"
        return f"{r.metric} = {number_text(r.published_estimate, 3)}{p}"

    def caveats(r) -> str:
        out = []  # k, "no convertible study" and "single study" are in the k column and the note already
        if pd.notna(r.published_included):
            k = f"published k {integer_text(r.published_k)}" if pd.notna(r.published_k) else "published k not stated"
            out.append(f"{integer_text(r.published_included)} studies in the review, {k}")
        if r.studies_not_admitted:
            out.append(f"{integer_text(r.studies_not_admitted)} studies not admitted by the primary rule")
        if r.mapping_uncertain:
            out.append(f"mapping uncertain: {r.why}")
        if isinstance(r.note, str) and r.note:
            out.append(r.note)
        return "; ".join(dict.fromkeys(out))

    rows = [{"review": r.review, "analysis": r.our_analysis, "published": published(r), "k": r.k, "n": r.n,
             "test": r.test, "estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high, "pval": r.pval,
             "ci_low_z": r.ci_low_z, "ci_high_z": r.ci_high_z, "pval_z": r.pval_z, "note": caveats(r)}
            for r in comparison.itertuples()]
    return pd.DataFrame(rows)


def provenance_html(info: BuildInfo) -> str:
    """The paragraph that names the commit and date (masked by :func:`mask_provenance`)."""
    made = (f"commit <code>{info.commit[:12]}</code> of {html.escape(info.commit_date[:10])}" if info.commit
            else "a copy outside git (no commit to name)")
    return f'<p id="build-provenance">Built from {made}; the build names HEAD as it ran (the outputs are ' \
           "committed after it).</p>"


def _build_section(parameters: dict | None, pages: dict, info: BuildInfo) -> str:
    """Parameters (defaults and overrides, per notebook), provenance, Python and package versions."""
    rows = []
    for name, table in pages.items():
        for r in table.itertuples():
            value = parameters[r.parameter] if parameters and r.parameter in parameters else r.value
            rows.append((r.parameter, _value_text(value), name[:2], r.meaning,
                         "this build" if parameters and r.parameter in parameters else "default"))
    merged = {}
    for parameter, value, nb, meaning, set_by in rows:
        key = (parameter, value)
        entry = merged.setdefault(key, [parameter, value, [], meaning, set_by])
        entry[2].append(nb)
    body = "".join(f"<tr><td><code>{html.escape(p)}</code></td><td><code>{html.escape(v)}</code></td>"
                   f"<td>{', '.join(nbs)}</td><td>{html.escape(s)}</td><td>{html.escape(m)}</td></tr>"
                   for p, v, nbs, m, s in merged.values())
    packages = ", ".join(f"{html.escape(n)} {html.escape(v)}" for n, v in info.packages)
    other = ("<p><strong>Built with parameters other than the defaults:</strong> "
             + html.escape(", ".join(f"{k} = {v!r}" for k, v in sorted(parameters.items()))) + "</p>") if parameters else ""
    return (f'<div id="parameters" class="repro-parameters">{other}'
            f'<table class="repro"><thead><tr><th>Parameter</th><th>Value</th><th>Notebooks</th><th>Set by</th>'
            f"<th>Meaning</th></tr></thead><tbody>{body}</tbody></table></div>\n{provenance_html(info)}\n"
            f"<p>Python {info.python}; packages (pinned in <code>requirements.txt</code>): {packages}.</p>")


PAGE_CSS = """body { font-family: "DejaVu Sans", Arial, sans-serif; max-width: 1100px; margin: 0 auto;
  padding: 1rem 2rem 3rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
li { margin: 0.25rem 0; } code { font-size: 0.9em; background: #f3f3f3; padding: 0 0.2em; }
div.repro-parameters { background: #f7f9fc; border: 1px solid #d5deea; padding: 0.3rem 0.8rem; margin: 0.5rem 0 1rem; }"""


def teaching_page(root: Path, reports_dir: Path, exporter) -> Path | None:
    """``docs/teaching.md`` (class plan and glossary) as a report page in the notebooks' style, or None."""
    import nbformat

    source = root / "docs" / "teaching.md"
    if not source.exists():
        return None
    cell = nbformat.v4.new_markdown_cell(source.read_text(encoding="utf-8"))
    cell["id"] = "teaching"  # a fixed id: the page is the same on every build
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"language_info": {"name": "python"}})
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": "Teaching guide and glossary"}})
    page = reports_dir / "teaching.html"
    page.write_text(body, encoding="utf-8")
    return page


def report_exporter(root: Path | str):
    """nbconvert's HTML exporter with the report's template (``tools/report_template``): inputs and prompts hidden."""
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="compendium", extra_template_basedirs=[str(Path(root) / "tools" / "report_template")],
                        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)


@dataclass(frozen=True)
class NotebookPage:
    """One notebook's report page: its HTML, its parameters table, and its title and one-line summary."""

    body: str
    parameters: pd.DataFrame
    title: str
    line: str


def render_page(path: Path | str, name: str, exporter) -> NotebookPage:
    """Render the executed notebook at ``path`` as the report page of notebook ``name``.

    The build calls it as soon as a notebook is done, while others still run; :func:`build_report`
    takes such pages or renders them itself.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    body, _ = exporter.from_notebook_node(with_parameters(nb), resources={"metadata": {"name": name}})
    title, line = one_line(nb)
    return NotebookPage(body, notebook_parameters(nb), title, line)


def build_report(root: Path | str, reports_dir: Path | str | None = None, parameters: dict | None = None,
                 rendered: dict[str, NotebookPage] | None = None) -> Path:
    """Render each executed notebook to HTML (inputs hidden, images embedded, its parameters shown) and
    write ``index.html``, the landing page (see the module docstring); returns its path.

    ``parameters`` (those a build was run with, if not the notebooks' defaults) are named on the
    landing page. ``rendered`` holds pages :func:`render_page` made already from the same notebooks.
    The template is nbconvert's lab template without the scripts it would fetch from the network
    (``tools/report_template``), so the report opens offline and without console errors.
    """
    root = Path(root)
    reports_dir = Path(reports_dir) if reports_dir else root / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    exporter = report_exporter(root)
    rendered = rendered or {}
    links, pages = [], {}
    for name in NOTEBOOKS:
        page = rendered.get(name) or render_page(root / "notebooks" / f"{name}.ipynb", name, exporter)
        pages[name] = page.parameters
        (reports_dir / f"{name}.html").write_text(page.body, encoding="utf-8")
        links.append(f'<li><a href="{name}.html">{html.escape(page.title or name)}</a>: {page.line}</li>')
    guide = teaching_page(root, reports_dir, exporter)
    if guide:
        links.append(f'<li><a href="{guide.name}">Teaching guide and glossary</a>: a class plan of 2 × 90 minutes '
                     "through the notebooks, and the terms they use</li>")
    tables_dir = root / "reports" / "tables"
    comparison_path = tables_dir / "comparison.csv"
    figure = ""
    comparison = read_table(comparison_path) if comparison_path.exists() else None
    if comparison is not None and len(comparison):
        summary = "".join(f"<p>{html.escape(s)}</p>" for s in what_this_comparison_is(comparison))
        table = table_html(show(comparison_view(comparison)))
        metrics = {}
        for review in dict.fromkeys(comparison["review"]):
            meta = root / "data" / "raw" / review / "review.json"
            if meta.exists():
                metrics[review] = json.loads(meta.read_text(encoding="utf-8")).get("display_metric", "effect")
        set_style()
        lead = ", ".join(t for t in dict.fromkeys(comparison["test"].dropna().astype(str)) if t) or "leading test"
        out = save_figure(comparison_plot(comparison, metrics, title=""), "comparison_published_vs_ours", root / "figures",
                          f"published pooled results beside ours: for each analysis our estimate with its {lead} "
                          "interval (thick), the z interval (thin) and the published estimate as an open diamond", root)
        figure = out._repr_html_()
    elif comparison is not None:
        summary, table = "<p>No review in this build has published results to compare with.</p>", ""
    else:
        summary, table = "<p>Run the build to make the comparison.</p>", ""
    findings = findings_html(tables_dir)  # GRADE summary of findings beside the comparison (compendium/appraisal.py)
    tables = sorted(tables_dir.glob("*.csv")) if tables_dir.exists() else []
    table_links = "".join(f'<li><a href="tables/{p.name}">{p.name}</a></li>' for p in tables) \
        if reports_dir == root / "reports" else "".join(f"<li>{p.name}</li>" for p in tables)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Digital mental health meta-analysis compendium</title>
<style>
{PAGE_CSS}
</style>
</head>
<body>
<h1>Re-running two meta-analyses in digital mental health</h1>
<p>Bizzotto et al. 2023 (web-based help seeking and depressive symptoms) and Behr et al. 2025 (self-efficacy in
internet-based interventions), re-run from an open extraction of public study reports. Every extracted number
carries its source; the engine agrees with R metafor to 1e-6.</p>
<h2>Published pooled results beside ours</h2>
{figure}
<h2>What this comparison is</h2>
{summary}
<h2>The comparison in numbers</h2>
<p>Our estimate with the leading test's interval and p, and the z interval beside it (estimates on each review's display scale; p in APA form;
"{NA}" where nothing was pooled). The machine-readable table with every flag at full precision is
<code>tables/comparison.csv</code>.</p>
{table}
{findings}
<h2>The notebooks</h2>
<ol>
{chr(10).join(links)}
</ol>
<h2>This build</h2>
{_build_section(parameters, pages, build_info(root))}
<h2>Tables (CSV, full precision)</h2>
<ul style="columns: 3">{table_links}</ul>
</body>
</html>
"""
    index = reports_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
