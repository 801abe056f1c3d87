"""End to end, on one build shared by every test here: a copy of the repository's tracked files built
by the build command's own function, which must give back the committed notebooks, tables, processed
data, figures and report byte for byte. Also: a drop-in review runs through all five notebooks without
code changes, the build's order and atomicity, the pinned environment, and the HTML report in headless
Chromium."""
import filecmp
import importlib.util
import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

import helpers as h

ROOT = Path(__file__).resolve().parents[1]
BUILT = ("notebooks", "data/processed", "figures", "reports")  # what the build writes (tables in reports/)


def load_tool(name: str = "compendium_tool"):
    """tools/compendium.py as a module (under its own name: src/compendium is a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "compendium.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = load_tool()


def fresh_copy(target: Path) -> Path:
    """The tracked files in ``target`` without the build's outputs, so the build must make every one.

    The notebooks find the copy as their repository root themselves: the kernels start in its
    notebooks/ folder, and they walk up from there to the folder that holds src/helpers.py.
    """
    tool.copy_tracked(ROOT, target)
    for folder in BUILT[1:]:
        shutil.rmtree(target / folder, ignore_errors=True)
    return target


MOLLOY = "https://wviechtb.github.io/metadat/reference/dat.molloy2014.html"


def make_dropin(raw: Path, name: str = "dropin_demo") -> Path:
    """A classic public data set dropped in as a correlational review: Molloy et al. (2014),
    conscientiousness and medication adherence, 16 studies with r and n (R package metadat).

    Every row converts, there is no screening.csv (an optional sheet), the codebook extends the
    outcome categories, and the pooled estimate has a known metafor value (tests/reference/).
    """
    import json

    ref = json.loads((ROOT / "tests" / "reference" / "metafor_reference.json").read_text())["molloy"]
    src = ROOT / "data" / "raw" / "bizzotto2023"
    target = raw / name
    target.mkdir(parents=True)
    book = pd.read_csv(src / "codebook.csv", dtype=str, keep_default_na=False)
    book = book[book["sheet"] != "screening"]
    book.loc[(book["sheet"] == "effects") & (book["column"] == "outcome"), "allowed"] += "|adherence"
    book.to_csv(target / "codebook.csv", index=False)
    columns = {sheet: list(book.loc[book["sheet"] == sheet, "column"]) for sheet in ("studies", "effects")}
    ids = [f"Molloy{i + 1:02d}" for i in range(len(ref["ri"]))]
    studies = pd.DataFrame({c: "" for c in columns["studies"]}, index=range(len(ids)))
    studies = studies.assign(study_id=ids, authors="see source", year="2014", title=[f"study {i}" for i in ids],
                             url=MOLLOY, design="cross_sectional", population="adults taking medication")
    effects = pd.DataFrame({c: "" for c in columns["effects"]}, index=range(len(ids)))
    effects = effects.assign(
        study_id=ids, effect_id=[f"{i}_1" for i in ids], help_seeking_type="other",
        help_seeking_as_printed="conscientiousness", comparator="continuous", outcome="adherence",
        outcome_proxy="none", statistic_type="r", statistic_as_printed=[f"r = {r}" for r in ref["ri"]],
        value=[str(r) for r in ref["ri"]], n_effect=[str(n) for n in ref["ni"]], adjusted="no",
        direction=["positive" if r > 0 else "negative" if r < 0 else "null" for r in ref["ri"]],
        significant="unclear", source=MOLLOY, location="dat.molloy2014, columns ri and ni")
    studies.to_csv(target / "studies.csv", index=False)
    effects.to_csv(target / "effects.csv", index=False)
    meta = {"design": "correlational", "transform": "tanh", "display_metric": "r", "xlabel": "r",
            "analyses": [{"name": "all", "label": "Conscientiousness ~ adherence", "filter": {}}],
            "box_score_by": ["outcome"]}
    (target / "review.json").write_text(json.dumps(meta, indent=2))
    return target


PLAIN = {"normand_plain": ("normand", ["m1", "sd1", "n1", "m2", "sd2", "n2"]), "bcg_plain": ("bcg", ["yi", "vi"])}


def make_plain_reviews(raw: Path, tables: Path) -> list[str]:
    """Normand (1999; means, SDs and ns) and the BCG trials (log risk ratios yi with vi) as plain
    tables, scaffolded with ``new-review`` as a user would: no schema learnt, no screening sheet."""
    import json

    from compendium.scaffold import new_review

    ref = json.loads((ROOT / "tests" / "reference" / "metafor_reference.json").read_text())
    for name, (data, columns) in PLAIN.items():
        table = pd.DataFrame({c: ref[data][c] for c in columns})
        table.insert(0, "study_id", [f"{data.capitalize()}{i + 1:02d}" for i in range(len(table))])
        table.to_csv(tables / f"{data}.csv", index=False)
        new_review(name, tables / f"{data}.csv", raw)
    (raw / "bcg_plain" / "screening.csv").unlink()  # an optional sheet a user may lack
    return list(PLAIN)


REVIEW_NOTEBOOKS = [n for n in tool.NOTEBOOKS if n[:2] in ("01", "02", "03", "04", "05")]  # those that read data/raw


@pytest.fixture(scope="session")
def builds(tmp_path_factory):
    """The one build of the repository, and the drop-in review's, run at the same time.

    Returns a dict: ``repo`` and ``dropin`` (the two copies) and ``seconds`` (the drop-in's timings).
    """
    repo = fresh_copy(tmp_path_factory.mktemp("build"))
    dropin = fresh_copy(tmp_path_factory.mktemp("dropin"))
    make_dropin(dropin / "data" / "raw")
    plain = make_plain_reviews(dropin / "data" / "raw", tmp_path_factory.mktemp("plain"))
    with ThreadPoolExecutor(2) as pool:
        whole = pool.submit(tool.build, root=repo)
        small = pool.submit(tool.build, {"reviews": ["dropin_demo", *plain]}, root=dropin, report=False,
                            notebooks=REVIEW_NOTEBOOKS)
        whole.result()
        return {"repo": repo, "dropin": dropin, "seconds": small.result()}


# -- what is committed is what the current code makes, byte for byte ------------------------------

def same(built: Path, committed: Path) -> bool:
    """Byte for byte, except the landing page's commit line (the commit a build starts from is always
    the parent of the commit that stores its output; a copy outside git says so instead)."""
    if built.as_posix().endswith("reports/index.html"):
        from compendium.report import mask_provenance
        return mask_provenance(built.read_text(encoding="utf-8")) == mask_provenance(committed.read_text(encoding="utf-8"))
    return filecmp.cmp(built, committed, shallow=False)


def differences(built: Path, folder: str) -> list[str]:
    """How ``folder`` in the build differs from its tracked files in the repository."""
    committed = {p for p in tool.tracked_files(ROOT) if p.startswith(folder + "/")}
    made = {p.relative_to(built).as_posix() for p in (built / folder).rglob("*") if p.is_file()}
    problems = [f"made by the build, not committed: {n}" for n in sorted(made - committed)]
    problems += [f"committed, not made by the build: {n}" for n in sorted(committed - made)]
    problems += [f"differs: {n}" for n in sorted(made & committed) if not same(built / n, ROOT / n)]
    return problems


@pytest.mark.parametrize("folder", BUILT)
def test_build_gives_the_committed_files_byte_for_byte(builds, folder):
    assert differences(builds["repo"], folder) == []


def test_comparison_table_lists_every_published_estimate(builds):
    comparison = pd.read_csv(builds["repo"] / "reports" / "tables" / "comparison.csv")
    published = pd.concat([pd.read_csv(p) for p in (ROOT / "data" / "raw").glob("*/published_results.csv")])
    expected = set(published.loc[published["metric"] != "count", "analysis"])
    assert set(comparison["published_analysis"]) == expected


# -- a drop-in review runs through all five notebooks without code changes -------------------------

def test_dropin_review_runs_through_all_notebooks(builds):
    out = builds["dropin"]
    assert set(builds["seconds"]) >= set(REVIEW_NOTEBOOKS)
    processed = out / "data" / "processed" / "dropin_demo"
    assert len(h.read_table(processed / "effect_sizes.csv")) == 16
    left = h.read_table(processed / "not_converted.csv")
    assert left.empty and "reason" in left.columns, "every row converted: a header-only table"
    for table in ("analyses", "vote_counts", "sensitivity", "small_study"):
        assert (out / "reports" / "tables" / f"dropin_demo_{table}.csv").exists()
    assert not (out / "figures" / "dropin_demo_prisma.png").exists(), "no screening.csv, no flow diagram"
    assert (out / "figures" / "dropin_demo_forest_all.png").exists()


def test_dropin_review_gives_the_metafor_estimate(builds):
    import json

    ref = json.loads((ROOT / "tests" / "reference" / "metafor_reference.json").read_text())["molloy"]["fits"]["REML_z"]
    fits = h.read_table(builds["dropin"] / "data" / "processed" / "dropin_demo" / "fits.csv").iloc[0]
    assert fits["k"] == 16
    for field in ("estimate", "ci_low", "ci_high", "tau2", "pi_low", "pi_high"):
        assert fits[field] == pytest.approx(ref[field], rel=1e-6, abs=1e-10), field


@pytest.mark.parametrize("name", list(PLAIN))
def test_a_plain_table_scaffolded_by_new_review_gives_the_metafor_estimate(builds, name):
    import json

    ref = json.loads((ROOT / "tests" / "reference" / "metafor_reference.json").read_text())[PLAIN[name][0]]["fits"]["REML_z"]
    fits = h.read_table(builds["dropin"] / "data" / "processed" / name / "fits.csv").iloc[0]
    assert fits["k"] == ref["k"]
    for field in ("estimate", "ci_low", "ci_high", "tau2", "pi_low", "pi_high"):
        assert fits[field] == pytest.approx(ref[field], rel=1e-6, abs=1e-10), field
    assert (builds["dropin"] / "figures" / f"{name}_forest_all.png").exists()


# -- a failed build changes nothing; a run with other parameters goes to a folder of its own ----------

def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and ".build-" not in p.as_posix()}


def test_a_broken_sheet_stops_the_build_and_leaves_the_tree_as_it_was(builds, tmp_path, capsys):
    root = tool.copy_tracked(ROOT, tmp_path / "repo")
    sheet = root / "data" / "raw" / "bizzotto2023" / "effects.csv"
    frame = pd.read_csv(sheet, dtype=str, keep_default_na=False)
    frame.loc[0, ["statistic_type", "value"]] = ["r", "1.5"]
    frame.to_csv(sheet, index=False)
    before = snapshot(root)
    assert tool.build_command(False, root=root) == 1
    assert snapshot(root) == before
    message = capsys.readouterr().err
    assert "01_data_extraction failed: SheetError: data/raw/bizzotto2023/effects.csv: study 'Aardoom2014' (line 2): " \
           "column 'value' value 1.5 is not allowed" in message
    assert "Traceback" not in message


def test_a_run_with_other_parameters_leaves_the_committed_results_alone(builds):
    root = builds["dropin"]
    before = snapshot(root)
    assert tool.build_command(False, {"reviews": ["dropin_demo"], "tau2_method": "DL"}, root=root) == 0
    run = root / "runs" / "reviews-dropin_demo_tau2_method-DL"
    after = {k: v for k, v in snapshot(root).items() if not k.startswith("runs/")}
    assert after == before
    fits = h.read_table(run / "data" / "processed" / "dropin_demo" / "fits.csv")
    assert fits["method"].iloc[0] == "DL"
    assert "tau2_method = &#x27;DL&#x27;" in (run / "reports" / "index.html").read_text()


def test_papermill_with_other_parameters_never_writes_over_committed_results(builds):
    import subprocess
    import sys

    root = builds["dropin"]
    (root / "runs").mkdir(exist_ok=True)
    before = {k: v for k, v in snapshot(root).items() if not k.startswith("runs/")}
    run = subprocess.run([sys.executable, "-m", "papermill", "03_pooled_models.ipynb", str(root / "runs" / "03_dl.ipynb"),
                          "-p", "tau2_method", "DL"],
                         cwd=root / "notebooks", capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "COMPENDIUM_BUILD"})
    assert run.returncode != 0
    assert "differ from the defaults, but the outputs would go to the committed folders" in run.stderr + run.stdout
    assert "python3 tools/compendium.py build -p tau2_method=DL" in run.stderr + run.stdout
    assert {k: v for k, v in snapshot(root).items() if not k.startswith("runs/")} == before


# -- the build's order and atomicity (kernels and papermill stood in for) --------------------------

def test_graph_names_every_notebook_once_after_its_inputs():
    assert list(tool.GRAPH) == list(h.NOTEBOOKS)
    for i, name in enumerate(tool.NOTEBOOKS):
        assert set(tool.GRAPH[name]) <= set(tool.NOTEBOOKS[:i]), name


@pytest.fixture
def fake_build(tmp_path, monkeypatch):
    """A separate copy of the tool whose kernels and papermill are stand-ins that record each run.

    Returns (tool, root, runs); ``runs`` maps a notebook to its (start, end, parameters).
    """
    fake = load_tool("compendium_tool_fake")
    (tmp_path / "notebooks").mkdir()
    for name in fake.NOTEBOOKS:
        (tmp_path / "notebooks" / f"{name}.ipynb").write_text("committed")
    runs = {}

    def run_notebook(km, source, target, name, parameters):
        start = time.perf_counter()
        time.sleep(0.05)
        if name == getattr(fake, "FAIL", None):
            raise ValueError("no fits\nsecond line")
        target.write_text("executed")
        runs[name] = (start, time.perf_counter(), parameters)

    monkeypatch.setattr(fake, "start_kernel", lambda root, log: object())
    monkeypatch.setattr(fake, "run_notebook", run_notebook)
    return fake, tmp_path, runs


def test_notebooks_start_when_their_inputs_are_done_and_run_side_by_side(fake_build):
    fake, root, runs = fake_build
    fake.build({"level": 0.9}, root=root, report=False)
    for name, inputs in fake.GRAPH.items():
        assert all(runs[i][1] <= runs[name][0] for i in inputs), name
        assert runs[name][2] == {"level": 0.9}
    if (os.cpu_count() or 1) >= 2:  # 03 and 05 both need only 02
        (start3, end3, _), (start5, end5, _) = runs["03_pooled_models"], runs["05_box_score_mediator_synthesis"]
        assert start3 < end5 and start5 < end3
    assert all((root / "notebooks" / f"{n}.ipynb").read_text() == "executed" for n in fake.NOTEBOOKS)


def test_a_build_of_some_notebooks_runs_them_with_their_inputs_and_leaves_the_others(fake_build):
    fake, root, runs = fake_build
    fake.build(root=root, report=False, notebooks=["04_forest_funnel_plots"])
    assert set(runs) == {"01_data_extraction", "02_effect_size_harmonisation", "03_pooled_models", "04_forest_funnel_plots"}
    assert (root / "notebooks" / "05_box_score_mediator_synthesis.ipynb").read_text() == "committed"
    with pytest.raises(ValueError, match="unknown notebook"):
        fake.build(root=root, report=False, notebooks=["07_nothing"])


def test_a_failed_build_leaves_the_committed_notebooks_unchanged(fake_build):
    fake, root, runs = fake_build
    fake.FAIL = "03_pooled_models"
    with pytest.raises(fake.BuildError) as failure:
        fake.build(root=root, report=False)
    assert failure.value.step == "03_pooled_models"
    assert failure.value.line == "ValueError: no fits second line"
    assert "04_forest_funnel_plots" not in runs
    assert all((root / "notebooks" / f"{n}.ipynb").read_text() == "committed" for n in fake.NOTEBOOKS)


# -- the pinned environment ----------------------------------------------------------------------

def pins(lines):
    return dict(re.findall(r"^\s*-?\s*([A-Za-z0-9_.-]+)==([^\s#]+)", lines, flags=re.M))


def test_environment_yml_and_requirements_pin_the_same_versions():
    req = pins((ROOT / "requirements.txt").read_text())
    env = pins((ROOT / "environment.yml").read_text())
    assert req, "requirements.txt pins nothing"
    assert req == env


def test_required_packages_are_pinned():
    req = {k.lower() for k in pins((ROOT / "requirements.txt").read_text())}
    assert {"jupyterlab", "pandas", "numpy", "statsmodels", "matplotlib", "seaborn", "papermill", "nbval", "scipy"} <= req


# -- the HTML report in headless Chromium ----------------------------------------------------------

def chromium_driver():
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium and chromium-driver (.ci/run installs them)")
        pytest.skip("headless Chromium not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(chromedriver), options=options)


LOOK = """
const problems = [];
const alts = Array.from(document.images).map(i => i.getAttribute('alt') || '');
alts.forEach((a, n) => { if (a.trim().length < 10 || /no description/i.test(a))
  problems.push(`image ${n + 1}: no meaningful alt text (${JSON.stringify(a)})`); });
const page = document.documentElement.clientWidth;
Array.from(document.querySelectorAll('table')).forEach((t, n) => {
  const box = t.getBoundingClientRect(), column = t.parentElement.getBoundingClientRect();
  if (box.width > column.width + 1 || box.right > page + 1)
    problems.push(`table ${n + 1} (${t.innerText.slice(0, 40).replace(/\\s+/g, ' ')}...): ${Math.round(box.width)} px ` +
                  `wide in a ${Math.round(column.width)} px column`);
  Array.from(t.querySelectorAll('td')).forEach(td => {
    const text = td.innerText.trim();
    if (/^(NaN|nan|None|<NA>|NaT)$/.test(text)) problems.push(`table ${n + 1}: a cell reads ${text}`);
    if (/^-?\\d+\\.0$/.test(text)) problems.push(`table ${n + 1}: a float-formatted count ${text}`);
    if (/^-0\\.0+$/.test(text)) problems.push(`table ${n + 1}: a signed zero ${text}`);
    if (/…$/.test(text)) problems.push(`table ${n + 1}: a cell cut short: ${text}`);
  });
});
const parameters = document.querySelectorAll('#parameters tr td').length;
if (!parameters) problems.push('no parameters shown (#parameters)');
return problems;
"""


def screenshot(driver, path: Path) -> None:
    """The whole page at 1,400 px width as one PNG (Chrome DevTools: capture beyond the viewport)."""
    import base64

    size = driver.execute_script("return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size[0], "height": min(size[1], 16000), "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))


def test_report_opens_without_missing_images_broken_links_or_console_errors(builds, tmp_path_factory):
    """Every page in headless Chromium at 1,400 × 1,000: images load and have alt text, links resolve,
    no console errors, no table wider than its column, no NaN or float-formatted count in a table,
    and the parameters shown. Screenshots of every page are kept in the pytest tmp dir (path printed)."""
    reports = builds["repo"] / "reports"
    index = reports / "index.html"
    shots = tmp_path_factory.mktemp("report_screenshots")
    print(f"\nreport screenshots: {shots}")
    driver = chromium_driver()
    driver.set_window_size(1400, 1000)
    problems = []
    try:
        pages = [index] + sorted(p for p in reports.glob("*.html") if p != index)
        assert len(pages) == 2 + len(h.NOTEBOOKS)  # the landing page, one per notebook, the teaching guide
        for page in pages:
            driver.get(page.as_uri())
            images = driver.execute_script(
                "return Array.from(document.images).map(i => [i.currentSrc.slice(0, 40), i.complete && i.naturalWidth > 0])")
            assert all(ok for _, ok in images), f"{page.name}: missing images {[s for s, ok in images if not ok]}"
            links = driver.execute_script("return Array.from(document.links).map(a => a.getAttribute('href'))")
            for href in links:
                if href and not href.startswith(("http", "#", "mailto:")):
                    assert (page.parent / href.split("#")[0]).exists(), f"{page.name}: broken link {href}"
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert errors == [], f"{page.name}: console errors {errors}"
            problems += [f"{page.name}: {p}" for p in driver.execute_script(LOOK)
                         if not (page.name == "teaching.html" and "no parameters shown" in p)]  # a text page
            screenshot(driver, shots / f"{page.stem}.png")
        driver.get(index.as_uri())  # the landing page: a figure, the published results beside ours, every notebook
        assert driver.find_elements("css selector", "table tr td")
        assert driver.find_elements("css selector", "#build-provenance")
        assert all(f'href="{name}.html"' in driver.page_source for name in [*h.NOTEBOOKS, "teaching"])
    finally:
        driver.quit()
    assert problems == []


def test_committed_report_pages_have_images():
    page = (ROOT / "reports" / "04_forest_funnel_plots.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64") >= 2
