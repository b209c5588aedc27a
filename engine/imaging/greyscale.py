"""The greyscale pipeline of PS3.3 C.11, for the viewer and the model alike.

Stored value -> Modality LUT (Rescale or Modality LUT Sequence) -> VOI (a
window, a VOI LUT Sequence table, or a window on a table's output) -> 0..1 ->
presentation (inversion where high values are dark).  Every step depends on
the stored value alone, so for integer images of up to 16 bits the pipeline
can be one table with an entry per possible stored value (`stored_range`,
`apply_lut`).

The viewer and the model read the same steps with three differences, all
chosen by `window` in `grey_values` and `grey_image`:

- VOI.  The viewer applies a Window the user chose (the file's presets or a
  window/level drag), with the formulas of PS3.3 C.11.2.1.2, and gets
  float64.  The model (window None) applies the file's own first VOI as
  pydicom does, a VOI LUT Sequence table preferred over a window, scaled to
  0..1 by that VOI's output range; for a file with neither, the image's
  0.5th..99.5th percentiles; it gets float32.
- Modality LUT.  The viewer shows the stored values when the file's rescale
  cannot be applied; the model raises (the image is refused).
- Inversion.  The viewer also honours Presentation LUT Shape INVERSE
  (PS3.3 C.11.6); the model reads the Photometric Interpretation alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi, apply_voi_lut

from engine.dicom.grey_luts import (
    VOI_LUT_DEPTHS,
    lut_descriptor,
    lut_item_problem,
    modality_problem,
)
from engine.dicom.values import header_int, header_value, raw_value
from engine.errors import DecodeError

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


# -- Modality LUT ------------------------------------------------------------------------


def modality_values(ds: pydicom.Dataset, stored: np.ndarray, strict: bool = False) -> np.ndarray:
    """Stored values through the file's Modality LUT or rescale.

    When the file's are unusable (an empty Rescale Intercept, a broken table)
    the values come back unchanged, so the viewer still shows the image,
    windowed over its stored values; with `strict` (the model) pydicom's
    error is raised instead."""
    if strict:
        return apply_modality_lut(stored, ds)
    if modality_problem(ds) is None:
        try:
            return apply_modality_lut(stored, ds)
        except Exception as exc:  # what the checks above cannot foresee (endianness...)
            log.warning("modality LUT not applied (%s)", type(exc).__name__)
    return stored


# -- VOI: which one, and its output range ------------------------------------------------


def voi_items(ds: pydicom.Dataset) -> list:
    """The items of the file's VOI LUT Sequence (none when it is unreadable)."""
    seq = raw_value(ds, "VOILUTSequence")
    return list(seq) if isinstance(seq, pydicom.sequence.Sequence) else []


def usable_lut(ds: pydicom.Dataset, index: int | None) -> bool:
    """Whether VOI LUT Sequence item `index` exists and can be applied."""
    items = voi_items(ds)
    return index is not None and 0 <= index < len(items) and lut_item_problem(
        items[index], "VOI", VOI_LUT_DEPTHS) is None


def has_voi(ds: pydicom.Dataset) -> bool:
    """Whether the file brings a VOI of its own (a table or a window)."""
    return "VOILUTSequence" in ds or "WindowCenter" in ds


def lut_output_range(item: pydicom.Dataset) -> tuple[float, float] | None:
    """(lowest, highest) value a VOI LUT Sequence item can give, from its
    descriptor's bits per entry; None when the descriptor is unusable."""
    descriptor = lut_descriptor(item)
    if descriptor is None:
        return None
    return 0.0, float(2 ** descriptor[2] - 1)


def window_output_range(ds: pydicom.Dataset) -> tuple[float, float]:
    """The range pydicom's windowing maps onto: that of the stored bit depth,
    signed (negative low end) for signed pixels."""
    bits = header_int(ds, "BitsStored", 16) or 16
    if header_int(ds, "PixelRepresentation", 0) == 1:
        return float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    return 0.0, float(2**bits - 1)


def file_voi_range(ds: pydicom.Dataset) -> tuple[float, float]:
    """The output range of the VOI pydicom's apply_voi_lut(prefer_lut=True)
    chooses: the first VOI LUT Sequence item's when it has a descriptor, else
    the window's.  DecodeError when that descriptor is unusable."""
    seq = header_value(ds, "VOILUTSequence")
    if seq and "LUTDescriptor" in seq[0]:
        span = lut_output_range(seq[0])
        if span is None:
            raise DecodeError("unusable rescale or VOI attributes (VOI LUT Descriptor)")
        return span
    return window_output_range(ds)


# -- VOI: the values --------------------------------------------------------------------


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


def normalise(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """lo..hi onto 0..1, clipped (in the dtype of `values`)."""
    return np.clip((values - lo) / max(hi - lo, 1e-6), 0.0, 1.0)


def percentile_range(values: np.ndarray) -> tuple[float, float]:
    """The 0.5th and 99.5th percentiles: a range for images without a VOI."""
    return float(np.percentile(values, 0.5)), float(np.percentile(values, 99.5))


def chosen_voi_values(ds: pydicom.Dataset, modality: np.ndarray, window: Window) -> np.ndarray:
    """The viewer's VOI: `window`, on the output of its VOI LUT Sequence item
    when it names a usable one (float64, 0..1)."""
    voi = None
    index = window.lut_index
    if index is not None and usable_lut(ds, index):
        # The window works on the table's output (entries lo..hi).
        try:
            voi = apply_voi(np.rint(modality).astype(np.int64), ds, index=index)
        except Exception as exc:  # what the checks cannot foresee: the window alone then
            log.warning("VOI LUT not applied (%s)", type(exc).__name__)
    return window_values(np.asarray(voi if voi is not None else modality, np.float64), window)


def file_voi_values(ds: pydicom.Dataset, modality: np.ndarray) -> np.ndarray:
    """The model's VOI: the file's first table or window as pydicom applies it,
    scaled by its output range, else the image's percentiles (float32, 0..1)."""
    arr = modality
    if arr.dtype.kind == "f" and np.all(arr == np.rint(arr)):
        arr = arr.astype(np.int32)  # identity rescale: keep integers for the LUT
    if has_voi(ds):
        out = apply_voi_lut(arr, ds, index=0, prefer_lut=True).astype(np.float32)
        lo, hi = file_voi_range(ds)
    else:
        out = arr.astype(np.float32)
        lo, hi = percentile_range(out)
    return normalise(out, lo, hi)


# -- Presentation ------------------------------------------------------------------------


def inverted(ds: pydicom.Dataset, presentation_lut_shape: bool = True) -> bool:
    """Whether the file's presentation makes high stored values dark.

    MONOCHROME1 does; with `presentation_lut_shape` (the viewer) so does a
    Presentation LUT Shape of INVERSE, and both values are read case-blind.
    Without it (the model) the Photometric Interpretation alone counts, as
    written."""
    photometric = str(header_value(ds, "PhotometricInterpretation", "")).strip()
    if not presentation_lut_shape:
        return photometric == "MONOCHROME1"
    shape = str(header_value(ds, "PresentationLUTShape", "")).strip().upper()
    # For MONOCHROME1 the MG IOD writes INVERSE as its Presentation LUT Shape:
    # one inversion, not two.
    return photometric.upper() == "MONOCHROME1" or shape == "INVERSE"


# -- The pipeline ------------------------------------------------------------------------


def grey_values(
    ds: pydicom.Dataset, stored: np.ndarray, window: Window | None = None, invert: bool = False
) -> np.ndarray:
    """Stored values -> 0..1, where 1 is bright (dense tissue).

    `window` None is the model's pipeline (the file's own VOI, strict
    rescale, float32), a Window the viewer's (float64); see the module's
    docstring.  `invert` flips the file's own polarity (the viewer's invert
    key)."""
    if window is None:
        out = file_voi_values(ds, modality_values(ds, stored, strict=True))
        if inverted(ds, presentation_lut_shape=False) != invert:
            out = 1.0 - out
        return out.astype(np.float32)
    out = chosen_voi_values(ds, modality_values(ds, stored), window)
    if inverted(ds) != invert:
        out = 1.0 - out
    return out


def stored_range(dtype: np.dtype) -> np.ndarray:
    """Every value an integer `dtype` can hold, in order: the entries of a table."""
    info = np.iinfo(dtype)
    return np.arange(info.min, info.max + 1, dtype=dtype)


def apply_lut(lut: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """Look stored pixels up in a table over stored_range(stored.dtype)."""
    if stored.dtype.kind == "i":
        return lut[stored.astype(np.int32) - int(np.iinfo(stored.dtype).min)]
    return lut[stored]


def grey_image(
    ds: pydicom.Dataset, stored: np.ndarray, window: Window | None = None, invert: bool = False
) -> np.ndarray:
    """grey_values of an image; for integer pixels of up to 16 bits whose
    values depend on the stored value alone (a window, or the file's own VOI)
    computed once per possible value and applied as one table lookup (the
    same numbers, several times faster)."""
    if stored.dtype.kind in "iu" and stored.dtype.itemsize <= 2 and (
            window is not None or has_voi(ds)):
        return apply_lut(grey_values(ds, stored_range(stored.dtype), window, invert), stored)
    return grey_values(ds, stored, window, invert)
