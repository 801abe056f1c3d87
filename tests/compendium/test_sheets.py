"""The extraction sheets in data/raw/: schema, sources, parsable numbers, cross-references,
and the clear error a bad sheet gets.

The tests of the folders follow each folder's design (``h.SHEETS``): a review that ``new-review``
scaffolds (generic design, header-only ``screening.csv`` and ``published_results.csv``) passes
them as well as the two reviews do (tests/compendium/test_review_schema.py scaffolds one into a
copy of the repository and runs this module over it)."""
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

import helpers as h
from compendium.sheets import OPTIONAL_SHEETS

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "data" / "raw"
REVIEWS = h.list_reviews(RAW)


def test_both_reviews_are_present():
    assert {"bizzotto2023", "behr2025"} <= set(REVIEWS)


def result_sheets(review) -> list[str]:
    """The sheets of result rows of a review's design (the effect rows, and box scores if any)."""
    return [s for s in h.SHEETS[review.design] if s not in ("studies", "screening")]


@pytest.fixture(scope="module", params=REVIEWS)
def review(request):
    return h.load_review(RAW / request.param)


def test_sheets_validate_against_codebook(review):
    """Every sheet of the design is loaded and validated; the required ones have rows (the optional
    ones, screening and box scores, may be header-only or missing)."""
    for sheet in h.SHEETS[review.design]:
        assert list(review.sheets[sheet].columns) == list(review.codebook.loc[review.codebook["sheet"] == sheet, "column"])
        if sheet not in OPTIONAL_SHEETS:
            assert len(review.sheets[sheet]) > 0, f"{review.review_id}/{sheet}.csv is empty"


def test_every_result_row_has_source_location_and_statistic(review):
    for sheet in result_sheets(review):
        frame = review.sheets[sheet]
        for col in ("source", "location", "statistic_as_printed"):
            empty = frame[frame[col].str.strip() == ""]
            assert empty.empty, f"{sheet}: rows without {col}: {list(empty.iloc[:, 1])}"
        # a DOI, PMID or URL; in a scaffolded review, the plain table's file the row was read from
        looks_like_source = frame["source"].str.contains(r"10\.\d{4,}/|PMID|PMC\d+|https?://|doi|\.csv$", case=False, regex=True)
        assert looks_like_source.all(), f"{sheet}: sources that are not a DOI, PMID or URL: {list(frame.loc[~looks_like_source, 'source'])}"


VALUE_COLUMNS = {"correlational": ["value", "m_group1", "p_value"], "generic": ["r", "m1", "yi"],
                 "intervention": ["es_value", "m_ig", "t_value", "f_value", "m_pre", "p_value"]}
ESTIMATE_COLUMN = {"correlational": "value", "intervention": "es_value"}  # a printed estimate, parsed


def test_numeric_rows_carry_a_number(review):
    frame = review.effects
    value_cols = VALUE_COLUMNS[review.design]
    numeric = frame[~frame["statistic_type"].isin(["p_only", "direction_only"])]
    has_number = numeric[value_cols].notna().any(axis=1)
    assert has_number.all(), f"rows typed numeric without any number: {list(numeric.loc[~has_number].iloc[:, 1])}"


def test_printed_values_appear_in_the_statistic_as_printed(review):
    """A parsed point estimate must be visible in the printed text (leading zero and sign aside)."""
    if review.design not in ESTIMATE_COLUMN:
        pytest.skip(f"a {review.design} sheet has no parsed estimate column")
    col = ESTIMATE_COLUMN[review.design]
    frame = review.effects.dropna(subset=[col])
    for row in frame.itertuples():
        number = abs(getattr(row, col))
        text = row.statistic_as_printed.replace("−", "-")
        candidates = {f"{number:g}", f"{number:.2f}", f"{number:.3f}", f"{number:.1f}"}
        candidates |= {c.lstrip("0") for c in candidates if c.startswith("0.")}
        assert any(c in text for c in candidates), f"{row.study_id}: value {number:g} not in {text!r}"


def test_ids_unique_and_cross_referenced(review):
    studies = review.sheets["studies"]
    assert studies["study_id"].is_unique
    assert set(review.effects["study_id"]) <= set(studies["study_id"])
    screening = review.sheets["screening"]
    assert screening["record_id"].is_unique
    included = screening.loc[screening["decision"] == "included", "study_id"]
    assert set(included) <= set(studies["study_id"])
    if len(screening):  # optional: without records, PRISMA counts studies only
        assert set(studies["study_id"]) <= set(included), "every study in studies.csv should have an included screening record"


def test_study_ids_follow_first_author_year(review):
    """Where the codebook states the FirstAuthorYear convention (the two reviews), the ids keep it."""
    book = review.codebook
    if "FirstAuthorYear" not in book.loc[(book["sheet"] == "studies") & (book["column"] == "study_id"), "description"].iloc[0]:
        pytest.skip("this codebook does not ask for FirstAuthorYear ids")
    pattern = re.compile(r"^[A-Za-z][A-Za-z-]*\d{4}[a-z]?$")
    bad = [s for s in review.sheets["studies"]["study_id"] if not pattern.match(s)]
    assert not bad, f"study ids not of the form FirstAuthorYear: {bad}"


def test_intervention_trials_have_guidance_and_control(review):
    if review.design != "intervention":
        pytest.skip("correlational review")
    studies = review.sheets["studies"]
    assert studies["guidance"].isin(["guided", "unguided", "unclear"]).all()
    assert studies["control_type"].ne("").all()


def test_published_results_are_in_the_repository(review):
    """Every published result review.json names is a row of published_results.csv (the load checks
    it too); a scaffolded review names none, and its file may be header-only."""
    named = [s["published"] for s in review.meta["analyses"] + review.meta.get("subgroups", []) if "published" in s]
    if named or review.design != "generic":
        assert (review.folder / "published_results.csv").exists()
        assert set(named) <= set(review.published["analysis"]) and len(review.published) > 0


# -- bad input: a clear error, and nothing half-written ------------------------------------------

def copy_review(tmp_path, name="bizzotto2023"):
    target = tmp_path / "raw" / name
    shutil.copytree(RAW / name, target)
    return target


def edit_cell(path, row, column, value):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row, column] = value
    frame.to_csv(path, index=False)
    return frame.iloc[row]


@pytest.mark.parametrize("sheet,column,value,message", [
    ("effects", "direction", "upward", "column 'direction' value 'upward' is not one of"),
    ("effects", "value", "0.2.1", "column 'value' value '0.2.1' is not a number"),
    ("effects", "n_effect", "12.5", "column 'n_effect' value '12.5' is not a whole number"),
    ("effects", "source", "", "column 'source' is empty but required"),
    ("effects", "study_id", "Nobody1999", "column 'study_id' value 'Nobody1999' is not a study_id in studies.csv"),
    ("studies", "design", "survey", "column 'design' value 'survey' is not one of"),
])
def test_bad_cell_names_study_column_and_value(tmp_path, sheet, column, value, message):
    folder = copy_review(tmp_path)
    row = edit_cell(folder / f"{sheet}.csv", 0, column, value)
    with pytest.raises(h.SheetError, match=re.escape(message)) as error:
        h.load_review(folder)
    if column != "study_id":
        assert repr(row["study_id"]) in str(error.value)


def test_duplicate_ids_are_refused(tmp_path):
    folder = copy_review(tmp_path)
    frame = pd.read_csv(folder / "effects.csv", dtype=str, keep_default_na=False)
    frame.loc[1, "effect_id"] = frame.loc[0, "effect_id"]
    frame.to_csv(folder / "effects.csv", index=False)
    with pytest.raises(h.SheetError, match="occurs more than once"):
        h.load_review(folder)


def test_missing_column_is_refused(tmp_path):
    folder = copy_review(tmp_path)
    frame = pd.read_csv(folder / "effects.csv", dtype=str, keep_default_na=False).drop(columns=["location"])
    frame.to_csv(folder / "effects.csv", index=False)
    with pytest.raises(h.SheetError, match=r"missing \['location'\]"):
        h.load_review(folder)


def test_raw_sheets_are_not_written_by_the_pipeline(tmp_path):
    folder = copy_review(tmp_path, "behr2025")
    before = {p.name: p.read_bytes() for p in folder.glob("*.csv")}
    review = h.load_review(folder)
    h.harmonise(review)
    assert before == {p.name: p.read_bytes() for p in folder.glob("*.csv")}


# -- one study, once --------------------------------------------------------------------------------

def test_every_further_report_is_linked_to_an_included_study(review):
    screening = review.sheets["screening"]
    if screening.empty:
        pytest.skip("no screening records (an optional sheet)")
    studies = set(review.sheets["studies"]["study_id"])
    linked = screening[screening["decision"].isin(["included", "further_report"])]
    assert set(linked["study_id"]) == studies


@pytest.mark.parametrize("column,first,second", [
    ("doi", "10.1037/COU0000014", "https://doi.org/10.1037/cou0000014"),
    ("pmid", "12345678", " 12345678"),
    ("title", "Evaluating an online stress-management intervention", "evaluating an Online stress management intervention."),
])
def test_two_study_ids_of_one_study_are_refused(column, first, second):
    studies = pd.DataFrame({"study_id": ["Frazier2015", "Hintz2015"], "doi": ["", ""], "pmid": ["", ""],
                            "title": ["A first title of a study", "A second title of another study"]})
    studies.loc[0, column], studies.loc[1, column] = first, second
    with pytest.raises(h.SheetError, match=rf"study 'Hintz2015' \(line 3\): column '{column}' .* is also the {column} "
                                           r"of study 'Frazier2015' \(line 2\)"):
        h.check_one_study_once(studies, "studies.csv")


def test_distinct_studies_pass_the_one_study_check():
    studies = pd.DataFrame({"study_id": ["A2020", "B2021"], "doi": ["10.1/a", "10.1/b"], "pmid": ["1", ""],
                            "title": ["One study of help seeking", "Another study of help seeking"]})
    h.check_one_study_once(studies, "studies.csv")


def test_a_study_without_an_included_record_is_refused(tmp_path):
    folder = copy_review(tmp_path)
    frame = pd.read_csv(folder / "screening.csv", dtype=str, keep_default_na=False)
    study = frame.loc[frame["decision"] == "included", "study_id"].iloc[0]
    frame.loc[frame["study_id"] == study, "decision"] = "further_report"
    frame.to_csv(folder / "screening.csv", index=False)
    with pytest.raises(h.SheetError, match=rf"study '{study}' .* no record with decision 'included'"):
        h.load_review(folder)


def test_same_sample_links_must_name_an_independent_study():
    studies = pd.DataFrame({"study_id": ["A", "B", "C"], "same_sample_as": ["", "A", "B"]})
    with pytest.raises(h.SheetError, match=r"study 'C' \(line 4\): column 'same_sample_as' value 'B' names 'B', which names 'A'"):
        h.check_same_sample(studies, "studies.csv")
    h.check_same_sample(studies.assign(same_sample_as=["", "A", "A"]), "studies.csv")


# -- values out of range, empty and missing sheets: one line each, naming file, line, study, column --

def first_row_of(folder, sheet, kind):
    frame = pd.read_csv(folder / f"{sheet}.csv", dtype=str, keep_default_na=False)
    return int(frame.index[frame["statistic_type"] == kind][0])


@pytest.mark.parametrize("kind,column,value,message", [
    ("percent", "m_group1", "45", None),                              # a percentage of 45 is fine
    ("aor", "value", "-2", "column 'value' value -2 is not allowed: an aor must be greater than 0"),
    ("aor", "ci_low", "9", "is not allowed: the lower limit must not exceed ci_high"),
    ("aor", "n_effect", "2", "column 'n_effect' value 2 is out of range: allowed at least 4"),
    ("aor", "p_value", "1.5", "column 'p_value' value 1.5 is out of range: allowed in (0, 1]"),
    ("means", "sd_group1", "0", "column 'sd_group1' value 0 is out of range: allowed greater than 0"),
])
def test_out_of_range_values_stop_at_the_door(tmp_path, kind, column, value, message):
    folder = copy_review(tmp_path)
    i = first_row_of(folder, "effects", kind)
    row = edit_cell(folder / "effects.csv", i, column, value)
    if message is None:
        h.load_review(folder)
        return
    with pytest.raises(h.SheetError, match=re.escape(message)) as error:
        h.load_review(folder)
    text = str(error.value)
    assert "effects.csv" in text and f"(line {i + 2})" in text and repr(row["study_id"]) in text
    assert "\n" not in text


def test_a_correlation_outside_minus_one_one_is_refused(tmp_path):
    folder = copy_review(tmp_path)
    frame = pd.read_csv(folder / "effects.csv", dtype=str, keep_default_na=False)
    frame.loc[0, ["statistic_type", "value"]] = ["r", "1.5"]
    frame.to_csv(folder / "effects.csv", index=False)
    with pytest.raises(h.SheetError, match=r"line 2\): column 'value' value 1.5 is not allowed: a r must lie in \(-1, 1\)"):
        h.load_review(folder)


def test_an_empty_sheet_and_a_missing_required_sheet_are_named(tmp_path):
    folder = copy_review(tmp_path)
    (folder / "effects.csv").write_text("")
    with pytest.raises(h.SheetError, match=r"effects.csv: line 1: the file is empty"):
        h.load_review(folder)
    (folder / "effects.csv").unlink()
    with pytest.raises(h.SheetError, match=r"effects.csv: file not found; a correlational review needs studies, effects"):
        h.load_review(folder)


def test_screening_is_optional_and_prisma_says_what_it_cannot_count(tmp_path):
    folder = copy_review(tmp_path)
    (folder / "screening.csv").unlink()
    review = h.load_review(folder)
    counts = h.prisma_counts(review.sheets["screening"], review.effects, review.sheets["studies"])
    assert list(counts["box"]) == ["studies with a result", "studies with a numeric statistic"]


def test_a_header_only_effects_sheet_stops_at_the_door_and_harmonises_to_header_only_tables(tmp_path):
    """A review whose effects sheet has no rows would build without figures: the door stops it
    (one line); harmonise itself still gives header-only tables for an empty sheet."""
    folder = copy_review(tmp_path)
    header = (folder / "effects.csv").read_text().split("\n")[0]
    (folder / "effects.csv").write_text(header + "\n")
    with pytest.raises(h.SheetError, match=r"effects.csv: line 2: no rows below the header; effects.csv needs at least "
                                           r"one row \(only screening, box_scores and published_results may be header-only\)$"):
        h.load_review(folder)
    review = h.load_review(copy_review(tmp_path / "whole"))
    empty = h.validate_sheet(pd.read_csv(folder / "effects.csv", dtype=str, keep_default_na=False), "effects",
                             review.codebook, "effects.csv")
    review = h.Review(review.review_id, review.folder, review.meta, review.codebook, {**review.sheets, "effects": empty})
    done, left = h.harmonise(review)
    assert done.empty and left.empty and "yi" in done.columns and "reason" in left.columns
    h.write_table(done, tmp_path / "done.csv")
    assert list(h.read_table(tmp_path / "done.csv").columns) == list(done.columns)
