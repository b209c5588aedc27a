"""A cheap "is the pixel data whole, and of a size we may decode?" check that never decodes.

The importer runs this on every file and import speed is measured against plain dcmread, so
it only looks at lengths, the encapsulation item structure and the bytes at each codestream's
ends: enough to catch the common damage (a copy cut short, a broken transfer) before a doctor
opens the image.  Every decode path runs it too, and it refuses images over the size ceilings
or whose codestream header disagrees with the DICOM header (engine.dicom.image_size).
"""

from __future__ import annotations

import struct

import pydicom
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from engine.dicom.image_size import codestream_size_problem, declared_size_problem

_ITEM = 0xE000FFFE  # (FFFE,E000) read as one little-endian 32-bit value
_SEQ_DELIMITER = 0xE0DDFFFE
_EOI = b"\xff\xd9"  # JPEG End Of Image; JPEG 2000 / HTJ2K End Of Codestream is the same marker
_JPEG_START = (b"\xff\xd8", b"\xff\x4f", b"\x00\x00\x00\x0cjP")  # SOI, J2K SOC, JP2 signature


def transfer_syntax(ds: pydicom.Dataset) -> UID | None:
    """The dataset's transfer syntax, inferred from how it was read when the meta lacks it."""
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if uid:
        return UID(str(uid).strip().rstrip("\x00"))
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        return None
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _int(ds: pydicom.Dataset, keyword: str, default: int | None = None) -> int | None:
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def expected_native_length(ds: pydicom.Dataset) -> int | str:
    """Bytes the image description calls for, or the reason it cannot be computed."""
    rows, cols = _int(ds, "Rows"), _int(ds, "Columns")
    bits = _int(ds, "BitsAllocated")
    for name, value in (("Rows", rows), ("Columns", cols), ("Bits Allocated", bits)):
        if not value or value < 0:
            return f"pixel data cannot be checked: {name} is missing or invalid"
    assert rows and cols and bits  # narrowed above; keeps type checkers quiet
    samples = _int(ds, "SamplesPerPixel", 1) or 1
    frames = max(_int(ds, "NumberOfFrames", 1) or 1, 1)
    pixels = rows * cols * frames
    if bits == 1:
        return (pixels * samples + 7) // 8
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if samples == 3 and photometric == "YBR_FULL_422":
        # 4:2:2 subsampled storage keeps two samples per pixel on average.
        return pixels * 2 * (bits // 8)
    return pixels * samples * ((bits + 7) // 8)


def _fragments(data: bytes) -> list[tuple[int, int]] | str:
    """(offset, length) of each fragment after the Basic Offset Table, or what is wrong."""
    out: list[tuple[int, int]] = []
    pos, size, index = 0, len(data), -1  # index -1 is the Basic Offset Table item
    while pos + 8 <= size:
        tag, length = struct.unpack_from("<II", data, pos)
        if tag == _SEQ_DELIMITER:
            break
        if tag != _ITEM:
            return f"encapsulated pixel data is damaged: unexpected tag at item {index + 1}"
        pos += 8
        if length == 0xFFFFFFFF or pos + length > size:
            return f"encapsulated pixel data truncated: fragment {index + 1} is cut short"
        if index >= 0:
            out.append((pos, length))
        pos += length
        index += 1
    else:
        if pos != size:
            return "encapsulated pixel data truncated: file ends inside an item header"
    if not out:
        return "encapsulated pixel data has no fragments"
    return out


def _codestream_problem(
    data: bytes, frags: list[tuple[int, int]], frames: int, ts: UID
) -> str | None:
    if ts == RLELossless:
        for number, (offset, length) in enumerate(frags[:frames] if len(frags) == frames else []):
            if length < 64:
                return f"RLE frame {number + 1} is damaged: header cut short"
            segments = struct.unpack_from("<I", data, offset)[0]
            ends = struct.unpack_from("<15I", data, offset + 4)[:segments]
            if not 1 <= segments <= 15 or any(e >= length for e in ends):
                return f"RLE frame {number + 1} is damaged: segment table does not fit"
        return None
    # JPEG family (baseline, extended, lossless, JPEG-LS, JPEG 2000, HTJ2K): each frame starts
    # with a start marker and ends with FFD9.  One fragment per frame is the common layout; with
    # more fragments than frames only the start of the first and end of the last are checked.
    if len(frags) == frames:
        starts, ends = frags, frags
    else:
        starts, ends = frags[:1], frags[-1:]
    for number, (offset, _length) in enumerate(starts):
        if not data[offset : offset + 8].startswith(_JPEG_START):
            return f"compressed frame {number + 1} is damaged: no codestream start marker"
    for number, (offset, length) in enumerate(ends):
        tail = data[max(offset, offset + length - 16) : offset + length].rstrip(b"\x00")
        if _EOI not in tail[-4:]:
            which = number + 1 if len(ends) > 1 else len(frags)
            return f"compressed pixel data truncated: codestream of fragment {which} is cut"
    return None


def pixel_data_problem(ds: pydicom.Dataset) -> str | None:
    """One-line description of damaged pixel data, or None when it looks whole or is absent."""
    if "PixelData" not in ds:
        return None
    try:
        data = ds.PixelData
    except Exception:
        return "pixel data cannot be read"
    if data is None:
        return None
    too_large = declared_size_problem(ds)
    if too_large:
        return too_large
    ts = transfer_syntax(ds)
    if ts is None:
        return "pixel data cannot be checked: the transfer syntax is unknown"
    if not ts.is_encapsulated:
        expected = expected_native_length(ds)
        if isinstance(expected, str):
            return expected
        if len(data) < expected:
            return f"pixel data truncated: {len(data)} of {expected} bytes"
        return None
    frags = _fragments(data)
    if isinstance(frags, str):
        return frags
    frames = max(_int(ds, "NumberOfFrames", 1) or 1, 1)
    if len(frags) < frames:
        return f"compressed pixel data incomplete: {len(frags)} fragments for {frames} frames"
    return _codestream_problem(data, frags, frames, ts) or codestream_size_problem(
        ds, data, frags, ts)
