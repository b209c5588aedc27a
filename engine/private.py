"""Everything MammoDesk writes is readable by its user only.

The library database holds patient names; the log, the caches and the demo
folder sit next to it.  On POSIX systems the process umask is set to 077 at
start (so folders are created 0700 and files 0600 whatever the user's umask
was), and folders found with looser modes, say from an older MammoDesk, are
tightened.  On Windows the per-user profile folders that platformdirs
chooses are already private to the user through their access control
lists, and POSIX modes mean nothing there, so nothing is changed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

PRIVATE_UMASK = 0o077
_OTHERS = 0o077  # group and other bits
_POSIX = os.name == "posix"


def restrict_umask() -> None:
    """New files 0600 and folders 0700 for the rest of this process."""
    if _POSIX:
        os.umask(PRIVATE_UMASK)


def _tighten_one(path: Path, st: os.stat_result) -> bool:
    if not st.st_mode & _OTHERS:
        return False
    mode = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
    os.chmod(path, mode)
    return True


def is_loose(paths: Iterable[Path]) -> bool:
    """True when any existing path (not a link) is open to group or others."""
    if not _POSIX:
        return False
    for path in paths:
        try:
            st = path.lstat()
        except OSError:
            continue
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & _OTHERS:
            return True
    return False


def tighten(paths: Iterable[Path]) -> int:
    """chmod each existing path (not links) to 0700 / 0600; how many changed."""
    if not _POSIX:
        return 0
    changed = 0
    for path in paths:
        try:
            st = path.lstat()
            if not stat.S_ISLNK(st.st_mode) and _tighten_one(path, st):
                changed += 1
        except OSError:
            continue  # gone meanwhile, or not ours: nothing to tighten
    return changed


def tighten_tree(root: Path) -> int:
    """Tighten ``root`` and everything under it (links are not followed)."""
    if not _POSIX or not root.is_dir():
        return 0
    changed = tighten([root])
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        changed += tighten(base / name for name in (*dirs, *files))
    return changed
