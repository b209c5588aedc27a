"""Key-image geometry: about 40 mm of breast around a finding's point, kept
inside the image with the point inside the crop, and the point's mark where
the tile would show it (mirrored views included)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.library.reads import Finding
from engine.reporting.key_images import (
    FALLBACK_FIELD_MM,
    NO_POSITION,
    CropBox,
    caption,
    crop_box,
    mark_in_crop,
    oriented,
    pixel_mm,
    shown_size_mm,
)


def _inside(box: CropBox, x: float, y: float) -> bool:
    return box.c0 <= x < box.c1 and box.r0 <= y < box.r1


def test_a_crop_is_40_mm_of_breast_centred_on_the_point():
    box = crop_box(400.0, 500.0, 832, 1024, (0.1, 0.1))
    assert (box.columns, box.rows) == (400, 400)
    assert box == CropBox(200, 300, 600, 700)
    assert shown_size_mm(box, (0.1, 0.1), 832, 1024) == pytest.approx((40.0, 40.0))


@pytest.mark.parametrize("x, y", [(0.0, 0.0), (831.9, 0.0), (0.0, 1023.9), (831.9, 1023.9),
                                  (3.0, 512.0), (829.0, 1020.5)])
def test_at_the_edges_and_corners_the_crop_slides_in_and_keeps_the_point(x, y):
    box = crop_box(x, y, 832, 1024, (0.1, 0.1))
    assert box.c0 >= 0 and box.c1 <= 832 and box.r0 >= 0 and box.r1 <= 1024
    assert (box.columns, box.rows) == (400, 400)  # full size, not cut short
    assert _inside(box, x, y)


def test_a_point_on_the_far_edge_is_still_inside():
    box = crop_box(832.0, 1024.0, 832, 1024, (0.1, 0.1))
    assert box.c1 == 832 and box.r1 == 1024
    u, v = mark_in_crop(831.5, 1023.5, box)
    assert 0 <= u < box.columns and 0 <= v < box.rows


def test_non_square_pixels_give_a_crop_square_in_millimetres():
    spacing = (0.05, 0.1)  # (row, column) mm
    box = crop_box(400.0, 1000.0, 832, 2048, spacing)
    assert (box.columns, box.rows) == (400, 800)
    width, height = shown_size_mm(box, spacing, 832, 2048)
    assert width == pytest.approx(height) == pytest.approx(40.0)


def test_without_spacing_the_image_is_taken_to_span_a_detector():
    row_mm, col_mm, known = pixel_mm(None, 832, 1024)
    assert not known and row_mm == col_mm == pytest.approx(FALLBACK_FIELD_MM / 832)
    box = crop_box(416.0, 512.0, 832, 1024, None)
    assert box.columns == box.rows == round(40.0 / (FALLBACK_FIELD_MM / 832))
    assert _inside(box, 416.0, 512.0)
    for bad in [(0.0, 0.1), (float("nan"), 0.1), (-0.1, -0.1)]:
        assert pixel_mm(bad, 832, 1024)[2] is False


def test_an_image_smaller_than_the_crop_is_shown_whole():
    box = crop_box(50.0, 20.0, 120, 90, (0.1, 0.1))
    assert box == CropBox(0, 0, 120, 90)


def test_the_mark_follows_the_tiles_mirroring():
    box = crop_box(100.0, 100.0, 832, 1024, (0.1, 0.1))  # slid to the corner
    assert box == CropBox(0, 0, 400, 400)
    assert mark_in_crop(100.0, 150.0, box) == (100.0, 150.0)
    assert mark_in_crop(100.0, 150.0, box, flip_h=True) == (300.0, 150.0)
    assert mark_in_crop(100.0, 150.0, box, flip_v=True) == (100.0, 250.0)
    # The mirrored pixels put the point's own pixel under the mirrored mark.
    pixels = np.zeros((box.rows, box.columns), np.uint8)
    pixels[150, 100] = 255
    shown = oriented(pixels, True, True)
    u, v = mark_in_crop(100.5, 150.5, box, True, True)
    assert shown[int(v), int(u)] == 255


def test_a_reduced_level_covers_the_same_region():
    box = CropBox(201, 301, 601, 701)
    assert box.scaled_down(2) == CropBox(100, 150, 301, 351)


def test_the_caption_is_the_findings_bi_rads_wording():
    f = Finding("R", "mass", size_mm=12.0, descriptors=["oval", "circumscribed"],
                clock="10:00", depth="middle", nipple_mm=40.0,
                point={"sop_uid": "1.2.3", "x": 5, "y": 6})
    text = caption(1, f, "RCC")
    assert text == ("Finding 1 (RCC): right mass, oval, circumscribed, 12 mm, 10 o'clock, "
                    "middle depth, 40 mm from the nipple")
    assert "not to scale" in caption(1, f, "RCC", to_scale=False)
    unplaced = Finding("L", "calcifications", descriptors=["amorphous"])
    assert caption(2, unplaced).endswith(NO_POSITION)
