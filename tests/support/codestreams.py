"""Small real codestreams and encapsulated images whose headers claim what the test says."""

from __future__ import annotations

import struct

import numpy as np
import pydicom
from pydicom.encaps import encapsulate

from engine.dicom.reader import read_dataset
from tests.support.dicom_factory import mg_dataset, to_bytes


def j2k_claiming(rows: int | None = None, cols: int | None = None, components: int = 1) -> bytes:
    """A real small JPEG 2000 codestream, its SIZ patched to claim rows x cols."""
    import openjpeg

    rng = np.random.default_rng(3)
    shape = (64, 64, 3) if components == 3 else (64, 64)
    stream = bytearray(openjpeg.encode(rng.integers(0, 64, shape).astype(np.uint8)
                                       if components == 3 else
                                       rng.integers(0, 256, shape).astype(np.uint16),
                                       bits_stored=8 if components == 3 else 12))
    assert stream[:4] == b"\xff\x4f\xff\x51"
    if rows is not None and cols is not None:
        # SIZ: Lsiz Rsiz | Xsiz Ysiz XOsiz YOsiz | XTsiz YTsiz (one tile of the whole image)
        struct.pack_into(">II", stream, 8, cols, rows)
        struct.pack_into(">II", stream, 24, cols, rows)
    return bytes(stream)


def encapsulated_image(frames: list[bytes], ts: str, rows: int, cols: int, *, bits: int = 16,
                       stored: int = 12, samples: int = 1) -> pydicom.Dataset:
    """An image header over these encapsulated frames, read back as a file would be."""
    ds = mg_dataset(with_pixels=False)
    ds.file_meta.TransferSyntaxUID = ts
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = "MONOCHROME2" if samples == 1 else "RGB"
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, stored, stored - 1
    ds.PixelRepresentation = 0
    if len(frames) > 1:
        ds.NumberOfFrames = len(frames)
    ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR = "OB"
    # Through bytes and the reader, as import, analyze and anonymize see a file.
    return read_dataset(to_bytes(ds))
