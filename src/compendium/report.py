"""The HTML report (the build's last step): every executed notebook as a page that shows the parameters
it ran with, and a landing page that tells the story of the comparison (what was re-run, how far our
extraction goes, the published results beside ours and why they differ, built from the numbers), one
line per notebook, and names the build: parameters, a fingerprint of its inputs, package versions.

Everything on the pages is deterministic: no clock, no commit hash. The provenance names the SHA-256
of the build's inputs (:func:`input_fingerprint`), which a rebuild of the same inputs reproduces in any
clone, so a plain build of a fresh clone leaves ``git status`` clean.
"""
from __future__ import annotations

import ast
import copy
import hashlib
import html
import importlib.metadata
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .certainty import findings_html
from .comparison import K_NOT_STATED
from .display import NA, count_text, integer_text, number_text, p_text, sentence_number, show, table_html
from .figures import comparison_plot, save_figure, set_style
from .files import read_table
from .small_k import RULES

NOTEBOOKS = ("00_worked_example", "01_data_extraction", "02_effect_size_harmonisation", "03_pooled_models",
             "04_forest_funnel_plots", "05_box_score_mediator_synthesis", "06_simulation_lab")
INPUTS = ("src", "tools", "data/raw", "data/classic", "notebooks", "requirements.txt", "docs/teaching.md")
SKIPPED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}


def _notebook_sources(data: bytes) -> bytes:
    """The cell types and sources of a notebook (what a reader wrote), not its outputs or metadata."""
    cells = json.loads(data.decode("utf-8")).get("cells", [])
    return json.dumps([(c.get("cell_type"), "".join(c.get("source", ""))) for c in cells]).encode("utf-8")


def input_fingerprint(root: Path | str) -> str:
    """SHA-256 of the build's inputs under ``root``: every file of :data:`INPUTS` (notebooks by their cell
    sources only), each as its path and its bytes, in path order.

    The outputs (notebook outputs, processed data, figures, reports) are not inputs, so a build does not
    change the fingerprint, and the same inputs give the same value in any clone or copy, with or
    without git. A folder's caches (``__pycache__``, ``*.pyc``) are left out.
    """
    root = Path(root)
    files = []
    for name in INPUTS:
        path = root / name
        if path.is_file():
            files.append(path)
        for folder, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            files += [Path(folder) / n for n in names if not n.endswith(".pyc")]
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        rel = path.relative_to(root).as_posix()
        data = path.read_bytes()
        if rel.startswith("notebooks/") and rel.endswith(".ipynb"):
            data = _notebook_sources(data)
        digest.update(f"{rel}\0{len(data)}\0".encode("utf-8") + data)
    return digest.hexdigest()


@dataclass(frozen=True)
class BuildInfo:
    """What a build was made from: the fingerprint of its inputs (:func:`input_fingerprint`), Python and
    the versions of the pinned packages."""

    inputs: str
    python: str
    packages: tuple

    def to_frame(self) -> pd.DataFrame:
        """One row per package: ``package``, ``version``."""
        return pd.DataFrame(list(self.packages), columns=["package", "version"])


def build_info(root: Path | str) -> BuildInfo:
    """The fingerprint of the inputs under ``root`` and the installed versions of the packages
    ``requirements.txt`` pins (``importlib.metadata``). No clock and no commit: the same inputs built
    twice, in any clone, give the same answer."""
    root = Path(root)
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
    return BuildInfo(input_fingerprint(root), ".".join(map(str, sys.version_info[:3])), tuple(packages))


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

def review_names(root: Path | str, reviews) -> dict[str, str]:
    """A readable name per review folder, "Behr et al. 2025", from ``review.json``'s ``citation`` (its first
    author's surname and its year); the folder id where the citation does not say."""
    names = {}
    for review in reviews:
        meta_path = Path(root) / "data" / "raw" / review / "review.json"
        citation = json.loads(meta_path.read_text(encoding="utf-8")).get("citation", "") if meta_path.exists() else ""
        author, year = re.match(r"\s*([^\s,]+)", citation), re.search(r"\b(19|20)\d\d\b", citation)
        names[review] = f"{author.group(1)} et al. {year.group(0)}" if author and year else review
    return names


def _value(x: float, metric: str) -> str:
    return f"{metric} = {sentence_number(x, 2)}"


def lead_tests(comparison: pd.DataFrame) -> str:
    """The name of the test the comparison's intervals come from (``test``; " / " between several), "z"
    for a table from before the leading test was recorded."""
    tests = [t for t in dict.fromkeys(comparison["test"].dropna().astype(str)) if t] if "test" in comparison else []
    return " / ".join(tests) or "z"


def landing_story(comparison: pd.DataFrame, names: dict[str, str] | None = None) -> list[str]:
    """The landing page's opening paragraphs, built from ``comparison.csv``: what was re-run, how far our
    extraction goes, how our estimates sit beside the published ones, and why they differ.

    "Inside" means the published estimate lies within our interval under the leading test (``test``,
    ``ci_low`` to ``ci_high``; notebook 03's ``ci_method``); the review's size is the number of studies it
    included (``published_included``);
    the example of a difference is the analysis with the largest absolute difference between the two
    estimates on the display scale.
    """
    names = names or {}
    if comparison.empty:
        return ["No review in this build lists published pooled results, so there is nothing to compare with."]
    reviews = list(dict.fromkeys(comparison["review"]))
    totals = comparison.drop_duplicates("review").set_index("review")["published_included"]
    lead = lead_tests(comparison)
    who = " and ".join(names.get(r, r) for r in reviews)
    n_pub = len(comparison)
    k = comparison["k"].fillna(0).astype(int)
    pooled = comparison[k >= RULES.min_k_pool]
    single, none = int((k == 1).sum()), int((k == 0).sum())
    out = [f"We re-ran {count_text(n_pub, 'published pooled result')} of {who} from our own open extraction of "
           "public study reports, in which every number carries its source."]
    reach = []
    if len(pooled):
        lo, hi = int(pooled["k"].min()), int(pooled["k"].max())
        reach.append(f"{count_text(len(pooled), 'analysis', 'analyses')} pool{'s' if len(pooled) == 1 else ''} "
                     f"k = {lo}{'' if lo == hi else f'–{hi}'} {'study' if hi == 1 else 'studies'}")
    if single:
        reach.append(f"{count_text(single, 'analysis', 'analyses')} rest{'s' if single == 1 else ''} on a single study "
                     "(shown, not pooled)")
    if none:
        reach.append(f"{count_text(none, 'analysis', 'analyses')} {'has' if none == 1 else 'have'} no convertible "
                     "study at all")
    given = [f"{int(totals[r])} ({names.get(r, r)})" for r in reviews if pd.notna(totals.get(r))]
    out.append("How far our extraction goes: " + "; ".join(reach) +
               (f". The published reviews included {' and '.join(given)} studies." if given else "."))
    both = comparison[(k >= 1) & comparison["published_estimate"].notna() & comparison["estimate"].notna()]
    with_ci = both[both["ci_low"].notna()]
    inside = (with_ci["published_estimate"] >= with_ci["ci_low"]) & (with_ci["published_estimate"] <= with_ci["ci_high"])
    zero = int(((pooled["ci_low"] <= 0) & (pooled["ci_high"] >= 0)).sum())
    no_value = int(((k >= 1) & comparison["published_estimate"].isna()).sum())
    n_ci, n_in = len(with_ci), int(inside.sum())
    share = ("both pooled ones" if n_ci == n_in == 2 else f"all {n_ci} pooled ones" if n_ci == n_in
             else f"{n_in} of the {count_text(n_ci, 'pooled one', 'pooled ones')}")
    compare = (f"Where both sides give a value ({count_text(len(both), 'analysis', 'analyses')}), the published "
               f"estimate lies inside our 95% {lead} interval in {share}")
    if no_value:
        compare += (f"; for {count_text(no_value, 'analysis', 'analyses')} the published review gives no value "
                    "(not significant, value not given)")
    if len(pooled):
        compare += f". Of our {len(pooled)} pooled {lead} intervals, {zero} include{'s' if zero == 1 else ''} zero"
    out.append(compare + ".")
    candidates = both[both["k"] >= RULES.min_k_pool] if (both["k"] >= RULES.min_k_pool).any() else both
    if len(candidates):
        r = candidates.loc[(candidates["estimate"] - candidates["published_estimate"]).abs().idxmax()]
        interval = (f" [{sentence_number(r['ci_low'], 2)}, {sentence_number(r['ci_high'], 2)}]"
                    if pd.notna(r["ci_low"]) else "")
        total = totals.get(r["review"])
        out.append("Why estimates differ: ours pool only the studies whose public reports print a convertible "
                   "statistic, a few of the studies each review included. The largest difference among the pooled "
                   f"analyses is {r['our_analysis']} ({names.get(r['review'], r['review'])}): ours "
                   f"{sentence_number(r['estimate'], 2)}{interval} from {count_text(int(r['k']), 'study', 'studies')}, "
                   f"published {_value(r['published_estimate'], r['metric'])}"
                   + (f" (the review included {int(total)} studies in all)" if pd.notna(total) else "") + ". "
                   "The authors' extraction sheets, dropped into data/raw/ in the same schema, would turn this "
                   "comparison into a reproduction.")
    return out


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
            out.append(f"{count_text(int(r.studies_not_admitted), 'study')} not admitted by the primary rule")
        said = set()
        if r.mapping_uncertain:
            out.append(f"mapping uncertain: {r.why}")
            said = set(str(r.why).split("; "))
        if isinstance(r.note, str) and r.note:  # what the note adds: k's absence and the reasons are said above
            out += [part for part in r.note.split("; ") if part not in said and part != K_NOT_STATED]
        return "; ".join(dict.fromkeys(out))

    rows = [{"review": r.review, "analysis": r.our_analysis, "published": published(r), "k": r.k, "n": r.n,
             "test": r.test, "estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high, "pval": r.pval,
             "ci_low_z": r.ci_low_z, "ci_high_z": r.ci_high_z, "pval_z": r.pval_z, "note": caveats(r)}
            for r in comparison.itertuples()]
    return pd.DataFrame(rows)


def provenance_html(info: BuildInfo) -> str:
    """The paragraph that names the fingerprint of the build's inputs (see :func:`input_fingerprint`)."""
    return (f'<p id="build-provenance">Built from inputs with fingerprint <code>{info.inputs[:16]}</code>: '
            "the SHA-256 of the code, the sheets, the notebooks' cell sources and <code>requirements.txt</code> "
            "(<code>input_fingerprint</code> in <code>src/compendium/report.py</code>). The same inputs give the "
            "same fingerprint in any clone, so a rebuild reproduces this page byte for byte.</p>")


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
        names = review_names(root, dict.fromkeys(comparison["review"]))
        summary = "".join(f"<p>{html.escape(s)}</p>" for s in landing_story(comparison, names))
        table = table_html(show(comparison_view(comparison).assign(review=lambda d: d["review"].map(names))))
        metrics = {}
        for review in dict.fromkeys(comparison["review"]):
            meta = root / "data" / "raw" / review / "review.json"
            if meta.exists():
                metrics[review] = json.loads(meta.read_text(encoding="utf-8")).get("display_metric", "effect")
        set_style()
        lead = lead_tests(comparison)
        out = save_figure(comparison_plot(comparison, metrics, title="", titles=names), "comparison_published_vs_ours", root / "figures",
                          f"published pooled results beside ours: for each analysis our estimate with its {lead} "
                          "interval (thick), the z interval (thin) and the published estimate as an open diamond", root)
        figure = out._repr_html_()
    elif comparison is not None:
        summary, table = "<p>No review in this build has published results to compare with.</p>", ""
    else:
        summary, table = "<p>Run the build to make the comparison.</p>", ""
    findings = findings_html(tables_dir, review_names(root, [p.name[: -len("_summary_of_findings.csv")] for p in
                                                          sorted(tables_dir.glob("*_summary_of_findings.csv"))]))
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
<div id="story">
{summary}
</div>
<h2>Published pooled results beside ours</h2>
{figure}
<h2>The comparison in numbers</h2>
<p>Our estimate with the leading test's interval and p, and the z interval beside it (estimates on each review's display scale; p in APA form;
"{NA}" where nothing was pooled). The machine-readable table with every flag at full precision is
<code>tables/comparison.csv</code>. The engine that computed them agrees with R metafor to a relative 1e-6.</p>
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
