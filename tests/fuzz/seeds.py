"""Seed files for the fuzzer, made at test time (about a second): synthetic people only.

Three come from engine.phantom as it writes them (native, JPEG 2000, MONOCHROME1), shrunk so a
target call takes milliseconds; the native one stays at 512 x 416 (0.2 mm), the smallest image
the AI still reads, so its preprocessing is exercised too.  The others re-encode one small
phantom view in the encodings the phantom does not write: implicit VR, big endian, deflate,
RLE, JPEG baseline, JPEG-LS, multi-frame, nested sequences; plus a structured report.
The list is ordered smallest first, so that Hypothesis shrinks a finding onto a small seed.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import numpy as np
import pydicom
from pydicom import uid as uids
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence

from tests.fuzz.mutators import Seed

# What the phantom and the seeds below call their synthetic people: text matching these must
# never appear in a message (and a "clean" de-identified file must not carry it).
SYNTHETIC_IDENTITY = re.compile(rb"MDP-\d+-\d{4}|PHANTOM\^\d+-\d{4}|\d+-\d{4} PHANTOM")
SR_NAME, SR_ID = "PHANTOM^9-0042", "MDP-9-0042"


def _shrink(arr: np.ndarray, k: int) -> np.ndarray:
    h, w = arr.shape[0] // k * k, arr.shape[1] // k * k
    blocks = arr[:h, :w].reshape(h // k, k, w // k, k).astype(np.float64)
    return np.rint(blocks.mean(axis=(1, 3))).astype(arr.dtype)


def _shrunk(ds: Dataset, k: int, arr: np.ndarray | None = None) -> Dataset:
    """ds with its pixels averaged over k x k blocks and the spacing scaled to match."""
    small = _shrink(ds.pixel_array if arr is None else arr, k)
    ds.Rows, ds.Columns = small.shape
    spacing = [f"{float(ds.PixelSpacing[0]) * k:.4g}"] * 2
    ds.PixelSpacing = ds.ImagerPixelSpacing = spacing
    ds.PixelData = small.tobytes()
    ds["PixelData"].VR = "OW"
    ds.file_meta.TransferSyntaxUID = uids.ExplicitVRLittleEndian
    return pydicom.dcmread(io.BytesIO(_write(ds)))  # a fresh copy: no cached pixel array


def _write(ds: Dataset, **kw: object) -> bytes:
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True, **kw)
    return buf.getvalue()


def _native(ds: Dataset, ts: str) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(_write(ds)))  # a copy
    ds.file_meta.TransferSyntaxUID = ts
    return _write(ds)


def _big_endian(ds: Dataset) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(_write(ds)))
    # pydicom writes OW values as given: swap the 16-bit words ourselves.
    ds.PixelData = np.frombuffer(ds.PixelData, "<u2").astype(">u2").tobytes()
    for item in ds.get("VOILUTSequence", []):
        item.LUTData = np.frombuffer(item.LUTData, "<u2").astype(">u2").tobytes()
    ds.file_meta.TransferSyntaxUID = uids.ExplicitVRBigEndian
    return _write(ds)


def _compressed(ds: Dataset, ts: str, plugin: str = "") -> bytes:
    ds = pydicom.dcmread(io.BytesIO(_write(ds)))
    ds.compress(ts, ds.pixel_array, encoding_plugin=plugin, generate_instance_uid=False)
    return _write(ds)


def _jpeg_baseline(ds: Dataset) -> bytes:
    from PIL import Image

    ds = pydicom.dcmread(io.BytesIO(_write(ds)))
    arr = ds.pixel_array.astype(np.float64)
    eight = np.rint(255 * (arr - arr.min()) / max(np.ptp(arr), 1)).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(eight).save(out, "JPEG", quality=90)
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.WindowCenter, ds.WindowWidth = "128", "256"
    del ds.VOILUTSequence
    ds.LossyImageCompression = "01"
    ds.PixelData = encapsulate([out.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = uids.JPEGBaseline8Bit
    return _write(ds)


def _multi_frame(ds: Dataset) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(_write(ds)))
    ds.NumberOfFrames = 2
    ds.PixelData = ds.PixelData * 2
    return _write(ds)


def _nested(ds: Dataset) -> bytes:
    """Undefined-length sequences three deep, with private elements inside."""
    ds = pydicom.dcmread(io.BytesIO(_write(ds)))
    inner = Dataset()
    inner.CodeValue, inner.CodingSchemeDesignator, inner.CodeMeaning = "1", "99FZ", "inner"
    inner.private_block(0x0011, "FUZZ SEED", create=True).add_new(0x01, "LO", "private text")
    middle = Dataset()
    middle.ConceptNameCodeSequence = Sequence([inner])
    middle.ConceptNameCodeSequence.is_undefined_length = True
    outer = Dataset()
    outer.ContentSequence = Sequence([middle, middle])
    outer.ContentSequence.is_undefined_length = True
    ds.AcquisitionContextSequence = Sequence([outer])
    ds.AcquisitionContextSequence.is_undefined_length = True
    for item in (inner, middle, outer):
        item.is_undefined_length_sequence_item = True
    return _write(ds)


def _structured_report() -> bytes:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = uids.ComprehensiveSRStorage
    ds.file_meta.MediaStorageSOPInstanceUID = "2.25.4242424242"
    ds.file_meta.TransferSyntaxUID = uids.ExplicitVRLittleEndian
    ds.SOPClassUID = uids.ComprehensiveSRStorage
    ds.SOPInstanceUID = "2.25.4242424242"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "2.25.4242424243", "2.25.4242424244"
    ds.Modality, ds.PatientName, ds.PatientID = "SR", SR_NAME, SR_ID
    ds.StudyDate, ds.ContentDate = "20240102", "20240102"
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = "111036", "DCM"
    code.CodeMeaning = "Mammography CAD Report"
    ds.ConceptNameCodeSequence = Sequence([code])
    num = Dataset()
    num.RelationshipType, num.ValueType = "CONTAINS", "NUM"
    num.ConceptNameCodeSequence = Sequence([code])
    measured = Dataset()
    measured.NumericValue = "0.42"
    measured.MeasurementUnitsCodeSequence = Sequence([code])
    num.MeasuredValueSequence = Sequence([measured])
    container = Dataset()
    container.RelationshipType, container.ValueType = "CONTAINS", "CONTAINER"
    container.ContinuityOfContent = "SEPARATE"
    container.ConceptNameCodeSequence = Sequence([code])
    container.ContentSequence = Sequence([num])
    ds.ContentSequence = Sequence([container, num])
    return _write(ds)


def build_seeds(work: Path | None = None) -> list[Seed]:
    """Every seed, smallest first."""
    from engine.phantom import generate_cohort

    with tempfile.TemporaryDirectory(dir=work) as tmp:
        native = generate_cohort(Path(tmp) / "n", 1, seed=7, size="small", cancer_rate=1.0)
        j2k = generate_cohort(Path(tmp) / "j", 1, seed=7, size="small", jpeg2000=True)
        mono1 = generate_cohort(Path(tmp) / "m", 1, seed=7, size="small",
                                photometric="MONOCHROME1")
        rcc = pydicom.dcmread(native.files[0])
        lmlo = pydicom.dcmread(j2k.files[3])
        lcc = pydicom.dcmread(mono1.files[2])
        small = _shrunk(pydicom.dcmread(native.files[0]), 16)  # 64 x 52
    seeds = [
        Seed("sr", _structured_report()),
        Seed("explicit-le", _write(small)),
        Seed("implicit-le", _native(small, uids.ImplicitVRLittleEndian)),
        Seed("big-endian", _big_endian(small)),
        Seed("deflate", _native(small, uids.DeflatedExplicitVRLittleEndian)),
        Seed("rle", _compressed(small, uids.RLELossless)),
        Seed("jpeg-baseline", _jpeg_baseline(small)),
        Seed("jpeg-ls", _compressed(small, uids.JPEGLSLossless)),
        Seed("j2k-small", _compressed(small, uids.JPEG2000Lossless, "pylibjpeg")),
        Seed("multi-frame", _multi_frame(small)),
        Seed("nested", _nested(small)),
        Seed("phantom-mono1", _write(_shrunk(lcc, 4))),  # 256 x 208
        Seed("phantom-j2k", _compressed(_shrunk(lmlo, 2, lmlo.pixel_array), uids.JPEG2000Lossless,
                                        "pylibjpeg")),
        Seed("phantom-native", _write(_shrunk(rcc, 2))),  # 512 x 416, read by the AI
    ]
    return sorted(seeds, key=lambda s: len(s.data))
