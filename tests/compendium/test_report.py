"""The report's parts: parameters as run, provenance without a clock or a commit, alt text, the comparison view."""
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

import helpers as h
from compendium import report

ROOT = Path(__file__).resolve().parents[2]


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def code(source, tags=()):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    return cell


def test_parameters_cell_is_read_with_its_comments_and_papermill_overrides():
    nb = notebook(nbformat.v4.new_markdown_cell("# 03 · Pooled\n\n**What this step does.** It fits `x`.\n"),
                  code('reviews = []   # folders to run\ntau2_method = "REML"  # tau² estimator\nlevel = 0.95',
                       ["parameters"]),
                  code('tau2_method = "PM"\n', ["injected-parameters"]))
    table = report.notebook_parameters(nb)
    assert list(table["parameter"]) == ["reviews", "tau2_method", "level"]
    assert list(table["value"]) == [[], "PM", 0.95]
    assert list(table["set_by"]) == ["default", "this build", "default"]
    assert table["meaning"].iloc[1] == "tau² estimator"
    shown = report.with_parameters(nb)
    assert "report-parameters" in shown.cells[3].metadata["tags"], "after the injected cell"
    assert shown.cells[3]["id"] == report.with_parameters(nb).cells[3]["id"], "no random cell id"
    page = shown.cells[3].outputs[0]["data"]["text/html"]
    assert 'id="parameters"' in page and "&#x27;PM&#x27;" in page
    assert report.one_line(nb) == ("03 · Pooled", "It fits <code>x</code>.")


def test_provenance_names_the_fingerprint_of_the_inputs_the_same_in_any_copy(tmp_path):
    """A copy of the inputs (no git) gives the same fingerprint; a new output or a cache does not change
    it; a changed notebook cell does; no clock."""
    for name in ("src/compendium/report.py", "data/raw/behr2025/review.json", "notebooks/03_pooled_models.ipynb",
                 "requirements.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, tmp_path / name)
    first = report.build_info(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{64}", first.inputs) and report.build_info(tmp_path) == first
    assert f"<code>{first.inputs[:16]}</code>" in report.provenance_html(first)
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "new.png").write_bytes(b"an output")
    (tmp_path / "src" / "compendium" / "__pycache__").mkdir()
    (tmp_path / "src" / "compendium" / "__pycache__" / "report.cpython-311.pyc").write_bytes(b"a cache")
    nb = nbformat.read(tmp_path / "notebooks/03_pooled_models.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []  # outputs are not inputs
    nbformat.write(nb, tmp_path / "notebooks/03_pooled_models.ipynb")
    assert report.input_fingerprint(tmp_path) == first.inputs
    nb.cells[0].source += " "
    nbformat.write(nb, tmp_path / "notebooks/03_pooled_models.ipynb")
    assert report.input_fingerprint(tmp_path) != first.inputs
    (tmp_path / "requirements.txt").write_text("pandas==0.0\nnot-a-package-here==1.0\n")
    packages = dict(report.build_info(tmp_path).packages)
    assert packages["pandas"] == pd.__version__ and packages["not-a-package-here"] == "not installed"


def test_the_fingerprint_of_a_fresh_clone_is_that_of_the_working_tree(tmp_path):
    """The committed report names what a fresh clone's build names: the fingerprint does not depend on
    git, HEAD or the outputs, so a plain build of a clone leaves ``git status`` clean (with the test
    that the rebuilt report is the committed one, byte for byte)."""
    if not (shutil.which("git") and (ROOT / ".git").exists()):
        pytest.skip("not a git checkout")
    changed = subprocess.run(["git", "status", "--porcelain", "--", *report.INPUTS], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    if changed.strip():
        pytest.skip("inputs changed since the last commit: a clone would have other inputs")
    subprocess.run(["git", "clone", "-q", "--shared", str(ROOT), str(tmp_path / "clone")], check=True)
    assert report.input_fingerprint(tmp_path / "clone") == report.input_fingerprint(ROOT)
    page = (ROOT / "reports" / "index.html").read_text(encoding="utf-8")
    assert f"<code>{report.input_fingerprint(ROOT)[:16]}</code>" in page, "the committed page names the committed inputs"


def test_figure_output_carries_its_caption_as_alt_text(tmp_path):
    import matplotlib.pyplot as plt

    h.set_style()
    out = h.save_figure(plt.figure(figsize=(1, 1)), "f", tmp_path, "forest plot, online support groups", tmp_path)
    page = out._repr_html_()
    assert 'alt="Forest plot, online support groups."' in page and "data:image/png;base64," in page
    assert repr(out) == "Figure: forest plot, online support groups [f.png, f.svg]"


def test_the_template_gives_a_png_output_its_text_as_alt(tmp_path):
    from nbconvert import HTMLExporter

    cell = code("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "a funnel plot"})]
    exporter = HTMLExporter(template_name="compendium", extra_template_basedirs=[str(ROOT / "tools" / "report_template")],
                            exclude_input=True)
    body, _ = exporter.from_notebook_node(notebook(cell))
    assert 'alt="a funnel plot"' in body and "No description" not in body


def test_comparison_view_states_published_values_and_caveats_in_words():
    comparison = pd.DataFrame([
        {"review": "r1", "published_analysis": "a", "metric": "d", "published_estimate": 0.47, "published_p": np.nan,
         "our_analysis": "A", "k": 0, "n": 0.0, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "pval": np.nan,
         "test": np.nan, "ci_low_z": np.nan, "ci_high_z": np.nan, "pval_z": np.nan, "k_le_3": True, "single_study": False,
         "published_included": 70.0, "published_k": np.nan, "studies_not_admitted": 0, "mapping_uncertain": True,
         "why": "blended intervention pooled", "note": ""},
        {"review": "r1", "published_analysis": "b", "metric": "r", "published_estimate": np.nan, "published_p": 0.0004,
         "our_analysis": "B", "k": 3, "n": 414.0, "estimate": 0.5, "ci_low": 0.2, "ci_high": 0.8, "pval": 0.0004,
         "test": "modified Hartung–Knapp", "ci_low_z": 0.3, "ci_high_z": 0.7, "pval_z": 0.0001, "k_le_3": True, "single_study": False,
         "published_included": 70.0, "published_k": 12.0, "studies_not_admitted": 2, "mapping_uncertain": False,
         "why": "", "note": ""}])
    view = h.show(report.comparison_view(comparison))
    assert list(view["published"]) == ["d = 0.470", "r: not significant, value not given"]
    assert list(view["n"]) == ["0", "414"] and list(view["pval"]) == ["–", "< .001"]
    assert list(view["note"]) == [
        "70 studies in the review, published k not stated; mapping uncertain: blended intervention pooled",
        "70 studies in the review, published k 12; 2 studies not admitted by the primary rule"]


def test_the_landing_story_is_built_from_the_comparison_table():
    """What was re-run, how far our extraction goes, where the published value falls, the largest difference:
    every number from the table (here made up), counts in the right number."""
    rows = [  # review, k, estimate, ci_low, ci_high, published_estimate, published_included
        ("rev_a", 3, 0.50, 0.20, 0.80, 0.45, 40), ("rev_a", 0, np.nan, np.nan, np.nan, 0.30, 40),
        ("rev_b", 2, -0.01, -0.36, 0.33, 0.09, 19), ("rev_b", 1, 0.22, np.nan, np.nan, 0.25, 19),
        ("rev_b", 2, 0.11, -0.14, 0.34, np.nan, 19)]
    table = pd.DataFrame(rows, columns=["review", "k", "estimate", "ci_low", "ci_high", "published_estimate",
                                        "published_included"])
    table["test"] = "modified Hartung–Knapp"
    table["metric"], table["our_analysis"] = "r", [f"analysis {i}" for i in range(len(table))]
    text = " ".join(report.landing_story(table, {"rev_a": "A et al. 2020", "rev_b": "B et al. 2021"}))
    assert "We re-ran 5 published pooled results of A et al. 2020 and B et al. 2021" in text
    assert "3 analyses pool k = 2–3 studies; 1 analysis rests on a single study" in text
    assert "1 analysis has no convertible study" in text and "included 40 (A et al. 2020) and 19 (B et al. 2021)" in text
    assert "(3 analyses), the published estimate lies inside our 95% modified Hartung–Knapp interval in both pooled ones" in text
    assert "for 1 analysis the published review gives no value" in text
    assert "Of our 3 pooled modified Hartung–Knapp intervals, 2 include zero" in text
    assert "analysis 2 (B et al. 2021): ours −.01 [−.36, .33] from 2 studies, published r = .09" in text
    assert report.landing_story(table.iloc[:0]) and "1 studies" not in text


def test_review_names_come_from_the_citation(tmp_path):
    folder = tmp_path / "data" / "raw" / "x2020"
    folder.mkdir(parents=True)
    (folder / "review.json").write_text('{"citation": "Smith J, Doe A. Some Journal 2020;1:2"}')
    assert report.review_names(tmp_path, ["x2020", "missing"]) == {"x2020": "Smith et al. 2020", "missing": "missing"}
