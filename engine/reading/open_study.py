"""Opening a study for reading: its images as hung, its two priors, the stored AI
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
from engine.library.catalog import IndexedImage, earlier_studies, study_images
from engine.library.listing import list_studies, patient_birth_date
from engine.library.reads import StoredRead, reads_for
from engine.library.store import Library
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
    prior2: list[HangImage] = field(default_factory=list)  # the study before the prior
    prior2_date: str = ""

    @property
    def priors(self) -> list[list[HangImage]]:
        """The earlier studies, most recent first, as the hanging's study slots 1 and 2."""
        if not self.prior:
            return []
        return [self.prior, self.prior2] if self.prior2 else [self.prior]

    def study_date(self, slot: int) -> str:
        """The DA of study slot 0 (this one), 1 (the prior) or 2 (the one before)."""
        return {0: self.patient.study_date, 1: self.prior_date, 2: self.prior2_date}.get(slot, "")


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
    earlier = earlier_studies(library, uid, 2)
    prior_indexed, prior2_indexed = ([study_images(library, u) for u in earlier] + [[], []])[:2]
    images, bad = _hang_facts(current)
    prior, _ = _hang_facts(prior_indexed)
    prior2, _ = _hang_facts(prior2_indexed)
    reads = reads_for(library, uid)
    s = summary[0]
    birth, age = patient_birth_date(library, uid), ""
    if not birth and current:  # the index has none: PatientAge may still be there
        header = _header_patient(current[0].file.path)
        birth, age = header.get("PatientBirthDate", ""), header.get("PatientAge", "")
    dates = [next((e.study_date for e in list_studies(library, u)), "") for u in earlier]
    dates += ["", ""]
    return OpenedStudy(
        uid=uid,
        title=f"{s.patient_id}  {shown_date(s.study_date)}".strip(),
        files={f.key: f for f in map(_image_file, current + prior_indexed + prior2_indexed)},
        images=images,
        prior=prior,
        unreadable=bad,
        result=latest_result(library, uid),
        read=next((r for r in reads if r.addendum_of is None), None),
        addenda=[r for r in reads if r.addendum_of is not None],
        patient=PatientContext.of(s.patient_name, s.patient_id, birth, s.accession_number,
                                  s.study_date, age),
        prior_date=dates[0],
        prior2=prior2,
        prior2_date=dates[1],
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
