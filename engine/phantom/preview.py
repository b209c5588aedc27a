"""A four-view overview PNG of a study (for demos and eyeballing the phantom).

A minimal 8-bit grayscale PNG writer (zlib + struct) so the engine needs no
imaging library.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom


def write_png(path: Path, gray: np.ndarray) -> None:
    """Write a 2-D uint8 array as a grayscale PNG."""
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    h, w = gray.shape
    raw = np.zeros((h, w + 1), dtype=np.uint8)  # filter byte 0 per row
    raw[:, 1:] = gray

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
    png += chunk(b"IEND", b"")
    Path(path).write_bytes(png)


def _display(path: Path, step: int) -> np.ndarray:
    """Window a stored image for display (MONOCHROME1 inverted), downsampled."""
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array[::step, ::step].astype(np.float32)
    c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    out = np.clip((arr - (c - w / 2)) / w, 0.0, 1.0)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        out = 1.0 - out
    return (out * 255).astype(np.uint8)


def study_overview(study_dir: Path, png_path: Path, step: int = 2) -> Path:
    """RMLO|LMLO over RCC|LCC, chest walls back to back, as hung for reading."""
    views = [
        [_display(study_dir / f"{v}.dcm", step) for v in pair]
        for pair in (("RMLO", "LMLO"), ("RCC", "LCC"))
    ]
    rows = [np.hstack([a, np.full((a.shape[0], 4), 128, np.uint8), b]) for a, b in views]
    grid = np.vstack([rows[0], np.full((4, rows[0].shape[1]), 128, np.uint8), rows[1]])
    write_png(png_path, grid)
    return png_path
