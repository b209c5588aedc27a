"""Walking the reading sequence with the arrow keys: the 2x2, the CC and MLO
comparisons with the prior at one physical size, then each view alone at
1:1, screenful by screenful from the chest wall; steps that need a prior the
patient lacks are passed over."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt

from engine.display.protocol import DEFAULT_STEPS, steps_json
from engine.display.viewport import FREE, PIXEL
from engine.library import Library
from tests.support.reading_window import library_window, open_in_window
from ui.reading_steps import StepWalker

SIZE = (1600, 1000)
RIGHT, LEFT = Qt.Key.Key_Right, Qt.Key.Key_Left


def _open(qtbot, ctx, small_cohort, with_prior: bool):
    w = library_window(qtbot, ctx, small_cohort.files, SIZE)
    open_in_window(qtbot, w, next(r.study_uid for r in w.worklist.model.rows
                                  if r.has_prior == with_prior))
    return w


def _labels(w) -> list[str]:
    return [t.cell.label for t in w.reading.hanging.visible_tiles()]


def _loaded(qtbot, w) -> None:
    qtbot.waitUntil(lambda: all(t.view is not None for t in w.reading.hanging.visible_tiles()),
                    timeout=20000)


def test_the_sequence_walks_forward_and_back(qtbot, ctx, small_cohort):
    w = _open(qtbot, ctx, small_cohort, with_prior=True)
    assert _labels(w) == ["RCC", "LCC", "RMLO", "LMLO"]
    qtbot.keyClick(w, RIGHT)
    assert _labels(w) == ["RCC", "LCC", "RCC prior", "LCC prior"]
    _loaded(qtbot, w)
    tiles = w.reading.hanging.visible_tiles()
    assert all(t.vp.mode == FREE for t in tiles)
    # One physical scale: screen pixels per millimetre alike in every tile.
    per_mm = {round(t.scale() / t.view.spacing_mm[1], 6) for t in tiles}
    assert len(per_mm) == 1
    for t in tiles:  # and each image fits its cell
        s = t.scale()
        assert t.view.columns * s <= t.width() + 1 and t.view.rows * s <= t.height() + 1
    qtbot.keyClick(w, RIGHT)
    assert _labels(w) == ["RMLO", "LMLO", "RMLO prior", "LMLO prior"]
    qtbot.keyClick(w, RIGHT)
    assert _labels(w) == ["RCC"]
    _loaded(qtbot, w)
    walker: StepWalker = w.reading.walker
    tile = w.reading.hanging.visible_tiles()[0]
    assert tile.vp.mode == PIXEL
    spots = walker._tour_spots()
    seen = [tile.vp.to_stored(0, 0, tile.scale())]
    for _ in range(len(spots) - 1):
        qtbot.keyClick(w, RIGHT)
        assert _labels(w) == ["RCC"]
        seen.append(tile.vp.to_stored(0, 0, tile.scale()))
    assert len(set(seen)) == len(spots)  # every screenful a different part of the image
    qtbot.keyClick(w, RIGHT)
    assert _labels(w) == ["LCC"]
    qtbot.keyClick(w, LEFT)
    assert _labels(w) == ["RCC"] and walker.spot == len(walker._tour_spots()) - 1
    for _ in range(len(spots) + 3):
        qtbot.keyClick(w, LEFT)
    assert _labels(w) == ["RCC", "LCC", "RMLO", "LMLO"]
    qtbot.keyClick(w, LEFT)  # the first step: stays, and says so
    assert _labels(w) == ["RCC", "LCC", "RMLO", "LMLO"]
    assert "first step" in w.status_msg.text()


def test_steps_that_need_a_prior_are_passed_over(qtbot, ctx, small_cohort):
    w = _open(qtbot, ctx, small_cohort, with_prior=False)
    assert _labels(w) == ["RCC", "LCC", "RMLO", "LMLO"]
    qtbot.keyClick(w, RIGHT)
    assert _labels(w) == ["RCC"]


def test_a_site_sequence_from_the_settings(qtbot, ctx, small_cohort):
    steps = [DEFAULT_STEPS[2], DEFAULT_STEPS[0]]
    ctx.settings.update({"hanging.steps": steps_json(steps)})
    w = _open(qtbot, ctx, small_cohort, with_prior=True)
    assert _labels(w) == ["RMLO", "LMLO", "RMLO prior", "LMLO prior"]
    qtbot.keyClick(w, RIGHT)
    assert _labels(w) == ["RCC", "LCC", "RMLO", "LMLO"]


def test_a_broken_sequence_in_the_settings_file_falls_back_to_the_default(qtbot, ctx,
                                                                          small_cohort, caplog):
    ctx.settings.path.parent.mkdir(parents=True, exist_ok=True)
    ctx.settings.path.write_text('{"hanging.steps": "[{\\"rows\\": [[\\"XCC\\"]]}]"}')
    with caplog.at_level(logging.WARNING):
        w = _open(qtbot, ctx, small_cohort, with_prior=True)
    assert w.reading.walker.steps == list(DEFAULT_STEPS)
    assert "hanging step 1" in caplog.text and "default reading sequence" in caplog.text
    assert _labels(w) == ["RCC", "LCC", "RMLO", "LMLO"]


def _sign_negative(qtbot, w, ctx, uids, signed_after: int) -> None:  # type: ignore[no-untyped-def]
    """Sign a negative read of each study; wait for the worklist to show them."""
    from engine.library.reads import Read, sign

    with Library(ctx.paths.library) as lib:
        for uid in uids:
            sign(lib, uid, "Dr A", Read(birads={"R": "1", "L": "1"},
                                        density={"R": "b", "L": "b"},
                                        recommendation="routine"))
    w.refresh_worklist()
    qtbot.waitUntil(lambda: [r.status for r in w.worklist.model.rows].count("signed")
                    == signed_after, timeout=10000)


def test_next_unread_skips_signed_studies_and_says_when_all_are_read(qtbot, ctx, small_cohort):
    w = _open(qtbot, ctx, small_cohort, with_prior=True)
    order = w.worklist.visible_uids()
    _sign_negative(qtbot, w, ctx, order[1:3], 2)  # the second and third are read
    open_in_window(qtbot, w, order[0])
    qtbot.keyClick(w, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: w.reading.study is not None and w.reading.study.uid == order[3],
                    timeout=20000)
    _sign_negative(qtbot, w, ctx, (order[0], order[3]), 4)
    qtbot.keyClick(w, Qt.Key.Key_N)
    assert w.status_msg.text() == "every study in the worklist is read"


def test_a_step_with_the_study_before_the_prior(qtbot, ctx, small_cohort, tmp_path):
    from engine.dates import shown_date
    from engine.display.protocol import Step
    from engine.library import import_paths
    from engine.library.catalog import earlier_studies, study_images
    from tests.support.priors import older_copy

    three = Step("CC over time", (((0, "R", "CC"), (1, "R", "CC"), (2, "R", "CC")),),
                 "same-size")
    ctx.settings.update({"hanging.steps": steps_json([three, DEFAULT_STEPS[0]])})
    w = library_window(qtbot, ctx, small_cohort.files, SIZE)
    uid = next(r.study_uid for r in w.worklist.model.rows if r.has_prior)
    with Library(ctx.paths.library) as lib:
        prior = earlier_studies(lib, uid)[0]
        import_paths(lib, older_copy([i.file.path for i in study_images(lib, prior)],
                                     tmp_path / "older"))
    w.refresh_worklist()
    qtbot.waitUntil(lambda: w.worklist.model.rowCount() == 5, timeout=10000)
    open_in_window(qtbot, w, uid)
    assert _labels(w) == ["RCC", "RCC prior", "RCC prior-2"]
    _loaded(qtbot, w)
    study = w.reading.study
    captions = [t.caption for t in w.reading.hanging.visible_tiles()]
    assert captions == [f"current {shown_date(study.patient.study_date)}",
                        f"prior {shown_date(study.prior_date)}",
                        f"prior-2 {shown_date(study.prior2_date)}"]
    assert len(set(captions)) == 3


def test_c_on_the_comparison_step_goes_back_to_the_2x2(qtbot, ctx, small_cohort):
    w = _open(qtbot, ctx, small_cohort, with_prior=True)
    qtbot.keyClick(w, RIGHT)
    assert _labels(w) == ["RCC", "LCC", "RCC prior", "LCC prior"]
    qtbot.keyClick(w, Qt.Key.Key_C)
    assert _labels(w) == ["RCC", "LCC", "RMLO", "LMLO"]
    w.reading.walker.show(2)
    assert _labels(w) == ["RMLO", "LMLO", "RMLO prior", "LMLO prior"]
    qtbot.keyClick(w, Qt.Key.Key_C)  # the CC comparison, from the MLO one
    assert _labels(w) == ["RCC", "LCC", "RCC prior", "LCC prior"]
