"""End to end: the five notebooks on a drop-in review, byte-identical reruns, the pinned
environment, and the HTML report in headless Chromium."""
import filecmp
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

import helpers as h

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def run_pipeline(out: Path, reviews: list[str], raw_dir: Path) -> None:
    """Run notebooks 01-05 with papermill, writing every output under ``out``."""
    import papermill

    params = {"reviews": reviews, "raw_dir": str(raw_dir), "processed_dir": str(out / "processed"),
              "figures_dir": str(out / "figures"), "tables_dir": str(out / "tables")}
    for name in h.NOTEBOOKS:
        papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out / f"{name}.ipynb"), parameters=params,
                                   cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False)


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


# -- a drop-in review runs through all five notebooks without code changes -------------------------

def make_dropin(raw: Path, name: str = "dropin_demo", n_studies: int = 12) -> Path:
    """A small review in the intervention schema: the first trials of behr2025, copied under a new name.

    It stands for an extraction sheet another team drops in (no numbers are invented).
    """
    src = ROOT / "data" / "raw" / "behr2025"
    target = raw / name
    target.mkdir(parents=True)
    studies = pd.read_csv(src / "studies.csv", dtype=str, keep_default_na=False)
    outcomes = pd.read_csv(src / "outcomes.csv", dtype=str, keep_default_na=False)
    numeric = outcomes.loc[~outcomes["statistic_type"].isin(["p_only", "direction_only"]), "study_id"].unique()
    keep = list(dict.fromkeys(list(numeric) + list(studies["study_id"])))[:n_studies]
    for sheet in ("studies", "outcomes", "box_scores", "screening"):
        frame = pd.read_csv(src / f"{sheet}.csv", dtype=str, keep_default_na=False)
        frame = frame[frame["study_id"].isin(keep)]
        frame.to_csv(target / f"{sheet}.csv", index=False)
    for other in ("codebook.csv", "review.json", "published_results.csv"):
        shutil.copy(src / other, target / other)
    return target


@pytest.fixture(scope="module")
def dropin_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dropin")
    make_dropin(out / "raw")
    run_pipeline(out, ["dropin_demo"], out / "raw")
    return out


def test_dropin_review_runs_through_all_notebooks(dropin_run):
    for name in h.NOTEBOOKS:
        assert (dropin_run / f"{name}.ipynb").exists()
    assert (dropin_run / "processed" / "dropin_demo" / "effect_sizes.csv").exists()
    assert (dropin_run / "tables" / "dropin_demo_analyses.csv").exists()
    assert (dropin_run / "tables" / "dropin_demo_box_scores.csv").exists()
    assert (dropin_run / "figures" / "dropin_demo_prisma.png").exists()
    repro = pd.read_csv(dropin_run / "tables" / "reproduction.csv")
    assert set(repro["review"]) == {"dropin_demo"}


def test_dropin_review_pools_what_it_holds(dropin_run):
    table = pd.read_csv(dropin_run / "tables" / "dropin_demo_analyses.csv")
    between = table[table["analysis"].str.startswith("Between groups (intervention")]
    assert int(between["k"].iloc[0]) >= 2


# -- reruns are byte-identical, and what is committed is the output of the current code -------------

@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fresh")
    run_pipeline(out, [], ROOT / "data" / "raw")
    return out


def same_tree(a: Path, b: Path) -> list[str]:
    names = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    other = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    problems = [f"only in one run: {n}" for n in sorted(set(names) ^ set(other))]
    problems += [f"differs: {n}" for n in names if n in other and not filecmp.cmp(a / n, b / n, shallow=False)]
    return problems


def test_rerun_gives_byte_identical_processed_data(fresh_run):
    assert same_tree(fresh_run / "processed", ROOT / "data" / "processed") == []


def test_rerun_gives_byte_identical_tables(fresh_run):
    assert same_tree(fresh_run / "tables", ROOT / "reports" / "tables") == []


def test_reproduction_table_lists_every_published_estimate(fresh_run):
    repro = pd.read_csv(fresh_run / "tables" / "reproduction.csv")
    published = pd.concat([pd.read_csv(p) for p in (ROOT / "data" / "raw").glob("*/published_results.csv")])
    expected = set(published.loc[published["metric"] != "count", "analysis"])
    assert set(repro["analysis"]) == expected


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


def test_report_opens_without_missing_images_broken_links_or_console_errors(tmp_path):
    reports = tmp_path / "reports"
    index = h.build_report(ROOT, reports)
    driver = chromium_driver()
    try:
        pages = [index] + sorted(p for p in reports.glob("*.html") if p != index)
        assert len(pages) == 1 + len(h.NOTEBOOKS)
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
        driver.get(index.as_uri())
        assert "Published headline results beside ours" in driver.page_source
    finally:
        driver.quit()


def test_committed_report_pages_have_images():
    page = (ROOT / "reports" / "04_forest_funnel_plots.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64") >= 2
