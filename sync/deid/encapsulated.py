"""Encapsulated pixel data rebuilt from its frames' codestreams.

Encapsulated Pixel Data is a Basic Offset Table and fragments; none of the
offset table, anything between or after the frames, or an Extended Offset
Table is image content, and any of it can carry text.  A mammogram is
decoded and encoded again (pixels.py), so it gets all of this fresh; other
images keep their codestreams, re-encapsulated here: one run of fragments
per frame, a recomputed offset table, and bytes after a JPEG or JPEG 2000
codestream's end marker dropped.  Anything left inside a codestream is the
leak check's to find.
"""

from __future__ import annotations

import pydicom
from pydicom.encaps import encapsulate, generate_fragments

from engine.dicom.integrity import transfer_syntax
from sync.deid.pixels import Uncleanable, image_int

_STARTS = (b"\xff\xd8", b"\xff\x4f")  # JPEG / JPEG-LS SOI, JPEG 2000 SOC
_END = b"\xff\xd9"                    # JPEG EOI, JPEG 2000 EOC
_OFFSET_TABLES = ("ExtendedOffsetTable", "ExtendedOffsetTableLengths")


def _frames(fragments: list[bytes], count: int) -> list[bytes]:
    if count == 1:
        return [b"".join(fragments)]
    if len(fragments) == count:
        return fragments
    # Several fragments per frame: each frame's codestream starts with a marker.
    starts = [i for i, f in enumerate(fragments) if f[:2] in _STARTS]
    if len(starts) != count or (starts and starts[0] != 0):
        raise Uncleanable("encapsulated pixel data: fragments cannot be told apart into frames")
    return [b"".join(fragments[a:b]) for a, b in zip(starts, [*starts[1:], None], strict=True)]


def _trim(frame: bytes) -> bytes:
    """A JPEG-family codestream up to its end marker (fragments are padded to even
    length, and writers append more; none of it is image)."""
    if frame[:2] not in _STARTS:
        return frame
    end = frame.rfind(_END)
    return frame[:end + 2] if end > 0 else frame


def rebuild(ds: pydicom.Dataset) -> None:
    """Re-encapsulate ``ds``'s Pixel Data in place when it is encapsulated."""
    if "PixelData" not in ds:
        return
    # Read as a UID whatever the element's VR; None: a data set made here, native.
    ts = transfer_syntax(ds)
    if ts is not None and not ts.is_transfer_syntax:
        raise Uncleanable("unknown transfer syntax: the pixel data cannot be read to clean it")
    if ts is None or not ts.is_encapsulated:
        return
    value = ds["PixelData"].value
    if not isinstance(value, bytes | bytearray):
        raise Uncleanable("encapsulated pixel data that cannot be read")
    try:
        fragments = list(generate_fragments(bytes(value)))[1:]  # the first is the offset table
    except (ValueError, EOFError) as exc:
        raise Uncleanable(f"encapsulated pixel data is malformed ({exc})") from None
    count = image_int(ds, "NumberOfFrames", 1)
    frames = [_trim(f) for f in _frames(fragments, max(count, 1))]
    if not all(frames):  # nothing to encapsulate (and pydicom refuses an empty fragment)
        raise Uncleanable("encapsulated pixel data: a frame has no codestream")
    for keyword in _OFFSET_TABLES:
        if keyword in ds:
            del ds[keyword]
    ds.PixelData = encapsulate(frames, has_bot=True)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
