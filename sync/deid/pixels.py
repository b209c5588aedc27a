"""Mammogram pixels: blank everything outside the breast.

Burned-in labels (name, ID, date, technologist) sit in the background of a
mammogram.  The breast is the largest bright connected region (the breast
segmentation of engine.imaging.breast_mask, the one the AI uses), found here
on the stored values rather than a display window so that the skin line is
inside it, then widened by a margin.  Everything else becomes the air level.
The result is kept lossless: native data stays native, compressed data is
re-encoded with a lossless codec (JPEG 2000 lossless for the JPEG family,
RLE for RLE).
"""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom import uid as uids
from scipy import ndimage

from engine.dicom.integrity import transfer_syntax
from engine.dicom.pixels import decode_pixels
from engine.errors import DecodeError
from engine.imaging.breast_mask import MASK_STEP, breast_mask_of

MARGIN_MM = 3.0  # kept around the breast so the skin line survives
MIN_BREAST_FRACTION = 0.02
DEFAULT_SPACING_MM = 0.1
MAX_REASON = 200  # characters of an Uncleanable's message (the Outcome's reason)
UNREADABLE = "image attributes unreadable"


class Uncleanable(Exception):
    """The pixels cannot be cleaned safely: the object must be quarantined.

    Its message becomes the Outcome's reason: one short line (decoders and
    encoders explain themselves over several lines)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def one_line(text: str) -> str:
    """``text`` with its whitespace collapsed and cut to MAX_REASON characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "..."


def image_int(ds: pydicom.Dataset, keyword: str, default: int | None = None) -> int:
    """An image attribute as a non-negative integer, or ``default`` when it is absent.

    An element whose VR does not fit its value makes pydicom raise almost
    anything on access (ValueError, TypeError, NotImplementedError, its own
    BytesLengthException); none of that is worth telling apart here."""
    try:
        value = ds.get(keyword)
        if value is None or value == "":
            if default is None:
                raise ValueError(keyword)
            return default
        number = int(value)
    except Exception:
        raise Uncleanable(UNREADABLE) from None
    if number < 0:
        raise Uncleanable(UNREADABLE)
    return number


def check_image_attributes(ds: pydicom.Dataset) -> None:
    """What every image must say about its pixels, readable as numbers (Image
    Pixel module, type 1): without them the pixel data cannot even be written
    back (its OB/OW VR depends on Bits Allocated)."""
    image_int(ds, "Rows")
    image_int(ds, "Columns")
    if image_int(ds, "BitsAllocated") == 0:
        raise Uncleanable(UNREADABLE)
    image_int(ds, "SamplesPerPixel", 1)
    image_int(ds, "PixelRepresentation", 0)


def _spacing_mm(ds: pydicom.Dataset) -> float:
    for keyword in ("ImagerPixelSpacing", "PixelSpacing"):
        value = ds.get(keyword)
        try:
            if value and float(value[0]) > 0:
                return float(value[0])
        except (TypeError, ValueError, IndexError):
            continue
    return DEFAULT_SPACING_MM


def _outside_coarse(ds: pydicom.Dataset, sample: np.ndarray) -> np.ndarray:
    """Background (True) on the MASK_STEP grid, the breast widened by the margin."""
    sample = sample.astype(np.float32)
    lo, hi = np.percentile(sample, [0.5, 99.5])
    norm = np.clip((sample - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        norm = 1.0 - norm
    coarse = breast_mask_of(norm)
    if coarse.mean() < MIN_BREAST_FRACTION:
        raise Uncleanable("no breast found in the image, so the background cannot be "
                          "told from the breast")
    steps = max(1, int(np.ceil(MARGIN_MM / (_spacing_mm(ds) * MASK_STEP))))
    return ~ndimage.binary_dilation(coarse, iterations=steps)


def breast_region(ds: pydicom.Dataset, stored: np.ndarray) -> np.ndarray:
    """Boolean mask of the breast plus margin, at full resolution."""
    coarse = ~_outside_coarse(ds, stored[::MASK_STEP, ::MASK_STEP])
    h, w = coarse.shape
    full = np.broadcast_to(coarse[:, None, :, None], (h, MASK_STEP, w, MASK_STEP))
    return full.reshape(h * MASK_STEP, w * MASK_STEP)[: stored.shape[0], : stored.shape[1]]


def _fill_outside(out: np.ndarray, outside: np.ndarray, value: object) -> None:
    """Set every pixel whose MASK_STEP block is background, without a full-size mask
    (multiply-add over row bands: a few times faster than a masked assignment)."""
    s = MASK_STEP
    rows, cols = out.shape
    band_mask = np.repeat(outside, s, axis=1)[:, :cols]  # one row per band of s rows
    keep = ~band_mask
    fill = band_mask.astype(out.dtype) * out.dtype.type(value)
    h = rows // s
    core = out[: h * s].reshape(h, s, cols)
    core *= keep[:h, None, :]
    core += fill[:h, None, :]
    if rows > h * s:  # the last, partial band
        out[h * s:] *= keep[h]
        out[h * s:] += fill[h]


def _native_stored(ds: pydicom.Dataset, ts: uids.UID | None) -> np.ndarray | None:
    """Native little-endian unsigned pixels as an array over a copy of the bytes, or None."""
    if ts not in (uids.ExplicitVRLittleEndian, uids.ImplicitVRLittleEndian):
        return None
    bits, rows, cols = (image_int(ds, k) for k in ("BitsAllocated", "Rows", "Columns"))
    if bits not in (8, 16) or image_int(ds, "PixelRepresentation", 0) != 0:
        return None
    data = ds.get("PixelData")
    if not isinstance(data, bytes | bytearray) or len(data) < rows * cols * bits // 8:
        return None
    dtype = np.dtype("<u2" if bits == 16 else "u1")
    return np.frombuffer(data, dtype, count=rows * cols).reshape(rows, cols).copy()


def blank_outside_breast(ds: pydicom.Dataset) -> None:
    """Blank the background in place and store the pixels losslessly."""
    if image_int(ds, "SamplesPerPixel", 1) != 1 or image_int(ds, "NumberOfFrames", 1) > 1:
        raise Uncleanable("a colour or multi-frame mammogram cannot be cleaned here")
    ts = transfer_syntax(ds)
    stored = _native_stored(ds, ts)
    if stored is not None:  # the common case: no decoder needed
        sample = stored[::MASK_STEP, ::MASK_STEP]
        bits_stored = image_int(ds, "BitsStored", 0)
        if 0 < bits_stored < 8 * stored.itemsize:
            sample = sample & stored.dtype.type((1 << bits_stored) - 1)  # unused high bits
    else:
        try:
            stored = decode_pixels(ds).copy()
        except DecodeError as exc:
            raise Uncleanable(str(exc)) from None
        sample = stored[::MASK_STEP, ::MASK_STEP]
    if stored.ndim != 2 or stored.size == 0:  # Rows or Columns 0, or not one grey frame
        raise Uncleanable("the image has no pixels to clean" if stored.size == 0 else
                          "the decoded image is not a single grey frame")
    outside = _outside_coarse(ds, sample)
    air = sample[outside[: sample.shape[0], : sample.shape[1]]][::4]
    background = stored.dtype.type(np.median(air)) if air.size else stored.min()
    _fill_outside(stored, outside, background)
    _store(ds, stored, ts)


def _store(ds: pydicom.Dataset, stored: np.ndarray, ts: uids.UID | None) -> None:
    if ts is not None and ts.is_encapsulated:
        target = uids.RLELossless if ts == uids.RLELossless else uids.JPEG2000Lossless
        try:
            # generate_instance_uid=False: the walker keys the original UID,
            # so the same image always gets the same pseudonymous UID (a fresh
            # random one would make every re-send a new instance).
            ds.compress(target, stored, encoding_plugin="pylibjpeg" if target ==
                        uids.JPEG2000Lossless else "", generate_instance_uid=False)
        except Exception as exc:  # encoders raise several types on odd input
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise Uncleanable(f"cannot re-encode the cleaned image losslessly: {first}") from None
        return
    bits = image_int(ds, "BitsAllocated", 16)
    dtype = np.dtype(f"<{'i' if image_int(ds, 'PixelRepresentation', 0) else 'u'}{bits // 8}")
    ds.PixelData = stored.astype(dtype).tobytes()
    ds["PixelData"].VR = "OW" if bits > 8 else "OB"
    ds.file_meta.TransferSyntaxUID = uids.ExplicitVRLittleEndian
