"""What every MammoDesk SR document shares (PS3.3 A.35): the SOP Common, SR Document Series,
General Equipment and SR Document General attributes, the root container with its template
and language, and the DICOM file it is written to."""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import UID, ExplicitVRLittleEndian

from engine.atomic import atomic_output
from engine.dates import dicom_date, dicom_time, utc_offset
from engine.reporting.sr.codes import ENGLISH_US
from engine.reporting.sr.identity import OPTIONAL_KEYS, copy_identity
from engine.reporting.sr.items import code, code_item

DCMR_UID = UID("1.2.840.10008.8.1.1")  # DICOM Content Mapping Resource: the templates' home
MANUFACTURER = "MammoDesk"


@dataclass(frozen=True)
class Header:
    """What tells one SR document from another, apart from its content."""

    sop_class: str
    study_uid: str
    series_uid: str
    instance_uid: str
    series_number: int
    series_description: str
    software_versions: list[str]
    created: datetime  # the instance creation date and time
    content: datetime  # the content (and series) date and time, its UTC offset when it has one
    optional: tuple[str, ...] = OPTIONAL_KEYS  # the Type 3 study attributes copied when present


def sr_document(
    head: Header,
    study: Dataset,
    title: Code,
    template: str,
    content: Iterable[Dataset],
    evidence: Sequence,
) -> Dataset:
    """A COMPLETE, UNVERIFIED SR document: ``title`` is the root container's concept name,
    ``template`` its DCMR template number, ``content`` its children, ``evidence`` what the
    report is about (see ``evidence``); ``study`` is one of the study's images."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = head.sop_class
    ds.SOPInstanceUID = head.instance_uid
    ds.InstanceCreationDate = dicom_date(head.created)
    ds.InstanceCreationTime = dicom_time(head.created)
    ds.ContentDate = ds.SeriesDate = dicom_date(head.content)
    ds.ContentTime = ds.SeriesTime = dicom_time(head.content)
    if head.content.utcoffset() is not None:
        ds.TimezoneOffsetFromUTC = utc_offset(head.content)
    copy_identity(ds, study, head.optional)
    ds.StudyInstanceUID = head.study_uid
    ds.Modality = "SR"
    ds.SeriesInstanceUID = head.series_uid
    ds.SeriesNumber = head.series_number
    ds.SeriesDescription = head.series_description
    ds.ReferencedPerformedProcedureStepSequence = Sequence()
    ds.Manufacturer = ds.ManufacturerModelName = MANUFACTURER
    ds.DeviceSerialNumber = hashlib.sha256(platform.node().encode()).hexdigest()[:16].upper()
    ds.SoftwareVersions = [version[:64] for version in head.software_versions]
    ds.InstanceNumber = 1
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.PerformedProcedureCodeSequence = Sequence()
    ds.CurrentRequestedProcedureEvidenceSequence = evidence
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = Sequence([code(title)])
    ds.ContinuityOfContent = "SEPARATE"
    mapping = Dataset()
    mapping.MappingResource = "DCMR"
    mapping.MappingResourceUID = DCMR_UID
    mapping.TemplateIdentifier = template
    ds.ContentTemplateSequence = Sequence([mapping])
    ds.ContentSequence = Sequence(content)
    return ds


def language() -> Dataset:
    """TID 1204: the content is in US English (the root's first child)."""
    return code_item("HAS CONCEPT MOD", codes.DCM.LanguageOfContentItemAndDescendants, ENGLISH_US)


def evidence(study_uid: str, images: Iterable[tuple[str, str, str]]) -> Sequence:
    """Hierarchical SOP Instance Reference of ``images`` (series UID, SOP class UID, SOP
    instance UID), by series in the order first met; an instance listed twice is kept once."""
    series: dict[str, list[Dataset]] = {}
    for series_uid, sop_class, sop_instance in images:
        refs = series.setdefault(series_uid, [])
        if all(r.ReferencedSOPInstanceUID != sop_instance for r in refs):
            ref = Dataset()
            ref.ReferencedSOPClassUID = sop_class
            ref.ReferencedSOPInstanceUID = sop_instance
            refs.append(ref)
    study = Dataset()
    study.StudyInstanceUID = study_uid
    study.ReferencedSeriesSequence = Sequence()
    for uid, refs in series.items():
        item = Dataset()
        item.SeriesInstanceUID = uid
        item.ReferencedSOPSequence = Sequence(refs)
        study.ReferencedSeriesSequence.append(item)
    return Sequence([study])


def write_sr(ds: Dataset, out_path: Path, what: str) -> None:
    """Write a structured report as a DICOM file, atomically (no partial file on error)."""
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationVersionName = "MAMMODESK"
    with atomic_output(out_path, what) as fh:
        pydicom.dcmwrite(fh, ds, enforce_file_format=True)
