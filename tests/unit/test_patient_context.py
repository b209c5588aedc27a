"""How a report names the patient: the person name as people write it, the age
at the study, and what is printed when the header lacks a value."""

from __future__ import annotations

import pydicom
import pytest

from engine.reporting.patient import PatientContext, age_at, readable_name


@pytest.mark.parametrize(("value", "shown"), [
    ("Example^Ann", "Example, Ann"),
    ("Example^Ann^Marie^Dr^PhD", "Example, Dr Ann Marie PhD"),
    ("Example", "Example"),
    ("^Ann", "Ann"),
    ("Example^Ann=Ideographic^Name", "Example, Ann"),
    ("", ""),
    (None, ""),
])
def test_a_person_name_reads_family_name_first(value, shown) -> None:
    assert readable_name(value) == shown


@pytest.mark.parametrize(("birth", "on", "age"), [
    ("19700315", "20240314", 53),
    ("19700315", "20240315", 54),
    ("19720229", "20240228", 51),
    ("1970", "20240315", None),
    ("19701335", "20240315", None),
    ("20300101", "20240315", None),
])
def test_age_is_whole_years_at_the_study(birth, on, age) -> None:
    assert age_at(birth, on) == age


def test_context_from_a_header_and_from_a_header_without_identification() -> None:
    ds = pydicom.Dataset()
    ds.PatientName = "Example^Ann"
    ds.PatientID = "MDP-0042"
    ds.PatientBirthDate = "19700315"
    ds.AccessionNumber = "ACC-7"
    ds.StudyDate = "20240501"
    ctx = PatientContext.from_dataset(ds)
    assert (ctx.name, ctx.patient_id, ctx.age) == ("Example, Ann", "MDP-0042", 54)
    assert ctx.lines()[0] == "Patient: Example, Ann    ID: MDP-0042"

    bare = pydicom.Dataset()
    bare.PatientAge = "061Y"
    ctx = PatientContext.from_dataset(bare)
    assert ctx.age == 61
    assert ctx.lines() == ["Patient: (no name)    ID: (none)",
                           "Born: (unknown), 61 years at the study",
                           "Accession: (none)    Study date: (unknown)"]
