"""Header fields inside compressed frames: JPEG 2000 SIZ / COD, JPEG SOF, RLE segment table.

Each function returns (offset within the fragment, size in bytes, big endian?, name) for the
fields a mutator may change, so a decoder meets a frame whose header contradicts the DICOM
attributes or itself (a width of 65535, zero components, 38-bit samples, 33 wavelet levels).
"""

from __future__ import annotations

import struct

Field = tuple[int, int, bool, str]

# JPEG start-of-frame markers: baseline, extended, progressive, lossless, JPEG-LS (SOF55).
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF,
                  0xF7})


def j2k_fields(frame: bytes) -> list[Field]:
    """SIZ (size, offsets, tiles, components, bit depth) and COD (levels, code-block) fields."""
    siz = frame.find(b"\xff\x4f\xff\x51")
    if siz < 0:
        return []
    m = siz + 2
    out: list[Field] = [
        (m + 2, 2, True, "Lsiz"), (m + 6, 4, True, "Xsiz"), (m + 10, 4, True, "Ysiz"),
        (m + 14, 4, True, "XOsiz"), (m + 18, 4, True, "YOsiz"), (m + 22, 4, True, "XTsiz"),
        (m + 26, 4, True, "YTsiz"), (m + 38, 2, True, "Csiz"), (m + 40, 1, True, "Ssiz"),
        (m + 41, 1, True, "XRsiz"), (m + 42, 1, True, "YRsiz"),
    ]
    cod = frame.find(b"\xff\x52", m)
    if cod >= 0:
        out += [(cod + 4, 1, True, "Scod"), (cod + 5, 1, True, "progression"),
                (cod + 6, 2, True, "layers"), (cod + 9, 1, True, "levels"),
                (cod + 10, 1, True, "xcb"), (cod + 11, 1, True, "ycb"),
                (cod + 13, 1, True, "transform")]
    return [f for f in out if f[0] + f[1] <= len(frame)]


def jpeg_fields(frame: bytes) -> list[Field]:
    """The first SOF segment's precision, height, width and component count."""
    pos = 2 if frame.startswith(b"\xff\xd8") else -1
    while 0 <= pos < len(frame) - 4:
        if frame[pos] != 0xFF:
            return []
        marker = frame[pos + 1]
        if marker in _SOF:
            m = pos
            out = [(m + 2, 2, True, "Lf"), (m + 4, 1, True, "P"), (m + 5, 2, True, "Y"),
                   (m + 7, 2, True, "X"), (m + 9, 1, True, "Nf"), (m + 11, 1, True, "H/V")]
            return [f for f in out if f[0] + f[1] <= len(frame)]
        if marker == 0xDA:  # start of scan before any frame header
            return []
        (length,) = struct.unpack_from(">H", frame, pos + 2)
        pos += 2 + length
    return []


def rle_fields(frame: bytes) -> list[Field]:
    """The RLE header: number of segments and the 15 segment offsets (little endian)."""
    if len(frame) < 64:
        return []
    return [(0, 4, False, "segments")] + [(4 + 4 * i, 4, False, f"offset{i + 1}")
                                          for i in range(15)]


def fields(frame: bytes, transfer_syntax: str) -> list[Field]:
    if transfer_syntax == "1.2.840.10008.1.2.5":
        return rle_fields(frame)
    return j2k_fields(frame) or jpeg_fields(frame)
