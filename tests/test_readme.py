"""The README's first screen tells a newcomer what this is, where the result is, the two commands and
where to go next; it is the one place the two commands are written (CI runs its test command)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FIRST_SCREEN = "\n".join(README.splitlines()[:45])
COMMANDS = re.findall(r"^(python3 tools/compendium\.py (?:build|test))\s+#", FIRST_SCREEN, flags=re.M)


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_first_screen_has_the_result_the_two_commands_and_where_to_go_next():
    assert COMMANDS == ["python3 tools/compendium.py build", "python3 tools/compendium.py test"]
    assert all(c in FIRST_SCREEN for c in COMMANDS)
    assert "reports/index.html" in FIRST_SCREEN and "figures/comparison_published_vs_ours.png" in FIRST_SCREEN
    assert (ROOT / "figures" / "comparison_published_vs_ours.png").exists()
    for where in ("#open-it-in-jupyterlab", "#drop-in-your-own-data", "#teach-with-it", "docs/how-it-is-built.md"):
        assert where in FIRST_SCREEN, where


def test_every_link_in_the_readme_resolves():
    anchors = {anchor(h) for h in re.findall(r"^#+ (.+)$", README, flags=re.M)}
    for target in re.findall(r"\]\(([^)\s]+)\)", README):
        if target.startswith("#"):
            assert target[1:] in anchors, target
        elif not target.startswith("http"):
            assert (ROOT / target).exists(), target


def test_ci_runs_exactly_the_readmes_test_command():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert lines[-1] == COMMANDS[1]


def test_mechanics_live_in_docs_and_examples_write_inside_runs():
    assert not re.search(r"xdist|floor|scheduler|\.build-test", FIRST_SCREEN)
    assert "times the floor" not in README and "times the floor" in (ROOT / "docs" / "how-it-is-built.md").read_text()
    assert "pytest-xdist" in (ROOT / "docs" / "how-it-is-built.md").read_text(encoding="utf-8")
    outs = re.findall(r"--out (\S+)", README)
    assert outs and all(o.startswith("runs/") for o in outs)
