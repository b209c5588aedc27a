"""RLE frames checked segment by segment before the frame decoder sees them (PS3.5 G.3-G.5).

pylibjpeg-rle (2.2) bounds each run by the length of the frame but not by the stride it writes
at: with more than one byte per sample, a segment that decodes to more than rows x columns
bytes runs past the end of the frame, and the decoder panics.  The panic is caught
(engine.dicom.pixels), but Rust prints it on stderr first, where a user sees a backtrace.

Decoded on its own as an 8-bit frame (one byte per step), a segment cannot run past the
buffer: the decoder stops at its end and reports success when the segment filled it, an error
when it fell short.  Each segment is therefore decoded into rows x columns + 1 bytes: filling
them means the segment is too long for the image, and the frame decoder never sees it.  A
segment that is too short needs no check (the frame decoder names it).  This costs one extra
decode of the frame, and only for RLE images of more than 8 bits.
"""

from __future__ import annotations

import struct

_ONE_SEGMENT = struct.pack("<16I", 1, 64, *([0] * 14))

try:
    from rle import rle as _rle  # pylibjpeg-rle's extension module
except ImportError:  # pragma: no cover - without it pydicom's numpy decoder runs, which raises
    _rle = None


def rle_stride_problem(frame: bytes | memoryview, pixels: int, bits_allocated: int) -> str | None:
    """Why pylibjpeg-rle cannot decode this frame safely, or None.

    ``frame`` is one encapsulated RLE frame (header and segments), ``pixels`` its rows x columns.
    The header itself was checked by engine.dicom.integrity.
    """
    if _rle is None or bits_allocated <= 8 or len(frame) < 64 or pixels <= 0:
        return None
    count, *offsets = struct.unpack_from("<16I", frame)
    starts = [o for o in offsets[:count] if o]
    for index, (start, end) in enumerate(zip(starts, [*starts[1:], len(frame)], strict=True)):
        segment = bytes(frame[start:end])
        if not segment:
            return f"segment {index + 1} is empty"
        try:
            _rle.decode_frame(_ONE_SEGMENT + segment, pixels + 1, 8, "<")
        except ValueError:
            continue  # shorter than the buffer: not more than the image holds
        return f"segment {index + 1} holds more than the {pixels} pixels of the image"
    return None
