"""One image as the viewer holds it: the header it needs for display, and
its stored pixels at one or more pyramid levels (level k is 1/2**k of full
size on each side; level 0 is every stored pixel)."""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom

from engine.dicom.reader import read_dataset
from engine.dicom.values import header_int, header_value
from engine.display.decode import block_mean_stored, decode_level
from engine.display.hanging import HangImage, hang_image
from engine.display.voi import Preset, presets
from engine.errors import DecodeError, DicomReadError

SMALLEST_SIDE = 256  # the pyramid stops when a level is this small


@dataclass
class ViewImage:
    key: str  # SOP Instance UID
    header: pydicom.Dataset  # everything but the pixel data
    rows: int
    columns: int
    spacing_mm: tuple[float, float] | None  # (row, column) spacing at the detector/patient
    hang: HangImage
    presets: list[Preset]
    levels: dict[int, np.ndarray] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # Levels are added by a decoding thread while the GUI reads them: every
    # read below copies the dict's keys or values first (one atomic step).

    @property
    def dtype(self) -> np.dtype:
        values = list(self.levels.values())
        return values[0].dtype

    @property
    def full(self) -> np.ndarray | None:
        return self.levels.get(0)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in list(self.levels.values()))

    def finest_level(self) -> int:
        return min(list(self.levels))

    def level_for(self, scale: float) -> int:
        """The coarsest level that still has at least one stored pixel per
        screen pixel at `scale` screen pixels per full-size pixel."""
        want = 0
        while scale * (1 << (want + 1)) <= 1.0:
            want += 1
        have = sorted(list(self.levels))
        usable = [k for k in have if k <= want]
        return max(usable) if usable else min(have)

    def __getstate__(self) -> dict:
        # Sent between processes (decoding runs in worker processes): the
        # lock stays behind and a fresh one is made on arrival.
        state = dict(self.__dict__)
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def add_level(self, level: int, pixels: np.ndarray) -> None:
        with self._lock:
            self.levels[level] = pixels

    def build_pyramid(self) -> None:
        """Fill in the coarser levels from the finest one."""
        with self._lock:
            k = min(self.levels)
            arr = self.levels[k]
            while min(arr.shape) // 2 >= SMALLEST_SIDE:
                k += 1
                if k not in self.levels:
                    self.levels[k] = block_mean_stored(arr, 2)
                arr = self.levels[k]


def spacing_of(ds: pydicom.Dataset) -> tuple[float, float] | None:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = header_value(ds, keyword)
        try:
            if value is not None and len(value) == 2 and float(value[0]) > 0 < float(value[1]):
                return float(value[0]), float(value[1])
        except (TypeError, ValueError):
            continue
    return None


def header_only(ds: pydicom.Dataset) -> pydicom.Dataset:
    out = pydicom.Dataset()
    for elem in ds:
        if elem.keyword not in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
            out.add(elem)
    out.file_meta = getattr(ds, "file_meta", pydicom.dataset.FileMetaDataset())
    return out


def load_view(source: Path | pydicom.Dataset, level: int = 0) -> ViewImage:
    """Read a file and decode it at `level` (or finer, if the file cannot
    give that reduction).  DicomReadError / DecodeError on bad files."""
    if isinstance(source, pydicom.Dataset):
        ds = source
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = read_dataset(source)
    pixels, got = decode_level(ds, level)
    if pixels.ndim != 2:
        raise DecodeError("expected a single-frame greyscale image")
    rows = header_int(ds, "Rows") or pixels.shape[0] << got
    cols = header_int(ds, "Columns") or pixels.shape[1] << got
    view = ViewImage(
        key=str(header_value(ds, "SOPInstanceUID", "")),
        header=header_only(ds),
        rows=rows,
        columns=cols,
        spacing_mm=spacing_of(ds),
        hang=hang_image(ds),
        presets=presets(ds, pixels),
    )
    view.add_level(got, pixels)
    return view


__all__ = ["DecodeError", "DicomReadError", "ViewImage", "load_view"]
