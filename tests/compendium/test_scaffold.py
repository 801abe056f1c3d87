"""new-review: a review folder from a plain table, checked before anything is written."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compendium.harmonise import harmonise
from compendium.scaffold import new_review
from compendium.sheets import SheetError, load_review

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_reference.json").read_text())


def plain(tmp_path, data: str, columns: list[str], name: str = "table.csv") -> Path:
    table = pd.DataFrame({c: REF[data][c] for c in columns})
    table.insert(0, "study_id", [f"S{i + 1:02d}" for i in range(len(table))])
    path = tmp_path / name
    table.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("data, columns, measure", [
    ("molloy", ["ri", "ni"], "ZCOR"),
    ("normand", ["m1", "sd1", "n1", "m2", "sd2", "n2"], "SMD"),
    ("bcg", ["yi", "vi"], "generic"),
])
def test_each_kind_of_plain_table_gives_metafors_yi_and_vi(tmp_path, data, columns, measure):
    path = plain(tmp_path, data, columns)
    if data == "molloy":
        frame = pd.read_csv(path).rename(columns={"ri": "r", "ni": "n"})
        frame.to_csv(path, index=False)
    raw = tmp_path / "raw"
    raw.mkdir()
    review = load_review(new_review("mine", path, raw))
    assert review.meta["effect_measure"] == measure and review.design == "generic"
    converted, left = harmonise(review)
    assert left.empty and "reason" in left.columns
    np.testing.assert_allclose(converted["yi"], REF[data]["yi"], rtol=1e-6)
    np.testing.assert_allclose(converted["vi"], REF[data]["vi"], rtol=1e-6)
    effects = review.effects
    assert effects["location"].iloc[2] == "table.csv, line 4"
    assert effects["statistic_as_printed"].iloc[0].startswith(f"{columns[0].rstrip('i') if data == 'molloy' else columns[0]} = ")
    assert (raw / "mine" / "screening.csv").read_text().startswith("record_id,")


def test_optional_columns_outcomes_and_repeated_studies(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("study_id,yi,vi,year,label,source,outcome\n"
                    "A1,0.2,0.04,2001,Alpha trial,doi:10.1/x,anxiety\n"
                    "A1,0.3,0.05,2001,Alpha trial,doi:10.1/x,depression\n"
                    "B2,-0.1,0.02,2003,,,depression\n")
    review = load_review(new_review("two", path, tmp_path))
    assert list(review.effects["effect_id"]) == ["A1_1", "A1_2", "B2_1"]
    assert list(review.effects["source"]) == ["doi:10.1/x", "doi:10.1/x", "t.csv"]
    assert list(review.sheets["studies"]["title"]) == ["Alpha trial", ""]
    assert [a["filter"] for a in review.meta["analyses"]] == [{"outcome": ["anxiety"]}, {"outcome": ["depression"]}]


@pytest.mark.parametrize("text, message", [
    ("id,r,n\nA,0.1,20\n", "t.csv: line 1: no column 'study_id'"),
    ("study_id,r,n,yi,vi\nA,0.1,20,0.1,0.1\n", "give r and yi_vi of the kinds"),
    ("study_id,r\nA,0.1\n", "give none of the kinds"),
    ("study_id,r,n,weight\nA,0.1,20,3\n", "unexpected columns ['weight']"),
    ("study_id,r,n\nA,0.1,20\nB,x,20\n", "t.csv: line 3: study 'B': column 'r' value 'x' is not a number"),
    ("study_id,r,n\nA,1.5,20\n", "study 'A' (line 2): column 'r' value 1.5 is out of range: allowed in (-1, 1)"),
    ("study_id,r,n\nA,0.1,2\n", "study 'A' (line 2): column 'n' value 2 is out of range: allowed at least 4"),
    ("study_id,yi,vi\nA,0.1,0\n", "column 'vi' value 0 is out of range: allowed greater than 0"),
    ("study_id,m1,sd1,n1,m2,sd2,n2\nA,1,-2,10,1,2,10\n", "column 'sd1' value -2 is out of range"),
    ("study_id,yi,vi\nA b,0.1,0.1\n", "t.csv: line 2: column 'study_id' value 'A b'"),
    ("", "t.csv: line 1: the file is empty"),
    ("study_id,yi,vi\n", "t.csv: line 2: no rows below the header"),
])
def test_a_bad_table_gets_one_line_and_nothing_is_written(tmp_path, text, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    raw = tmp_path / "raw"
    raw.mkdir()
    with pytest.raises(SheetError) as error:
        new_review("mine", path, raw)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert list(raw.iterdir()) == []


def test_an_existing_folder_is_never_overwritten_and_names_are_checked(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("study_id,yi,vi\nA,0.1,0.1\n")
    new_review("mine", path, tmp_path)
    before = (tmp_path / "mine" / "effects.csv").read_bytes()
    with pytest.raises(FileExistsError, match="never overwritten"):
        new_review("mine", path, tmp_path)
    assert (tmp_path / "mine" / "effects.csv").read_bytes() == before
    with pytest.raises(SheetError, match="lower-case ASCII letters"):
        new_review("My Review", path, tmp_path)


def test_a_row_of_another_kind_goes_to_the_box_score_with_its_reason(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("study_id,yi,vi\nA,0.1,0.1\nB,0.2,0.1\n")
    folder = new_review("mine", path, tmp_path)
    effects = pd.read_csv(folder / "effects.csv", dtype=str, keep_default_na=False)
    effects.loc[1, ["statistic_type", "yi", "vi"]] = ["direction_only", "", ""]
    effects.to_csv(folder / "effects.csv", index=False)
    converted, left = harmonise(load_review(folder))
    assert list(converted["study_id"]) == ["A"]
    assert list(left["reason"]) == ["only direction and significance are given"]
