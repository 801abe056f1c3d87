"""PRISMA 2020 counts records, reports and studies apart (compendium/extraction.py)."""
import pandas as pd
import pytest

import helpers as h


def record(rid, decision, reason, study="", via="search"):
    return {"record_id": rid, "study_id": study, "found_via": via, "decision": decision, "reason": reason}


SCREENING = pd.DataFrame([
    record("R1", "included", "in_scope_numeric", "A", via="lead"),
    record("R2", "included", "in_scope_significance_only", "B"),
    record("R3", "further_report", "report_of_included_study", "A"),   # a registry entry of A
    record("R4", "further_report", "report_of_included_study", "A"),   # a preprint of A
    record("R5", "duplicate", "duplicate_record", "B"),
    record("R6", "excluded", "no_reachable_text"),
    record("R7", "excluded", "not_rct"),
    record("R8", "excluded", "not_rct"),
])
EFFECTS = pd.DataFrame({"study_id": ["A", "B"], "statistic_type": ["r", "p_only"]})


def test_records_reports_and_studies_are_counted_apart():
    counts = h.prisma_counts(SCREENING, EFFECTS)
    n = dict(zip(counts["box"], counts["n"]))
    assert n["records: calibration leads"] == 1 and n["records: own search and citations"] == 7
    assert n["duplicate records removed"] == 1 and n["records screened"] == 7
    assert n["reports not retrieved"] == 1 and n["reports assessed for eligibility"] == 6
    assert n["not rct"] == 2
    assert n["studies included"] == 2 and n["reports of included studies"] == 4
    assert n["studies with a numeric statistic"] == 1


def test_counts_that_do_not_add_up_are_refused():
    broken = SCREENING.assign(decision=SCREENING["decision"].replace({"further_report": "unknown"}))
    with pytest.raises(ValueError, match=r"do not add up.*\['unknown'\]"):
        h.prisma_counts(broken, EFFECTS)


def test_two_papers_on_one_sample_count_as_one_study_in_prisma():
    studies = pd.DataFrame({"study_id": ["A", "B"], "same_sample_as": ["", "A"]})
    n = dict(zip(*h.prisma_counts(SCREENING, EFFECTS, studies)[["box", "n"]].T.values))
    assert n["studies included"] == 1 and n["reports of included studies"] == 4


def test_the_flow_sentence_is_built_from_the_counts():
    text = h.flow_sentence("made_up", h.prisma_counts(SCREENING, EFFECTS))
    assert text == ("made_up: 7 records screened led to 2 studies in 4 reports; 1 report could not be retrieved, "
                    "and 1 study with a numeric statistic.")


def test_the_flow_sentence_explains_study_ids_that_prisma_counts_once():
    import pandas as pd

    counts = pd.DataFrame({"box": ["records screened", "studies included", "reports of included studies",
                                   "reports not retrieved", "studies with a numeric statistic"], "n": [10, 2, 3, 1, 1]})
    studies = pd.DataFrame({"study_id": ["A", "B", "C"], "same_sample_as": ["", "", "A"]})
    text = h.flow_sentence("x", counts, studies)
    assert "The study table lists 3 ids and PRISMA counts 2 studies: 1 of the ids is a paper on a sample" in text
    assert "The study table" not in h.flow_sentence("x", counts, studies.iloc[:2])
