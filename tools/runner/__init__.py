"""The compendium's runner, one module per step of a build (``python3 tools/compendium.py`` is its entry):

- :mod:`~runner.cli`          the command line: ``build``, ``test``, ``new-review``, ``student``
- :mod:`~runner.environment`  the pinned virtual environment in .venv
- :mod:`~runner.parameters`   ``-p`` parameters: names, types and ranges checked at the door
- :mod:`~runner.graph`        the notebooks, their order (``GRAPH``) and what each writes (``WRITES``)
- :mod:`~runner.kernels`      each notebook's kernel, forked from a warm parent (``kernel_parent.py``),
                              started early, run through papermill
- :mod:`~runner.execute`      the build: notebooks side by side into a staging folder, then the report
- :mod:`~runner.publish`      the one module that writes: the build's copy, the rules on paths and
                              ``--out``, the lock, and the atomic publish (docs/data-safety.md)
- :mod:`~runner.signals`      Ctrl-C and SIGTERM: forwarded by the wrapper, a clean stop in the build
- :mod:`~runner.testing`      the test command: pytest and nbval, each notebook in a copy of its own
- :mod:`~runner.student`      student copies of the notebooks

The names below are the runner's public interface (the tests and ``benchmarks/bench_build.py`` use them).
"""
from .cli import build_command, build_help, main
from .environment import PY, ROOT, VENV, ensure_venv, say
from .execute import BuildError, build, build_error, check_sheets, load_helpers
from .graph import (GRAPH, NOTEBOOKS, OUTPUTS, RUNS, WRITES, critical_path_order, notebook_parameters, outputs_of,
                    rerun_notebooks, review_notebooks, with_inputs, written_by)
from .kernels import Stopped, start_kernel, stop_kernel, strip_run_metadata
from .parameters import check_parameters, parse_parameters, run_folder
from .publish import (PublishError, UnsafePath, check_out, check_paths, copy_outputs, copy_tracked,
                      tracked_files, working_files)
from .student import write_student_copies
from .testing import fresh_copy, notebook_copy, test
