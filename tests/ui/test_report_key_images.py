"""The reading report's key images: each finding placed on an image gets a
crop of about 40 mm of breast around its point, with the very grey levels
its tile shows (window/level, inversion, MONOCHROME1, mirroring), the point
inside the crop even at the image's corner; findings without a point are
listed as such, and the PDF is whole."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtGui import QImage

from engine.display.viewport import PIXEL
from engine.phantom import generate_cohort
from tests.support.reading_window import library_window, open_in_window
from ui.report import DPI, FOOTER, export_report

SIZE = (1900, 1500)  # 2x2 tiles big enough to show a 40 mm crop at 1:1


@pytest.fixture(scope="module")
def monochrome1_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("mono1")
    return generate_cohort(out, 1, seed=11, cancer_rate=0.0, size="small",
                           photometric="MONOCHROME1")


def _open(qtbot, ctx, files, studies):
    w = library_window(qtbot, ctx, files, SIZE, studies=studies)
    uid = w.worklist.model.rows[0].study_uid
    open_in_window(qtbot, w, uid)
    qtbot.waitUntil(lambda: all(t.view is not None and t.view.full is not None
                                for t in w.reading.hanging.visible_tiles()), timeout=30000)
    return w


def _tile(w, label):
    return next(t for t in w.reading.hanging.visible_tiles() if t.cell.label == label)


def _place(w, tile, x, y, side, kind, words):
    panel = w.reading.reading
    panel.place_point(tile.view.key, x, y)
    panel.finding_side.setCurrentText(side)
    panel.finding_kind.setCurrentText(kind)
    panel.finding_words.setText(words)
    panel.finding_size.setValue(12)
    panel._add_finding()


def _shown_pixels(tile, box) -> np.ndarray:
    """The grey levels the tile paints for the stored box, at 1:1 with its
    current window and mirroring (the findings' crosses left out)."""
    findings, tile.findings = tile.findings, []
    tile.vp = replace(tile.vp, mode=PIXEL, pan=(0.0, 0.0))
    s = tile.scale()
    xs, ys = zip(tile.vp.to_screen(box.c0, box.r0, s), tile.vp.to_screen(box.c1, box.r1, s),
                 strict=True)
    # Put the box in the middle of the tile, on whole pixels.
    left = (tile.width() - box.columns) // 2
    top = (tile.height() - box.rows) // 2
    tile.vp = tile.vp.panned(left - min(xs), top - min(ys))
    img = tile.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    tile.findings = findings
    rows = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes())
    grey = rows.reshape(img.height(), img.bytesPerLine())[:, : img.width()]
    return grey[top : top + box.rows, left : left + box.columns].copy()


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_placed_findings_get_crops_with_the_tiles_grey_levels(qtbot, ctx, small_cohort,
                                                             monochrome1_study, photometric,
                                                             tmp_path):
    if photometric == "MONOCHROME2":
        w = _open(qtbot, ctx, small_cohort.files, 4)
    else:
        w = _open(qtbot, ctx, monochrome1_study.files, 1)
    rcc, lmlo = _tile(w, "RCC"), _tile(w, "LMLO")
    assert rcc.view.spacing_mm is not None
    # The reader has moved off the file's window on one view and inverted another.
    rcc.window = replace(rcc.window, center=rcc.window.center + 150, width=rcc.window.width * 0.7)
    lmlo.toggle_invert()
    # A file stored the other way round: its tile mirrors it, and so does the crop.
    lmlo.vp = replace(lmlo.vp, flip_h=True)
    centre = (rcc.view.columns * 0.55, rcc.view.rows * 0.45)
    corner = (1.5, lmlo.view.rows - 1.5)  # the image's corner (nipple side, mirrored)
    _place(w, rcc, *centre, "R", "mass", "oval circumscribed")
    _place(w, lmlo, *corner, "L", "calcifications", "amorphous grouped")
    panel = w.reading.reading  # the third finding is described in words only
    panel.finding_side.setCurrentText("L")
    panel.finding_kind.setCurrentText("asymmetry")
    panel.finding_words.setText("focal")
    panel._add_finding()

    out = tmp_path / "report.pdf"
    crops = export_report(w.reading, out)

    assert [c.number for c in crops] == [1, 2, 3]
    drawn = [c for c in crops if c.pixels is not None and c.target is not None]
    assert len(drawn) == 2
    assert crops[2].box is None and crops[2].caption.endswith("(no image position)")
    for crop, tile, (x, y) in zip(drawn, (rcc, lmlo), (centre, corner), strict=True):
        box, pixels = crop.box, crop.pixels
        assert box is not None and pixels is not None
        assert box.c0 <= x < box.c1 and box.r0 <= y < box.r1  # the point is in its crop
        assert box.c0 >= 0 and box.c1 <= tile.view.columns
        assert box.r0 >= 0 and box.r1 <= tile.view.rows
        # 40 mm of breast: 400 stored pixels at 0.1 mm.
        assert crop.size_mm == pytest.approx((40.0, 40.0), abs=0.2)
        assert pixels.std() > 5  # tissue, not an empty square
        assert np.array_equal(pixels, _shown_pixels(tile, box)), crop.caption
        u, v = crop.mark
        assert 0 <= u <= box.columns and 0 <= v <= box.rows
    assert drawn[0].caption.startswith("Finding 1 (RCC): right mass, oval, circumscribed, 12 mm")
    assert drawn[1].caption.startswith("Finding 2 (LMLO): left calcifications, amorphous")
    # Two a row: side by side on one page.
    a, b = drawn[0].target, drawn[1].target
    assert a is not None and b is not None
    assert drawn[0].page == drawn[1].page and a.top() == b.top() and a.right() < b.left()
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    assert data.count(b"/Subtype /Image") >= 3  # the hanging and the two crops
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert "Finding 1 (RCC)" in text and "(no image position)" in text


def test_many_findings_break_onto_new_pages(qtbot, ctx, small_cohort, tmp_path):
    w = _open(qtbot, ctx, small_cohort.files, 4)
    tiles = w.reading.hanging.visible_tiles()
    for i in range(7):
        t = tiles[i % 4]
        side = t.cell.laterality
        _place(w, t, t.view.columns * (0.2 + 0.1 * i), t.view.rows * 0.5, side, "mass", "oval")
    out = tmp_path / "report.pdf"
    crops = export_report(w.reading, out)
    assert len(crops) == 7 and all(c.target is not None for c in crops)
    assert crops[-1].page >= 1  # the key images go on past the first page
    pages = {c.page for c in crops}
    assert pages == set(range(min(pages), max(pages) + 1))
    page_bottom = (297 - 30) / 25.4 * DPI - FOOTER  # A4 less its margins and the notice
    rows: dict[tuple[int, float], list] = {}
    for c in crops:
        assert c.target is not None and c.target.bottom() < page_bottom
        rows.setdefault((c.page, c.target.top()), []).append(c)
    assert all(len(r) <= 2 for r in rows.values()) and any(len(r) == 2 for r in rows.values())
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", out.read_bytes())) == max(pages) + 1


def test_a_finding_on_an_image_off_screen_is_cropped_as_its_tile_first_shows_it(
        qtbot, ctx, small_cohort, tmp_path):
    w = _open(qtbot, ctx, small_cohort.files, 4)
    lmlo = _tile(w, "LMLO")
    point = (lmlo.view.columns * 0.3, lmlo.view.rows * 0.6)
    _place(w, lmlo, *point, "L", "mass", "irregular spiculated")
    w.reading.set_layout("RCC")  # the LMLO is not on screen when the report is written
    assert not w.reading.hanging.tile_for(lmlo.view.key)
    crop = export_report(w.reading, tmp_path / "report.pdf")[0]
    box = crop.box
    assert box is not None and crop.pixels is not None
    assert crop.caption.startswith("Finding 1 (LMLO)")
    w.reading.set_layout("2x2")
    qtbot.waitUntil(lambda: _tile(w, "LMLO").view is not None
                    and _tile(w, "LMLO").view.full is not None
                    and _tile(w, "LMLO").height() > box.rows, timeout=20000)
    assert np.array_equal(crop.pixels, _shown_pixels(_tile(w, "LMLO"), box))
