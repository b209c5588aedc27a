"""Display-ready images of an analysed study for reports: VOI applied,
MONOCHROME1 inverted, hung the screening way (right breast's chest wall on
the right, left breast's on the left), reduced for print."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pydicom

from engine.ai.preprocess import canonical_flip, display_values, resample
from engine.ai.results import ExamResult
from engine.dicom.pixels import decode_pixels
from engine.errors import MammoDeskError


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
                img = display_values(ds, decode_pixels(ds))
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
