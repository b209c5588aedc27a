"""What a compressed frame's own header declares: rows, columns, samples, bits.

Decoders allocate what the codestream declares, not what the DICOM header says, so both must
be read before decoding: the SIZ marker segment of JPEG 2000 / HTJ2K (ISO/IEC 15444-1 A.5.1,
also inside a JP2 wrapper), the SOF0..SOF15 frame header of JPEG (ISO/IEC 10918-1 B.2.2) and
SOF55 of JPEG-LS (ISO/IEC 14495-1 C.2.2), and the segment count of an RLE header (PS3.5 G.5).
Only header bytes are looked at; nothing is decoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_SOC_SIZ = b"\xff\x4f\xff\x51"
# A JP2 wrapper puts its header boxes (a colour profile among them) before the codestream.
_JP2_SEARCH = 1 << 16
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # DHT, JPG, DAC are not SOFs
_JPEG_LS_SOF = 0xF7
_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RSTn, SOI, EOI: no length field


@dataclass(frozen=True)
class FrameHeader:
    rows: int
    columns: int
    samples: int
    bits: int  # the largest sample precision declared


def j2k_header(frame: bytes | memoryview) -> FrameHeader | None:
    """From the SIZ segment of a J2K codestream (bare or in a JP2 box); None if absent."""
    head = bytes(frame[:_JP2_SEARCH])
    start = head.find(_SOC_SIZ)
    if start < 0:
        return None
    body = head[start + 6 :]  # after SOC, the SIZ marker and Lsiz
    if len(body) < 38:
        return None
    xsiz, ysiz, xosiz, yosiz = struct.unpack_from(">4I", body, 2)
    components = struct.unpack_from(">H", body, 34)[0]
    ssiz = body[36 : 36 + 3 * components : 3]
    bits = max(((s & 0x7F) + 1 for s in ssiz), default=0)
    return FrameHeader(max(ysiz - yosiz, 0), max(xsiz - xosiz, 0), components, bits)


def jpeg_header(frame: bytes | memoryview) -> FrameHeader | None:
    """From the first SOFn (JPEG) or SOF55 (JPEG-LS) segment; None if there is none."""
    data = memoryview(frame)
    size = len(data)
    if size < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return None
    pos = 2
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            return None  # a header segment must start with a marker
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _NO_LENGTH:
            pos += 2
            continue
        if marker == 0xDA:  # start of scan: the frame header should have come before
            return None
        length = struct.unpack_from(">H", data, pos + 2)[0]
        if marker in _JPEG_SOF or marker == _JPEG_LS_SOF:
            if length < 8 or pos + 10 > size:
                return None
            precision, rows, cols, components = struct.unpack_from(">BHHB", data, pos + 4)
            return FrameHeader(rows, cols, components, precision)
        pos += 2 + length
    return None


def rle_segments(frame: bytes | memoryview) -> int | None:
    """The number of segments an RLE frame's 64-byte header declares."""
    if len(frame) < 64:
        return None
    return int(struct.unpack_from("<I", frame, 0)[0])
