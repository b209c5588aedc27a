"""Outcomes: recorded one at a time or from a CSV file, checked whole first,
with errors that name the row and the problem but never the values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.library import import_paths
from engine.library.outcomes import (
    OutcomeError,
    add_outcomes,
    list_outcomes,
    make_outcome,
    read_outcomes_csv,
)
from tests.support.dicom_factory import mg_dataset

STUDY = "1.2.826.0.1.3680043.10.1234.501"
OTHER = "1.2.826.0.1.3680043.10.1234.502"
HEADER = "study_uid,side,result,date,histology,size_mm,nodes\n"


@pytest.fixture
def lib(library, tmp_path):
    folder = tmp_path / "dicom"
    folder.mkdir()
    for n, (study, date) in enumerate(((STUDY, "20240110"), (OTHER, "20240301"))):
        mg_dataset(StudyInstanceUID=study, PatientID="SYN-0042", StudyDate=date).save_as(
            folder / f"{n}.dcm", enforce_file_format=True)
    assert not import_paths(library, [folder]).rejected
    return library


def csv_file(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "outcomes.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_a_breast_can_have_a_biopsy_then_surgery(lib):
    added = add_outcomes(lib, [
        make_outcome(STUDY, "R", "malignant", "2024-01-20", "invasive ductal carcinoma", "8",
                     "unknown", "biopsy"),
        make_outcome(STUDY, "r", "Malignant", "2024-02-15", " invasive  ductal carcinoma ",
                     "9.5", "negative", "surgery"),
    ])
    assert [o.id for o in added] == [1, 2]
    stored = list_outcomes(lib, STUDY)
    assert [(o.side, o.result, o.date, o.size_mm, o.nodes, o.procedure) for o in stored] == [
        ("R", "malignant", dt.date(2024, 1, 20), 8.0, "unknown", "biopsy"),
        ("R", "malignant", dt.date(2024, 2, 15), 9.5, "negative", "surgery")]
    assert stored[1].histology == "invasive ductal carcinoma"
    assert stored[0].created_at and list_outcomes(lib, OTHER) == []
    assert stored[0].as_dict()["date"] == "2024-01-20"


def test_the_same_outcome_twice_is_recorded_once(lib):
    outcome = make_outcome(STUDY, "L", "benign", "2024-02-01")
    assert len(add_outcomes(lib, [outcome])) == 1
    assert add_outcomes(lib, [outcome, outcome]) == []
    assert len(list_outcomes(lib)) == 1


@pytest.mark.parametrize(("fields", "bad", "message"), [
    (("X", "malignant", "2024-01-20"), "X", "side must be R or L"),
    (("R", "cancer", "2024-01-20"), "cancer", "result must be one of malignant, benign, "
                                              "high-risk"),
    (("R", "benign", "20.01.2024"), "20.01.2024", "YYYY-MM-DD"),
    (("R", "benign", "2024-02-30"), "2024-02-30", "YYYY-MM-DD"),
    (("R", "benign", "2999-01-01"), "2999", "in the future"),
])
def test_bad_values_are_refused_without_repeating_them(fields, bad, message):
    with pytest.raises(OutcomeError, match=message) as info:
        make_outcome(STUDY, *fields)
    assert bad not in str(info.value)


def test_sizes_and_nodes_are_checked():
    with pytest.raises(OutcomeError, match="size_mm must be a number"):
        make_outcome(STUDY, "R", "malignant", "2024-01-20", size_mm="big")
    with pytest.raises(OutcomeError, match="between 0 and 1000"):
        make_outcome(STUDY, "R", "malignant", "2024-01-20", size_mm="0")
    with pytest.raises(OutcomeError, match="nodes must be one of"):
        make_outcome(STUDY, "R", "malignant", "2024-01-20", nodes="n1")


def test_an_unknown_study_or_an_outcome_before_the_study_is_refused(lib):
    with pytest.raises(OutcomeError, match="no such study"):
        add_outcomes(lib, [make_outcome("1.2.3.999", "R", "benign", "2024-02-01")])
    with pytest.raises(OutcomeError, match="before the study's date"):
        add_outcomes(lib, [make_outcome(OTHER, "R", "benign", "2024-02-01")])
    assert list_outcomes(lib) == []


def test_a_csv_file_is_read_whole(lib, tmp_path):
    path = csv_file(tmp_path, f"{STUDY},R,malignant,2024-01-20,invasive ductal,8,negative\n"
                              f"{STUDY},L,benign,2024-01-25,,,\n"
                              f"{OTHER},R,high-risk,2024-03-10,atypical ductal hyperplasia,,\n")
    outcomes = read_outcomes_csv(path, lib)
    assert [(o.study_uid, o.side, o.result, o.size_mm, o.nodes) for o in outcomes] == [
        (STUDY, "R", "malignant", 8.0, "negative"), (STUDY, "L", "benign", None, "unknown"),
        (OTHER, "R", "high-risk", None, "unknown")]
    assert len(add_outcomes(lib, outcomes)) == 3


def test_a_csv_file_may_start_with_a_byte_order_mark_and_name_the_procedure(lib, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(("\ufeff" + HEADER.replace("\n", ",procedure\n")
                      + f"{STUDY},R,malignant,2024-01-20,DCIS,,,surgery\n").encode())
    [outcome] = read_outcomes_csv(path, lib)
    assert (outcome.histology, outcome.procedure) == ("DCIS", "surgery")


@pytest.mark.parametrize(("body", "message"), [
    (f"{STUDY},R,malignant,2024-01-20,,,\n{STUDY},R,malignant,2024-13-01,,,\n",
     "row 2 of the outcomes file: date must be a real date"),
    (f"{STUDY},R,malignant,2024-01-20,,,\n{STUDY},R,maybe,2024-01-21,,,\n",
     "row 2 of the outcomes file: result must be one of"),
    (f"{STUDY},B,malignant,2024-01-20,,,\n", "row 1 of the outcomes file: side must be R or L"),
    (f"{STUDY},R,benign,2024-01-20,,,\n1.2.3.4,R,benign,2024-01-20,,,\n",
     "row 2 of the outcomes file: no such study in the library"),
    (f"{STUDY},R,benign,2024-01-20,,,,extra\n", "row 1 of the outcomes file: more fields"),
])
def test_a_bad_row_is_named_and_nothing_is_written(lib, tmp_path, body, message):
    with pytest.raises(OutcomeError, match=message) as info:
        read_outcomes_csv(csv_file(tmp_path, body), lib)
    assert "nothing was added" in str(info.value)
    assert STUDY not in str(info.value) and "SYN-0042" not in str(info.value)
    assert list_outcomes(lib) == []


@pytest.mark.parametrize(("header", "message"), [
    ("", "needs a header row"),
    ("study_uid,side,result,date\n", r"missing: histology, size_mm, nodes"),
    (HEADER.replace("\n", ",surgeon\n"), "unknown columns: surgeon"),
])
def test_the_header_is_required(lib, tmp_path, header, message):
    with pytest.raises(OutcomeError, match=message):
        read_outcomes_csv(csv_file(tmp_path, f"{STUDY},R,benign,2024-01-20,,,\n", header), lib)


def test_an_unreadable_or_empty_file_is_one_line(lib, tmp_path):
    with pytest.raises(OutcomeError, match="cannot read the outcomes file"):
        read_outcomes_csv(tmp_path / "missing.csv", lib)
    with pytest.raises(OutcomeError, match="no rows"):
        read_outcomes_csv(csv_file(tmp_path, ""), lib)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(OutcomeError, match="not UTF-8"):
        read_outcomes_csv(binary, lib)
