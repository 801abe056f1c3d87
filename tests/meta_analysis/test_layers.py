"""The engine is a package of its own: nothing in src/meta_analysis imports the compendium layer."""
import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_engine_imports_nothing_from_the_compendium():
    files = sorted((SRC / "meta_analysis").glob("*.py"))
    assert len(files) >= 8
    for path in files:
        assert not imported_modules(path) & {"compendium", "helpers"}, path.name


def test_every_module_is_readable_in_a_sitting():
    for path in sorted((SRC / "meta_analysis").glob("*.py")) + sorted((SRC / "compendium").glob("*.py")):
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= 500, f"{path.relative_to(SRC)} has {lines} lines"


def test_helpers_is_a_short_door():
    assert (SRC / "helpers.py").read_text(encoding="utf-8").count("\n") <= 60


def test_importing_helpers_leaves_the_slow_packages_to_the_functions_that_need_them():
    """statsmodels, seaborn, matplotlib and scipy are imported where they are used, so a process pays
    for them only when it calls such a function: scipy.stats, the engine's source of distributions,
    at the first fit (``meta_analysis._lazy``; about 0.45 s), not in notebook 01, the build's sheet
    check or a command stopped at the door."""
    import subprocess
    import sys

    slow = ("statsmodels", "seaborn", "matplotlib", "scipy")
    code = f"import sys; sys.path.insert(0, {str(SRC)!r}); import helpers; print(*[m for m in {slow!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []
