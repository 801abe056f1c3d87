"""The command line: ``build``, ``test``, ``new-review`` and ``student``, each read, checked and handed on.

The command runs first in whatever Python the user has (the *wrapper*): it sets up .venv and re-runs
itself there, forwarding Ctrl-C and SIGTERM (:mod:`runner.signals`). A build's parameters and
``--out`` are checked before the environment is even looked at.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from . import publish, signals
from .environment import PY, ROOT, ensure_venv, running_in_venv, say
from .graph import RUNS, notebook_parameters
from .parameters import check_parameters, parse_parameters, run_folder

USAGE = """usage: python3 tools/compendium.py COMMAND ...

    build [-p NAME=VALUE ...] [--out DIR] [--verbose]   run notebooks 00-06, write the report (build --help)
    test [pytest args]                                  every test: pytest and nbval, one worker per core
    new-review NAME --from FILE.csv                     data/raw/NAME/ from a plain table
                                                        (study_id + r,n | yi,vi | m1,sd1,n1,m2,sd2,n2)
    student DIR                                         student copies of the notebooks in DIR

Each command sets up (or reuses) .venv from the pinned requirements.txt; see README.md."""

BUILD_USAGE = """usage: python3 tools/compendium.py build [-p NAME=VALUE ...] [--out DIR] [--verbose]

Runs notebooks 00-06 in a copy of the working tree and, when all succeeded, publishes their notebooks,
processed data, figures and report into the working tree (docs/data-safety.md says how).

options:
  -p NAME=VALUE   set a notebook parameter for the whole run (repeatable); values are Python literals,
                  lists as lists: -p 'reviews=["bizzotto2023"]'. The run goes to runs/<parameters>
                  and leaves the committed results untouched.
  --out DIR       the run's folder instead (new, empty, or one an earlier run made)
  --verbose       show pip, papermill's log, the kernels' own output and full tracebacks
  --help          this text

the notebooks' parameters (default):
"""


def build_help(root: Path = ROOT) -> str:
    """:data:`BUILD_USAGE` with every notebook parameter, its default and the notebooks that have it."""
    declared = notebook_parameters(root)
    names: dict[str, list[str]] = {}
    for notebook, found in declared.items():
        for name in found:
            names.setdefault(name, []).append(notebook[:2])
    defaults = {name: next(declared[nb][name] for nb in declared if name in declared[nb]) for name in names}
    return BUILD_USAGE + "\n".join(f"  {name:<22}{defaults[name]!r:<18} notebooks {', '.join(nbs)}"
                                   for name, nbs in names.items())


def build_command(verbose: bool, parameters: dict | None = None, out: str | None = None, root: Path = ROOT) -> int:
    """``build``: build a copy of the working tree in .venv and publish its outputs only on success.

    Without parameters and ``--out`` the outputs replace those of the working tree (a failed build
    leaves the tree as it was, and outputs of removed reviews disappear). With parameters, or with
    ``--out DIR``, everything goes to that folder (default ``runs/<parameters>``) and the committed
    results stay untouched; notebooks the parameters do not reach are not rerun, their notebooks and
    outputs are copied from the working tree. Parameters, path parameters and the target are
    checked first (:mod:`runner.parameters`, :mod:`runner.publish`): one line and exit 2.

    Returns
    -------
    int
        0 built and published; 1 a step failed (nothing written); 2 refused at the door;
        128 + the signal when stopped (130 Ctrl-C, 143 SIGTERM).
    """
    from .execute import BuildError, build

    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    else:
        import warnings

        warnings.simplefilter("ignore")
    parameters = parameters or {}
    root = Path(root).resolve()
    try:
        declared = notebook_parameters(root)
        check_parameters(parameters, declared)
        publish.check_paths(parameters, declared, root)
        if out is not None:
            target = publish.check_out(root, out)
        elif parameters:
            target = publish.check_out(root, run_folder(parameters, RUNS))
        else:
            target = root
    except ValueError as error:
        say(str(error), sys.stderr)
        return 2
    shown = target.relative_to(root).as_posix() if target.is_relative_to(root) else str(target)
    try:
        with publish.lock(root, tell=lambda line: say(line, sys.stderr)):
            publish.remove_stale(root)
            if target != root and target.is_dir():
                publish.remove_stale(target)
            with publish.build_copy(root) as work:
                try:
                    build(parameters, root=work, verbose=verbose, report_parameters=parameters,
                          reuse=root if parameters else None,
                          report_at=None if target == root else f"{shown}/reports/index.html")
                except BuildError as error:
                    if verbose:
                        print(error.detail, file=sys.stderr)
                    line = error.line.replace(str(work) + os.sep, "")  # name files as the reader sees them
                    say(f"{error.step} failed: {line}" + ("" if verbose else " (--verbose shows the traceback)"), sys.stderr)
                    say("nothing was written: the working tree is as it was", sys.stderr)
                    return 2 if error.step == "sheet check" else 1  # bad input (a sheet, review.json) exits 2
                publish.publish(work, target, run=target != root)
    except publish.PublishError as error:
        say(str(error), sys.stderr)
        return 1
    except OSError as error:  # the build's copy or the lock could not be made (a full disk, permissions)
        say(f"build stopped before publishing: {error}; the working tree is as it was", sys.stderr)
        return 1
    except KeyboardInterrupt:
        say(f"stopped ({signals.stop_name()}): nothing was written, the build's folders are removed", sys.stderr)
        return signals.stop_code()
    if target != root:
        say(f"written to {shown}/ (report {shown}/reports/index.html)")
    return 0


def new_review_command(options: list[str]) -> int:
    """``new-review NAME --from FILE.csv``: scaffold data/raw/NAME/ from a plain table (src/compendium/scaffold.py)."""
    if len(options) != 3 or options[1] != "--from":
        print(USAGE)
        return 2
    from compendium.scaffold import new_review
    from compendium.sheets import load_review

    name, table = options[0], options[2]
    try:
        folder = new_review(name, table, ROOT / "data" / "raw")
    except (ValueError, FileExistsError) as error:  # bad input: one line, exit 2, nothing written
        say(str(error), sys.stderr)
        return 2
    review = load_review(folder)
    say(f"{folder.relative_to(ROOT)}/ written: {len(review.sheets['studies'])} studies, {len(review.effects)} effect rows "
        f"({review.meta['effect_measure']}); next: python3 tools/compendium.py build")
    return 0


def read_build_options(options: list[str]) -> tuple[dict, str | None] | int:
    """``-p NAME=VALUE``, ``--out DIR`` and ``--verbose`` → (parameters, out); an exit code after
    printing the build's help (``--help``) or one line (anything else)."""
    rest = [o for o in options if o != "--verbose"]
    pairs, out = [], None
    while rest:
        flag = rest.pop(0)
        if flag in ("-h", "--help"):
            print(build_help())
            return 0
        if flag not in ("-p", "--out") or not rest:
            say(f"build: {flag!r} is not an option here (or it lacks its value); see: python3 tools/compendium.py "
                f"build --help", sys.stderr)
            return 2
        value = rest.pop(0)
        if flag == "-p":
            pairs.append(value)
        else:
            out = value
    try:
        return parse_parameters(pairs), out
    except ValueError as error:
        say(str(error), sys.stderr)
        return 2


def main(argv: list[str]) -> int:
    """The command line (see :data:`USAGE`); returns the exit code."""
    signals.install_stop_handlers()
    try:
        return _main(argv)
    except KeyboardInterrupt:
        say(f"stopped ({signals.stop_name()})", sys.stderr)
        return signals.stop_code()


def _main(argv: list[str]) -> int:
    if argv and argv[0] == "student":  # student copies: standard library + nbformat
        if len(argv) != 2:
            print(USAGE)
            return 2
        if not running_in_venv() and PY.exists():
            return signals.run_forwarding([str(PY), str(ROOT / "tools" / "compendium.py"), *argv])
        from .student import write_student_copies

        written = write_student_copies(argv[1])
        say(f"{len(written)} student copies written to {argv[1]}")
        return 0
    if not argv or argv[0] not in ("build", "test", "new-review"):
        print(USAGE)
        return 2
    command, options = argv[0], argv[1:]
    verbose = "--verbose" in options
    parameters, out = {}, None
    if command == "build":
        read = read_build_options(options)
        if isinstance(read, int):
            return read
        parameters, out = read
    ensure_venv(verbose)
    if command == "test":
        from .testing import test

        code = test(options)
        if code == 5:
            say("pytest collected no tests: that is a failure here")
            return 1
        return code
    if not running_in_venv():  # one interpreter in .venv runs the whole build
        return signals.run_forwarding([str(PY), str(ROOT / "tools" / "compendium.py"), *argv])
    sys.path.insert(0, str(ROOT / "src"))  # src/compendium, not tools/compendium.py
    if command == "new-review":
        return new_review_command(options)
    return build_command(verbose, parameters, out)
