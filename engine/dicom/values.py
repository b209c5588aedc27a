"""Header numbers as plain Python values, whatever a damaged file holds in their place.

pydicom converts an element's raw bytes on first access and raises whatever its converter
raises for a wrong VR or length (BytesLengthException, NotImplementedError for an unknown VR,
ValueError for text that is no number), and a value with more than one item arrives as a
MultiValue.  The decoding, display and AI code asks for a number and gets one or a default.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import pydicom
from pydicom.multival import MultiValue


class _Unreadable:
    def __repr__(self) -> str:
        return "UNREADABLE"


UNREADABLE: Any = _Unreadable()


def _empty(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip(" \0")
    if isinstance(value, bytes):
        return not value  # binary: zeros are values
    return isinstance(value, MultiValue | list | tuple) and not value


def raw_value(ds: pydicom.Dataset, keyword: str) -> Any:
    """The element's value, None when absent or empty, ``UNREADABLE`` when it cannot be read."""
    try:
        value = ds.get(keyword)
    except Exception:  # pydicom raises many exception types converting a damaged value
        return UNREADABLE
    return None if value is None or _empty(value) else value


def header_value(ds: pydicom.Dataset, keyword: str, default: Any = None) -> Any:
    """The element's value; ``default`` when it is absent, empty or cannot be read."""
    value = raw_value(ds, keyword)
    return default if value is None or value is UNREADABLE else value


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        number = float(value)
        return int(number) if math.isfinite(number) and number == int(number) else None
    if isinstance(value, str):
        try:
            return int(value.strip(" \0"))
        except ValueError:
            return None
    return None  # bytes, MultiValue, sequences: not one integer


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Real | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def header_int(ds: pydicom.Dataset, keyword: str, default: int | None = None) -> int | None:
    """One integer attribute; ``default`` when it is absent, empty, unreadable or no integer."""
    value = raw_value(ds, keyword)
    if value is None or value is UNREADABLE:
        return default
    number = _as_int(value)
    return default if number is None else number


def header_float(ds: pydicom.Dataset, keyword: str, default: float | None = None) -> float | None:
    """One finite number (DS, FD, IS ...); ``default`` when absent, unreadable or no number."""
    value = raw_value(ds, keyword)
    if value is None or value is UNREADABLE:
        return default
    number = _as_float(value)
    return default if number is None else number


def invalid_int(ds: pydicom.Dataset, keyword: str) -> bool:
    """Whether the attribute is present with a value that is not one integer."""
    value = raw_value(ds, keyword)
    return value is UNREADABLE or (value is not None and _as_int(value) is None)


def invalid_float(ds: pydicom.Dataset, keyword: str) -> bool:
    """Whether the attribute is present with a value that is not one finite number."""
    value = raw_value(ds, keyword)
    return value is UNREADABLE or (value is not None and _as_float(value) is None)
