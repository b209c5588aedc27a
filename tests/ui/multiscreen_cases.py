"""Two and three monitors, run by test_image_screens.py in a child pytest
whose Qt platform has three screens: a landscape control screen and two
portrait diagnostic screens side by side (Qt's offscreen platform, given a
screen configuration).  Not collected on its own: its name does not start
with test_."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, Qt

from tests.support.reading_window import library_window, open_in_window

CONTROL = QRect(0, 0, 1920, 1080)
LEFT = QRect(1920, 0, 1536, 2048)
RIGHT = QRect(3456, 0, 1536, 2048)
BOTH = LEFT.united(RIGHT)


def _window(qtbot, ctx, cohort):
    w = library_window(qtbot, ctx, cohort.files, (1600, 1000))
    w.move(100, 40)
    assert w.screen().name() == "control"
    return w


def _global(widget) -> QRect:
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


def _uid(w) -> str:
    return next(r.study_uid for r in w.worklist.model.rows if r.has_prior)


def test_the_three_screens_are_there(qapp):
    assert [s.name() for s in qapp.screens()] == ["control", "imageL", "imageR"]


def test_each_press_moves_the_images_and_is_saved(qtbot, ctx, small_cohort):
    w = _window(qtbot, ctx, small_cohort)
    seen = []
    for _ in range(4):
        w.screens.cycle()
        seen.append((w.screens.names, ctx.settings.get("display.image_screens")))
    assert seen == [(("imageL",), "imageL"), (("imageR",), "imageR"),
                    (("imageL", "imageR"), "imageL,imageR"), ((), "")]
    # Back in the main window: the hanging sits beside the reading panel again.
    assert w.reading.image_area.window() is w
    assert not w.screens.window.isVisible()


def test_two_portrait_screens_hold_the_hang_right_breast_on_the_left(qtbot, ctx, small_cohort):
    w = _window(qtbot, ctx, small_cohort)
    for _ in range(3):
        w.screens.cycle()
    image_window = w.screens.window
    qtbot.waitUntil(lambda: image_window.geometry() == BOTH, timeout=5000)
    open_in_window(qtbot, w, _uid(w))
    assert w.reading.hanging.window() is image_window
    assert image_window.pages.currentWidget() is w.reading.image_area
    tiles = {t.cell.laterality + t.cell.view: _global(t)
             for t in w.reading.hanging.visible_tiles() if t.cell.placement is not None}
    assert set(tiles) == {"RCC", "LCC", "RMLO", "LMLO"}
    for label, rect in tiles.items():  # each view on one screen, chest walls meeting in the middle
        assert (LEFT if label.startswith("R") else RIGHT).contains(rect), (label, rect)
    # The control screen keeps the reading panel, now with the room the images had.
    assert w.reading.reading.isVisible() and w.reading.reading.window() is w
    assert CONTROL.contains(_global(w.reading.reading))


def test_the_worklist_leaves_no_images_on_the_image_screen(qtbot, ctx, small_cohort):
    w = _window(qtbot, ctx, small_cohort)
    w.screens.cycle()
    open_in_window(qtbot, w, _uid(w))
    image_window = w.screens.window
    assert image_window.pages.currentWidget() is w.reading.image_area
    w.show_worklist()
    assert image_window.pages.currentWidget() is image_window.idle
    assert "No study open" in image_window.idle.text()


def test_the_layout_comes_back_at_the_next_start(qtbot, ctx, small_cohort):
    ctx.settings.update({"display.image_screens": "imageL,imageR"})
    w = _window(qtbot, ctx, small_cohort)
    qtbot.waitUntil(lambda: w.screens.names == ("imageL", "imageR"), timeout=5000)
    assert w.screens.window.geometry() == BOTH
    open_in_window(qtbot, w, _uid(w))
    assert w.reading.hanging.window() is w.screens.window


def test_a_missing_screen_keeps_the_images_in_the_main_window(qtbot, ctx, small_cohort):
    ctx.settings.update({"display.image_screens": "DP-9"})
    w = _window(qtbot, ctx, small_cohort)
    qtbot.waitUntil(lambda: "not connected" in w.status_msg.text(), timeout=5000)
    assert "DP-9" in w.status_msg.text()
    assert w.screens.names == ()
    open_in_window(qtbot, w, _uid(w))
    assert w.reading.hanging.window() is w
    assert ctx.settings.get("display.image_screens") == "DP-9"  # kept for when it is back


def test_an_unplugged_screen_brings_the_images_back(qtbot, qapp, ctx, small_cohort):
    w = _window(qtbot, ctx, small_cohort)
    w.screens.cycle()  # imageL
    open_in_window(qtbot, w, _uid(w))
    unplugged = next(s for s in qapp.screens() if s.name() == "imageL")
    w.screens._screen_removed(unplugged)
    assert w.reading.hanging.window() is w
    assert w.reading.hanging.isVisible()
    assert "disconnected" in w.status_msg.text()


def test_shortcuts_work_from_the_image_window(qtbot, ctx, small_cohort):
    w = _window(qtbot, ctx, small_cohort)
    w.screens.cycle()
    open_in_window(qtbot, w, _uid(w))
    image_window = w.screens.window
    image_window.activateWindow()
    qtbot.waitUntil(image_window.isActiveWindow, timeout=5000)
    before = w.reading.walker.index
    qtbot.keyClick(w.reading.hanging, Qt.Key.Key_Right)
    assert w.reading.walker.index != before
    # The reading clock runs while the image window is the active one.
    assert w.reading.reading.clock.counting
