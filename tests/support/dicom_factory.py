"""Synthetic, in-memory DICOM datasets for engine.dicom tests (synthetic people only)."""

from __future__ import annotations

import glob
import io
import os

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
TEST_FILES = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")


def bundled_files() -> list[str]:
    """pydicom's bundled test files (globbed: get_testdata_file may try the network)."""
    return sorted(p for p in glob.glob(os.path.join(TEST_FILES, "*")) if os.path.isfile(p))


def bundled(name: str) -> str:
    return os.path.join(TEST_FILES, name)


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def view_code(
    value: str, scheme: str = "SCT", meaning: str = "", modifiers: list[Dataset] | None = None
) -> Sequence:
    item = code_item(value, scheme, meaning)
    if modifiers:
        item.ViewModifierCodeSequence = Sequence(modifiers)
    return Sequence([item])


def empty() -> Dataset:
    """A dataset carrying nothing about the view at all."""
    return Dataset()


def mg_dataset(
    rows: int = 32, cols: int = 24, with_pixels: bool = True, **attrs: object
) -> Dataset:
    """A small, valid 'For Presentation' digital mammogram of a synthetic patient."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MG_FOR_PRESENTATION
    sop_uid = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "MG"
    ds.PatientID = "SYN-0001"
    ds.PatientName = "Synthetic^Patient"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.StudyDate = "20240102"
    ds.StudyTime = "101500"
    ds.StudyDescription = "Screening mammography"
    ds.AccessionNumber = "ACC-SYN-1"
    ds.SeriesNumber = 3
    ds.InstanceNumber = 7
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.BreastImplantPresent = "NO"
    if with_pixels:
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelRepresentation = 0
        ramp = (np.arange(rows * cols, dtype=np.uint16) % 4096).reshape(rows, cols)
        ds.PixelData = ramp.tobytes()
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
