"""The PDF report: what a reader sees on each page, and marks where the image shows them."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pytest

from engine.ai import report_pdf
from engine.ai.report_pdf import box_on_display, write_report_pdf
from engine.ai.results import NOT_FOR_CLINICAL_USE, BreastResult, ExamResult, Mark, ViewResult
from engine.errors import MammoDeskError

ROWS, COLS = 256, 192
BOX = (20.0, 30.0, 42.0, 52.0)
_STRING = re.compile(rb"\((?:\\.|[^\\()])*\)", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def make_result() -> ExamResult:
    heat = np.zeros((16, 12), np.float32)
    heat[2:4, 1:3] = 1.0
    views = []
    for view in ("RCC", "LCC", "RMLO", "LMLO"):
        marks = [Mark(31.0, 41.0, BOX, 0.77)] if view in ("RCC", "LMLO") else []
        reason = "no breast tissue found" if view == "LCC" else None
        views.append(
            ViewResult(
                view,
                view[0],
                view[1:],
                f"1.2.826.0.1.3680043.8.498.{len(views)}",
                "1.2.840.10008.5.1.4.1.1.1.2",
                "1.2.826.0.1.3680043.8.498.9",
                ROWS,
                COLS,
                score=None if reason else 0.31,
                marks=marks,
                heatmap=heat,
                reason=reason,
            )
        )
    return ExamResult(
        "1.2.826.0.1.3680043.8.498.8",
        "mammodesk-effb0",
        "1.2.0",
        "onnxruntime",
        "CPU",
        "2024-05-01T10:00:00+02:00",
        73.2,
        8,
        "c",
        [BreastResult("R", 0.81, "c"), BreastResult("L", 0.05, "b")],
        views,
    )


def images(labels=("RCC", "LCC", "RMLO", "LMLO")) -> dict[str, np.ndarray]:
    ramp = np.tile(np.linspace(0, 255, COLS).astype(np.uint8), (ROWS, 1))
    return {label: ramp for label in labels}


def _literal(raw: bytes) -> bytes:
    body, out, i = raw[1:-1], bytearray(), 0
    while i < len(body):
        if body[i : i + 1] != b"\\":
            out += body[i : i + 1]
            i += 1
            continue
        octal = re.match(rb"[0-7]{1,3}", body[i + 1 : i + 4])
        if octal:
            out.append(int(octal.group(), 8) & 0xFF)
            i += 1 + len(octal.group())
        else:
            nxt = body[i + 1 : i + 2]
            out += _ESCAPES.get(nxt, nxt)
            i += 2
    return bytes(out)


def page_texts(path: Path) -> list[str]:
    """The text drawn on each page, one line per text run (matplotlib writes one stream a page)."""
    pages = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", path.read_bytes(), re.S):
        try:
            content = zlib.decompress(match.group(1))
        except zlib.error:
            continue
        if b"BT" not in content or b" Tf" not in content:
            continue  # an image or a glyph, not a page
        runs = []
        for array in re.finditer(rb"\[(.*?)\]\s*TJ|(\((?:\\.|[^\\()])*\))\s*Tj", content, re.S):
            parts = _STRING.findall(array.group(1) or array.group(2))
            raw = b"".join(_literal(p) for p in parts)
            wide = raw and len(raw) % 2 == 0 and not any(raw[0::2])  # Type 42: UTF-16BE
            runs.append(raw.decode("utf-16-be") if wide else raw.decode("cp1252", "replace"))
        pages.append("\n".join(runs))
    return pages


def test_report_shows_the_result_and_the_notice_on_every_page(tmp_path):
    out = tmp_path / "report.pdf"
    write_report_pdf(make_result(), images(), out, flips={"RCC": True, "RMLO": True})
    assert out.read_bytes().startswith(b"%PDF")
    pages = page_texts(out)
    assert len(pages) == 2
    for number, page in enumerate(pages, start=1):
        assert f"{NOT_FOR_CLINICAL_USE}    Page {number} of 2" in page
    first = pages[0]
    assert "MammoDesk AI result" in first
    assert first.count(NOT_FOR_CLINICAL_USE) == 2  # under the title and in the footer
    assert "Exam score: 73.2 / 100" in first and "Category: 8 / 10" in first
    assert "Model: mammodesk-effb0 1.2.0" in first
    assert "Device: CPU (onnxruntime)" in first
    assert "Right breast: probability of malignancy 81.0%, density c" in first
    assert "Left breast: probability of malignancy 5.0%, density b" in first
    assert "Not analysed: LCC - no breast tissue found" in first
    assert first.count("0.77") == 2  # the score beside each drawn box
    assert "RCC   centre (31.0, 41.0)" in pages[1]


def test_box_follows_a_left_right_flip_and_a_resampled_display():
    assert box_on_display(BOX, ROWS, COLS, (ROWS, COLS)) == BOX
    assert box_on_display(BOX, ROWS, COLS, (ROWS, COLS), flipped=True) == (150.0, 30.0, 172.0, 52.0)
    assert box_on_display(BOX, ROWS, COLS, (ROWS // 2, COLS // 2), flipped=True) == (
        75.0,
        15.0,
        86.0,
        26.0,
    )


@pytest.mark.parametrize("flipped", [False, True])
def test_the_drawn_box_is_on_the_side_the_reader_sees_the_lesion(flipped):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    dark = {label: np.zeros((ROWS, COLS), np.uint8) for label in ("RCC", "LCC", "RMLO", "LMLO")}
    fig = report_pdf._overview(make_result(), dark, {"RCC": flipped}, 0.0, NOT_FOR_CLINICAL_USE)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    ax = fig.axes[0]  # RCC, top left
    x0, y0, x1, y1 = ax.get_window_extent().extents
    height = rgba.shape[0]
    panel = rgba[int(height - y1) : int(height - y0), int(x0) : int(x1), :3].astype(int)
    yellow = (panel[..., 0] > 200) & (panel[..., 1] > 170) & (panel[..., 2] < 80)
    columns = np.nonzero(yellow.any(axis=0))[0]
    assert columns.size > 0
    in_right_half = columns.mean() > panel.shape[1] / 2
    assert in_right_half == flipped


def test_missing_views_and_a_heatmap_overlay_still_give_a_full_report(tmp_path):
    out = tmp_path / "report.pdf"
    write_report_pdf(make_result(), images(("RCC", "LMLO")), out, heatmap_alpha=0.4)
    first = page_texts(out)[0]
    assert first.count("no image") == 2
    assert NOT_FOR_CLINICAL_USE in first


def test_a_bad_image_or_a_failed_write_keeps_the_previous_report(tmp_path, monkeypatch):
    out = tmp_path / "report.pdf"
    out.write_bytes(b"previous report")
    bad = images() | {"LCC": np.zeros((ROWS, COLS, 3), np.uint8)}
    with pytest.raises(MammoDeskError, match="LCC image"):
        write_report_pdf(make_result(), bad, out)

    from matplotlib.backends.backend_pdf import PdfPages

    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PdfPages, "savefig", full_disk)
    with pytest.raises(MammoDeskError, match="No space left"):
        write_report_pdf(make_result(), images(), out)
    assert out.read_bytes() == b"previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]


def test_a_study_outside_the_training_shows_no_score_and_no_marks(tmp_path):
    out = tmp_path / "report.pdf"
    result = make_result()
    result.withhold(["LMLO: image features unlike the training images"])
    write_report_pdf(result, images(), out)
    first = page_texts(out)[0]
    assert "Exam score: not available (outside what this model was trained on" in first
    assert "73.2" not in first and "0.77" not in first  # neither the score nor a mark's
    assert "Right breast: probability of malignancy n/a, density n/a (outside what" in first
    assert "density c" not in first and "(denser breast): c" not in first
    assert first.count(NOT_FOR_CLINICAL_USE) == 2


def test_every_page_says_whose_study_it_is(tmp_path):
    from engine.reporting.patient import PatientContext

    out = tmp_path / "report.pdf"
    patient = PatientContext.of("Example^Ann", "MDP-0042", "19700315", "ACC-7", "20240501")
    write_report_pdf(make_result(), images(), out, patient=patient)
    pages = page_texts(out)
    assert "Patient: Example, Ann    ID: MDP-0042" in pages[0]
    assert "Born: 1970-03-15, 54 y at the study" in pages[0]
    assert "Accession: ACC-7    Study date: 2024-05-01" in pages[0]
    for number, page in enumerate(pages, start=1):
        assert f"Patient ID MDP-0042    {NOT_FOR_CLINICAL_USE}    Page {number} of 2" in page


def test_the_printed_views_are_windowed_as_the_viewer_shows_them(small_cohort):
    # The viewer opens an image with the file's first VOI preset; the printed
    # views are the same grey levels, pixel for pixel (not the model's VOI,
    # which prefers the file's VOI LUT).
    import pydicom

    from engine.ai.display import display_images
    from engine.display.voi import apply_lut, display_lut, presets

    study = sorted({p.parent for p in small_cohort.files})[0]
    datasets = [pydicom.dcmread(p) for p in sorted(study.glob("*.dcm"))]
    views = []
    for ds in datasets:
        label = f"{ds.ImageLaterality}{ds.ViewPosition}"
        views.append(ViewResult(label, str(ds.ImageLaterality), str(ds.ViewPosition),
                                str(ds.SOPInstanceUID), str(ds.SOPClassUID),
                                str(ds.SeriesInstanceUID), int(ds.Rows), int(ds.Columns)))
    result = make_result()
    result.views = views
    printed, flips = display_images(datasets, result, max_rows=100_000)
    assert set(printed) == {"RCC", "LCC", "RMLO", "LMLO"}
    for ds in datasets:
        label = f"{ds.ImageLaterality}{ds.ViewPosition}"
        stored = ds.pixel_array
        screen = apply_lut(display_lut(ds, presets(ds, stored)[0].window, stored.dtype), stored)
        got = printed[label][:, ::-1] if flips[label] else printed[label]
        assert np.abs(got.astype(int) - screen.astype(int)).max() <= 1, label
