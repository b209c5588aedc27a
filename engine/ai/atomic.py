"""Writing a user-named output file all or nothing."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from engine.errors import MammoDeskError


@contextmanager
def atomic_output(out_path: Path, what: str) -> Iterator[BinaryIO]:
    """Yield a file to write; on success it is synced and renamed to
    `out_path`, on any failure removed, and an OSError becomes one line
    ("cannot write the <what> to <path>: <reason>")."""
    out_path = Path(out_path)
    # A hidden sibling (same file system, so os.replace is atomic); "x" mode honours the umask.
    tmp = out_path.with_name(f".{out_path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fh = open(tmp, "xb")  # noqa: SIM115 - closed in the block below
    except OSError as exc:
        raise MammoDeskError(f"cannot write the {what} to {out_path}: {exc.strerror}") from exc
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise MammoDeskError(f"cannot write the {what} to {out_path}: {exc.strerror}") from exc
        raise
