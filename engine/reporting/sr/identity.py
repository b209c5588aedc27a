"""The Patient and General Study attributes of an SR, copied from one of the study's images."""

from __future__ import annotations

from pydicom.dataset import Dataset

PATIENT_KEYS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex")
STUDY_KEYS = ("StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber")
OPTIONAL_KEYS = ("IssuerOfPatientID", "StudyDescription")  # Type 3; the others are Type 2


def copy_identity(ds: Dataset, study: Dataset, optional: tuple[str, ...] = OPTIONAL_KEYS) -> None:
    """The Patient and General Study attributes of an SR, from one of the study's images
    (Type 2 ones empty when the image lacks them; Type 3 ones only when present)."""
    for kw in PATIENT_KEYS + STUDY_KEYS + optional:
        if kw in study and study[kw].value not in (None, ""):
            setattr(ds, kw, study[kw].value)
        elif kw not in OPTIONAL_KEYS:
            setattr(ds, kw, "")
