"""Stored pixels for the screen: full resolution, or reduced by 2**level on
each side for a first paint.

JPEG 2000 keeps lower resolutions inside the codestream (its wavelet levels),
so a reduced image is decoded directly, skipping most of the work: OpenJPEG
through Pillow, which offers the `reduce` setting that pylibjpeg-openjpeg
does not.  Anything else is decoded in full and averaged in blocks.
"""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pydicom
from pydicom import uid as uids
from pydicom.encaps import generate_frames

from engine.dicom.integrity import image_description_problem, pixel_data_problem, transfer_syntax
from engine.dicom.pixels import decode_pixels
from engine.dicom.values import header_int
from engine.errors import DecodeError

J2K_SYNTAXES = frozenset(
    {uids.JPEG2000Lossless, uids.JPEG2000, uids.HTJ2KLossless, uids.HTJ2KLosslessRPCL, uids.HTJ2K}
)
SIZ, COD = 0xFF51, 0xFF52


def reduction_level(rows: int, columns: int, target_rows: int, target_cols: int) -> int:
    """The largest level whose image still covers the target size (0: full)."""
    level = 0
    while rows >> (level + 1) >= max(target_rows, 1) and columns >> (level + 1) >= max(
        target_cols, 1
    ):
        level += 1
    return level


def codestream_facts(frame: bytes) -> tuple[int, bool, int] | None:
    """(bit depth, signed, wavelet levels) from a J2K codestream's SIZ and COD
    marker segments (ISO/IEC 15444-1 A.5.1, A.6.1); None if unreadable."""
    start = frame.find(b"\xff\x4f\xff\x51")  # SOC then SIZ: the codestream, also inside a JP2
    if start < 0:
        return None
    pos, depth, signed, levels = start + 2, None, False, None
    while pos + 4 <= len(frame) and levels is None:
        marker, length = struct.unpack(">HH", frame[pos : pos + 4])
        body = frame[pos + 4 : pos + 2 + length]
        if marker == SIZ and len(body) >= 37:
            ssiz = body[36]
            depth, signed = (ssiz & 0x7F) + 1, bool(ssiz & 0x80)
        elif marker == COD and len(body) >= 6:
            levels = body[5]
        elif marker in (0xFF90, 0xFF93):  # a tile or the data: no COD before it
            break
        pos += 2 + length
    if depth is None or levels is None:
        return None
    return depth, signed, levels


def _j2k_reduced(ds: pydicom.Dataset, level: int) -> np.ndarray | None:
    """Reduced decode through Pillow, or None when this file cannot take it."""
    try:
        from PIL import Image
        from PIL.Jpeg2KImagePlugin import Jpeg2KImageFile
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        return None
    if header_int(ds, "NumberOfFrames", 1) != 1 or header_int(ds, "SamplesPerPixel", 1) != 1:
        return None
    try:
        frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    except Exception:
        return None
    facts = codestream_facts(frame)
    if facts is None:
        return None
    depth, signed, levels = facts
    if signed or depth > 16:
        return None
    level = min(level, levels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(frame))
            if isinstance(im, Jpeg2KImageFile):  # its setting: decode at 1 / 2**level
                im.reduce = level
            im.load()
    except Image.DecompressionBombError:
        # Our own ceiling (checked before) is the one that counts; where it admits more than
        # Pillow's, the full decode path takes the image.
        return None
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise DecodeError(f"corrupt JPEG 2000 codestream: {first}") from exc
    arr = np.asarray(im)
    if im.mode.startswith("I;16"):
        # OpenJPEG through Pillow scales samples up to 16 bits.
        arr = (arr.astype(np.uint16) >> (16 - depth)).astype(np.uint16)
    elif im.mode == "L":
        arr = arr.astype(np.uint8)
    else:
        return None
    return arr


def block_mean_stored(arr: np.ndarray, k: int) -> np.ndarray:
    """k x k block means of stored values, rounded, in the stored dtype.
    Partial blocks at the right and bottom edges are averaged as they are
    (the edge row or column repeated).  The sum runs over k * k strided views
    in float32, exact for stored values of up to 16 bits."""
    if k <= 1:
        return arr
    h, w = arr.shape[:2]
    ph, pw = -h % k, -w % k
    src = np.pad(arr, ((0, ph), (0, pw)), mode="edge") if ph or pw else arr
    acc = np.zeros((src.shape[0] // k, src.shape[1] // k), dtype=np.float32)
    for dy in range(k):
        for dx in range(k):
            acc += src[dy::k, dx::k]
    acc /= np.float32(k * k)
    return np.rint(acc).astype(arr.dtype)


def decode_level(ds: pydicom.Dataset, level: int = 0) -> tuple[np.ndarray, int]:
    """Stored values at 1/2**level of full size, and the level actually given
    (a codestream with fewer wavelet levels gives less reduction)."""
    # Sizes and codestream headers are checked before any decoder allocates (Pillow's own
    # MAX_IMAGE_PIXELS is no substitute: it admits 178 megapixels and then some).
    problem = image_description_problem(ds) or (
        pixel_data_problem(ds) if "PixelData" in ds else None)
    if problem:
        raise DecodeError(problem)
    if level > 0 and transfer_syntax(ds) in J2K_SYNTAXES:
        arr = _j2k_reduced(ds, level)
        if arr is not None:
            rows = header_int(ds, "Rows", 0) or 0
            got = 0
            while rows and (rows + (1 << got) - 1) >> got > arr.shape[0]:
                got += 1
            return arr, got
    full = decode_pixels(ds, 0 if (header_int(ds, "NumberOfFrames", 1) or 1) > 1 else None)
    if full.ndim != 2:
        raise DecodeError("expected a single-frame greyscale image")
    return block_mean_stored(full, 1 << level), level
