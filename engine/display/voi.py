"""The viewer's greyscale display: the file's VOI presets, screen tables and
window/level by mouse.

The pipeline itself (stored value -> Modality LUT -> VOI -> presentation) is
engine.imaging.greyscale, shared with the AI; this module turns its 0..1
values into 0..255 screen grey levels.  Every step depends on the stored
value alone, so for images of up to 16 bits the whole pipeline is one table
with an entry per possible stored value: changing the window re-computes
65 536 entries, not the millions of pixels, and painting is one table lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pydicom

from engine.dicom.values import raw_value
from engine.imaging.greyscale import (
    FUNCTIONS,
    MIN_WIDTH,
    Window,
    apply_lut,
    grey_values,
    lut_output_range,
    modality_values,
    stored_range,
    usable_lut,
    voi_items,
)

# Window and apply_lut are the viewer's names for the shared pipeline's.
__all__ = ["Preset", "Window", "apply_lut", "display_lut", "drag", "presets"]


@dataclass(frozen=True)
class Preset:
    name: str
    window: Window


def _values(ds: pydicom.Dataset, keyword: str) -> list:
    value = raw_value(ds, keyword)
    if value is None or not isinstance(value, pydicom.multival.MultiValue | list | tuple
                                       | str | int | float):
        return []  # absent, empty or unreadable
    return list(value) if isinstance(value, pydicom.multival.MultiValue | list | tuple) else [value]


def _function(ds: pydicom.Dataset) -> str:
    name = str(raw_value(ds, "VOILUTFunction") or "LINEAR").strip().upper()
    return name if name in FUNCTIONS else "LINEAR"


def presets(ds: pydicom.Dataset, stored: np.ndarray | None = None) -> list[Preset]:
    """The file's own VOI settings, in file order: every window (with its
    explanation as the name), then every VOI LUT Sequence item; when the file
    has none, a window over the image's value range (needs `stored`)."""
    out: list[Preset] = []
    centers, widths = _values(ds, "WindowCenter"), _values(ds, "WindowWidth")
    names = _values(ds, "WindowCenterWidthExplanation")
    function = _function(ds)
    for i, (c, w) in enumerate(zip(centers, widths, strict=False)):
        try:
            window = Window(float(c), max(float(w), MIN_WIDTH), function)
        except (TypeError, ValueError):
            continue
        name = str(names[i]).strip() if i < len(names) and str(names[i]).strip() else ""
        out.append(Preset(name or f"window {i + 1}", window))
    for i, item in enumerate(voi_items(ds)):
        if not usable_lut(ds, i):
            continue  # an unusable table is not offered
        span = lut_output_range(item)
        assert span is not None  # checked by usable_lut
        lo, hi = span
        explanation = raw_value(item, "LUTExplanation")
        text = explanation.strip() if isinstance(explanation, str) else ""
        out.append(Preset(text or f"VOI LUT {i + 1}", Window((lo + hi + 1) / 2, hi - lo + 1,
                                                             "LINEAR", i)))
    if not out and stored is not None and stored.size:
        values = modality_values(ds, np.array([stored.min(), stored.max()]))
        lo, hi = float(values.min()), float(values.max())
        out.append(Preset("full range", Window((lo + hi) / 2, max(hi - lo, MIN_WIDTH))))
    return out


def display_lut(
    ds: pydicom.Dataset, window: Window, dtype: np.dtype, invert: bool = False
) -> np.ndarray:
    """uint8 table over every stored value of `dtype` (8 or 16 bit integers):
    screen grey level = table[stored - min(dtype)] (see apply_lut).  `invert`
    flips the file's own polarity (the viewer's invert key)."""
    out = grey_values(ds, stored_range(np.dtype(dtype)), window, invert)
    return np.rint(out * 255.0).astype(np.uint8)


def drag(window: Window, dx: float, dy: float, span: float) -> Window:
    """Window/level by mouse: right widens, left narrows; down raises the
    centre (the image darkens), up lowers it.  `span` is the range of the
    values the window works on; one screen pixel moves span/1024."""
    step = max(span, 1.0) / 1024.0
    width = max(MIN_WIDTH, window.width + dx * step * 2.0)
    return replace(window, center=window.center + dy * step, width=width)
