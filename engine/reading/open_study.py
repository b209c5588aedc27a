"""Opening a study for reading: its images as hung, its prior, the stored AI
result and the read, gathered from the library's index in one go.

The hanging facts come from what import indexed (views, orientation, the
order of repeated views); headers are read only for images imported before
the index held those facts, and for folders that were never imported.

The patient's details (`PatientContext`) are for the reading view's header
on this workstation; they are never written to the log.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from engine.ai.results import ExamResult
from engine.ai.store import latest_result
from engine.dates import shown_date
from engine.dicom.values import header_value
from engine.display.hanging import HangImage, hang_image
from engine.display.study_images import ImageFile, folder_files
from engine.errors import MammoDeskError
from engine.library.catalog import IndexedImage, study_images
from engine.library.listing import list_studies, patient_birth_date, shown_name
from engine.library.reads import StoredRead, reads_for
from engine.library.store import Library
from engine.library.worklist import prior_study

_AGE = re.compile(r"^(\d{1,3})([DWMY])$")
_AGE_UNITS = {"D": "days", "W": "weeks", "M": "months", "Y": "y"}
_PATIENT_TAGS = ["PatientName", "PatientID", "PatientBirthDate", "PatientAge",
                 "AccessionNumber", "StudyDate"]


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
    """Who the study is of and which study it is, as the reading view shows it."""

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


@dataclass
class OpenedStudy:
    uid: str
    title: str  # patient ID and date only: the title goes on reports and window titles
    files: dict[str, ImageFile]
    images: list[HangImage]
    prior: list[HangImage] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # one line per file
    result: ExamResult | None = None
    read: StoredRead | None = None
    addenda: list[StoredRead] = field(default_factory=list)
    in_library: bool = True
    patient: PatientContext = field(default_factory=PatientContext)
    prior_date: str = ""  # DA of the prior, "" without one


def _header_facts(files: Iterable[ImageFile]) -> tuple[list[HangImage], list[str]]:
    images, bad = [], []
    for f in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(f.path, stop_before_pixels=True)
            images.append(hang_image(ds))
        except Exception as exc:  # an unreadable header: listed, the rest still hangs
            bad.append(f"{f.path.name}: {type(exc).__name__}")
    return images, bad


def _header_patient(path: Path) -> dict[str, str]:
    """The patient's details from one image header; {} when it cannot be read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_PATIENT_TAGS)
    except Exception:  # the details stay blank; the images still hang
        return {}
    return {k: str(header_value(ds, k, "")).strip() for k in _PATIENT_TAGS}


def _image_file(image: IndexedImage) -> ImageFile:
    return ImageFile(image.file.sop_uid, image.file.path, image.file.sha256)


def _hang_facts(indexed: list[IndexedImage]) -> tuple[list[HangImage], list[str]]:
    """Hanging facts from the index; headers only where the index lacks them."""
    images: list[HangImage] = []
    unindexed = [_image_file(i) for i in indexed if i.acquisition_order is None]
    for i in indexed:
        if i.acquisition_order is not None:
            images.append(HangImage(i.file.sop_uid, i.laterality, i.view, i.modifiers,
                                    i.patient_orientation, i.acquisition_order, i.label,
                                    i.rows, i.columns))
    read, bad = _header_facts(unindexed)
    return images + read, bad


def open_library_study(library: Library, uid: str) -> OpenedStudy:
    """A library study with its prior, stored AI result, read and addenda."""
    summary = list_studies(library, uid)
    if not summary:
        raise MammoDeskError("this study is no longer in the library")
    current = study_images(library, uid)
    prior_uid = prior_study(library, uid)
    prior_indexed = study_images(library, prior_uid) if prior_uid else []
    images, bad = _hang_facts(current)
    prior, _ = _hang_facts(prior_indexed)
    reads = reads_for(library, uid)
    s = summary[0]
    birth, age = patient_birth_date(library, uid), ""
    if not birth and current:  # the index has none: PatientAge may still be there
        header = _header_patient(current[0].file.path)
        birth, age = header.get("PatientBirthDate", ""), header.get("PatientAge", "")
    prior_summary = list_studies(library, prior_uid) if prior_uid else []
    return OpenedStudy(
        uid=uid,
        title=f"{s.patient_id}  {shown_date(s.study_date)}".strip(),
        files={f.key: f for f in map(_image_file, current + prior_indexed)},
        images=images,
        prior=prior,
        unreadable=bad,
        result=latest_result(library, uid),
        read=next((r for r in reads if r.addendum_of is None), None),
        addenda=[r for r in reads if r.addendum_of is not None],
        patient=PatientContext.of(s.patient_name, s.patient_id, birth, s.accession_number,
                                  s.study_date, age),
        prior_date=prior_summary[0].study_date if prior_summary else "",
    )


def open_folder_study(path: Path) -> OpenedStudy:
    """A folder (or file) that was never imported: headers are read."""
    files = folder_files([path])
    images, bad = _header_facts(files)
    h = _header_patient(files[0].path) if files else {}
    patient = PatientContext.of(h.get("PatientName", ""), h.get("PatientID", ""),
                                h.get("PatientBirthDate", ""), h.get("AccessionNumber", ""),
                                h.get("StudyDate", ""), h.get("PatientAge", ""))
    return OpenedStudy(str(path), path.name, {f.key: f for f in files}, images, [], bad,
                       in_library=False, patient=patient)
