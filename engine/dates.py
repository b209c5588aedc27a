"""DICOM dates and times, written and shown one way everywhere."""

from __future__ import annotations

import datetime as dt


def dicom_date(when: dt.date | dt.datetime) -> str:
    """DA: YYYYMMDD."""
    return when.strftime("%Y%m%d")


def dicom_time(when: dt.datetime) -> str:
    """TM: HHMMSS."""
    return when.strftime("%H%M%S")


def dicom_datetime(when: dt.datetime) -> str:
    """DT with the UTC offset when the time is aware: YYYYMMDDHHMMSS&ZZXX."""
    return when.strftime("%Y%m%d%H%M%S%z")


def shown_date(value: str) -> str:
    """A DA value as people read it (YYYY-MM-DD); anything else as it is."""
    value = (value or "").strip()
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:8]}"
    return value


def utc_offset(when: dt.datetime) -> str:
    """Timezone Offset From UTC (SH): &ZZXX, empty for a naive time."""
    return when.strftime("%z")
