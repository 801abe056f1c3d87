"""review.json and the sheets checked at the door, one validator for a dropped-in folder and for
``new-review``: every bad input stops with one line naming the file, the line or key path, the
study id, the column and the value; a scaffolded review passes the project's own sheet tests."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import load_tool, snapshot

import helpers as h
from compendium.review_schema import ROW_COLUMNS, check_structure
from compendium.scaffold import new_review
from compendium.sheets import SheetError, load_review, load_reviews, read_sheet

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "data" / "raw"


def copy_review(tmp_path, name="bizzotto2023") -> Path:
    target = tmp_path / "raw" / name
    shutil.copytree(RAW / name, target)
    return target


def edit_json(folder: Path, change) -> None:
    meta = json.loads((folder / "review.json").read_text())
    meta = change(meta)
    (folder / "review.json").write_text(json.dumps(meta, indent=2))


def one_line_error(folder: Path) -> str:
    with pytest.raises(SheetError) as error:
        load_review(folder)
    text = str(error.value)
    assert "\n" not in text
    return text


def _set(path: list, value):
    def change(meta):
        node = meta
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return meta
    return change


def _drop(path: list):
    def change(meta):
        node = meta
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        return meta
    return change


def _rename_filter_column(i, old, new):
    def change(meta):
        spec = meta["analyses"][i]["filter"]
        spec[new] = spec.pop(old)
        return meta
    return change


# -- review.json: the cases of issue 20, each one line with the file, the key path and the value --

@pytest.mark.parametrize("change, message", [
    # a misspelled comparator column admitted every comparator: online support groups k 2 → 3, r −.014 → .287, exit 0
    (_set(["comparator", "column"], "comparater"),
     'key comparator.column value "comparater" names a column the effect rows do not have'),
    (_rename_filter_column(2, "help_seeking_type", "help_seeking_typ"),
     'key analyses[2].filter.help_seeking_typ value "help_seeking_typ" names a column effects.csv does not have'),
    # a missing transform drew the forest plots on Fisher's z instead of r
    (_drop(["transform"]), "key transform is missing: it is required here (null if the estimates are shown as fitted)"),
    (_set(["transform"], None), 'key transform value null: the fits are on Fisher\'s z and display_metric is "r"'),
    (_set(["transform"], "tan"), 'key transform value "tan" is not one of "tanh", null'),
    (_set(["analyses", 0, "published"], "online_support_group_depression"),
     'key analyses[0].published value "online_support_group_depression" is not a row of published_results.csv'),
    (_set(["subgroups", 2, "published"], "generation_z"),
     'key subgroups[2].published value "generation_z" is not a row of published_results.csv'),
    (_set(["published_included_row"], "meta-analysis"), 'key published_included_row value "meta-analysis" is not a row'),
    (_set(["analyses", 1, "filter", "help_seeking_type"], ["internet_generel"]),
     'key analyses[1].filter.help_seeking_type[0] value "internet_generel" matches no row: column '
     "'help_seeking_type' holds 'internet_general', 'online_support_group'"),
    (_set(["analyses", 1, "filter", "outcome"], []), "key analyses[1].filter.outcome value [] needs at least 1 item"),
    (_set(["analyses", 1, "filter", "outcome"], "depressive_symptoms"),
     'key analyses[1].filter.outcome value "depressive_symptoms" is not a list [...]'),
    (lambda meta: [], "key (top level) value [] is not an object {...}"),
    (_drop(["analyses"]), "key analyses is missing: it is required here"),
    (_set(["analyses"], []), "key analyses value [] needs at least 1 item"),
    (_set(["subgroups", 0, "analysis"], "any_help"),
     'key subgroups[0].analysis value "any_help" is not the name of an analysis; analyses: online_support_groups'),
    (_set(["subgroups", 0, "by"], "generaton"), 'key subgroups[0].by value "generaton" names a column the effect rows'),
    (_set(["analyses", 4, "forest_by"], "type"), 'key analyses[4].forest_by value "type" names a column'),
    (_set(["box_score_by"], ["help_seeking", "outcome"]), 'key box_score_by[0] value "help_seeking" names a column'),
    (_set(["direct_measure", "values"], ["None"]), 'key direct_measure.values[0] value "None" is not a value of column '
                                                   "'outcome_proxy'; the codebook's values: 'anxiety_depression'"),
    (_set(["analyses", 0, "filtre"], {}), "key analyses[0].filtre is not a key of review.json here; known keys: admit,"),
    (_set(["analyses", 0, "name"], "osg/depression"), 'key analyses[0].name value "osg/depression" is not a name: use ASCII'),
    (_set(["analyses", 1, "name"], "online_support_groups"),
     'key analyses[1].name value "online_support_groups" is also the name of analyses[0].name: names must be unique'),
    (_set(["admit", "proxies"], "no"), 'key admit.proxies value "no" is not true or false'),
    (_set(["design"], "survey"), 'key design value "survey" is not one of "correlational", "intervention", "generic"'),
    (_set(["review_year"], "2023"), 'key review_year value "2023" is not a whole number'),
    (_set(["analyses", 0, "design"], "pre_post"), 'key analyses[0].design value "pre_post" is not one of'),
    (_set(["search_end"], "March 2022"), 'key search_end value "March 2022"'),
    (_set(["box_score_one_direction"], {"rolle": ["mediator"]}), 'key box_score_one_direction.rolle value "rolle" names a column'),
    (_drop(["subgroups", 2, "published_group"]), "key subgroups[2].published_group is missing: it is required here"),
])
def test_a_bad_review_json_stops_with_its_key_path_and_value(tmp_path, change, message):
    folder = copy_review(tmp_path)
    edit_json(folder, change)
    text = one_line_error(folder)
    assert text.startswith(f"{folder / 'review.json'}: "), text
    assert message in text, text


def test_the_schema_is_a_valid_json_schema_and_both_reviews_meet_it():
    from jsonschema import Draft202012Validator

    from compendium.review_schema import SCHEMA

    Draft202012Validator.check_schema(json.loads(SCHEMA.read_text()))
    for name in ("bizzotto2023", "behr2025"):
        check_structure(json.loads((RAW / name / "review.json").read_text()), name)


def test_intervention_filters_may_name_the_trials_guidance_and_their_values_must_occur(tmp_path):
    folder = copy_review(tmp_path, "behr2025")
    load_review(folder)
    edit_json(folder, _set(["analyses", 2, "filter", "guidance"], ["guided", "self-guided"]))
    assert 'key analyses[2].filter.guidance[1] value "self-guided" matches no row' in one_line_error(folder)
    edit_json(folder, _set(["box_score_filter", "arm"], ["ig", "intervention"]))
    edit_json(folder, _set(["analyses", 2, "filter", "guidance"], ["guided"]))
    assert 'key box_score_filter.arm[1] value "intervention" matches no row' in one_line_error(folder)


def test_generic_review_needs_its_effect_measure_and_tanh_only_on_fishers_z():
    base = {"design": "generic", "effect_measure": "SMD", "transform": None, "display_metric": "g", "xlabel": "g",
            "analyses": [{"name": "all", "label": "All", "filter": {}}]}
    check_structure(base, "review.json")
    with pytest.raises(SheetError, match=r"^review.json: key effect_measure is missing"):
        check_structure({k: v for k, v in base.items() if k != "effect_measure"}, "review.json")
    with pytest.raises(SheetError, match=r'^review.json: key transform value "tanh": tanh turns Fisher\'s z into r'):
        check_structure({**base, "transform": "tanh"}, "review.json")
    check_structure({**base, "effect_measure": "ZCOR", "transform": "tanh", "display_metric": "r"}, "review.json")


def test_every_column_the_schema_allows_is_one_harmonise_gives(tmp_path):
    """:data:`ROW_COLUMNS` (what review.json may group by) cannot drift from what notebook 02 attaches."""
    plain = tmp_path / "t.csv"
    plain.write_text("study_id,r,n\nA,0.1,20\nB,0.2,30\n")
    reviews = [load_review(RAW / "bizzotto2023"), load_review(RAW / "behr2025"), load_review(new_review("mine", plain, tmp_path))]
    for review in reviews:
        converted, left = h.harmonise(review)
        assert set(ROW_COLUMNS[review.design]) <= set(converted.columns) & set(left.columns), review.design


# -- ids, names and values: one validator for a dropped-in folder and for new-review ---------------

BAD_IDS = ["Smith 2020", "Smith'2020", 'Smith"2020', "Smíth2020", "Smith/2020", "Smith..2020", "../x", "Smith2020 "]


@pytest.mark.parametrize("study", BAD_IDS)
def test_a_bad_study_id_is_refused_on_both_paths(tmp_path, study):
    folder = copy_review(tmp_path)
    studies = pd.read_csv(folder / "studies.csv", dtype=str, keep_default_na=False)
    first = studies.loc[0, "study_id"]
    for sheet in ("studies", "effects", "screening"):
        frame = pd.read_csv(folder / f"{sheet}.csv", dtype=str, keep_default_na=False)
        frame.loc[frame["study_id"] == first, "study_id"] = study
        frame.to_csv(folder / f"{sheet}.csv", index=False)
    text = one_line_error(folder)
    assert f"studies.csv: study {study!r} (line 2): column 'study_id' value {study!r} is not an id: use ASCII" in text
    if study != study.strip():
        return  # new-review strips the cells of a plain table (scaffold.py) before the same check
    table = tmp_path / "t.csv"
    pd.DataFrame({"study_id": [study], "yi": ["0.1"], "vi": ["0.1"]}).to_csv(table, index=False)
    (tmp_path / "new").mkdir()
    with pytest.raises(SheetError, match="column 'study_id' value .*: use ASCII letters") as error:
        new_review("mine", table, tmp_path / "new")
    assert "\n" not in str(error.value) and list((tmp_path / "new").iterdir()) == []


@pytest.mark.parametrize("name", ["mine\n", "mine ", "Mine", "../mine", "/tmp/mine", "mïne", ""])
def test_a_bad_review_name_is_refused_on_both_paths(tmp_path, name):
    table = tmp_path / "t.csv"
    table.write_text("study_id,yi,vi\nA,0.1,0.1\n")
    with pytest.raises(SheetError, match=r"review name .*: use lower-case ASCII letters"):
        new_review(name, table, tmp_path)
    with pytest.raises(SheetError, match=r"review name .* is not a folder name under .*: use lower-case ASCII letters"):
        load_reviews(RAW, [name])


def test_the_reviews_parameter_must_be_a_list():
    with pytest.raises(SheetError, match=r"^parameter 'reviews' value 'bizzotto2023' is not a list"):
        load_reviews(RAW, "bizzotto2023")
    assert list(load_reviews(RAW, ["bizzotto2023"])) == ["bizzotto2023"]


def test_an_outcome_that_would_name_a_file_is_checked(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("study_id,yi,vi,outcome\nA,0.1,0.1,anxiety/stress\n")
    with pytest.raises(SheetError, match=r"t.csv: line 2: study 'A': column 'outcome' value 'anxiety/stress' \(it names "
                                         r"the analysis and its figures\): use ASCII"):
        new_review("mine", table, tmp_path)


def test_duplicate_ids_name_both_lines(tmp_path):
    folder = copy_review(tmp_path)
    frame = pd.read_csv(folder / "effects.csv", dtype=str, keep_default_na=False)
    frame.loc[3, "effect_id"] = frame.loc[1, "effect_id"]
    frame.to_csv(folder / "effects.csv", index=False)
    assert (f"effects.csv: study {frame.loc[3, 'study_id']!r} (line 5): column 'effect_id' value "
            f"{frame.loc[1, 'effect_id']!r} occurs more than once (also on line 3)") in one_line_error(folder)


def test_group_sizes_the_formulas_cannot_use_stop_at_the_door(tmp_path):
    """n1 = n2 = 1 passed the codebook and failed in notebook 02 (Hedges' g needs two SDs)."""
    table = tmp_path / "t.csv"
    table.write_text("study_id,m1,sd1,n1,m2,sd2,n2\nA,1,2,1,0,2,1\n")
    with pytest.raises(SheetError, match=r"study 'A' \(line 2\): column 'n1' value 1 is out of range: allowed at least 2"):
        new_review("mine", table, tmp_path)
    folder = copy_review(tmp_path)  # a dropped-in codebook may narrow the formulas' ranges, never widen them
    book = pd.read_csv(folder / "codebook.csv", dtype=str, keep_default_na=False)
    line = int(book.index[book["column"] == "n_group1"][0]) + 2
    book.loc[book["column"] == "n_group1", "range"] = "[1,inf)"
    book.to_csv(folder / "codebook.csv", index=False)
    assert (f"codebook.csv: line {line}: effects.n_group1: column 'range' value '[1,inf)' is wider than the formulas "
            "allow: n_group1 must be at least 2") in one_line_error(folder)


def test_every_codebook_gives_the_formulas_their_ranges():
    from compendium.sheets import check_codebook

    for path in [*RAW.glob("*/codebook.csv"), ROOT / "src" / "compendium" / "templates" / "generic_codebook.csv"]:
        check_codebook(read_sheet(path), str(path))


# -- encodings, separators, ragged rows: detected, or named with the file and the line -------------

def test_a_sheet_with_a_byte_order_mark_or_semicolons_reads_as_the_same_sheet(tmp_path):
    folder = copy_review(tmp_path)
    before = load_review(folder).sheets["studies"]
    text = (folder / "studies.csv").read_text(encoding="utf-8")
    (folder / "studies.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    pd.testing.assert_frame_equal(load_review(folder).sheets["studies"], before)
    frame = pd.read_csv(RAW / "bizzotto2023" / "studies.csv", dtype=str, keep_default_na=False)
    frame.to_csv(folder / "studies.csv", index=False, sep=";")
    pd.testing.assert_frame_equal(load_review(folder).sheets["studies"], before)


def test_a_latin1_sheet_is_named_with_its_line(tmp_path):
    folder = copy_review(tmp_path)
    frame = pd.read_csv(folder / "studies.csv", dtype=str, keep_default_na=False)
    frame.loc[2, "population"] = "POPULATION"
    frame.to_csv(folder / "studies.csv", index=False)
    data = (folder / "studies.csv").read_bytes()
    (folder / "studies.csv").write_bytes(data.replace(b"POPULATION", "étudiants".encode("latin-1")))
    assert one_line_error(folder) == (f"{folder / 'studies.csv'}: line 4: byte 0xe9 is not UTF-8 (the file looks saved "
                                      "as Latin-1 or Windows-1252); save it as UTF-8")


@pytest.mark.parametrize("extra, more", [(",surplus", 1), (None, -1)])
def test_a_ragged_row_is_named_with_its_line(tmp_path, extra, more):
    folder = copy_review(tmp_path)
    lines = (folder / "studies.csv").read_text().splitlines()
    header = len(lines[0].split(","))  # the sheet's own width: a new column must not break the test
    lines[2] = lines[2] + extra if extra else lines[2].rsplit(",", 1)[0]
    (folder / "studies.csv").write_text("\n".join(lines) + "\n")
    message = f"line 3: {header + more} cells where the header has {header}"
    assert one_line_error(folder).startswith(f"{folder / 'studies.csv'}: {message}")


def test_a_column_named_twice_is_named(tmp_path):
    folder = copy_review(tmp_path)
    lines = (folder / "studies.csv").read_text().splitlines()
    lines[0] = lines[0].replace("title", "year")
    (folder / "studies.csv").write_text("\n".join(lines) + "\n")
    assert one_line_error(folder) == f"{folder / 'studies.csv'}: line 1: column 'year' is named twice in the header"


def test_published_results_numbers_are_checked(tmp_path):
    folder = copy_review(tmp_path)
    frame = pd.read_csv(folder / "published_results.csv", dtype=str, keep_default_na=False)
    frame.loc[0, "estimate"] = ".089*"
    frame.to_csv(folder / "published_results.csv", index=False)
    assert (f"published_results.csv: analysis 'online_support_groups_depressive_symptoms' (line 2): column 'estimate' "
            "value '.089*' is not a number") in one_line_error(folder)


# -- a scaffolded review is a first-class review (issue 24 item 2) --------------------------------

def repo_copy(tmp_path) -> Path:
    """The tracked files of the repository in ``tmp_path/repo``, as a git repository of their own."""
    tool = load_tool()
    root = tool.copy_tracked(ROOT, tmp_path / "repo")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        subprocess.run(["git", *command], cwd=root, check=True, env=env, capture_output=True)
    return root


def test_a_scaffolded_review_passes_the_sheet_tests_once_git_added(tmp_path):
    """new-review, then ``git add`` (as the README says), then the sheet tests over every folder of the
    copy: the scaffolded generic folder (no ``outcomes``, header-only screening and published results)
    passes them as the two reviews do, and so does the build's sheet check."""
    root = repo_copy(tmp_path)
    table = tmp_path / "normand.csv"
    ref = json.loads((ROOT / "tests" / "reference" / "metafor_reference.json").read_text())["normand"]
    frame = pd.DataFrame({c: ref[c] for c in ("m1", "sd1", "n1", "m2", "sd2", "n2")})
    frame.insert(0, "study_id", [f"Normand{i + 1:02d}" for i in range(len(frame))])
    frame.to_csv(table, index=False)
    new_review("normand_plain", table, root / "data" / "raw")
    subprocess.run(["git", "add", "data/raw/normand_plain"], cwd=root, check=True)
    assert (root / "data" / "raw" / "normand_plain" / "screening.csv").read_text().count("\n") == 1  # header-only
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                          "--rootdir", str(root), str(root / "tests" / "compendium" / "test_sheets.py"),
                          "-k", "normand_plain"], cwd=root, capture_output=True, text=True,
                         env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert run.returncode == 0, run.stdout[-3000:]
    passed = int(re.search(r"(\d+) passed", run.stdout).group(1))
    # 8 failed before (issue 24); 4 skip: no estimate column, no screening, ids not FirstAuthorYear, not an intervention
    assert passed >= 5 and "failed" not in run.stdout, run.stdout[-500:]
    tool = load_tool()
    tool.check_sheets(root, {}, tool.notebook_parameters(root))


# -- the build command: exit 2, one line, nothing written -------------------------------------------

def test_bad_input_stops_the_build_with_exit_2_one_line_and_nothing_written(tmp_path, capsys):
    """A made-up folder dropped into a copy of the repository, broken three ways in turn (a review.json
    key, a sheet's encoding, a string for a list parameter): each build exits 2 with one line and
    leaves every file of the copy byte for byte as it was."""
    tool = load_tool()
    root = tool.copy_tracked(ROOT, tmp_path / "repo")
    table = tmp_path / "t.csv"
    table.write_text("study_id,r,n\nA2001,0.1,20\nB2002,0.3,40\nC2003,0.2,30\n")
    folder = new_review("made_up", table, root / "data" / "raw")
    cases = [
        (lambda: edit_json(folder, _set(["analyses", 0, "filter"], {"outcome": ["outcme"]})), {},
         f"data/raw/made_up/review.json: key analyses[0].filter.outcome[0] value \"outcme\" matches no row"),
        (lambda: (folder / "studies.csv").write_bytes((folder / "studies.csv").read_bytes().replace(b"A2001", b"A2001\xe9")),
         {}, "data/raw/made_up/studies.csv: line 2: byte 0xe9 is not UTF-8"),
        (lambda: None, {"reviews": "made_up"}, "-p reviews='made_up': give a list of review folder names"),
    ]
    for break_it, parameters, message in cases:
        break_it()
        before = snapshot(root)
        assert tool.build_command(False, parameters, root=root) == 2, message
        err = capsys.readouterr().err
        assert snapshot(root) == before, message
        first = err.splitlines()[0]
        assert message in first and "Traceback" not in err, err
        if parameters:  # refused at the door, before the build's copy is made: one line
            assert len(err.splitlines()) == 1, err
        else:  # the sheet check: the line, and "nothing was written"
            assert first.startswith("[compendium] sheet check failed: ") and len(err.splitlines()) == 2, err
        shutil.rmtree(folder)
        folder = new_review("made_up", table, root / "data" / "raw")


def test_new_review_command_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    tool = load_tool()
    table = tmp_path / "t.csv"
    table.write_text("study_id,m1,sd1,n1,m2,sd2,n2\nA2001,1,2,1,0,2,1\n")
    before = sorted(p.name for p in RAW.iterdir())
    for name, message in (("mine", "column 'n1' value 1 is out of range: allowed at least 2"),
                          ("mine\n", "review name 'mine\\n': use lower-case ASCII letters")):
        assert tool.runner.cli.new_review_command([name, "--from", str(table)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in RAW.iterdir()) == before
