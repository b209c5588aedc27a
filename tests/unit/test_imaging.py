"""The imaging building blocks the viewer, the AI and de-identification share:
breast segmentation, the chest-wall side and the greyscale pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from scipy import ndimage

from engine.ai.preprocess import canonical_flip, display_values
from engine.display.voi import apply_lut, display_lut, presets
from engine.imaging.breast_mask import MASK_STEP, breast_mask, breast_mask_coarse, fill_holes
from engine.imaging.chest_wall_side import tissue_on_left, tissue_side
from engine.imaging.greyscale import grey_image, grey_values, modality_values
from tests.support.dicom_factory import mg_dataset

U16 = np.dtype(np.uint16)


def _breast(rows: int = 200, cols: int = 160, left: bool = True) -> np.ndarray:
    """0..1 image: a half-disc of tissue against one edge, a bright label in
    the opposite corner, a little noise in the air."""
    y, x = np.mgrid[0:rows, 0:cols]
    edge = 0 if left else cols - 1
    tissue = (x - edge) ** 2 / (0.7 * cols) ** 2 + (y - rows / 2) ** 2 / (0.4 * rows) ** 2 < 1
    img = np.random.default_rng(1).normal(0.02, 0.005, (rows, cols)).clip(0, 1)
    img[tissue] = 0.6
    lx = slice(cols - 30, cols - 10) if left else slice(10, 30)
    img[10:20, lx] = 1.0  # a burned-in label: bright, but small
    return img.astype(np.float32)


# -- breast segmentation ---------------------------------------------------------------


def test_the_breast_is_the_largest_bright_region_not_the_label():
    img = _breast()
    mask = breast_mask(img)
    assert mask.shape == img.shape
    assert mask[100, 5] and mask[100, 60]  # tissue against the chest wall
    assert not mask[15, 140]  # the label
    assert not mask[5, 5] and not mask[195, 150]  # air


def test_the_coarse_mask_holds_for_blocks_of_mask_step():
    img = _breast(203, 157)
    coarse = breast_mask_coarse(img)
    assert coarse.shape == (-(-203 // MASK_STEP), -(-157 // MASK_STEP))
    full = np.repeat(np.repeat(coarse, MASK_STEP, 0), MASK_STEP, 1)[:203, :157]
    assert np.array_equal(breast_mask(img), full)


def test_holes_in_the_breast_are_filled():
    img = _breast()
    img[95:105, 30:40] = 0.0  # a dark patch inside the tissue
    assert breast_mask(img)[100, 35]


def test_fill_holes_is_scipys_fill_holes():
    rng = np.random.default_rng(4)
    for _ in range(200):
        shape = (int(rng.integers(1, 60)), int(rng.integers(1, 60)))
        mask = ndimage.binary_opening(rng.random(shape) < rng.uniform(0.2, 0.9))
        assert np.array_equal(fill_holes(mask), ndimage.binary_fill_holes(mask))


# -- the chest-wall side -----------------------------------------------------------------


@pytest.mark.parametrize("left", [True, False])
def test_the_chest_wall_is_the_side_with_more_tissue(left):
    img = _breast(left=left)
    assert tissue_side(img) == ("left" if left else "right")
    assert tissue_on_left(img) is left
    # Stored MONOCHROME1 values: tissue is dark.
    assert tissue_on_left((1.0 - img) * 4095, monochrome1=True) is left
    assert tissue_on_left((1.0 - img) * 4095) is not left


def test_an_even_image_has_no_side():
    for img in (np.zeros((20, 30), np.float32), np.full((4, 5), np.nan), np.ones((3, 1))):
        assert tissue_side(img) is None
        assert not tissue_on_left(img) and not tissue_on_left(img, monochrome1=True)
        assert canonical_flip(Dataset(), img, "L") is False  # no reason to mirror


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
@pytest.mark.parametrize("left", [True, False])
def test_the_viewer_and_the_ai_put_the_chest_wall_on_the_same_side(photometric, left):
    """The viewer judges stored values, the AI its 0..1 model values."""
    img = _breast(left=left)
    m1 = photometric == "MONOCHROME1"
    stored = np.rint((1.0 - img if m1 else img) * 4095).astype(np.uint16)
    ds = mg_dataset(*stored.shape, WindowCenter=2048, WindowWidth=4096,
                    PhotometricInterpretation=photometric)
    ds.PixelData = stored.tobytes()
    viewer_left = tissue_on_left(stored, monochrome1=m1)
    ai_flips = canonical_flip(ds, display_values(ds, stored), "L")
    assert viewer_left is left and ai_flips is not left


# -- the greyscale pipeline --------------------------------------------------------------


def _stored(ds: Dataset) -> np.ndarray:
    return ds.pixel_array


def test_the_viewer_and_the_model_see_the_files_window_alike():
    ds = mg_dataset(WindowCenter=400, WindowWidth=600)
    stored = _stored(ds)
    screen = apply_lut(display_lut(ds, presets(ds, stored)[0].window, U16), stored)
    model = np.rint(grey_image(ds, stored) * 255.0)
    assert np.abs(screen.astype(int) - model.astype(int)).max() <= 1
    assert grey_image(ds, stored).dtype == np.float32


def test_the_viewer_and_the_model_see_a_voi_lut_alike():
    ds = mg_dataset()
    item = Dataset()
    item.LUTDescriptor = [1024, 0, 12]
    item.LUTData = [min(4095, v * 8) for v in range(1024)]
    ds.VOILUTSequence = Sequence([item])
    stored = _stored(ds)
    (preset,) = presets(ds, stored)
    screen = apply_lut(display_lut(ds, preset.window, U16), stored)
    model = np.rint(grey_image(ds, stored) * 255.0)
    assert np.abs(screen.astype(int) - model.astype(int)).max() <= 1


def test_monochrome1_is_the_same_picture_inverted():
    m2 = mg_dataset(WindowCenter=400, WindowWidth=600)
    m1 = mg_dataset(WindowCenter=400, WindowWidth=600, PhotometricInterpretation="MONOCHROME1")
    stored = _stored(m2)
    assert np.array_equal(grey_image(m1, stored), 1.0 - grey_image(m2, stored))
    window = presets(m2, stored)[0].window
    assert np.array_equal(grey_image(m1, stored, window), 1.0 - grey_image(m2, stored, window))


def test_only_the_viewer_honours_presentation_lut_shape_inverse():
    ds = mg_dataset(WindowCenter=400, WindowWidth=600, PresentationLUTShape="INVERSE")
    plain = mg_dataset(WindowCenter=400, WindowWidth=600)
    stored = _stored(ds)
    window = presets(ds, stored)[0].window
    assert np.array_equal(grey_values(ds, stored, window), 1.0 - grey_values(plain, stored, window))
    assert np.array_equal(grey_values(ds, stored), grey_values(plain, stored))


def test_the_viewer_shows_stored_values_where_the_model_refuses_a_broken_rescale():
    ds = mg_dataset(RescaleSlope=2, RescaleIntercept=None, WindowCenter=400, WindowWidth=600)
    stored = _stored(ds)
    assert np.array_equal(modality_values(ds, stored), stored)
    with pytest.raises(Exception):  # noqa: B017 - whatever pydicom raises
        modality_values(ds, stored, strict=True)


def test_without_a_voi_the_model_spans_the_images_percentiles():
    ds = mg_dataset()
    stored = _stored(ds)
    out = grey_image(ds, stored)
    lo, hi = np.percentile(stored.astype(np.float32), [0.5, 99.5])
    assert out[stored <= lo].max() == 0.0 and out[stored >= hi].min() == 1.0
    assert out[(stored > lo + 5) & (stored < hi - 5)].min() > 0.0


@pytest.mark.parametrize("signed", [False, True])
def test_the_table_gives_the_same_numbers_as_computing_every_pixel(signed):
    ds = mg_dataset(WindowCenter=300, WindowWidth=500, RescaleSlope=2, RescaleIntercept=-50)
    stored = _stored(ds)
    if signed:
        ds.PixelRepresentation = 1
        stored = (stored.astype(np.int32) - 400).astype(np.int16)
    window = presets(ds, stored)[0].window
    for w in (None, window):
        assert np.array_equal(grey_image(ds, stored, w), grey_values(ds, stored, w))
