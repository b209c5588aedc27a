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
from pydicom.multival import MultiValue
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from engine.dicom.image_size import codestream_size_problem, declared_size_problem
from engine.dicom.values import UNREADABLE, header_int, invalid_int, raw_value

_ITEM = 0xE000FFFE  # (FFFE,E000) read as one little-endian 32-bit value
_SEQ_DELIMITER = 0xE0DDFFFE
_EOI = b"\xff\xd9"  # JPEG End Of Image; JPEG 2000 / HTJ2K End Of Codestream is the same marker
_JPEG_START = (b"\xff\xd8", b"\xff\x4f", b"\x00\x00\x00\x0cjP")  # SOI, J2K SOC, JP2 signature


def transfer_syntax(ds: pydicom.Dataset) -> UID | None:
    """The dataset's transfer syntax, inferred from how it was read when the meta lacks it."""
    meta = getattr(ds, "file_meta", None)
    uid = raw_value(meta, "TransferSyntaxUID") if meta is not None else None
    if uid is UNREADABLE or isinstance(uid, MultiValue):
        return UID("")  # there but unusable: no known transfer syntax, nothing to infer
    if uid:
        return UID(str(uid).strip().rstrip("\x00"))
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        return None
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


# The image description a decoder reads: a value that is there but not one integer (a wrong
# VR, text, several values) makes the decoders fail in their own words, or not at all.
_DESCRIPTION = (
    ("Rows", "Rows"),
    ("Columns", "Columns"),
    ("SamplesPerPixel", "Samples per Pixel"),
    ("BitsAllocated", "Bits Allocated"),
    ("BitsStored", "Bits Stored"),
    ("PixelRepresentation", "Pixel Representation"),
    ("NumberOfFrames", "Number of Frames"),
)


def image_description_problem(ds: pydicom.Dataset) -> str | None:
    """One line naming the first image attribute present with an unusable value, else None."""
    for keyword, name in _DESCRIPTION:
        if invalid_int(ds, keyword):
            return f"pixel data cannot be checked: {name} is invalid"
    return None


def expected_native_length(ds: pydicom.Dataset) -> int | str:
    """Bytes the image description calls for, or the reason it cannot be computed."""
    rows, cols = header_int(ds, "Rows"), header_int(ds, "Columns")
    bits = header_int(ds, "BitsAllocated")
    for name, value in (("Rows", rows), ("Columns", cols), ("Bits Allocated", bits)):
        if not value or value < 0:
            return f"pixel data cannot be checked: {name} is missing or invalid"
    assert rows and cols and bits  # narrowed above; keeps type checkers quiet
    samples = header_int(ds, "SamplesPerPixel", 1) or 1
    frames = max(header_int(ds, "NumberOfFrames", 1) or 1, 1)
    pixels = rows * cols * frames
    if bits == 1:
        return (pixels * samples + 7) // 8
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if samples == 3 and photometric == "YBR_FULL_422":
        # 4:2:2 subsampled storage keeps two samples per pixel on average.
        return pixels * 2 * (bits // 8)
    return pixels * samples * ((bits + 7) // 8)


def _fragments(data: bytes | bytearray) -> list[tuple[int, int]] | str:
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


def _rle_problem(
    data: bytes | bytearray, frags: list[tuple[int, int]], frames: int, pixels: int
) -> str | None:
    """The 64-byte header of each RLE frame (PS3.5 G.5), and its segments against the size.

    Each segment decodes to one byte per pixel of the frame.  RLE costs at most two bytes per
    decoded byte (a literal run of one), so a longer segment belongs to a larger image: the
    Rust decoder would write past the frame it was given.
    """
    for number, (offset, length) in enumerate(frags[:frames] if len(frags) == frames else []):
        if length < 64:
            return f"RLE frame {number + 1} is damaged: header cut short"
        segments = struct.unpack_from("<I", data, offset)[0]
        starts = struct.unpack_from("<15I", data, offset + 4)[:segments]
        if not 1 <= segments <= 15 or any(e >= length for e in starts):
            return f"RLE frame {number + 1} is damaged: segment table does not fit"
        if list(starts) != sorted(starts) or starts[0] < 64:
            return f"RLE frame {number + 1} is damaged: segment table out of order"
        for index, (start, end) in enumerate(zip(starts, [*starts[1:], length], strict=True)):
            if pixels and end - start > 2 * pixels + 2:  # + 2: the even-length padding
                return f"RLE frame {number + 1} does not match the image size: segment " \
                       f"{index + 1} is longer than {pixels} pixels can need"
    return None


def _codestream_problem(
    data: bytes | bytearray, frags: list[tuple[int, int]], frames: int, ts: UID, pixels: int
) -> str | None:
    if ts == RLELossless:
        return _rle_problem(data, frags, frames, pixels)
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
    if not isinstance(data, bytes | bytearray):
        return "pixel data cannot be read"  # a wrong VR (text, several values) in the file
    problem = image_description_problem(ds) or declared_size_problem(ds)
    if problem:
        return problem
    ts = transfer_syntax(ds)
    if ts is None:
        return "pixel data cannot be checked: the transfer syntax is unknown"
    if not ts.is_transfer_syntax:
        return "pixel data cannot be checked: unknown transfer syntax"
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
    frames = max(header_int(ds, "NumberOfFrames", 1) or 1, 1)
    if len(frags) < frames:
        return f"compressed pixel data incomplete: {len(frags)} fragments for {frames} frames"
    pixels = (header_int(ds, "Rows") or 0) * (header_int(ds, "Columns") or 0)
    return _codestream_problem(data, frags, frames, ts, pixels) or codestream_size_problem(
        ds, data, frags, ts)
