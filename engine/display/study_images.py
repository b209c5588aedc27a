"""Where a study's images come from for display, and opening each one fast:
from the disk cache when the library has decoded it before, else by a
reduced decode first and the full resolution after."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom

from engine.dicom.values import header_int
from engine.display.disk_cache import DiskCache
from engine.display.hanging import hang_image
from engine.display.images import ViewImage, header_only, load_view, spacing_of
from engine.display.voi import presets


@dataclass(frozen=True)
class ImageFile:
    key: str  # SOP Instance UID
    path: Path
    digest: str | None  # SHA-256 of the file when it is in the library


def folder_files(paths: list[Path]) -> list[ImageFile]:
    """Image files found under paths (not imported), keyed by SOP Instance UID."""
    out: list[ImageFile] = []
    for path in paths:
        files = sorted(p for p in Path(path).rglob("*") if p.is_file()) if Path(path).is_dir() \
            else [Path(path)]
        for f in files:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ds = pydicom.dcmread(f, stop_before_pixels=True)
            except Exception:
                continue
            if "SOPInstanceUID" in ds and "Rows" in ds:
                out.append(ImageFile(str(ds.SOPInstanceUID), f, None))
    return out


def open_cached(item: ImageFile, disk: DiskCache | None) -> ViewImage | None:
    """The image from the disk cache (every level, level 0 memory-mapped),
    or None when it is not there.  No decoding: cheap on any thread."""
    cached = disk.load(item.digest) if disk is not None and item.digest else None
    if not cached:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(item.path, stop_before_pixels=True)
    view = ViewImage(
        key=item.key,
        header=header_only(ds),
        rows=header_int(ds, "Rows") or cached[0].shape[0],
        columns=header_int(ds, "Columns") or cached[0].shape[1],
        spacing_mm=spacing_of(ds),
        hang=hang_image(ds),
        presets=presets(ds, cached[min(cached)]),
    )
    for k, arr in cached.items():
        view.add_level(k, arr)
    return view


# -- jobs for decoding processes ------------------------------------------------
# Decoders hold Python's global lock for the whole decode (seconds for a large
# JPEG 2000 image), so a viewer decodes in worker processes.  These functions
# are what the workers run; their arguments and results travel by pickle.


def job_open(item: ImageFile, level: int) -> ViewImage:
    """A first, possibly reduced, decode."""
    view = load_view(item.path, level)
    view.key = item.key or view.key
    return view


def job_full(item: ImageFile, disk_root: str | None) -> dict[int, np.ndarray] | None:
    """Every level down from full resolution.  With a disk cache the levels
    are stored there and None comes back (the viewer maps them from disk
    instead of receiving a copy); else the levels themselves."""
    view = load_view(item.path, 0)
    view.build_pyramid()
    if disk_root is not None and item.digest:
        DiskCache(Path(disk_root)).store(item.digest, dict(view.levels))
        return None
    return dict(view.levels)


def warm_up() -> int:
    """Imports done ahead of the first real job."""
    import engine.display.decode  # noqa: F401

    return os.getpid()
