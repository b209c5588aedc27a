"""Who a study is of, as the reading view's header and the printed reports
show it: name ("Family, Given"), age at the study, birth date, patient ID,
accession number and study date.

For this workstation's own screens and reports only: nothing here goes to a
log line, an error message or a file name.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pydicom

from engine.dates import shown_date
from engine.dicom.values import header_value
from engine.library.listing import shown_name

_AGE = re.compile(r"^(\d{1,3})([DWMY])$")
_AGE_UNITS = {"D": "days", "W": "weeks", "M": "months", "Y": "y"}


def _date(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime((value or "").strip(), "%Y%m%d").date()
    except ValueError:
        return None


def age_at(birth_date: str, on: str) -> str:
    """Whole years between two DA dates ("52 y"); "" when either is unknown."""
    born, when = _date(birth_date), _date(on)
    if born is None or when is None or when < born:
        return ""
    return f"{when.year - born.year - ((when.month, when.day) < (born.month, born.day))} y"


def shown_age(patient_age: str) -> str:
    """A DICOM age string (AS, "052Y") as people read it ("52 y")."""
    m = _AGE.match((patient_age or "").strip().upper())
    return f"{int(m.group(1))} {_AGE_UNITS[m.group(2)]}" if m else ""


@dataclass(frozen=True)
class PatientContext:
    name: str = ""  # "Family, Given"
    birth_date: str = ""  # DA
    age: str = ""  # at the study date: "52 y"
    patient_id: str = ""
    accession_number: str = ""
    study_date: str = ""  # DA

    @classmethod
    def of(cls, name: str, patient_id: str, birth_date: str, accession_number: str,
           study_date: str, patient_age: str = "") -> PatientContext:
        """From header or index values: the age from the birth and study dates,
        else from PatientAge."""
        birth_date, study_date = birth_date.strip(), study_date.strip()
        return cls(shown_name(name), birth_date,
                   age_at(birth_date, study_date) or shown_age(patient_age),
                   patient_id.strip(), accession_number.strip(), study_date)

    @classmethod
    def from_dataset(cls, ds: pydicom.Dataset) -> PatientContext:
        """From one of the study's headers."""
        def text(keyword: str) -> str:
            value = header_value(ds, keyword)
            return "" if value is None else " ".join(str(value).split())

        return cls.of(text("PatientName"), text("PatientID"), text("PatientBirthDate"),
                      text("AccessionNumber"), text("StudyDate"), text("PatientAge"))

    def shown(self) -> str:
        """One line for the header: name, age, birth date, ID, accession, date."""
        parts = [self.name or "name not recorded"]
        if self.age:
            parts.append(f"age {self.age}")
        if self.birth_date:
            parts.append(f"born {shown_date(self.birth_date)}")
        parts.append(f"ID {self.patient_id or '-'}")
        parts.append(f"Acc {self.accession_number or '-'}")
        parts.append(f"Study {shown_date(self.study_date) or '-'}")
        return "   |   ".join(parts)

    def lines(self) -> list[str]:
        """The identification block of a printed report."""
        age = f", {self.age} at the study" if self.age else ""
        return [
            f"Patient: {self.name or '(no name)'}    ID: {self.patient_id or '(none)'}",
            f"Born: {shown_date(self.birth_date) or '(unknown)'}{age}",
            f"Accession: {self.accession_number or '(none)'}    "
            f"Study date: {shown_date(self.study_date) or '(unknown)'}",
        ]
