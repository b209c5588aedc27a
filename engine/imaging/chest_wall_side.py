"""Which side of a mammogram the chest wall is on, from the pixels alone.

For files without a usable Patient Orientation: the chest wall is the side
whose outer tenth of columns holds more tissue.  Both the AI (on its 0..1
values, bright tissue) and the viewer (on stored values, where MONOCHROME1
makes tissue dark) decide it here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Side = Literal["left", "right"]


def tissue_side(img: np.ndarray, monochrome1: bool = False) -> Side | None:
    """The side whose outer tenth of columns holds more tissue; None when
    neither does (equal means, or no numbers to compare).

    Tissue is bright in `img`, or dark with `monochrome1` (stored values of a
    MONOCHROME1 image)."""
    band = max(1, img.shape[1] // 10)
    left = float(img[:, :band].mean())
    right = float(img[:, -band:].mean())
    if monochrome1:  # less signal is more tissue
        left, right = -left, -right
    if left > right:
        return "left"
    if right > left:
        return "right"
    return None


def tissue_on_left(img: np.ndarray, monochrome1: bool = False) -> bool:
    """Whether the left side clearly holds more tissue (see tissue_side)."""
    return tissue_side(img, monochrome1) == "left"
