"""What the doctor sees in one image cell: grey levels under window/level,
zoom by pixel spacing, the magnifier and the distance tool."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from PySide6.QtCore import QPoint, Qt

from engine.display.hanging import hang
from engine.display.images import load_view
from engine.display.viewport import FIT, PIXEL, TRUE_SIZE
from tests.support.dicom_factory import mg_dataset
from ui.viewer.tile import ImageTile


def _view(**attrs):
    ds = mg_dataset(rows=64, cols=48, ImageLaterality="R", ViewPosition="CC",
                    PatientOrientation=["P", "L"], PixelSpacing=[0.1, 0.1], **attrs)
    ds.PixelData = np.full((64, 48), 2300, np.uint16).tobytes()
    return load_view(ds, 0)


@pytest.fixture
def tile(qtbot):
    t = ImageTile()
    qtbot.addWidget(t)
    t.resize(240, 320)
    t.show()
    return t


def _show(tile, view):
    tile.set_cell(hang([view.hang]).rows[0][0])
    tile.set_view(view)


def _drag(qtbot, tile, dx, dy):
    start = QPoint(120, 160)
    qtbot.mousePress(tile, Qt.MouseButton.LeftButton, pos=start)
    for i in range(1, 6):
        qtbot.mouseMove(tile, QPoint(start.x() + dx * i // 5, start.y() + dy * i // 5))
    qtbot.mouseRelease(tile, Qt.MouseButton.LeftButton, pos=start + QPoint(dx, dy))


def _painted(tile) -> int:
    """The grey level actually painted at the middle of the image."""
    img = tile.grab().toImage()
    x, y = tile.vp.to_screen(24, 32, tile.scale())
    return QColor_value(img, int(x), int(y))


def QColor_value(img, x, y) -> int:
    return img.pixelColor(x, y).red()


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_window_drag_changes_grey_levels_the_expected_way(qtbot, tile, photometric):
    view = _view(WindowCenter=2048, WindowWidth=1024, PhotometricInterpretation=photometric)
    _show(tile, view)
    before = tile.grey_at(*tile.vp.to_screen(24, 32, tile.scale()))
    assert _painted(tile) == before
    # 2300 in a 1024-wide window at 2048: ((2300 - 2047.5) / 1023 + 0.5) * 255 = 190.4
    assert before == (190 if photometric == "MONOCHROME2" else 255 - 190)
    _drag(qtbot, tile, 0, 80)  # down: the centre rises
    after = _painted(tile)
    assert tile.window.center > 2048
    if photometric == "MONOCHROME2":
        assert after < before  # the same tissue looks darker
    else:
        assert after > before  # inverted display: brighter
    _drag(qtbot, tile, 120, 0)  # right: wider window, towards mid grey
    assert tile.window.width > 1024
    assert abs(_painted(tile) - 128) < abs(after - 128)


def test_window_drag_on_a_voi_lut_sequence(qtbot, tile):
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 12]
    item.LUTData = [round(v * v / 4095) for v in range(4096)]  # a curve, not a line
    ds_lut = Sequence([item])
    view = _view(VOILUTSequence=ds_lut)
    _show(tile, view)
    # 2300^2 / 4095 = 1291.8 of 4095 -> 80 of 255: the table is applied, not a line.
    assert _painted(tile) == round(1292 / 4095 * 255)
    before = _painted(tile)
    _drag(qtbot, tile, -150, 0)  # narrower window on the table's output: more contrast
    assert tile.window.lut_index == 0 and tile.window.width < 4096
    assert _painted(tile) != before


def test_true_size_uses_pixel_spacing_and_1to1_uses_device_pixels(qtbot, tile):
    view = _view(WindowCenter=2048, WindowWidth=4096)
    _show(tile, view)
    tile.px_per_mm = 4.0  # a screen with 4 logical pixels per millimetre
    tile.set_mode(TRUE_SIZE)
    assert tile.scale() == pytest.approx(0.1 * 4.0)  # 0.1 mm pixels -> 0.4 screen px each
    x0, _ = tile.vp.to_screen(0, 0, tile.scale())
    x1, _ = tile.vp.to_screen(48, 0, tile.scale())
    assert abs(x1 - x0) == pytest.approx(4.8 * 4.0)  # 4.8 mm wide on screen
    tile.set_mode(PIXEL)
    assert tile.scale() == pytest.approx(1.0 / tile.devicePixelRatioF())
    tile.set_mode(FIT)
    assert tile.scale() == pytest.approx(min(240 / 48, 320 / 64))


def test_one_to_one_paints_the_full_resolution_not_a_preview(qtbot, tile, small_cohort):
    view = load_view(small_cohort.files[0], 2)  # a quarter-size preview first
    _show(tile, view)
    tile.set_mode(PIXEL)
    info = tile._info_lines(tile.scale(), view.finest_level())
    assert "preview" in info[-1]
    from engine.display.study_images import ImageFile, job_full

    for k, arr in job_full(ImageFile(view.key, small_cohort.files[0], None), None).items():
        view.add_level(k, arr)
    tile.set_view(view)
    assert view.level_for(tile.scale() * tile.devicePixelRatioF()) == 0
    assert "preview" not in " ".join(tile._info_lines(tile.scale(), 0))


def test_distance_tool_reports_millimetres(qtbot, tile):
    view = _view(WindowCenter=2048, WindowWidth=4096)
    _show(tile, view)
    tile.tool = "measure"
    s = tile.scale()
    a = QPoint(*map(int, tile.vp.to_screen(4, 10, s)))
    b = QPoint(*map(int, tile.vp.to_screen(4, 50, s)))
    qtbot.mousePress(tile, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(tile, b)
    qtbot.mouseRelease(tile, Qt.MouseButton.LeftButton, pos=b)
    from engine.display.viewport import distance_mm

    mm = distance_mm(*tile.measure, view.spacing_mm)
    assert mm == pytest.approx(4.0, abs=0.15)  # 40 rows of 0.1 mm


def test_wheel_zoom_keeps_the_point_under_the_pointer(qtbot, tile):
    view = _view(WindowCenter=2048, WindowWidth=4096)
    _show(tile, view)
    s = tile.scale()
    before = tile.vp.to_stored(100, 150, s)
    tile.vp = tile.vp.zoom_about(2.0, 100, 150, s)
    after = tile.vp.to_stored(100, 150, tile.scale())
    assert after == pytest.approx(before)
    assert tile.scale() == pytest.approx(2 * s)


def test_an_unreadable_image_shows_its_reason(qtbot, tile):
    view = _view(WindowCenter=2048, WindowWidth=4096)
    tile.set_cell(hang([view.hang]).rows[0][0])
    tile.set_problem("corrupt JPEG 2000 codestream: truncated")
    img = tile.grab().toImage()
    assert img.width() > 0 and tile.problem.startswith("corrupt")


def _yellow(img, x0: int, y0: int, x1: int, y1: int) -> int:
    """How many of the mark colour's pixels lie in the rectangle."""
    n = 0
    for y in range(max(y0, 0), min(y1, img.height())):
        for x in range(max(x0, 0), min(x1, img.width())):
            c = img.pixelColor(x, y)
            n += c.red() > 200 and c.green() > 150 and c.blue() < 80
    return n


def test_the_magnifier_keeps_the_ai_mark_under_it_in_view(qtbot, tile):
    from engine.ai.results import Mark

    _show(tile, _view(WindowCenter=2048, WindowWidth=4096))
    tile.set_ai([Mark(24.0, 32.0, (20.0, 28.0, 28.0, 36.0), 0.9)], None, 16.0, "AI marks")
    x, y = map(int, tile.vp.to_screen(24, 32, tile.scale()))
    tile.magnifier = True
    qtbot.mouseMove(tile, QPoint(x, y))
    tile._mouse = QPoint(x, y).toPointF()
    img = tile.grab().toImage()
    # Inside the lens, around the pointer: the mark's ring, magnified.
    assert _yellow(img, x - 40, y - 40, x + 40, y + 40) > 20


def test_a_marks_score_sits_on_a_dark_plate_over_bright_tissue(qtbot, tile):
    from engine.ai.results import Mark

    _show(tile, _view(WindowCenter=1000, WindowWidth=200))  # everything white
    tile.set_ai([Mark(24.0, 32.0, (20.0, 28.0, 28.0, 36.0), 0.9)], None, 16.0, "AI marks")
    img = tile.grab().toImage()
    s = tile.scale()
    right = max(tile.vp.to_screen(28, 28, s)[0], tile.vp.to_screen(20, 28, s)[0])
    top = tile.vp.to_screen(28, 28, s)[1]
    plate = [img.pixelColor(int(right) + 6 + dx, int(top) + 3).value() for dx in range(0, 20)]
    assert min(plate) < 80  # the plate's dark behind the yellow digits
    assert _yellow(img, int(right) + 4, int(top), int(right) + 50, int(top) + 20) > 5


def test_the_value_under_the_pointer_and_a_scale_bar_in_millimetres(qtbot, tile):
    from ui.viewer.overlays import scale_bar_mm

    view = _view(WindowCenter=2048, WindowWidth=4096)
    _show(tile, view)
    x, y = map(int, tile.vp.to_screen(24, 32, tile.scale()))
    qtbot.mouseMove(tile, QPoint(x, y))
    tile._mouse = QPoint(x, y).toPointF()
    stored, grey, preview = tile.value_at(x, y)
    assert stored == 2300 and grey == _painted(tile) and not preview
    assert f"value 2300 -> grey {grey}" in tile._info_lines(tile.scale(), 0)
    assert tile.value_at(-50, -50) is None
    # 0.1 mm pixels shown at the tile's scale: the bar is a round number of mm
    # that fits in 160 screen pixels.
    px_per_mm = tile.scale() / 0.1
    mm = scale_bar_mm(px_per_mm)
    assert mm is not None and mm * px_per_mm <= 160 and (mm == 100 or
                                                        mm * 2.5 * px_per_mm > 160)
    assert scale_bar_mm(0.5) == 100 and scale_bar_mm(40.0) == 2 and scale_bar_mm(500.0) is None
