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
