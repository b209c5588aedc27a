"""Who a study belongs to, as a report prints it: name, identifiers, birth
date, age at the study and study date, read from one of the study's headers.

For printing on this workstation's own reports only: nothing here goes to a
log line, an error message or a file name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pydicom

from engine.dates import shown_date
from engine.dicom.values import header_value


@dataclass(frozen=True)
class PatientContext:
    name: str = ""  # "Family, Given Middle"
    patient_id: str = ""
    birth_date: str = ""  # YYYYMMDD as stored
    sex: str = ""
    accession: str = ""
    study_date: str = ""  # YYYYMMDD as stored
    age: int | None = None  # whole years at the study

    @classmethod
    def from_dataset(cls, ds: pydicom.Dataset) -> PatientContext:
        birth, study = _text(ds, "PatientBirthDate"), _text(ds, "StudyDate")
        return cls(
            name=readable_name(header_value(ds, "PatientName")),
            patient_id=_text(ds, "PatientID"),
            birth_date=birth,
            sex=_text(ds, "PatientSex"),
            accession=_text(ds, "AccessionNumber"),
            study_date=study,
            age=age_at(birth, study) if birth else _age_string(_text(ds, "PatientAge")),
        )

    def lines(self) -> list[str]:
        """The identification block of a printed report (empty fields shown as such)."""
        age = "" if self.age is None else f", {self.age} years at the study"
        return [
            f"Patient: {self.name or '(no name)'}    ID: {self.patient_id or '(none)'}",
            f"Born: {shown_date(self.birth_date) or '(unknown)'}{age}"
            + (f"    Sex: {self.sex}" if self.sex else ""),
            f"Accession: {self.accession or '(none)'}    "
            f"Study date: {shown_date(self.study_date) or '(unknown)'}",
        ]


def _text(ds: pydicom.Dataset, keyword: str) -> str:
    value = header_value(ds, keyword)
    return "" if value is None else " ".join(str(value).split())


def readable_name(value: object) -> str:
    """A DICOM person name as people write it: "Family, Given Middle" (the
    alphabetic group; prefixes and suffixes around it)."""
    if value is None:
        return ""
    text = str(value).split("=")[0]
    parts = [p.strip() for p in text.split("^")] + [""] * 5
    family, given, middle, prefix, suffix = parts[:5]
    first = " ".join(p for p in (prefix, given, middle) if p)
    name = ", ".join(p for p in (family, first) if p)
    return f"{name} {suffix}".strip() if suffix else name


def age_at(birth: str, on: str) -> int | None:
    """Whole years between two DICOM dates (YYYYMMDD), None if either is unusable."""
    try:
        b = date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
        d = date(int(on[:4]), int(on[4:6]), int(on[6:8]))
    except (ValueError, IndexError):
        return None
    years = d.year - b.year - ((d.month, d.day) < (b.month, b.day))
    return years if 0 <= years < 150 else None


def _age_string(value: str) -> int | None:
    """Patient Age ("052Y"); None unless it is in years."""
    if len(value) == 4 and value[:3].isdigit() and value[3] in "Yy":
        return int(value[:3])
    return None
