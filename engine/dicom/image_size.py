"""Image sizes checked before anything is allocated.

The DICOM header (Rows x Columns x SamplesPerPixel x BitsAllocated, per frame and for all
frames) must stay under the ceilings of engine.dicom.limits, and every compressed frame's own
header must agree with it: a decoder allocates what the codestream declares, whatever the
DICOM header says.  Header bytes only, never a decode: the importer runs this on every file.
"""

from __future__ import annotations

import pydicom
from pydicom.uid import UID, RLELossless

from engine.dicom import limits
from engine.dicom.codestream import FrameHeader, j2k_header, jpeg_header, rle_segments
from engine.dicom.values import header_int

_J2K_START = (b"\xff\x4f", b"\x00\x00\x00\x0cjP")  # bare codestream (SOC), JP2 signature box


def declared_size_problem(ds: pydicom.Dataset) -> str | None:
    """One line when the header asks for more than the ceilings allow, else None.

    Missing or invalid dimensions are left to the integrity checks, which name them.
    """
    rows, cols = header_int(ds, "Rows"), header_int(ds, "Columns")
    bits = header_int(ds, "BitsAllocated")
    if not rows or not cols or not bits or min(rows, cols, bits) < 0:
        return None
    samples = max(header_int(ds, "SamplesPerPixel", 1) or 1, 1)
    frames = max(header_int(ds, "NumberOfFrames", 1) or 1, 1)
    ceiling = limits.current()
    where = "(limits.frame_megapixels)"
    if rows * cols > ceiling.frame_pixels:
        return f"image too large: {rows} x {cols} exceeds the {ceiling.megapixels_text()} " \
               f"limit {where}"
    frame_bytes = rows * cols * samples * ((bits + 7) // 8)
    if frame_bytes > ceiling.frame_bytes:
        return (f"image too large: {rows} x {cols} with {samples} samples of {bits} bits "
                f"exceeds the {ceiling.megapixels_text()} 16-bit greyscale limit {where}")
    if frames * frame_bytes > ceiling.total_bytes:
        return (f"image too large: {frames} frames of {rows} x {cols} exceed the "
                f"{ceiling.total_bytes / 1e6:.0f} MB limit for one image {where}")
    return None


def _header_of(frame: memoryview, ts: UID) -> FrameHeader | None:
    if bytes(frame[:8]).startswith(_J2K_START):
        return j2k_header(frame)
    return jpeg_header(frame)


def _disagreement(ds: pydicom.Dataset, found: FrameHeader) -> str | None:
    rows, cols = header_int(ds, "Rows"), header_int(ds, "Columns")
    samples = header_int(ds, "SamplesPerPixel", 1) or 1
    bits = header_int(ds, "BitsAllocated") or 0
    if (found.rows, found.columns) != (rows, cols):
        return f"codestream says {found.rows} x {found.columns} but the header says " \
               f"{rows} x {cols}"
    if found.samples != samples:
        return f"codestream says {found.samples} samples per pixel but the header says " \
               f"{samples}"
    if found.bits > max(bits, 8):
        return f"codestream says {found.bits}-bit samples but the header allocates {bits} bits"
    return None


def codestream_size_problem(
    ds: pydicom.Dataset, data: bytes | bytearray, frags: list[tuple[int, int]], ts: UID
) -> str | None:
    """One line when a compressed frame's own header disagrees with the DICOM header.

    ``frags`` are (offset, length) of the fragments in ``data``.  Every fragment that starts
    a codestream is checked (a frame may span several fragments); for RLE each fragment is a
    frame and its segment count must match samples x bytes per sample.
    """
    view = memoryview(data)
    frames = max(header_int(ds, "NumberOfFrames", 1) or 1, 1)
    if ts == RLELossless:
        samples = header_int(ds, "SamplesPerPixel", 1) or 1
        bits = header_int(ds, "BitsAllocated") or 8
        need = samples * ((bits + 7) // 8)
        for number, (offset, length) in enumerate(frags[:frames], 1):
            got = rle_segments(view[offset : offset + length])
            if got is not None and got != need:
                kind = "greyscale" if samples == 1 else f"{samples}-sample colour"
                return f"RLE frame {number} has {got} segments but {bits}-bit {kind} " \
                       f"needs {need}"
        return None
    number = 0
    for offset, length in frags:
        frame = view[offset : offset + length]
        if not bytes(frame[:8]).startswith((b"\xff\xd8", *_J2K_START)):
            continue  # a continuation fragment of the frame before
        number += 1
        if number > frames:
            break
        found = _header_of(frame, ts)
        if found is None:
            return f"compressed frame {number} is damaged: its codestream declares no " \
                   "image size"
        problem = _disagreement(ds, found)
        if problem:
            return problem + (f" (frame {number})" if number > 1 else "")
    return None
