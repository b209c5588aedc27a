"""How a printed report names the patient: from one of the study's headers,
with the age at the study, and what it prints when the header lacks a value."""

from __future__ import annotations

import pydicom

from engine.reporting.patient import PatientContext


def test_context_from_a_header() -> None:
    ds = pydicom.Dataset()
    ds.PatientName = "Example^Ann^Marie^Dr"
    ds.PatientID = "MDP-0042"
    ds.PatientBirthDate = "19700315"
    ds.AccessionNumber = "ACC-7"
    ds.StudyDate = "20240501"
    ctx = PatientContext.from_dataset(ds)
    assert (ctx.name, ctx.patient_id, ctx.age) == ("Example, Dr Ann Marie", "MDP-0042", "54 y")
    assert ctx.lines() == ["Patient: Example, Dr Ann Marie    ID: MDP-0042",
                           "Born: 1970-03-15, 54 y at the study",
                           "Accession: ACC-7    Study date: 2024-05-01"]


def test_a_header_without_identification_prints_what_is_missing() -> None:
    bare = pydicom.Dataset()
    bare.PatientAge = "061Y"
    ctx = PatientContext.from_dataset(bare)
    assert ctx.age == "61 y"
    assert ctx.lines() == ["Patient: (no name)    ID: (none)",
                           "Born: (unknown), 61 y at the study",
                           "Accession: (none)    Study date: (unknown)"]
    assert PatientContext.from_dataset(pydicom.Dataset()).lines()[1] == "Born: (unknown)"
