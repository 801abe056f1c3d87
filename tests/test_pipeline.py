"""End to end. Each notebook's run (nbval's, in a copy of its own with the committed inputs made by the
test command, or a build of a fresh copy when this file runs alone) must write its committed tables,
processed data and figures byte for byte; the report rebuilt from the committed notebooks must equal the committed report. Also:
a bad sheet or parameter stops the build, the build's order and atomicity, the pinned environment,
and the HTML report in headless Chromium. A run with other parameters: test_parameter_run.py."""
import filecmp
import json
import os
import re
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import REVIEW_NOTEBOOKS, load_tool, snapshot

import helpers as h

ROOT = Path(__file__).resolve().parents[1]

tool = load_tool()


@pytest.fixture(scope="session")
def built(request, tmp_path_factory) -> dict[str, Path]:
    """Each notebook → the copy nbval ran it in (``--built``: a copy per notebook, with the committed
    inputs), or else one fresh copy built here, in order, for all of them."""
    given = request.config.getoption("--built")
    if given:
        return {name: Path(given) / name for name in tool.NOTEBOOKS}
    root = tool.fresh_copy(ROOT, tmp_path_factory.mktemp("build"))
    tool.build(root=root, report=False)
    return dict.fromkeys(tool.NOTEBOOKS, root)


# -- what is committed is what the current code makes, byte for byte ------------------------------

def same(built: Path, committed: Path) -> bool:
    """Byte for byte, the landing page included (its provenance names the inputs, not a commit)."""
    return filecmp.cmp(built, committed, shallow=False)


def differences(built: Path, steps: list[str]) -> list[str]:
    """How the files ``steps`` wrote in ``built`` differ from the committed ones (:data:`WRITES`)."""
    committed = {p for p in tool.tracked_files(ROOT) if set(tool.written_by(p)) & set(steps)}
    made = {p for step in steps for p in tool.outputs_of(built, step)}
    problems = [f"made, not committed: {n}" for n in sorted(made - committed)]
    problems += [f"committed, not made: {n}" for n in sorted(committed - made)]
    problems += [f"differs: {n}" for n in sorted(made & committed) if not same(built / n, ROOT / n)]
    return problems


@pytest.mark.parametrize("notebook", tool.NOTEBOOKS)
def test_notebooks_write_the_committed_tables_and_figures_byte_for_byte(built, notebook):
    """Runs after nbval's cells of this notebook, on the same worker (its unit of work)."""
    assert differences(built[notebook], [notebook]) == []


def test_a_notebook_runs_in_a_copy_with_the_committed_inputs_but_without_its_own_outputs(tmp_path):
    copy = tool.notebook_copy(ROOT, tmp_path / "copy", "03_pooled_models")
    assert tool.outputs_of(copy, "03_pooled_models") == []
    for step in ("02_effect_size_harmonisation", "04_forest_funnel_plots"):  # what 03 reads, what reads 03
        assert tool.outputs_of(copy, step) == tool.outputs_of(ROOT, step) != []


def test_committed_notebooks_are_as_the_build_writes_them():
    """No run metadata (timestamps, durations), cells numbered, streams joined: what ``strip_run_metadata``
    leaves, written by nbformat (nbval compares the outputs; this, the rest of the file)."""
    import copy

    import nbformat

    for name in tool.NOTEBOOKS:
        path = ROOT / "notebooks" / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        assert nbformat.writes(tool.strip_run_metadata(copy.deepcopy(nb), name)) + "\n" == path.read_text(encoding="utf-8"), name


def test_every_committed_output_is_written_by_exactly_one_step():
    outputs = [p for p in tool.tracked_files(ROOT) if p.startswith(tuple(f"{f}/" for f in tool.OUTPUTS[1:]))]
    assert outputs
    assert {p: tool.written_by(p) for p in outputs if len(tool.written_by(p)) != 1} == {}


def test_the_report_rebuilt_from_the_committed_notebooks_is_the_committed_report(tmp_path):
    root = tool.copy_tracked(ROOT, tmp_path / "repo")
    for rel in tool.outputs_of(root, "report"):
        (root / rel).unlink()
    h.build_report(root)
    assert differences(root, ["report"]) == []


def test_comparison_table_lists_every_published_estimate():
    comparison = pd.read_csv(ROOT / "reports" / "tables" / "comparison.csv")
    published = pd.concat([pd.read_csv(p) for p in (ROOT / "data" / "raw").glob("*/published_results.csv")])
    expected = set(published.loc[published["metric"] != "count", "analysis"])
    assert set(comparison["published_analysis"]) == expected


# -- a failed build changes nothing ----------------------------------------------------------------

def test_a_broken_sheet_stops_the_build_and_leaves_the_tree_as_it_was(tmp_path, capsys):
    root = tool.copy_tracked(ROOT, tmp_path / "repo")
    sheet = root / "data" / "raw" / "bizzotto2023" / "effects.csv"
    frame = pd.read_csv(sheet, dtype=str, keep_default_na=False)
    frame.loc[0, ["statistic_type", "value"]] = ["r", "1.5"]
    frame.to_csv(sheet, index=False)
    before = snapshot(root)
    assert tool.build_command(False, root=root) == 2  # bad input exits 2
    assert snapshot(root) == before
    message = capsys.readouterr().err
    assert "sheet check failed: SheetError: data/raw/bizzotto2023/effects.csv: study 'Aardoom2014' (line 2): " \
           "column 'value' value 1.5 is not allowed" in message
    assert "Traceback" not in message


def test_papermill_with_other_parameters_never_writes_over_committed_results(tmp_path, monkeypatch):
    """papermill run by hand (its ``execute_notebook``, which its command line calls) on 03 with another
    τ² estimator stops at the notebook's guard, names the build command instead, and writes nothing."""
    import papermill
    from conftest import kernel_manager

    root = tool.copy_tracked(ROOT, tmp_path / "repo")
    (root / "runs").mkdir()
    before = snapshot(root)
    monkeypatch.delenv("COMPENDIUM_BUILD", raising=False)  # not a build's kernel
    with kernel_manager() as km, pytest.raises(papermill.PapermillExecutionError) as stop:
        papermill.execute_notebook(root / "notebooks" / "03_pooled_models.ipynb", root / "runs" / "03_dl.ipynb",
                                   parameters={"tau2_method": "DL"}, cwd=root / "notebooks", progress_bar=False, km=km)
    assert "differ from the defaults, but the outputs would go to the committed folders" in str(stop.value)
    assert "python3 tools/compendium.py build -p tau2_method=DL" in str(stop.value)
    assert {k: v for k, v in snapshot(root).items() if not k.startswith("runs/")} == before


# -- the build's order and atomicity (kernels and papermill stood in for) --------------------------

def test_ctrl_c_stops_the_session_once_and_a_later_one_stops_its_cleanup(monkeypatch):
    """The session's process gets Ctrl-C twice at once (terminal and wrapper): the repeat is ignored;
    one a second later is the user's again."""
    signals = tool.runner.signals
    clock = iter([100.0, 100.2, 101.5])
    monkeypatch.setattr(signals.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(signals, "STOPPED_AT", [])
    with pytest.raises(KeyboardInterrupt):
        signals._stop_unless_repeated(2, None)
    assert signals._stop_unless_repeated(2, None) is None, "the forwarded copy of the same Ctrl-C"
    with pytest.raises(KeyboardInterrupt):
        signals._stop_unless_repeated(2, None)


def test_the_tests_the_scheduler_starts_first_exist():
    import conftest

    for nodeid in conftest.LONG:  # a renamed test would silently lose its place in the queue
        path, _, name = nodeid.partition("::")
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M), nodeid


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
    for name in fake.NOTEBOOKS:  # every notebook has the parameter level, 01-05 reviews, 06 seed
        source = "level = 0.95\n" + ("seed = 1\n" if name.startswith("06") else "reviews = []\n" if name[:2] in "01 02 03 04 05" else "")
        cell = {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": source, "outputs": []}
        (tmp_path / "notebooks" / f"{name}.ipynb").write_text(json.dumps({"cells": [cell]}))
    committed = {name: (tmp_path / "notebooks" / f"{name}.ipynb").read_text() for name in fake.NOTEBOOKS}
    runs = {}

    def run_notebook(km, source, target, name, parameters):
        start = time.perf_counter()
        time.sleep(0.05)
        if name == getattr(fake, "FAIL", None):
            raise ValueError("no fits\nsecond line")
        target.write_text(json.dumps({**json.loads(source.read_text()), "executed": True}))
        runs[name] = (start, time.perf_counter(), parameters)

    monkeypatch.setattr(fake.runner.execute, "start_kernel", lambda root, log, stopped, **options: object())
    monkeypatch.setattr(fake.runner.execute, "WarmParent", lambda *args, **options: None)  # nothing to fork
    monkeypatch.setattr(fake.runner.execute, "run_notebook", run_notebook)
    fake.COMMITTED = committed
    return fake, tmp_path, runs


def test_notebooks_start_when_their_inputs_are_done_and_run_side_by_side(fake_build):
    fake, root, runs = fake_build
    fake.build({"level": 0.9}, root=root, report=False)
    for name, inputs in fake.GRAPH.items():
        assert all(runs[i][1] <= runs[name][0] for i in inputs), name
        assert runs[name][2] == {"level": 0.9}
    if (os.cpu_count() or 1) >= 2:  # two cores: a notebook whose inputs are done runs beside another
        spans = [runs[name][:2] for name in fake.NOTEBOOKS]
        assert any(s1 < e2 and s2 < e1 for i, (s1, e1) in enumerate(spans) for s2, e2 in spans[i + 1:])
    assert all(json.loads((root / "notebooks" / f"{n}.ipynb").read_text())["executed"] for n in fake.NOTEBOOKS)


def test_of_the_ready_notebooks_the_one_with_the_most_work_behind_it_runs_first(fake_build):
    fake, root, runs = fake_build
    order = fake.critical_path_order(fake.NOTEBOOKS)
    assert sorted(order) == sorted(fake.NOTEBOOKS)
    assert all(order.index(i) < order.index(n) for n in order for i in fake.GRAPH[n]), "inputs first"
    # the lab (the longest) reads 03 only: it starts before 04 and 05, which would otherwise keep it waiting
    assert order.index("06_simulation_lab") < min(order.index("04_forest_funnel_plots"),
                                                  order.index("05_box_score_mediator_synthesis"))
    assert fake.critical_path_order(["04_forest_funnel_plots", "03_pooled_models"]) == ["03_pooled_models",
                                                                                        "04_forest_funnel_plots"]
    fake.build(root=root, report=False)
    assert runs["06_simulation_lab"][0] < runs["04_forest_funnel_plots"][0]


def test_a_build_of_some_notebooks_runs_them_with_their_inputs_and_leaves_the_others(fake_build):
    fake, root, runs = fake_build
    fake.build(root=root, report=False, notebooks=["04_forest_funnel_plots"])
    assert set(runs) == {"01_data_extraction", "02_effect_size_harmonisation", "03_pooled_models", "04_forest_funnel_plots"}
    assert (root / "notebooks" / "05_box_score_mediator_synthesis.ipynb").read_text() == fake.COMMITTED["05_box_score_mediator_synthesis"]
    with pytest.raises(ValueError, match="unknown notebook"):
        fake.build(root=root, report=False, notebooks=["07_nothing"])


def test_a_run_reruns_only_the_notebooks_its_parameters_reach_each_with_its_own(fake_build, tmp_path):
    fake, root, runs = fake_build
    tree = tmp_path / "tree"  # the working tree whose outputs a run keeps
    shutil.copytree(root / "notebooks", tree / "notebooks")
    (tree / "figures").mkdir()
    (tree / "figures" / "classic_demo.png").write_text("kept")
    (tree / "figures" / "other_forest_all.png").write_text("not 00's")
    fake.build({"seed": 2}, root=root, report=False, reuse=tree)
    assert set(runs) == set(fake.NOTEBOOKS) - {"00_worked_example"}, "06 has seed; 01-05 read the review folders"
    assert runs["06_simulation_lab"][2] == {"seed": 2} and runs["01_data_extraction"][2] == {}
    assert (root / "figures" / "classic_demo.png").read_text() == "kept"
    assert not (root / "figures" / "other_forest_all.png").exists(), "04 reruns: its outputs are not copied"


def test_which_notebooks_a_run_reruns():
    declared = tool.notebook_parameters(ROOT)
    # the review notebooks read data/raw; 06 reads the analysis rows 03 writes, so it reruns with 03
    assert tool.rerun_notebooks({"tau2_method": "DL"}, declared, tool.NOTEBOOKS) == [*REVIEW_NOTEBOOKS, "06_simulation_lab"]
    assert tool.rerun_notebooks({"seed": 1}, declared, tool.NOTEBOOKS) == [*REVIEW_NOTEBOOKS, "06_simulation_lab"]
    assert "00_worked_example" not in REVIEW_NOTEBOOKS and "06_simulation_lab" not in REVIEW_NOTEBOOKS
    with pytest.raises(ValueError, match="no notebook has a parameter 'tau'"):
        tool.check_parameters({"tau": 1}, declared)


def test_a_failed_build_leaves_the_committed_notebooks_unchanged(fake_build):
    fake, root, runs = fake_build
    fake.FAIL = "03_pooled_models"
    with pytest.raises(fake.BuildError) as failure:
        fake.build(root=root, report=False)
    assert failure.value.step == "03_pooled_models"
    assert failure.value.line == "ValueError: no fits second line"
    assert "04_forest_funnel_plots" not in runs
    assert all((root / "notebooks" / f"{n}.ipynb").read_text() == fake.COMMITTED[n] for n in fake.NOTEBOOKS)


def test_a_kernel_still_importing_when_the_build_stops_is_shut_down_at_once(monkeypatch, tmp_path):
    """start_kernel with stand-ins for jupyter_client: the warm-up imports never answer, the build stops."""
    import queue

    fake = load_tool("compendium_tool_stop")
    shut_down = []

    class Client:
        def start_channels(self): pass
        def stop_channels(self): pass
        def wait_for_ready(self, timeout): pass
        def execute(self, code, **options): return "warm-up"
        def get_shell_msg(self, timeout):
            raise queue.Empty  # still importing

    class Manager:
        def __init__(self, **options): pass
        async def start_kernel(self, **options): pass
        def blocking_client(self): return Client()

    kernels = fake.runner.kernels
    monkeypatch.setattr(kernels, "kernel_manager_class", lambda: Manager)
    monkeypatch.setattr(kernels, "stop_kernel", shut_down.append)
    asked = []
    with pytest.raises(fake.Stopped):
        kernels.start_kernel(tmp_path, None, stopped=lambda: asked.append(1) or len(asked) > 2)
    assert len(asked) == 3 and len(shut_down) == 1

@pytest.mark.skipif(not hasattr(os, "fork"), reason="the warm parent forks its kernels")
def test_kernels_forked_from_the_warm_parent_have_the_imports_done_and_die_with_it(tmp_path, monkeypatch):
    kernels = tool.runner.kernels
    monkeypatch.setattr(kernels, "WARM_UP_IMPORTS", ())  # the kernel imports nothing itself: all is the parent's
    parent = kernels.WarmParent(ROOT, kernels.kernel_environment())
    km = None
    try:
        km = kernels.start_kernel(ROOT, None, connection_dir=tmp_path, warm_parent=parent)
        client, printed = km.blocking_client(), []
        client.start_channels()
        code = "import os, sys; print(os.getppid(), 'helpers' in sys.modules, 'scipy.stats' in sys.modules, os.getcwd())"
        client.execute_interactive(code, timeout=30, output_hook=lambda msg: printed.append(msg["content"].get("text", "")))
        client.stop_channels()
        ppid, has_helpers, has_stats, cwd = "".join(printed).split()
        assert int(ppid) == parent.process.pid and has_helpers == has_stats == "True"
        assert Path(cwd) == ROOT / "notebooks" and list(tmp_path.glob("kernel-*.json"))
        pid = km.provisioner.pid
    finally:
        parent.close()  # the build is over: the parent kills what it forked, and collects it
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone, not even a zombie
    assert km.provisioner.process.poll() is not None
    kernels.stop_kernel(km)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the warm parent forks its kernels")
def test_a_warm_parent_that_died_leaves_the_kernels_to_start_on_their_own(tmp_path):
    kernels = tool.runner.kernels
    parent = kernels.WarmParent(None, dict(os.environ))
    parent.process.kill()
    parent.process.wait()
    km = kernels.start_kernel(ROOT, None, connection_dir=tmp_path, warm_parent=parent)
    try:
        assert type(km.provisioner.process).__name__ == "Popen", "started as jupyter_client starts kernels"
    finally:
        kernels.stop_kernel(km)
        parent.close()
    # a closed parent (the build stopped) starts no kernel at all
    with pytest.raises(RuntimeError, match="warm parent"):
        kernels.start_kernel(ROOT, None, connection_dir=tmp_path, warm_parent=parent)


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
  const rows = Array.from(t.querySelectorAll('tbody tr')).map(r => Array.from(r.querySelectorAll('td')).map(td => td.innerText.trim()));
  (rows[0] || []).forEach((_, j) => {  // a column of whole numbers with decimals: counts printed as floats
    const column = rows.map(r => r[j]).filter(x => x !== undefined && x !== '–');
    if (column.length && column.every(x => /^-?\\d+\\.0+$/.test(x)) && column.some(x => x !== '0.0' && !/^0\\.0+$/.test(x)))
      problems.push(`table ${n + 1}: float-formatted counts ${column.slice(0, 3).join(', ')}`);
  });
  Array.from(t.querySelectorAll('td')).forEach(td => {
    const text = td.innerText.trim();
    if (/^(NaN|nan|None|<NA>|NaT)$/.test(text)) problems.push(`table ${n + 1}: a cell reads ${text}`);
    if (/^-0\\.0+$/.test(text)) problems.push(`table ${n + 1}: a signed zero ${text}`);
    if (/^-?([2-9]|\\d{2,})\\.0{4,}$/.test(text)) problems.push(`table ${n + 1}: a float-formatted count ${text}`);
    if (/…$/.test(text)) problems.push(`table ${n + 1}: a cell cut short: ${text}`);
  });
});
let first = null;  // the header row of part 1 of a split table: later parts repeat its key columns
Array.from(document.querySelectorAll('table.repro')).forEach((t, n) => {
  const part = t.previousElementSibling, heads = Array.from(t.querySelectorAll('th')).map(th => th.innerText.trim());
  if (!part || !part.classList.contains('repro-part')) { first = null; return; }
  if (/^Part 1 /.test(part.innerText)) { first = heads; return; }
  if (first && heads[0] !== first[0]) problems.push(`table ${n + 1}: a part without its key column ${first[0]}`);
  if (first && first[1] && !/^(k|n|Estimate)$/.test(first[1]) && first.slice(1, 3).some(h => /^(Variant|Model|Study)$/.test(h))
      && !first.slice(1, 3).filter(h => /^(Variant|Model|Study)$/.test(h)).every(h => heads.includes(h)))
    problems.push(`table ${n + 1}: a part without the column that names its rows (${first.slice(0, 3).join(', ')})`);
});
Array.from(document.querySelectorAll('table.repro')).forEach((t, n) => {
  const cells = Array.from(t.querySelectorAll('tbody tr')).map(r => Array.from(r.querySelectorAll('td')).map(td => td.innerText.trim()));
  const heads = Array.from(t.querySelectorAll('th')).map(th => th.innerText.trim());
  const said = heads.map((h, j) => cells.some(r => r[j] && r[j] !== '–')).filter((s, j) => j > 0 && !/^(k|Note)$/.test(heads[j]));
  if (cells.length && said.length >= 3 && !said.some(s => s)) problems.push(`table ${n + 1}: a table of dashes (${heads[0]})`);
});
Array.from(document.images).forEach((img, n) => {
  const scale = img.getBoundingClientRect().width / img.naturalWidth;
  if (img.naturalWidth > 300 && scale < 0.5)
    problems.push(`image ${n + 1} (${(img.getAttribute('alt') || '').slice(0, 60)}): shown at ${Math.round(100 * scale)}% of its width, labels too small to read`);
});
Array.from(document.querySelectorAll('table.repro')).forEach((t, n) => {  // sources: the canonical link, clickable
  const j = Array.from(t.querySelectorAll('th')).findIndex(th => th.innerText.trim() === 'DOI / PMID');
  if (j < 0) return;
  Array.from(t.querySelectorAll('tbody tr')).forEach(r => {
    const td = r.querySelectorAll('td')[j];
    const links = Array.from(td.querySelectorAll('a')).map(a => a.getAttribute('href'));
    if (!links.length && td.innerText.trim() !== 'no DOI or PMID in the sheet')
      problems.push(`table ${n + 1}: a source without a link: ${td.innerText.trim().slice(0, 60)}`);
    if (links.some(h => !/^https:\\/\\/(doi\\.org|pubmed\\.ncbi\\.nlm\\.nih\\.gov)\\//.test(h)))
      problems.push(`table ${n + 1}: a link that is not canonical: ${links.join(' ')}`);
  });
});
const prose = document.body.innerText;
(prose.match(/(^|[^\\d.,])1 (studies|analyses|results|reports|effects)\\b/g) || []).forEach(m => problems.push(`a count in the wrong number: ${m.trim()}`));
(prose.match(/[−-]\\.0+(?![\\d])/g) || []).forEach(m => problems.push(`a signed zero in the text: ${m}`));
const parameters = document.querySelectorAll('#parameters tr td').length;
if (!parameters) problems.push('no parameters shown (#parameters)');
return problems;
"""


# Problems known and not yet mended, exempt from the check by the words they contain (none now: the
# effect-direction plots are drawn one per cell and fit the column).
PENDING = ()


def screenshot(driver, path: Path) -> None:
    """The whole page at 1,400 px width as one PNG (Chrome DevTools: capture beyond the viewport)."""
    import base64

    size = driver.execute_script("return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size[0], "height": min(size[1], 16000), "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))


def test_report_opens_without_missing_images_broken_links_or_console_errors(request):
    """Every committed page (equal to the rebuilt report, see above) in headless Chromium at 1,400 ×
    1,000: images load and have alt text and are shown at half their pixel width or more (labels stay
    readable), links resolve, no console errors, no table wider than its column, no NaN or
    float-formatted count in a table, every part of a split table repeats the columns that name its
    rows, no table of dashes only, no "1 studies" or "−.00" in the text, and the parameters shown. With
    ``--screenshots DIR`` a full-page screenshot of every page goes to DIR, to look at."""
    reports = ROOT / "reports"
    index = reports / "index.html"
    shots = request.config.getoption("--screenshots")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
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
                         if not (page.name == "teaching.html" and "no parameters shown" in p)  # a text page
                         and not any(pending in p for pending in PENDING)]
            if shots:
                screenshot(driver, Path(shots) / f"{page.stem}.png")
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


def test_the_report_links_each_source_and_keeps_where_it_was_read():
    page = (ROOT / "reports" / "05_box_score_mediator_synthesis.html").read_text(encoding="utf-8")
    assert "<th>DOI / PMID</th>" in page and "<th>Read at</th>" in page
    assert page.count('<a href="https://doi.org/') >= 10
