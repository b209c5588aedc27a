"""Write one view as a Digital Mammography X-Ray Image (For Presentation).

Attributes follow PS3.3 A.26 (Digital Mammography X-Ray Image IOD) with the
DX Series/Anatomy/Image/Detector, Mammography Series/Image, VOI LUT,
Acquisition Context and SOP Common modules; checked with dciodvfy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    DigitalMammographyXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
)

from engine.atomic import atomic_file

MG_FOR_PRESENTATION = DigitalMammographyXRayImageStorageForPresentation
IMPLEMENTATION_UID = UID("1.2.826.0.1.3680043.8.498.1")  # pydicom's root: synthetic data

# SNOMED CT view codes (CID 4014) and the breast (CID 4031).
_VIEW_CODES = {
    "CC": ("399162004", "cranio-caudal"),
    "MLO": ("399368009", "medio-lateral oblique"),
}
# How the stored image is oriented (row direction \ column direction).  Right
# breast: chest wall on the right, so columns run towards posterior; left
# breast mirrored.  CC rows run lateral->medial, MLO rows also towards feet.
_ORIENTATION = {
    ("R", "CC"): ["P", "L"],
    ("L", "CC"): ["A", "R"],
    ("R", "MLO"): ["P", "FL"],
    ("L", "MLO"): ["A", "FR"],
}


@dataclass(frozen=True)
class StudyInfo:
    patient_name: str
    patient_id: str
    birth_date: str
    age: str
    study_uid: str
    series_uid: str
    study_id: str
    accession: str
    date: str
    time: str
    description: str
    compressed_thickness_mm: float


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _voi_lut(centre: float, width: float, maxv: int) -> Dataset:
    """A sigmoid VOI LUT over the window, like vendors ship with processed images."""
    first = int(max(0, centre - width / 2))
    last = int(min(maxv, centre + width / 2))
    n = max(2, min(65535, last - first + 1))
    x = (np.arange(n, dtype=np.float64) + first - centre) / max(width, 1.0)
    y = 1.0 / (1.0 + np.exp(-4.0 * x * 2.0))
    y = (y - y.min()) / max(y.max() - y.min(), 1e-9)
    lut = np.rint(y * 4095).astype(np.uint16)
    item = Dataset()
    item.LUTDescriptor = [n, first, 12]
    item["LUTDescriptor"].VR = "US"
    item.LUTExplanation = "SIGMOID"
    item.LUTData = lut.tobytes()
    item["LUTData"].VR = "OW"
    return item


def _file_meta(sop_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MG_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    meta.ImplementationVersionName = "MAMMODESK_PH1"
    return meta


def _set_patient_study(ds: Dataset, info: StudyInfo, sop_uid: str) -> None:
    """SOP Common, patient, study, series and equipment attributes."""
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = info.date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = ds.AcquisitionTime = info.time
    ds.AccessionNumber = info.accession
    ds.Modality = "MG"
    ds.Manufacturer = "MammoDesk"
    ds.InstitutionName = "Synthetic Phantom"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = info.description
    ds.SeriesDescription = "Synthetic screening mammogram"
    ds.ManufacturerModelName = "MammoDesk phantom"
    ds.PatientName = info.patient_name
    ds.PatientID = info.patient_id
    ds.PatientBirthDate = info.birth_date
    ds.PatientSex = "F"
    ds.PatientAge = info.age
    ds.BodyPartExamined = "BREAST"
    ds.BodyPartThickness = f"{info.compressed_thickness_mm:.1f}"
    ds.DeviceSerialNumber = "SYNTHETIC"
    ds.SoftwareVersions = "1"


def _set_view(ds: Dataset, info: StudyInfo, laterality: str, view: str, instance: int) -> None:
    """Detector, positioning and view attributes of one image."""
    ds.ViewPosition = view
    ds.DetectorType = "DIRECT"
    ds.DetectorConfiguration = "AREA"
    ds.PositionerType = "MAMMOGRAPHIC"
    ds.OrganExposed = "BREAST"
    ds.StudyInstanceUID = info.study_uid
    ds.SeriesInstanceUID = info.series_uid
    ds.StudyID = info.study_id
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance
    ds.PatientOrientation = _ORIENTATION[(laterality, view)]
    ds.ImageLaterality = laterality
    ds.AnatomicRegionSequence = Sequence([_code("76752008", "SCT", "Breast")])
    view_item = _code(*(_VIEW_CODES[view][0], "SCT", _VIEW_CODES[view][1]))
    view_item.ViewModifierCodeSequence = Sequence()
    ds.ViewCodeSequence = Sequence([view_item])
    ds.BreastImplantPresent = "NO"
    ds.PartialView = "NO"
    ds.AcquisitionContextSequence = Sequence()
    ds.PresentationIntentType = "FOR PRESENTATION"


def _set_pixels(
    ds: Dataset,
    pixels: np.ndarray,
    bits: int,
    px: float,
    centre: float,
    width: float,
    photometric: str,
) -> None:
    """Image Pixel, spacing, VOI LUT and presentation attributes plus the pixel data."""
    maxv = 2**bits - 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = pixels.shape
    spacing = [f"{px:.4g}", f"{px:.4g}"]
    ds.PixelSpacing = spacing
    ds.ImagerPixelSpacing = spacing
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.PixelSpacingCalibrationDescription = "Synthetic image, spacing at the detector"
    ds.BitsAllocated = 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.PixelIntensityRelationship = "LOG"
    # -1: higher values mean less X-ray at the detector (dense = bright).
    ds.PixelIntensityRelationshipSign = -1 if photometric == "MONOCHROME2" else 1
    ds.WindowCenter = f"{centre:.0f}"
    ds.WindowWidth = f"{width:.0f}"
    ds.WindowCenterWidthExplanation = "SYNTHETIC"
    ds.VOILUTSequence = Sequence([_voi_lut(centre, width, maxv)])
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.LossyImageCompression = "00"
    ds.PresentationLUTShape = "IDENTITY" if photometric == "MONOCHROME2" else "INVERSE"
    ds.BurnedInAnnotation = "NO"
    ds.PixelData = pixels.tobytes()
    ds["PixelData"].VR = "OW"


def build_dataset(
    info: StudyInfo,
    pixels: np.ndarray,
    laterality: str,
    view: str,
    instance: int,
    sop_uid: str,
    bits: int,
    px: float,
    window: tuple[float, float],
    photometric: str,
) -> Dataset:
    """Dataset for one view; ``pixels`` are in MONOCHROME2 sense."""
    maxv = 2**bits - 1
    centre, width = window
    if photometric == "MONOCHROME1":
        pixels = (np.uint16(maxv) - pixels).astype(np.uint16)
        centre = maxv - centre

    ds = Dataset()
    ds.file_meta = _file_meta(sop_uid)
    _set_patient_study(ds, info, sop_uid)
    _set_view(ds, info, laterality, view, instance)
    _set_pixels(ds, pixels, bits, px, centre, width, photometric)
    return ds


def write_dataset(ds: Dataset, path: Path, jpeg2000: bool) -> None:
    """Write all or nothing (engine/atomic.py); JPEG 2000 keeps the instance's UID
    (labels.csv names each image by it)."""
    if jpeg2000:
        ds.compress(JPEG2000Lossless, ds.pixel_array, encoding_plugin="pylibjpeg",
                    generate_instance_uid=False)
    with atomic_file(path) as fh:
        pydicom.dcmwrite(fh, ds, enforce_file_format=True)
