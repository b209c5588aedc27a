"""Every hanging layout fills the viewer: the tiles in use share the whole
area, whatever layout was shown before (the 2x2 above all)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication

from engine.display.hanging import LAYOUTS, HangImage, hang
from tests.support.reading_window import library_window, open_in_window
from ui.viewer.hanging_view import HangingView

SIZE = (1600, 1000)
_ORIENTATION = {("R", "CC"): ("P", "L"), ("L", "CC"): ("A", "R"),
                ("R", "MLO"): ("P", "F"), ("L", "MLO"): ("A", "F")}


def _images(prefix: str) -> list[HangImage]:
    return [HangImage(f"{prefix}.{side}{view}", side, view,
                      patient_orientation=_ORIENTATION[(side, view)], label=f"{side}{view}")
            for side in ("R", "L") for view in ("CC", "MLO")]


def _settle(view) -> None:
    QApplication.processEvents()
    view.layout().activate()


def coverage(view, tiles) -> float:
    """The share of `view` the tiles cover (tiles of a grid never overlap)."""
    area = QRect(0, 0, view.width(), view.height())
    covered = 0
    for i, t in enumerate(tiles):
        g = t.geometry()  # tiles are children of the hanging view
        assert g.width() > 50 and g.height() > 50, f"tile {t.cell.label} is {g}"
        for other in tiles[i + 1:]:
            og = other.geometry()
            assert not g.intersects(og), f"{t.cell.label} overlaps {other.cell.label}"
        part = g.intersected(area)
        covered += part.width() * part.height()
    return covered / (area.width() * area.height())


@pytest.fixture
def hanging(qtbot):
    view = HangingView()
    qtbot.addWidget(view)
    view.resize(*SIZE)
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_fills_the_viewer_after_the_2x2_and_back(hanging, layout):
    current, prior = _images("1"), _images("2")
    for name in ("2x2", layout, "2x2", layout):
        shown = hang(current, name, prior)
        hanging.show_hang(shown)
        _settle(hanging)
        tiles = hanging.visible_tiles()
        assert len(tiles) == len(shown.cells())
        assert coverage(hanging, tiles) >= 0.95, f"{name} after another layout"


# -- the layouts the window offers, reached as a radiologist reaches them --------


@pytest.fixture
def window(qtbot, ctx, small_cohort):
    w = library_window(qtbot, ctx, small_cohort.files, SIZE)
    open_in_window(qtbot, w, next(r.study_uid for r in w.worklist.model.rows if r.has_prior))
    return w


CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
KEYS = {  # what the radiologist presses -> the cells that must fill the viewer
    "Ctrl+2": ((Qt.Key.Key_2, CTRL), ["RCC", "LCC"]),
    "Ctrl+3": ((Qt.Key.Key_3, CTRL), ["RMLO", "LMLO"]),
    "Ctrl+4": ((Qt.Key.Key_4, CTRL), ["RCC", "RMLO"]),
    "Ctrl+5": ((Qt.Key.Key_5, CTRL), ["LCC", "LMLO"]),
    "C": ((Qt.Key.Key_C, Qt.KeyboardModifier.NoModifier),
          ["RCC", "LCC", "RCC prior", "LCC prior"]),
    "Shift+C": ((Qt.Key.Key_C, SHIFT), ["RMLO", "LMLO", "RMLO prior", "LMLO prior"]),
}


def _labels(w) -> list[str]:
    return [t.cell.label for t in w.reading.hanging.visible_tiles()]


def _fills(w) -> bool:
    _settle(w.reading.hanging)
    return coverage(w.reading.hanging, w.reading.hanging.visible_tiles()) >= 0.95


def _back_to_2x2(qtbot, w) -> None:
    qtbot.keyClick(w, Qt.Key.Key_1, CTRL)
    assert _labels(w) == ["RCC", "LCC", "RMLO", "LMLO"]
    assert _fills(w), "the 2x2 after another layout"


@pytest.mark.parametrize("key", list(KEYS))
def test_every_layout_key_fills_the_viewer(qtbot, window, key):
    (code, modifier), labels = KEYS[key]
    _back_to_2x2(qtbot, window)
    qtbot.keyClick(window, code, modifier)
    assert _labels(window) == labels
    assert _fills(window), f"{key} leaves part of the viewer empty"
    _back_to_2x2(qtbot, window)


def test_a_double_click_shows_one_view_over_the_whole_viewer(qtbot, window):
    _back_to_2x2(qtbot, window)
    tile = window.reading.hanging.visible_tiles()[3]
    qtbot.mouseDClick(tile, Qt.MouseButton.LeftButton)
    assert _labels(window) == ["LMLO"]
    assert _fills(window), "one view alone leaves part of the viewer empty"
    qtbot.mouseDClick(window.reading.hanging.visible_tiles()[0], Qt.MouseButton.LeftButton)
    assert _labels(window) == ["RCC", "LCC", "RMLO", "LMLO"]
    assert _fills(window)


def test_one_view_alone_from_the_prior_comparison_returns_to_it(qtbot, window):
    _back_to_2x2(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_C)
    qtbot.mouseDClick(window.reading.hanging.visible_tiles()[1], Qt.MouseButton.LeftButton)
    assert _labels(window) == ["LCC"]
    assert _fills(window)
    qtbot.mouseDClick(window.reading.hanging.visible_tiles()[0], Qt.MouseButton.LeftButton)
    assert _labels(window) == ["RCC", "LCC", "RCC prior", "LCC prior"]
    assert _fills(window)


def test_the_help_lists_both_prior_comparisons(window):
    assert ("C", "Current vs prior, CC views") in window.help.shortcuts
    assert ("Shift+C", "Current vs prior, MLO views") in window.help.shortcuts
