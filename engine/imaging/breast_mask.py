"""Breast segmentation: the breast as the largest bright connected region.

The AI crops its input to this mask and de-identification blanks everything
outside it (burned-in text lies in the background), so the two agree on
where the breast is.  The mask is found on every MASK_STEP-th pixel of an
image scaled 0..1 with bright tissue, and holds for MASK_STEP x MASK_STEP
blocks.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

MASK_STEP = 4  # the mask is found on every 4th pixel and holds for 4x4 blocks


def breast_mask(img: np.ndarray) -> np.ndarray:
    """The breast as the largest bright connected region, holes filled."""
    keep = breast_mask_coarse(img)
    full = np.repeat(np.repeat(keep, MASK_STEP, axis=0), MASK_STEP, axis=1)
    return full[: img.shape[0], : img.shape[1]]


def breast_mask_coarse(img: np.ndarray) -> np.ndarray:
    """breast_mask on a grid of MASK_STEP x MASK_STEP blocks."""
    return breast_mask_of(img[::MASK_STEP, ::MASK_STEP])


def breast_mask_of(small: np.ndarray) -> np.ndarray:
    """The breast mask of an image as given (values 0..1, bright tissue)."""
    hist, edges = np.histogram(small, bins=128, range=(0.0, 1.0))
    # Otsu separates fat from gland here, not breast from air: go a tenth of
    # the way from the background level towards it.
    bg = float(np.percentile(small, 1))
    thr = bg + max(0.005, 0.1 * (_otsu(hist, edges) - bg))
    # Where the air is not clipped to black (no VOI in the file), stay above
    # its noise: the darkest tenth of the image is air in any mammogram.
    air = small[small <= np.percentile(small, 10)]
    if air.size:
        med = float(np.median(air))
        mad = float(np.median(np.abs(air - med)))
        thr = max(thr, med + 6.0 * 1.4826 * mad + 0.005)
    mask = ndimage.binary_opening(small > thr, iterations=2)
    labels, n = ndimage.label(mask)
    if n == 0:
        return np.zeros(small.shape, dtype=bool)
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
    return fill_holes(labels == (int(np.argmax(sizes)) + 1))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """scipy's binary_fill_holes, by labelling the background once instead of
    growing it from the border step by step (same result, a few times faster)."""
    background, count = ndimage.label(~mask)
    outer = np.zeros(count + 1, dtype=bool)  # background parts that reach the border
    for edge in (background[0], background[-1], background[:, 0], background[:, -1]):
        outer[edge] = True
    outer[0] = False  # label 0 is the mask itself
    return ~outer[background]


def _otsu(hist: np.ndarray, edges: np.ndarray) -> float:
    p = hist.astype(np.float64) / max(hist.sum(), 1)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    m0 = np.cumsum(p * centres)
    mt = m0[-1]
    w1 = 1.0 - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 - m0) ** 2 / (w0 * w1)
    between = np.nan_to_num(between)
    return float(centres[int(np.argmax(between))])
