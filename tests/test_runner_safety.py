"""The runner's data safety (issue 20): nothing outside the run's own folder is written or removed.

Each case of the issue in a made-up tree, with the hashes of every file of the whole tree (the folder
above the repository included) before and after, not only git status: ``--out`` confined, path
parameters confined to the build's copy, parameters checked at the door, publishing atomic (a failure
injected between every two steps), one build at a time, and Ctrl-C / SIGTERM / SIGKILL with real
signals on a stand-in build.
"""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import load_tool

ROOT = Path(__file__).resolve().parents[1]
tool = load_tool()
runner = tool.runner
publish = runner.publish


def hashes(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (symbolic links not followed) and the SHA-256 of its bytes."""
    out = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            out[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A folder with a user's own files and, inside it, a copy of the repository's tracked files."""
    parent = tmp_path_factory.mktemp("parent")
    (parent / "reports").mkdir()
    (parent / "reports" / "thesis_draft.txt").write_text("mine")
    (parent / "figures").mkdir()
    (parent / "figures" / "photo.png").write_bytes(b"mine")
    tool.copy_tracked(ROOT, parent / "repo")
    return parent, parent / "repo"


def refused(tree, capsys, parameters=None, out=None) -> str:
    """Run ``build_command``; assert it exits 2, changes no file of the whole tree, and says one line."""
    parent, repo = tree
    before = hashes(parent)
    assert tool.build_command(False, parameters or {}, out, root=repo) == 2
    assert hashes(parent) == before
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


# -- --out: a new, empty or marked folder only -------------------------------------------------------

@pytest.mark.parametrize("out, says", [
    ("..", "is the repository or a folder above it"),
    (".", "is the repository or a folder above it"),
    ("README.md", "is a file"),
    ("figures", "lies in a folder the build reads or writes"),
    ("data/raw/mine", "lies in a folder the build reads or writes"),
    ("tests", "holds committed files"),
])
def test_out_outside_a_run_folder_of_its_own_is_refused(tree, capsys, out, says):
    assert says in refused(tree, capsys, {"tau2_method": "DL"} if out == "." else None, out)


def test_out_into_a_folder_with_files_is_refused_unless_an_earlier_run_marked_it(tree, capsys, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert "holds files and no .compendium-run" in refused(tree, capsys, out=str(mine))
    (tmp_path / "empty").mkdir()
    assert publish.check_out(tree[1], str(tmp_path / "empty")) == (tmp_path / "empty").resolve()
    assert publish.check_out(tree[1], str(tmp_path / "new")) == (tmp_path / "new").resolve()
    (mine / publish.RUN_MARKER).write_text("")
    assert publish.check_out(tree[1], str(mine)) == mine.resolve()


# -- path parameters: inside the build's copy, raw folders read only ----------------------------------

def test_path_parameters_that_leave_the_copy_or_write_into_raw_folders_are_refused(tree, capsys):
    repo = tree[1]
    cases = {
        "absolute path into data/raw": ({"reviews": [str(repo / "data" / "raw" / "behr2025")]}, "not a review folder's name"),
        "../../data/raw/...": ({"reviews": ["../../data/raw/behr2025"]}, "not a review folder's name"),
        "a review that does not exist": ({"reviews": ["nothere"]}, "no review folder data/raw/nothere/"),
        "figures_dir = <repo>/figures": ({"figures_dir": str(repo / "figures"), "level": 0.9}, "relative to the repository root"),
        "figures_dir above the copy": ({"figures_dir": "../figures"}, "lies outside the repository"),
        "processed_dir in a raw folder": ({"processed_dir": "data/raw/behr2025"}, "raw review folders are read only"),
        "tables_dir = data/raw": ({"tables_dir": "data/raw"}, "raw review folders are read only"),
        "tables_dir above raw": ({"tables_dir": "data"}, "raw review folders are read only"),
    }
    for case, (parameters, says) in cases.items():
        assert says in refused(tree, capsys, parameters), case


# -- parameters at the door: types of the declared defaults, the ranges the formulas need ---------------

@pytest.mark.parametrize("parameters, says", [
    ({"reviews": "bizzotto2023"}, "give a list of review folder names"),
    ({"level": 1.5}, "strictly between 0 and 1"),
    ({"level": 0}, "strictly between 0 and 1"),
    ({"level": "high"}, "level takes float"),
    ({"tau2_method": "NOPE"}, "one of FE, DL, HE, SJ, ML, REML, PM"),
    ({"ci_method": "t"}, "'z' or 'knha'"),
    ({"core_only": 1}, "core_only takes bool"),
    ({"k_values": 3}, "k_values takes a list"),
    ({"k_values": [1, 5]}, "each at least 2"),
    ({"tau2_values": [-0.1]}, "each at least 0"),
    ({"seed": -1}, "a non-negative integer"),
    ({"replications": 2.5}, "replications takes int"),
    ({"prepost_r": 1.0}, "strictly between -1 and 1"),
    ({"vote_threshold": 0.3}, "above 0.5"),
    ({"min_k_small_study": 1}, "at least 3"),
])
def test_parameters_of_another_type_or_out_of_range_stop_at_the_door(tree, capsys, parameters, says):
    assert says in refused(tree, capsys, parameters)


def test_parameters_the_notebooks_can_take_pass_the_door():
    declared = tool.notebook_parameters(ROOT)
    for parameters in ({"level": 0.9}, {"level": 1 / 3}, {"prepost_r": 0}, {"tau2_values": [0, 0.1]},
                       {"reviews": ["bizzotto2023"]}, {"reviews": []}, {"core_only": True}, {"seed": 0}):
        tool.check_parameters(parameters, declared)
        publish.check_paths(parameters, declared, ROOT)
    assert tool.parse_parameters(["reviews=['a', 'b']", "tau2_method=DL", "level=0.9"]) == \
        {"reviews": ["a", "b"], "tau2_method": "DL", "level": 0.9}


# -- publishing: staged complete, swapped per folder, put back on any failure --------------------------

def outputs_tree(folder: Path, tag: str) -> None:
    """A made-up set of outputs (``tag`` in every file) in each of the build's output folders."""
    for rel in ("notebooks/00_worked_example.ipynb", "notebooks/03_pooled_models.ipynb",
                "data/processed/demo/fits.csv", "figures/demo_forest_all.png", "reports/index.html",
                "reports/tables/demo_analyses.csv"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(f"{tag} {rel}")


@pytest.fixture
def publishing(tmp_path):
    """(built, target): a built copy with new outputs; a target with old outputs, a stale output of a
    removed review and files of the user's own in the output folders."""
    built, target = tmp_path / "built", tmp_path / "target"
    outputs_tree(built, "new")
    outputs_tree(target, "old")
    (target / "figures" / "gone_forest_all.png").write_text("a removed review's")
    (target / "figures" / "photo.png").write_text("mine")
    (target / "reports" / "thesis_draft.txt").write_text("mine")
    (target / "notebooks" / "scratch.ipynb").write_text("mine")
    (target / "src.txt").write_text("not an output folder")
    return built, target


def test_publish_swaps_in_the_new_outputs_and_keeps_files_no_notebook_writes(publishing):
    built, target = publishing
    publish.publish(built, target)
    after = {k: (target / k).read_text() for k in hashes(target)}
    assert after["figures/demo_forest_all.png"] == "new figures/demo_forest_all.png"
    assert after["notebooks/03_pooled_models.ipynb"] == "new notebooks/03_pooled_models.ipynb"
    assert "figures/gone_forest_all.png" not in after, "outputs of a removed review disappear"
    for mine in ("figures/photo.png", "reports/thesis_draft.txt", "notebooks/scratch.ipynb", "src.txt"):
        assert after[mine] in ("mine", "not an output folder"), mine
    assert not list(target.glob(".build-*")) and publish.RUN_MARKER not in after


def test_a_failure_between_any_two_publish_steps_leaves_every_file_as_it_was(publishing, monkeypatch):
    built, target = publishing
    steps = []
    monkeypatch.setattr(publish, "_step", steps.append)
    publish.publish(built, target, run=True)  # counts the steps; the target is now a run folder
    outputs_tree(target, "old")
    assert len(steps) == 2 + 2 * len(tool.OUTPUTS)
    before = hashes(target)
    for n, failing in enumerate(steps):
        def fail(label, n=n, seen=[]):  # noqa: B006 - counts the calls of this turn
            seen.append(label)
            if len(seen) == n + 1:
                raise OSError(f"injected before {label}")
        monkeypatch.setattr(publish, "_step", fail)
        with pytest.raises(publish.PublishError, match="every folder was put back"):
            publish.publish(built, target, run=True)
        assert hashes(target) == before, failing
        assert not list(target.glob(".build-*")), failing


def test_a_rename_that_fails_midway_is_undone(publishing, monkeypatch):
    built, target = publishing
    before = hashes(target)
    real, calls = os.rename, []

    def rename(a, b):
        calls.append(a)
        if len(calls) == 6:  # the sixth rename: figures' old folder is aside, the new one does not go in
            raise PermissionError("injected")
        real(a, b)
    monkeypatch.setattr(publish.os, "rename", rename)
    with pytest.raises(publish.PublishError):
        publish.publish(built, target)
    monkeypatch.setattr(publish.os, "rename", real)
    assert hashes(target) == before


def test_a_second_build_waits_a_bounded_time_then_stops_with_one_line(tmp_path):
    told = []
    with publish.lock(tmp_path):
        start = time.monotonic()
        with pytest.raises(publish.PublishError, match="another build .* is running"):
            with publish.lock(tmp_path, wait=0.3, tell=told.append):
                pass
        assert 0.3 <= time.monotonic() - start < 5 and len(told) == 1
    with publish.lock(tmp_path, wait=0):  # released
        pass
    assert not (tmp_path / publish.LOCK).exists()


def dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def test_the_next_build_removes_only_folders_it_can_prove_are_its_own(tmp_path):
    host = __import__("socket").gethostname()
    for name, owner in {".build-copy-dead": {"pid": dead_pid(), "host": host},
                        ".build-copy-alive": {"pid": os.getpid(), "host": host},
                        ".build-copy-elsewhere": {"pid": dead_pid(), "host": host + "-other"},
                        ".build-lock": {"pid": dead_pid(), "host": host}}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / publish.OWNER).write_text(json.dumps(owner))
    (tmp_path / ".build-copy-unmarked").mkdir()
    removed = publish.remove_stale(tmp_path)
    assert sorted(p.name for p in removed) == [".build-copy-dead", ".build-lock"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".build-copy-alive", ".build-copy-elsewhere", ".build-copy-unmarked"]


# -- signals, for real, on a stand-in build ----------------------------------------------------------

STAND_IN = """
import importlib.util, sys, time
from pathlib import Path
spec = importlib.util.spec_from_file_location("tool", {entry!r})
tool = importlib.util.module_from_spec(spec); spec.loader.exec_module(tool)
root, ready = Path(sys.argv[1]), Path(sys.argv[2])

def build(parameters, *, root, **options):  # the build's folders as a real build has them, then waits
    with tool.runner.publish.scratch(root, "staging") as staging:
        (staging / "kernel-1-1.json").write_text("{{}}")
        ready.write_text(str(root))
        time.sleep(60)

tool.runner.execute.build = build
tool.runner.signals.install_stop_handlers()
sys.exit(tool.runner.cli.build_command(False, root=root))
"""
WRAPPER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("tool", {entry!r})
tool = importlib.util.module_from_spec(spec); spec.loader.exec_module(tool)
tool.runner.signals.install_stop_handlers()
sys.exit(tool.runner.signals.run_forwarding([sys.executable, *sys.argv[1:]]))
"""


@pytest.fixture
def stand_in(tmp_path):
    """A tiny tree (notebooks with parameter cells only) and the scripts of a stand-in build and its wrapper."""
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    for name in tool.NOTEBOOKS:
        cell = {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "level = 0.95\n", "outputs": []}
        (root / "notebooks" / f"{name}.ipynb").write_text(json.dumps({"cells": [cell]}))
    entry = str(ROOT / "tools" / "compendium.py")
    (tmp_path / "stand_in.py").write_text(STAND_IN.format(entry=entry))
    (tmp_path / "wrapper.py").write_text(WRAPPER.format(entry=entry))
    return root, tmp_path


def start(stand_in, wrapped: bool) -> tuple[subprocess.Popen, Path]:
    root, scripts = stand_in
    ready = scripts / "ready"
    command = [sys.executable, *([str(scripts / "wrapper.py")] if wrapped else []), str(scripts / "stand_in.py"), str(root), str(ready)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert list(root.glob(".build-copy-*/.build-staging-*/kernel-*.json")) and (root / publish.LOCK).exists()
    return process, root


@pytest.mark.parametrize("how, code", [("SIGTERM to the wrapper", 143), ("SIGINT to the wrapper", 130),
                                       ("Ctrl-C (the whole process group)", 130)])
def test_a_stop_is_forwarded_and_leaves_no_build_folder_lock_or_connection_file(stand_in, how, code):
    process, root = start(stand_in, wrapped=True)
    before = hashes(root)
    if how.startswith("Ctrl-C"):
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM if "SIGTERM" in how else signal.SIGINT)
    assert process.wait(timeout=20) == code
    err = process.stderr.read().strip().splitlines()
    assert len(err) == 1 and "stopped" in err[0] and "Traceback" not in err[0], err
    assert not list(root.glob(".build-*"))
    assert {k: v for k, v in before.items() if not k.startswith(".build-")} == hashes(root)


def test_after_a_sigkill_the_next_build_removes_what_it_left(stand_in):
    process, root = start(stand_in, wrapped=False)
    process.kill()
    process.wait(timeout=10)
    left = sorted(p.name for p in root.glob(".build-*"))
    assert len(left) == 2 and publish.LOCK in left  # the build's copy (with staging and connection file), the lock
    with publish.lock(root, wait=0):  # a dead owner's lock is taken over
        publish.remove_stale(root)
        assert [p.name for p in root.glob(".build-*")] == [publish.LOCK]
    assert not list(root.glob(".build-*"))


# -- the command line ------------------------------------------------------------------------------

def test_build_help_lists_the_build_options_and_every_parameter(capsys):
    assert runner.cli.read_build_options(["--help"]) == 0
    shown = capsys.readouterr().out
    assert "--out DIR" in shown and "-p NAME=VALUE" in shown and "--verbose" in shown
    for name in {p for found in tool.notebook_parameters(ROOT).values() for p in found}:
        assert f"\n  {name} " in shown, name
    assert runner.cli.read_build_options(["--bogus"]) == 2


def test_a_run_names_its_own_report(stand_in, tmp_path, monkeypatch, capsys):
    root, _ = stand_in
    given = {}
    monkeypatch.setattr(runner.execute, "build", lambda parameters, **options: given.update(options))
    monkeypatch.setattr(publish, "publish", lambda built, target, run=False: given.update(target=target, run=run))
    out = tmp_path / "my_run"
    assert tool.build_command(False, {"level": 0.9}, str(out), root=root) == 0
    assert given["report_at"] == f"{out}/reports/index.html" and given["target"] == out and given["run"]
    assert f"report {out}/reports/index.html" in capsys.readouterr().out
    assert tool.build_command(False, {}, None, root=root) == 0
    assert given["report_at"] is None and given["target"] == root.resolve() and not given["run"]
