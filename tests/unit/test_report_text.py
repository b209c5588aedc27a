"""The reading report's text: BI-RADS 5th edition wording, overall, recommendation, findings."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from engine.library.reads import Read
from engine.reading.finding_text import parse_finding
from engine.reporting.patient import PatientContext
from engine.reporting.report_text import report_lines


def _text(read: Read) -> list[str]:
    patient = PatientContext.of("Synthetic^Anna", "MDP-1", "19700101", "ACC1", "20240304")
    study = SimpleNamespace(title="synthetic study", read=None, addenda=[], result=None,
                            patient=patient)
    lines = report_lines(study, read, printed=datetime(2024, 5, 1, 12, 0))  # type: ignore[arg-type]
    return [t for t, _bold in lines]


def test_the_read_in_report_words():
    read = Read(birads={"R": "1", "L": "4B"}, density={"R": "c", "L": "c"},
                recommendation="biopsy", impression="Left mass.",
                findings=[parse_finding("L mass irregular spiculated 12mm 2:00 posterior "
                                        "35mm-from-nipple")])
    text = _text(read)
    assert "Right breast: BI-RADS 1 - negative; density c - heterogeneously dense" in text
    assert ("Left breast: BI-RADS 4B - moderate suspicion for malignancy; "
            "density c - heterogeneously dense") in text
    assert "Overall assessment: BI-RADS 4B - moderate suspicion for malignancy" in text
    assert "Recommendation: tissue diagnosis (biopsy)" in text
    assert ("Finding: left mass, irregular, spiculated, 12 mm, 2 o'clock, posterior depth, "
            "35 mm from the nipple") in text
    assert "Impression: Left mass." in text and "DRAFT - not signed" in text
    assert "Patient: Synthetic, Anna    ID: MDP-1" in text  # whose report it is
    assert "Accession: ACC1    Study date: 2024-03-04" in text


def test_an_empty_or_legacy_read_still_reads():
    text = _text(Read())
    assert "Right breast: BI-RADS -; density -" in text
    assert "Overall assessment: BI-RADS -" in text and "Recommendation: -" in text
    legacy = Read.from_json('{"birads": {"R": 4, "L": 2}, "density": {"R": "a", "L": "a"}}')
    assert "Overall assessment: BI-RADS 4 - suspicious (not subdivided)" in _text(legacy)
