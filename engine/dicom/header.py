"""The identifying and display-relevant facts of one instance, as plain Python values.

The library stores these; reading them once here keeps pydicom types (PersonName, MultiValue,
IS/DS) and their failure modes out of the rest of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pydicom
from pydicom.uid import MediaStorageDirectoryStorage

from engine.dicom.values import header_value
from engine.dicom.views import ViewInfo, identify_view
from engine.errors import DicomReadError

MEDIA_STORAGE_DIRECTORY = MediaStorageDirectoryStorage


@dataclass(frozen=True)
class InstanceHeader:
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    modality: str
    patient_id: str
    patient_name: str
    patient_birth_date: str
    patient_sex: str
    study_date: str
    study_time: str
    study_description: str
    accession_number: str
    series_number: int | None
    series_description: str
    instance_number: int | None
    rows: int | None
    columns: int | None
    bits_stored: int | None
    photometric_interpretation: str
    number_of_frames: int
    transfer_syntax_uid: str
    presentation_intent: str | None
    implant_present: bool | None
    has_pixel_data: bool
    is_directory: bool
    view: ViewInfo
    # Hanging facts: PatientOrientation (row, column) and the order of
    # repeated views (acquisition date, time, instance number).
    patient_orientation: tuple[str, str] | None = None
    acquisition_order: tuple[str, str, int] = ("", "", 0)


def _raw(ds: pydicom.Dataset, keyword: str) -> Any:
    # A single malformed value (bad VR, undecodable text) must not make the file unreadable.
    try:
        return ds.get(keyword)
    except Exception:
        return None


def _text(ds: pydicom.Dataset, keyword: str) -> str:
    value = _raw(ds, keyword)
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1").strip(" \x00")
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value).strip()
    return str(value).strip(" \x00")


def _int(ds: pydicom.Dataset, keyword: str) -> int | None:
    value = _raw(ds, keyword)
    if value is None or value == "":
        return None
    try:
        return int(float(str(value).strip()))
    except (TypeError, ValueError):
        return None


def _uid(ds: pydicom.Dataset, keyword: str) -> str:
    return _text(ds, keyword).rstrip("\x00").strip()


def _presentation_intent(ds: pydicom.Dataset) -> str | None:
    value = _text(ds, "PresentationIntentType").upper()
    return value if value in ("FOR PRESENTATION", "FOR PROCESSING") else None


def _implant(ds: pydicom.Dataset) -> bool | None:
    return {"YES": True, "NO": False}.get(_text(ds, "BreastImplantPresent").upper())


def patient_orientation(ds: pydicom.Dataset) -> tuple[str, str] | None:
    """PatientOrientation as (row direction, column direction), when it has both."""
    po = header_value(ds, "PatientOrientation")
    try:
        return (str(po[0]), str(po[1])) if po is not None and len(po) == 2 else None
    except TypeError:
        return None


def acquisition_order(ds: pydicom.Dataset) -> tuple[str, str, int]:
    """The sort key of repeated views: acquisition (else content) date and time,
    then instance number; later images sort last."""
    try:
        number = int(header_value(ds, "InstanceNumber") or 0)
    except (TypeError, ValueError):
        number = 0
    return (
        str(header_value(ds, "AcquisitionDate") or header_value(ds, "ContentDate", "")),
        str(header_value(ds, "AcquisitionTime") or header_value(ds, "ContentTime", "")),
        number,
    )


def instance_header(ds: pydicom.Dataset) -> InstanceHeader:
    """Header facts of a dataset; DicomReadError when identifying UIDs are missing."""
    meta = ds.file_meta if hasattr(ds, "file_meta") else pydicom.Dataset()
    sop_class = _uid(ds, "SOPClassUID") or _uid(meta, "MediaStorageSOPClassUID")
    is_directory = sop_class == MEDIA_STORAGE_DIRECTORY or "DirectoryRecordSequence" in ds
    sop_instance = _uid(ds, "SOPInstanceUID")
    if is_directory:
        # A DICOMDIR's identity lives in its meta header; it belongs to no study or series.
        sop_class = sop_class or MEDIA_STORAGE_DIRECTORY
        sop_instance = sop_instance or _uid(meta, "MediaStorageSOPInstanceUID")
    study_uid = _uid(ds, "StudyInstanceUID")
    series_uid = _uid(ds, "SeriesInstanceUID")
    if not sop_instance:
        raise DicomReadError("missing SOP Instance UID")
    if not is_directory:
        if not sop_class:
            raise DicomReadError("missing SOP Class UID")
        if not study_uid:
            raise DicomReadError("missing Study Instance UID")
        if not series_uid:
            raise DicomReadError("missing Series Instance UID")
    frames = _int(ds, "NumberOfFrames")
    return InstanceHeader(
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        study_instance_uid=study_uid,
        series_instance_uid=series_uid,
        modality=_text(ds, "Modality").upper(),
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        patient_birth_date=_text(ds, "PatientBirthDate"),
        patient_sex=_text(ds, "PatientSex").upper(),
        study_date=_text(ds, "StudyDate"),
        study_time=_text(ds, "StudyTime"),
        study_description=_text(ds, "StudyDescription"),
        accession_number=_text(ds, "AccessionNumber"),
        series_number=_int(ds, "SeriesNumber"),
        series_description=_text(ds, "SeriesDescription"),
        instance_number=_int(ds, "InstanceNumber"),
        rows=_int(ds, "Rows"),
        columns=_int(ds, "Columns"),
        bits_stored=_int(ds, "BitsStored"),
        photometric_interpretation=_text(ds, "PhotometricInterpretation").upper(),
        number_of_frames=frames if frames and frames > 0 else 1,
        transfer_syntax_uid=_uid(meta, "TransferSyntaxUID"),
        presentation_intent=_presentation_intent(ds),
        implant_present=_implant(ds),
        has_pixel_data=any(
            k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
        ),
        is_directory=is_directory,
        view=identify_view(ds),
        patient_orientation=patient_orientation(ds),
        acquisition_order=acquisition_order(ds),
    )
