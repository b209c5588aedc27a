"""Opening input files so that nothing but a regular file is ever read.

A FIFO blocks whoever opens it, ``/dev/zero`` never ends and a tape device rewinds when it is
opened: only regular files are inputs.  Callers ``os.stat`` first (following links) and never
open anything else; the opening itself uses O_NONBLOCK (a FIFO swapped in after the stat
cannot block) and checks again with fstat on what was actually opened.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from engine.errors import DicomReadError

_KINDS = (
    (stat.S_ISDIR, "folder"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) \
    | getattr(os, "O_BINARY", 0)


class NotRegularFileError(DicomReadError):
    """A path names a FIFO, device, socket or folder, not a file."""


def file_kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "regular file" if stat.S_ISREG(mode) else "unknown kind of file"


def not_regular_reason(mode: int) -> str:
    """One line for the report: "not a regular file (FIFO)"."""
    return f"not a regular file ({file_kind(mode)})"


def open_regular(path: str | os.PathLike[str]) -> tuple[BinaryIO, int]:
    """Open a regular file for reading: (file object, size).

    Raises NotRegularFileError for anything else, OSError when it cannot be opened.  Call it
    only after ``os.stat`` said the path is a regular file: opening a device may act on it.
    """
    fd = os.open(path, _FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError(not_regular_reason(info.st_mode))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file: ordinary reads from here on
        return os.fdopen(fd, "rb"), info.st_size
    except BaseException:
        os.close(fd)
        raise
