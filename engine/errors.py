"""Errors a user may see.

Every message is one line, says what went wrong and, where it helps, what to
do about it.  Messages never carry patient data (names, IDs, dates).
"""


class MammoDeskError(Exception):
    """An error caused by input or environment, shown to the user as one line."""


class DicomReadError(MammoDeskError):
    """A file is not DICOM, is truncated, or lacks what MammoDesk needs."""


class DecodeError(MammoDeskError):
    """Pixel data could not be decoded (unsupported or corrupt)."""


class LibraryError(MammoDeskError):
    """The case library cannot be opened or written."""
