"""Screening or diagnostic: kept with the read (old reads are screening), set
from the command line, said in the report, and the screening audit's rates
counting screening exams only."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest

from engine.errors import MammoDeskError
from engine.library import Library, import_paths, list_studies
from engine.library.double_reads import read_of
from engine.library.outcomes import add_outcomes, audit_data, make_outcome
from engine.library.reads import Finding, Read, save_draft, sign
from engine.reading.audit import audit
from engine.reporting.patient import PatientContext
from engine.reporting.report_text import report_lines
from tests.support.dicom_factory import mg_dataset
from ui.cli import main

RECALL = {"R": "0", "L": "1"}
NEGATIVE = {"R": "1", "L": "1"}
BIOPSY = {"R": "4B", "L": "1"}
# name: (study date, BI-RADS, exam purpose, malignant outcome date or None)
EXAMS = {
    "S1": ("20240110", RECALL, "screening", "2024-02-01"),
    "S2": ("20240115", RECALL, "screening", None),
    "S3": ("20240120", NEGATIVE, "screening", None),
    "S4": ("20240125", NEGATIVE, "screening", None),
    "D1": ("20240201", BIOPSY, "diagnostic", "2024-02-20"),
    "D2": ("20240205", RECALL, "diagnostic", None),
}


def uid(name: str) -> str:
    return f"1.2.826.0.1.3680043.10.1234.88{sum(ord(c) * 7 ** i for i, c in enumerate(name))}"


def _read(birads: dict[str, str], exam: str) -> Read:
    rec = {"0": "recall", "4B": "biopsy"}.get(birads["R"], "routine")
    findings = [Finding("R", "mass", descriptors=["oval"])] if birads["R"] == "4B" else []
    return Read(birads=dict(birads), density={"R": "b", "L": "b"}, findings=findings,
                recommendation=rec, exam=exam)


def test_a_read_keeps_its_purpose_and_old_reads_are_screening():
    assert Read().exam == "screening"
    assert Read.from_json(_read(RECALL, "diagnostic").to_json()).exam == "diagnostic"
    old = json.dumps({"birads": {"R": 1, "L": 1}, "density": {}, "findings": []})
    assert Read.from_json(old).exam == "screening"
    assert Read(exam="follow-up").problems() == [
        "the exam is screening or diagnostic, not 'follow-up'"]


def test_the_report_says_which_exam_it_was():
    patient = PatientContext.of("Synthetic^Anna", "MDP-1", "19700101", "ACC1", "20240304")
    study = SimpleNamespace(read=None, addenda=[], result=None, patient=patient)
    for exam, line in (("screening", "Screening exam"), ("diagnostic", "Diagnostic exam")):
        lines = [t for t, _b in report_lines(study, _read(NEGATIVE, exam))]  # type: ignore[arg-type]
        assert line in lines


def test_the_command_line_sets_the_purpose(tmp_path, small_cohort, capsys):
    home = tmp_path / "home"
    assert main(["--home", str(home), "import", *map(str, small_cohort.files)]) == 0
    with Library(home / "library") as lib:
        study = list_studies(lib)[0].study_uid
    capsys.readouterr()
    base = ["--home", str(home), "read", study, "--reader", "Dr A"]
    assert main([*base, "--right", "1", "--diagnostic", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["exam"] == "diagnostic"
    assert main([*base, "--left", "1"]) == 0  # left out: kept
    assert "diagnostic exam" in capsys.readouterr().out
    assert main([*base, "--screening", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["exam"] == "screening"
    with pytest.raises(SystemExit) as usage:
        main([*base, "--screening", "--diagnostic"])
    assert usage.value.code == 2


@pytest.fixture
def cohort(library, tmp_path):
    folder = tmp_path / "dicom"
    folder.mkdir()
    for n, (name, (date, _b, _e, _o)) in enumerate(EXAMS.items()):
        mg_dataset(StudyInstanceUID=uid(name), PatientID=f"SYN-{n}", StudyDate=date).save_as(
            folder / f"{name}.dcm", enforce_file_format=True)
    assert not import_paths(library, [folder]).rejected
    for name, (_d, birads, exam, _c) in EXAMS.items():
        sign(library, uid(name), "Dr A", _read(birads, exam))
    add_outcomes(library, [make_outcome(uid(name), "R", "malignant", cancer, "invasive ductal")
                           for name, (_d, _b, _e, cancer) in EXAMS.items() if cancer])
    return library


def test_the_audit_rates_count_screening_exams_only(cohort):
    report = audit(audit_data(cohort, None), as_of=dt.date(2025, 6, 30))
    for m in (report.site.measures, report.readers["Dr A"].measures):
        # Screening: S1-S4; recalls S1, S2; cancer S1.  D1 and D2 (diagnostic) left out.
        assert (m.exams, m.recalls, m.cancers) == (4, 2, 1)
        assert m.recall_rate == pytest.approx(2 / 4)
        assert m.cancer_detection_rate_per_1000 == pytest.approx(1000 * 1 / 4)
        assert m.ppv1 == pytest.approx(1 / 2)
    doc = report.as_dict()
    assert doc["diagnostic_exams"] == 2 and doc["exams_counted"] == "screening"


def test_a_saved_purpose_can_be_changed_until_signed(study_library):
    library, study = study_library
    save_draft(library, study, "Dr A", _read(NEGATIVE, "diagnostic"))
    assert read_of(library, study, "Dr A").read.exam == "diagnostic"
    sign(library, study, "Dr A", _read(NEGATIVE, "screening"))
    assert read_of(library, study, "Dr A").read.exam == "screening"
    with pytest.raises(MammoDeskError, match="signed and locked"):
        save_draft(library, study, "Dr A", _read(NEGATIVE, "diagnostic"))


@pytest.fixture
def study_library(library, small_cohort):
    import_paths(library, small_cohort.files)
    return library, list_studies(library)[0].study_uid
