"""A printable PDF of one AI result: scores, the four views hung with their marks.

Page 1 carries the result and the views hung as radiologists expect (right breast in the left
column, left breast in the right column; CC on top, MLO below), marks drawn as boxes with their
scores and, optionally, the heatmap.  Page 2 lists every mark.  Every page's footer carries the
notice that the model is not for clinical use.  The patient's identification (name, ID, birth
date, accession, study date) heads page 1 and every page's footer carries the patient ID, so a
printed page cannot be mistaken for another patient's; nothing else about the patient is
printed.

Only matplotlib's object-oriented API is used (Figure + PdfPages): no pyplot, no backend switch,
so the writer is safe to call from a GUI process or a worker thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from engine.ai.results import NOT_FOR_CLINICAL_USE, ExamResult, ViewResult
from engine.atomic import atomic_output
from engine.errors import MammoDeskError
from engine.reporting.patient import PatientContext

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

A4 = (8.27, 11.69)  # inches, portrait
HANGING = {"RCC": (0, 0), "LCC": (0, 1), "RMLO": (1, 0), "LMLO": (1, 1)}  # (row, column)
SIDES = {"R": "Right", "L": "Left"}
MARK_COLOUR = "#ffd400"
NOTICE_COLOUR = "#b00020"


class _Plain(TypedDict, total=False):
    fontfeatures: tuple[str, ...]


def _plain() -> _Plain:
    """Text keywords that keep every character a character (no "ff" ligature glyphs), so the
    PDF's text can be searched and copied as printed (font features exist in matplotlib 3.11+)."""
    from matplotlib.text import Text

    return {"fontfeatures": ("-liga",)} if hasattr(Text, "set_fontfeatures") else {}


def _lines(fig: Figure, x: float, y: float, lines: list[str], size: float, **kw: Any) -> None:
    """One text item per line: matplotlib drops font features on multi-line text."""
    step = size * 1.45 / 72.0 / fig.get_figheight()
    for i, line in enumerate(lines):
        if line:
            fig.text(x, y - i * step, line, fontsize=size, va="top", **kw, **_plain())


def box_on_display(
    box: tuple[float, float, float, float],
    rows: int,
    columns: int,
    shape: tuple[int, ...],
    flipped: bool = False,
) -> tuple[float, float, float, float]:
    """A stored-pixel box (x0, y0, x1, y1) in the coordinates of the displayed array.

    ``shape`` is the displayed array's (rows, columns), which may be resampled from the stored
    ``rows`` x ``columns``; ``flipped`` means the image was mirrored left-right for display.
    Coordinates are pixel-edge based: (0, 0) is the top-left corner of the top-left pixel.
    """
    sx, sy = shape[1] / columns, shape[0] / rows
    x0, y0, x1, y1 = box
    if flipped:
        x0, x1 = columns - x1, columns - x0
    return x0 * sx, y0 * sy, x1 * sx, y1 * sy


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _summary_lines(result: ExamResult) -> list[str]:
    if result.exam_score is None:
        lines = [f"Exam score: not available ({result.reason or 'not assessed'})"]
    else:
        lines = [f"Exam score: {result.exam_score:.1f} / 100      Category: {result.category} / 10"]
    for side, name in SIDES.items():
        breast = result.breast(side)
        if breast is None:
            lines.append(f"{name} breast: not analysed")
            continue
        text = f"{name} breast: probability of malignancy {_percent(breast.probability)}"
        text += f", density {breast.density or 'n/a'}"
        lines.append(text + (f" ({breast.reason})" if breast.reason else ""))
    lines.append(f"Breast density (denser breast): {result.density or 'n/a'}")
    lines += [f"Not analysed: {v.view} - {v.reason}" for v in result.views if not v.applicable]
    return lines


def _header(fig: Figure, result: ExamResult, notice: str, patient: PatientContext | None) -> None:
    fig.text(0.06, 0.955, "MammoDesk AI result", fontsize=20, weight="bold", va="top", **_plain())
    fig.text(
        0.06,
        0.915,
        notice,
        fontsize=13,
        weight="bold",
        color="white",
        va="top",
        bbox={"facecolor": NOTICE_COLOUR, "edgecolor": NOTICE_COLOUR, "pad": 5},
        **_plain(),
    )
    details = [
        *(patient.lines() if patient is not None else ["Patient: not given"]),
        "",
        f"Model: {result.model_name} {result.model_version}",
        f"Device: {result.device} ({result.backend})",
        f"Analysed: {result.created_at}",
        "",
        *_summary_lines(result),
    ]
    _lines(fig, 0.06, 0.875, details, 9)


def _draw_view(
    ax: Axes,
    label: str,
    view: ViewResult | None,
    image: np.ndarray | None,
    flipped: bool,
    heatmap_alpha: float,
) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("black")
    title = label
    if view is not None and view.score is not None:
        title += f"  -  view score {view.score:.2f}"
    ax.set_title(title, fontsize=9, **_plain())
    if view is not None and not view.applicable:
        ax.text(
            0.02,
            0.98,
            f"not analysed: {view.reason}",
            color="white",
            fontsize=8,
            va="top",
            transform=ax.transAxes,
            zorder=5,
            **_plain(),
        )
    if image is None:
        ax.text(
            0.5,
            0.5,
            "no image",
            color="white",
            ha="center",
            va="center",
            transform=ax.transAxes,
            **_plain(),
        )
        return
    h, w = image.shape
    ax.imshow(
        image, cmap="gray", vmin=0, vmax=255, extent=(0, w, h, 0), interpolation="antialiased"
    )
    if view is None:
        return
    sx, sy = w / view.columns, h / view.rows
    if heatmap_alpha > 0 and view.heatmap is not None:
        heat = np.asarray(view.heatmap, dtype=np.float32)
        span_x, span_y = heat.shape[1] * view.heatmap_stride, heat.shape[0] * view.heatmap_stride
        left = view.columns - span_x if flipped else 0.0
        ax.imshow(
            heat[:, ::-1] if flipped else heat,
            cmap="inferno",
            vmin=0.0,
            vmax=1.0,
            alpha=float(min(heatmap_alpha, 1.0)),
            interpolation="bilinear",
            extent=(left * sx, (left + span_x) * sx, span_y * sy, 0),
        )
    from matplotlib.patches import Rectangle

    for mark in view.marks:
        x0, y0, x1, y1 = box_on_display(mark.box, view.rows, view.columns, image.shape, flipped)
        ax.add_patch(
            Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=MARK_COLOUR, linewidth=1.2)
        )
        ax.text(
            x0,
            y0,
            f"{mark.score:.2f}",
            color="black",
            fontsize=7,
            va="bottom",
            bbox={"facecolor": MARK_COLOUR, "edgecolor": "none", "pad": 1},
            **_plain(),
        )
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)


def _check_image(label: str, image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise MammoDeskError(f"the {label} image for the report must be 2-D, not {image.shape}")
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return image


def _overview(
    result: ExamResult,
    images: dict[str, np.ndarray],
    flips: dict[str, bool],
    heatmap_alpha: float,
    notice: str,
    patient: PatientContext | None = None,
) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4)
    _header(fig, result, notice, patient)
    views = {v.view: v for v in result.views}
    for label, (row, col) in HANGING.items():
        ax = fig.add_axes((0.06 + col * 0.45, 0.355 - row * 0.325, 0.43, 0.285))
        image = images.get(label)
        image = None if image is None else _check_image(label, image)
        _draw_view(ax, label, views.get(label), image, bool(flips.get(label)), heatmap_alpha)
    return fig


def _marks_page(result: ExamResult) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4)
    fig.text(0.06, 0.955, "Marks", fontsize=16, weight="bold", va="top", **_plain())
    lines = [
        f"{v.view:<5} centre ({m.x:.1f}, {m.y:.1f})  box ({m.box[0]:.0f}, {m.box[1]:.0f})"
        f"-({m.box[2]:.0f}, {m.box[3]:.0f})  score {m.score:.2f}"
        for v in result.views
        for m in v.marks
    ]
    lines = lines or ["The model marked no location."]
    lines += [
        "",
        "Coordinates are stored-image pixels (column, row) from the top-left corner,",
        "before any display flip.",
    ]
    if len(lines) > 70:
        lines = [*lines[:69], f"... and {len(lines) - 69} more lines"]
    _lines(fig, 0.06, 0.91, lines, 9, family="monospace")
    return fig


def write_report_pdf(
    result: ExamResult,
    images: dict[str, np.ndarray],
    out_path: Path,
    flips: dict[str, bool] | None = None,
    heatmap_alpha: float = 0.0,
    patient: PatientContext | None = None,
) -> None:
    """Write the result as a PDF to ``out_path`` atomically (no partial file on error).

    ``images`` maps a view label ("RCC", "LCC", "RMLO", "LMLO") to a display-ready 2-D uint8
    array (windowed, MONOCHROME2, oriented for display); ``flips[label]`` is True when that
    image was mirrored left-right for display, so the stored-pixel marks are mirrored too.
    ``heatmap_alpha`` > 0 overlays each view's heatmap with that opacity.  ``patient``
    identifies whose study it is (PatientContext.from_dataset of one of its images).
    """
    from matplotlib.backends.backend_pdf import PdfPages

    notice = result.notice or NOT_FOR_CLINICAL_USE
    pages = [_overview(result, images, flips or {}, heatmap_alpha, notice, patient),
             _marks_page(result)]
    who = f"Patient ID {patient.patient_id or '(none)'}    " if patient is not None else ""
    for number, fig in enumerate(pages, start=1):
        fig.text(
            0.5,
            0.015,
            f"{who}{notice}    Page {number} of {len(pages)}",
            ha="center",
            fontsize=8,
            color=NOTICE_COLOUR,
            **_plain(),
        )
    meta = {"Title": "MammoDesk AI result", "Subject": notice, "Creator": "MammoDesk"}
    with atomic_output(out_path, "report") as fh, PdfPages(fh, metadata=meta) as pdf:
        for fig in pages:
            pdf.savefig(fig)
