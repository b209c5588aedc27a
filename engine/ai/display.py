"""Display-ready images of an analysed study for reports: windowed as the
viewer first shows them (the file's first VOI preset, MONOCHROME1 inverted),
hung the screening way (right breast's chest wall on the right, left
breast's on the left), reduced for print."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pydicom

from engine.ai.preprocess import canonical_flip, display_values, resample
from engine.ai.results import ExamResult
from engine.dicom.pixels import decode_pixels
from engine.display.voi import apply_lut, display_lut, presets
from engine.errors import MammoDeskError


def screen_values(ds: pydicom.Dataset, stored: np.ndarray) -> np.ndarray:
    """0..1 grey levels as the viewer first shows the image: its first preset
    (the model's own VOI for pixel types the viewer's tables do not cover)."""
    choices = presets(ds, stored)
    if not choices or stored.dtype.kind not in "iu" or stored.dtype.itemsize > 2:
        return display_values(ds, stored)
    lut = display_lut(ds, choices[0].window, stored.dtype)
    return apply_lut(lut, stored).astype(np.float32) / np.float32(255.0)


def display_images(
    datasets: Sequence[pydicom.Dataset], result: ExamResult, max_rows: int = 1024
) -> tuple[dict[str, np.ndarray], dict[str, bool]]:
    """label -> uint8 image, and label -> whether it was mirrored for display."""
    by_uid = {str(ds.SOPInstanceUID): ds for ds in datasets}
    images: dict[str, np.ndarray] = {}
    flips: dict[str, bool] = {}
    for view in result.views:
        ds = by_uid.get(view.sop_instance_uid)
        if ds is None or view.view in images:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stored = decode_pixels(ds)
                img = screen_values(ds, stored) if stored.ndim == 2 else stored
        except (MammoDeskError, ValueError):
            continue
        if img.ndim != 2:
            continue
        # Chest wall on the left is canonical; the right breast hangs mirrored.
        flip = canonical_flip(ds, img, view.laterality) != (view.laterality == "R")
        if flip:
            img = img[:, ::-1]
        factor = max(1.0, img.shape[0] / max_rows)
        small = resample(np.ascontiguousarray(img), factor) if factor > 1 else img
        images[view.view] = np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8)
        flips[view.view] = flip
    return images, flips
