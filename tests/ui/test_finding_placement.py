"""A finding placed by clicking on the image: its point is stored with the
read in that image's pixels, drawn on the tile that shows the image, and
still there when the study is opened again."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from engine.library import Library
from engine.library.reads import current_read
from tests.support.reading_window import library_window, open_in_window


def test_a_finding_placed_on_the_image_is_kept_and_drawn(qtbot, ctx, small_cohort):
    w = library_window(qtbot, ctx, small_cohort.files)
    uid = w.worklist.model.rows[0].study_uid
    open_in_window(qtbot, w, uid)
    qtbot.waitUntil(lambda: all(t.view is not None for t in w.reading.hanging.visible_tiles()),
                    timeout=20000)
    tile = w.reading.hanging.visible_tiles()[0]  # RCC
    qtbot.keyClick(w, Qt.Key.Key_P)
    assert tile.tool == "finding"
    col, row = tile.view.columns * 0.6, tile.view.rows * 0.5
    at = QPoint(*map(int, tile.vp.to_screen(col, row, tile.scale())))
    qtbot.mouseClick(tile, Qt.MouseButton.LeftButton, pos=at)
    assert tile.tool == "wl"  # one click places one point
    panel = w.reading.reading
    panel.finding_side.setCurrentText("R")
    panel.finding_kind.setCurrentText("mass")
    panel.finding_words.setText("oval circumscribed")
    panel._add_finding()
    assert len(tile.findings) == 1
    x, y, label = tile.findings[0]
    assert abs(x - col) < 3 and abs(y - row) < 3 and label == "1 R mass"
    assert all(not t.findings for t in w.reading.hanging.visible_tiles()[1:])
    w.reading.save_draft()
    with Library(ctx.paths.library) as lib:
        qtbot.waitUntil(lambda: current_read(lib, uid) is not None, timeout=10000)
        point = current_read(lib, uid).read.findings[0].point
    assert point["sop_uid"] == tile.view.key and abs(point["x"] - col) < 3
    open_in_window(qtbot, w, w.worklist.model.rows[1].study_uid)
    open_in_window(qtbot, w, uid)
    qtbot.waitUntil(lambda: bool(w.reading.hanging.visible_tiles()[0].findings), timeout=10000)
