"""The greyscale display pipeline of the viewer, as lookup tables.

Stored value -> Modality LUT (Rescale or Modality LUT Sequence) -> VOI
(a window with its VOI LUT Function LINEAR, LINEAR_EXACT or SIGMOID, or a
VOI LUT Sequence table, optionally narrowed by a window on its output) ->
Presentation (MONOCHROME1 and Presentation LUT Shape INVERSE invert) ->
0..255 on the screen.  PS3.3 C.11.1, C.11.2, C.11.6.

Every step depends on the stored value alone, so for images of up to 16
bits the whole pipeline is one table with an entry per possible stored
value: changing the window re-computes 65 536 entries, not the millions of
pixels, and painting is one table lookup.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi

from engine.dicom.grey_luts import (
    VOI_LUT_DEPTHS,
    lut_descriptor,
    lut_item_problem,
    modality_problem,
)
from engine.dicom.values import header_value, raw_value

log = logging.getLogger(__name__)

FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")
MIN_WIDTH = 1.0


@dataclass(frozen=True)
class Window:
    """A VOI window.  With `lut_index` set, the window applies to the output
    of that VOI LUT Sequence item (so W/L also works on LUT presets)."""

    center: float
    width: float
    function: str = "LINEAR"
    lut_index: int | None = None


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


def _voi_items(ds: pydicom.Dataset) -> list:
    seq = raw_value(ds, "VOILUTSequence")
    return list(seq) if isinstance(seq, pydicom.sequence.Sequence) else []


def _usable_lut(ds: pydicom.Dataset, index: int | None) -> bool:
    items = _voi_items(ds)
    return index is not None and 0 <= index < len(items) and lut_item_problem(
        items[index], "VOI", VOI_LUT_DEPTHS) is None


def modality_values(ds: pydicom.Dataset, stored: np.ndarray) -> np.ndarray:
    """Stored values through the file's Modality LUT or rescale; unchanged when the file's
    are unusable (an empty Rescale Intercept, a broken table): the viewer still shows the
    image, windowed over its stored values, rather than nothing."""
    if modality_problem(ds) is None:
        try:
            return apply_modality_lut(stored, ds)
        except Exception as exc:  # what the checks above cannot foresee (endianness...)
            log.warning("modality LUT not applied (%s)", type(exc).__name__)
    return stored


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
    for i, item in enumerate(_voi_items(ds)):
        if not _usable_lut(ds, i):
            continue  # an unusable table is not offered
        descriptor = lut_descriptor(item)
        assert descriptor is not None  # checked by _usable_lut
        lo, hi = 0.0, float(2 ** descriptor[2] - 1)
        explanation = raw_value(item, "LUTExplanation")
        text = explanation.strip() if isinstance(explanation, str) else ""
        out.append(Preset(text or f"VOI LUT {i + 1}", Window((lo + hi + 1) / 2, hi - lo + 1,
                                                             "LINEAR", i)))
    if not out and stored is not None and stored.size:
        values = modality_values(ds, np.array([stored.min(), stored.max()]))
        lo, hi = float(values.min()), float(values.max())
        out.append(Preset("full range", Window((lo + hi) / 2, max(hi - lo, MIN_WIDTH))))
    return out


def window_values(x: np.ndarray, window: Window) -> np.ndarray:
    """VOI window of PS3.3 C.11.2.1.2 (output 0..1)."""
    c, w = float(window.center), max(float(window.width), MIN_WIDTH)
    x = np.asarray(x, dtype=np.float64)
    if window.function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (x - c) / w))
    if window.function == "LINEAR_EXACT":
        return np.clip((x - c) / w + 0.5, 0.0, 1.0)
    if w <= 1.0:  # C.11.2.1.2.1: a width of 1 is a threshold at the centre
        return (x > c - 0.5).astype(np.float64)
    return np.clip((x - (c - 0.5)) / (w - 1.0) + 0.5, 0.0, 1.0)


def inverted(ds: pydicom.Dataset) -> bool:
    """Whether the file's presentation makes high stored values dark."""
    photometric = str(header_value(ds, "PhotometricInterpretation", "")).strip().upper()
    shape = str(header_value(ds, "PresentationLUTShape", "")).strip().upper()
    # For MONOCHROME1 the MG IOD writes INVERSE as its Presentation LUT Shape:
    # one inversion, not two.
    return photometric == "MONOCHROME1" or shape == "INVERSE"


def stored_range(ds: pydicom.Dataset, dtype: np.dtype) -> np.ndarray:
    """Every value the stored pixels can take, for tables."""
    info = np.iinfo(dtype)
    return np.arange(info.min, info.max + 1, dtype=np.int64 if info.min < 0 else np.uint32)


def display_lut(
    ds: pydicom.Dataset, window: Window, dtype: np.dtype, invert: bool = False
) -> np.ndarray:
    """uint8 table over every stored value of `dtype` (8 or 16 bit integers):
    screen grey level = table[stored - min(dtype)].  `invert` flips the
    file's own polarity (the viewer's invert key)."""
    values = stored_range(ds, np.dtype(dtype))
    modality = modality_values(ds, values.astype(np.dtype(dtype)))
    voi = None
    if _usable_lut(ds, window.lut_index):
        # The window works on the table's output (entries lo..hi).
        try:
            voi = apply_voi(np.rint(modality).astype(np.int64), ds, index=window.lut_index)
        except Exception as exc:  # what the checks cannot foresee: the window alone then
            log.warning("VOI LUT not applied (%s)", type(exc).__name__)
    out = window_values(np.asarray(voi if voi is not None else modality, np.float64), window)
    if inverted(ds) != invert:
        out = 1.0 - out
    return np.rint(out * 255.0).astype(np.uint8)


def apply_lut(lut: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """Screen grey levels of stored pixels through a display_lut table."""
    if stored.dtype.kind == "i":
        return lut[stored.astype(np.int32) - int(np.iinfo(stored.dtype).min)]
    return lut[stored]


def drag(window: Window, dx: float, dy: float, span: float) -> Window:
    """Window/level by mouse: right widens, left narrows; down raises the
    centre (the image darkens), up lowers it.  `span` is the range of the
    values the window works on; one screen pixel moves span/1024."""
    step = max(span, 1.0) / 1024.0
    width = max(MIN_WIDTH, window.width + dx * step * 2.0)
    return replace(window, center=window.center + dy * step, width=width)
