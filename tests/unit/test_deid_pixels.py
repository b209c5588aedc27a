"""Blanking by blocks gives exactly what a full-size mask gives, odd sizes included."""

from __future__ import annotations

import numpy as np
import pytest

from engine.imaging.breast_mask import MASK_STEP
from sync.deid.pixels import _fill_outside


@pytest.mark.parametrize("shape", [(64, 48), (67, 50), (65, 53), (3, 5)])
def test_block_fill_matches_a_full_mask(shape):
    rng = np.random.default_rng(sum(shape))
    image = rng.integers(0, 4096, shape, dtype=np.uint16)
    coarse_shape = (-(-shape[0] // MASK_STEP), -(-shape[1] // MASK_STEP))
    outside = rng.random(coarse_shape) < 0.5
    full = np.repeat(np.repeat(outside, MASK_STEP, 0), MASK_STEP, 1)[: shape[0], : shape[1]]
    expected = np.where(full, np.uint16(7), image)
    got = image.copy()
    _fill_outside(got, outside, np.uint16(7))
    assert np.array_equal(got, expected)
