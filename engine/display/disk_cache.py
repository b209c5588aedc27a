"""A display-ready copy of decoded images on disk, so a study already in the
library opens without decoding its JPEG 2000 again (about a second per
full-size image on one core).

Each image is a folder named by the SHA-256 of its DICOM file (so nothing
stale is ever served and no patient data is in a name) holding one .npy per
pyramid level.  Level files are written to a temporary name and renamed, so
a killed process leaves no half file that could be read.  The cache is
bounded in bytes; the least recently used images go first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import numpy as np

from engine.atomic import atomic_file

DEFAULT_BYTES = 20 * 1024**3


class DiskCache:
    def __init__(self, root: Path, max_bytes: int = DEFAULT_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def _dir(self, digest: str) -> Path:
        if len(digest) < 16 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError("a cache key is a hex digest")
        return self.root / digest[:2] / digest

    def load(self, digest: str) -> dict[int, np.ndarray] | None:
        """Every cached level (level 0 memory-mapped), or None."""
        folder = self._dir(digest)
        try:
            names = [p for p in folder.iterdir() if p.suffix == ".npy" and p.stem.isdigit()]
        except OSError:
            return None
        if not any(p.stem == "0" for p in names):
            return None
        levels: dict[int, np.ndarray] = {}
        try:
            for p in names:
                k = int(p.stem)
                levels[k] = np.load(p, mmap_mode="r" if k == 0 else None, allow_pickle=False)
        except (OSError, ValueError):
            self.drop(digest)  # damaged: decode again
            return None
        with contextlib.suppress(OSError):
            os.utime(folder)
        return levels

    def store(self, digest: str, levels: dict[int, np.ndarray]) -> None:
        """Write the levels (best effort: a full disk only costs speed)."""
        folder = self._dir(digest)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for k, arr in sorted(levels.items(), reverse=True):  # level 0 last: it marks done
                with atomic_file(folder / f"{k}.npy") as fh:
                    np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
        except OSError:
            self.drop(digest)
            return
        self.evict()

    def drop(self, digest: str) -> None:
        shutil.rmtree(self._dir(digest), ignore_errors=True)

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob("*/*/*.npy"))

    def evict(self) -> None:
        """Remove least recently used images until the cache fits."""
        try:
            entries = []
            for folder in self.root.glob("*/*"):
                files = list(folder.glob("*"))
                entries.append((folder.stat().st_mtime, sum(f.stat().st_size for f in files),
                                folder))
        except OSError:
            return
        total = sum(e[1] for e in entries)
        for _mtime, size, folder in sorted(entries):
            if total <= self.max_bytes:
                break
            shutil.rmtree(folder, ignore_errors=True)
            total -= size
