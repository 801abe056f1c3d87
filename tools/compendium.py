"""The compendium's command: ``python3 tools/compendium.py build | test | new-review | student``.

A thin entry: the runner is the package ``tools/runner/`` (one module per step of a build; its
``__init__`` lists them). Imported as a module (the tests, ``benchmarks/bench_build.py``) this file is
that package, loaded from the folder beside it, so a copy of the repository runs its own runner.
"""
import importlib.util
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent / "runner"


def _load_runner():
    """The package beside this file as ``runner`` (replacing one loaded from another copy)."""
    loaded = sys.modules.get("runner")
    if loaded is not None and Path(loaded.__file__).resolve().parent == _HERE:
        return loaded
    for name in [m for m in sys.modules if m == "runner" or m.startswith("runner.")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location("runner", _HERE / "__init__.py", submodule_search_locations=[str(_HERE)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["runner"] = module
    spec.loader.exec_module(module)
    return module


runner = _load_runner()
globals().update({k: v for k, v in vars(runner).items() if not k.startswith("__")})

if __name__ == "__main__":
    sys.exit(runner.main(sys.argv[1:]))
