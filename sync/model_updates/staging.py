"""Unpacking a downloaded model package tar into a staging folder, safely.

Only regular files and folders are taken; absolute paths, ``..``, links,
devices and members outside the single ``NAME-VERSION/`` folder are refused,
and the unpacked size is capped.  Candidates live in
``models_root/.candidates/<name>-<version>/``: a hidden folder, so
engine.ai.package.list_packages does not count them as installed.
"""

from __future__ import annotations

import shutil
import tarfile
import uuid
from pathlib import Path, PurePosixPath

from engine.ai.package_manifest import fsync_dir, fsync_tree
from sync.model_updates.errors import ModelRepoRejected

CANDIDATES = ".candidates"
STAGING_PREFIX = ".staging-"
MAX_UNPACKED_BYTES = 4 * 1024**3
MAX_MEMBERS = 10_000


def candidates_dir(models_root: Path) -> Path:
    return Path(models_root) / CANDIDATES


def new_staging(models_root: Path) -> Path:
    """A fresh hidden staging folder next to the candidates (same file system)."""
    folder = candidates_dir(models_root) / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    return folder


def remove_leftovers(models_root: Path) -> None:
    """Remove staging folders an interrupted check left behind."""
    for leftover in candidates_dir(models_root).glob(f"{STAGING_PREFIX}*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def _checked_name(name: str, top: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or not path.parts:
        raise ModelRepoRejected(f"the package archive holds an unsafe path ({name[:80]!r})")
    if path.parts[0] != top:
        raise ModelRepoRejected(f"the package archive holds {path.parts[0][:80]!r} "
                                f"outside {top}/")
    return path


def unpack(tar_path: Path, dest: Path, top: str) -> Path:
    """Unpack ``tar_path`` (which must hold only ``top/``) into ``dest``; return dest/top."""
    total = 0
    try:
        with tarfile.open(tar_path, "r:") as tar:
            members = tar.getmembers()
            if len(members) > MAX_MEMBERS:
                raise ModelRepoRejected("the package archive holds too many files")
            for m in members:
                _checked_name(m.name, top)
                if not (m.isfile() or m.isdir()):
                    raise ModelRepoRejected("the package archive holds a link or special "
                                            f"file ({m.name[:80]!r})")
                total += m.size
                if total > MAX_UNPACKED_BYTES:
                    raise ModelRepoRejected("the package archive unpacks to more than "
                                            f"{MAX_UNPACKED_BYTES // 1024**3} GiB")
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, ValueError) as exc:
        raise ModelRepoRejected(f"the package archive is unreadable ({type(exc).__name__})"
                                ) from exc
    folder = dest / top
    if not folder.is_dir():
        raise ModelRepoRejected(f"the package archive holds no {top}/ folder")
    return folder


def place_candidate(unpacked: Path, models_root: Path) -> Path:
    """Move the verified ``unpacked`` folder to .candidates/<its name> by one rename."""
    target = candidates_dir(models_root) / unpacked.name
    fsync_tree(unpacked)
    if target.exists() or target.is_symlink():
        old = unpacked.parent / f"{STAGING_PREFIX}replaced"
        target.rename(old)  # a damaged earlier copy; removed with the staging folder
    unpacked.rename(target)
    fsync_dir(target.parent)
    return target
