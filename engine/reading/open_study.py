"""Opening a study for reading: its images as hung, its prior, the stored AI
result and the read, gathered from the library's index in one go.

The hanging facts come from what import indexed (views, orientation, the
order of repeated views); headers are read only for images imported before
the index held those facts, and for folders that were never imported.

The patient's details (`PatientContext`) are for the reading view's header
on this workstation; they are never written to the log.
"""

from __future__ import annotations

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
from engine.library.listing import list_studies, patient_birth_date
from engine.library.reads import StoredRead, reads_for
from engine.library.store import Library
from engine.library.worklist import prior_study
from engine.reporting.patient import PatientContext

_PATIENT_TAGS = ["PatientName", "PatientID", "PatientBirthDate", "PatientAge",
                 "AccessionNumber", "StudyDate"]


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
