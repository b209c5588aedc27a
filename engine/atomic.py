"""Writing a file all or nothing, durably: the one way MammoDesk replaces a file.

The data goes to a hidden temporary sibling (same file system, so the rename
is atomic), is flushed to the disk, and is renamed over the target; then the
folder itself is flushed so that the rename survives a power cut.  Whatever
fails on the way, the old file (or no file) is left and the temporary file is
removed: a reader sees the whole old file or the whole new one, never half.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from engine.errors import MammoDeskError


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


@contextmanager
def atomic_file(path: Path, *, mode: int | None = None,
                temp_dir: Path | None = None) -> Iterator[BinaryIO]:
    """Yield a binary file to write; on leaving the block it replaces `path`.

    The file is private to this user unless `mode` says otherwise; `temp_dir`
    (on the same file system) holds the temporary file instead of `path`'s
    folder.  OSError propagates unchanged."""
    path = Path(path)
    where = Path(temp_dir) if temp_dir is not None else path.parent
    tmp = where / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fh = open(tmp, "xb", opener=_private)  # noqa: SIM115 - closed in the block below
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def write_atomically(path: Path, data: bytes | str, *, mode: int | None = None) -> None:
    """Replace `path` with `data` (text is written as UTF-8)."""
    with atomic_file(path, mode=mode) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)


@contextmanager
def atomic_output(out_path: Path, what: str) -> Iterator[BinaryIO]:
    """`atomic_file` for a file the user named: an OSError becomes one line
    ("cannot write the <what> to <path>: <reason>")."""
    out_path = Path(out_path)
    try:
        with atomic_file(out_path) as fh:
            yield fh
    except OSError as exc:
        raise MammoDeskError(
            f"cannot write the {what} to {out_path}: {exc.strerror or exc}") from exc
