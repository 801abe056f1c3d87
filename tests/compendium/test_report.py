"""The report's parts: parameters as run, provenance without a clock, alt text, the comparison view."""
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd

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


def test_provenance_names_the_commit_of_a_checkout_and_nothing_outside_git(tmp_path):
    outside = report.build_info(tmp_path)
    assert outside.commit == "" and "outside git" in report.provenance_html(outside)
    if shutil.which("git") and (ROOT / ".git").exists():
        inside = report.build_info(ROOT)
        assert re.fullmatch(r"[0-9a-f]{40}", inside.commit) and re.match(r"\d{4}-\d\d-\d\d", inside.commit_date)
        assert report.build_info(ROOT) == inside, "no clock: the same commit gives the same answer"
    (tmp_path / "requirements.txt").write_text("pandas==0.0\nnot-a-package-here==1.0\n")
    packages = dict(report.build_info(tmp_path).packages)
    assert packages["pandas"] == pd.__version__ and packages["not-a-package-here"] == "not installed"


def test_masking_makes_builds_of_two_commits_compare_equal():
    a = report.BuildInfo("a" * 40, "2025-01-01T00:00:00+00:00", "3.11.7", ())
    b = report.BuildInfo("b" * 40, "2025-02-01T00:00:00+00:00", "3.11.7", ())
    page_a, page_b = (f"<p>x</p>\n{report.provenance_html(i)}\n<p>y</p>" for i in (a, b))
    assert page_a != page_b
    assert report.mask_provenance(page_a) == report.mask_provenance(page_b)
    assert "<p>y</p>" in report.mask_provenance(page_a)


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
