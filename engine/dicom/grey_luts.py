"""Whether a greyscale image's Modality LUT and VOI attributes can be applied at all.

pydicom's apply_modality_lut, apply_voi and apply_windowing trust the file: an empty Rescale
Intercept, a LUT Descriptor without its three values, a LUT shorter than its descriptor says,
a window width of 0 or an unknown VOI LUT Function make them raise TypeError, IndexError,
struct.error and more, and a Rescale Slope with two values is silently broadcast over the
image.  The viewer and the AI check here first; each function names the first problem.
"""

from __future__ import annotations

import math
from typing import Any

import pydicom
from pydicom.multival import MultiValue

from engine.dicom.values import UNREADABLE, header_float, invalid_int, raw_value

MODALITY_LUT_DEPTHS = (8, 16)  # pydicom builds a uint8 or uint16 table from the third value
VOI_LUT_DEPTHS = (8, *range(10, 17))  # PS3.3 C.11.2.1.1
WINDOW_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


def _ints(value: Any) -> list[int] | None:
    items = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        return None
    return [int(v) for v in items]


def lut_descriptor(item: pydicom.Dataset) -> tuple[int, int, int] | None:
    """(entries, first mapped value, bits per entry) of a LUT item, or None when unusable."""
    values = raw_value(item, "LUTDescriptor")
    numbers = None if values is None or values is UNREADABLE else _ints(values)
    if numbers is None or len(numbers) != 3:
        return None
    entries, first, bits = numbers
    return (entries or 65536), first, bits


def lut_item_problem(item: pydicom.Dataset, name: str, depths: tuple[int, ...]) -> str | None:
    """Why one Modality or VOI LUT Sequence item cannot be applied, or None."""
    if not isinstance(item, pydicom.Dataset):
        return f"{name} LUT is unreadable"
    descriptor = lut_descriptor(item)
    if descriptor is None:
        return f"{name} LUT Descriptor is missing or invalid"
    entries, _first, bits = descriptor
    if bits not in depths:
        return f"{name} LUT has {bits} bits per entry"
    try:
        element = item["LUTData"]
        data = element.value
    except Exception:  # absent (KeyError) or a value pydicom cannot convert
        return f"{name} LUT Data is missing or unreadable"
    if isinstance(data, bytes):
        # OW: pydicom unpacks exactly `entries` 16-bit words (the Modality LUT insists on
        # exactly that many bytes).
        if element.VR != "OW" or len(data) < 2 * entries or (
                name == "Modality" and len(data) != 2 * entries):
            return f"{name} LUT Data does not hold the {entries} entries its descriptor gives"
        return None
    numbers = None if data is None else _ints(data)
    if numbers is None or len(numbers) < entries:
        return f"{name} LUT Data does not hold the {entries} entries its descriptor gives"
    if numbers and (min(numbers) < 0 or max(numbers) >= 1 << (8 if bits == 8 else 16)):
        return f"{name} LUT Data holds values beyond {bits} bits"
    return None


def modality_problem(ds: pydicom.Dataset) -> str | None:
    """Why the Modality LUT or rescale cannot be applied, or None (also when there is none)."""
    seq = raw_value(ds, "ModalityLUTSequence")
    if seq is UNREADABLE:
        return "Modality LUT Sequence is unreadable"
    if seq:
        return lut_item_problem(seq[0], "Modality", MODALITY_LUT_DEPTHS)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        for keyword, name in (("RescaleSlope", "Rescale Slope"),
                              ("RescaleIntercept", "Rescale Intercept")):
            if header_float(ds, keyword) is None:
                return f"{name} is missing or invalid"
    return None


def _first_number(value: Any) -> float | None:
    item = value[0] if isinstance(value, MultiValue | list | tuple) and value else value
    try:
        number = float(item) if isinstance(item, int | float | str) else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def window_problem(ds: pydicom.Dataset) -> str | None:
    """Why the file's first window cannot be applied as pydicom does, or None."""
    center, width = raw_value(ds, "WindowCenter"), raw_value(ds, "WindowWidth")
    if center is None or width is None:
        return None  # no window: nothing is applied
    c = None if center is UNREADABLE else _first_number(center)
    w = None if width is UNREADABLE else _first_number(width)
    if c is None or w is None:
        return "Window Center or Width is invalid"
    function = raw_value(ds, "VOILUTFunction")
    name = "LINEAR" if function is None else str(function).strip().upper()
    if function is UNREADABLE or name not in WINDOW_FUNCTIONS:
        return "VOI LUT Function is unknown"
    if w < 1 if name == "LINEAR" else w <= 0:
        return "Window Width is too small"
    photometric = str(raw_value(ds, "PhotometricInterpretation") or "").strip().upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        return "a window needs a MONOCHROME image"
    if "BitsStored" not in ds or invalid_int(ds, "BitsStored") \
            or invalid_int(ds, "PixelRepresentation"):
        return "Bits Stored or Pixel Representation is invalid"
    return None


def voi_problem(ds: pydicom.Dataset, index: int = 0) -> str | None:
    """Why the VOI pydicom's apply_voi_lut(prefer_lut=True) would choose cannot be applied."""
    seq = raw_value(ds, "VOILUTSequence")
    if seq is UNREADABLE:
        return "VOI LUT Sequence is unreadable"
    if seq:
        first = seq[0]
        if not isinstance(first, pydicom.Dataset):
            return "VOI LUT Sequence is unreadable"
        # pydicom falls back to the window when the first item lacks either value, but the
        # output range is still read from a LUT Descriptor: an item with either is a table.
        if "LUTDescriptor" in first or "LUTData" in first:
            if index >= len(seq):
                return "VOI LUT Sequence has fewer items than asked for"
            return lut_item_problem(seq[index], "VOI", VOI_LUT_DEPTHS)
    return window_problem(ds)


def grey_pipeline_problem(ds: pydicom.Dataset) -> str | None:
    """Why the file's own Modality LUT and first VOI cannot be applied, or None."""
    return modality_problem(ds) or voi_problem(ds)
