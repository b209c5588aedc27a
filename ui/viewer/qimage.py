"""numpy -> QImage by copying into an image Qt owns.  (Building a QImage on
a Python buffer ties its lifetime to the buffer's and has crashed PySide6 at
interpreter exit; one copy of an on-screen region costs well under a
millisecond.)"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def grey_image(pixels: np.ndarray) -> QImage:
    """uint8 (h, w) -> Format_Grayscale8."""
    h, w = pixels.shape
    img = QImage(w, h, QImage.Format.Format_Grayscale8)
    if h and w:
        rows = np.frombuffer(img.bits(), np.uint8, count=img.sizeInBytes()).reshape(h, -1)
        rows[:, :w] = pixels
    return img


def argb_image(pixels: np.ndarray) -> QImage:
    """uint8 (h, w, 4) in memory order B, G, R, A (premultiplied) -> ARGB32."""
    h, w, _ = pixels.shape
    img = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    if h and w:
        rows = np.frombuffer(img.bits(), np.uint8, count=img.sizeInBytes()).reshape(h, -1)
        rows[:, : w * 4] = pixels.reshape(h, w * 4)
    return img
