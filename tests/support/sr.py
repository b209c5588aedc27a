"""An AI result for a set of image headers, and the outside tools that check an SR."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pydicom

from engine.ai.results import BreastResult, ExamResult, Mark, ViewResult

ROWS, COLS = 64, 48  # the size make_result gives every view


def make_result(
    sources: list[pydicom.Dataset],
    marks: dict[str, list[Mark]] | None = None,
    reasons: dict[str, str] | None = None,
) -> ExamResult:
    marks, reasons = marks or {}, reasons or {}
    views = []
    for ds in sources:
        label = f"{ds.ImageLaterality}{ds.ViewPosition}"
        views.append(
            ViewResult(
                label,
                ds.ImageLaterality,
                ds.ViewPosition,
                ds.SOPInstanceUID,
                ds.SOPClassUID,
                ds.SeriesInstanceUID,
                ROWS,
                COLS,
                score=None if label in reasons else 0.4,
                marks=list(marks.get(label, [])),
                reason=reasons.get(label),
            )
        )
    return ExamResult(
        study_instance_uid=sources[0].StudyInstanceUID,
        model_name="mammodesk-effb0",
        model_version="1.2.0",
        backend="onnxruntime",
        device="CPU",
        created_at="2024-05-01T10:00:00+02:00",
        exam_score=73.2,
        category=8,
        density="c",
        breasts=[BreastResult("R", 0.12, "b"), BreastResult("L", 0.81, "c")],
        views=views,
    )


def dciodvfy_errors(path: Path) -> list[str]:
    done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (done.stdout + done.stderr).splitlines() if "Error" in line]


def dsrdump(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["dsrdump", "+Pl", str(path)], capture_output=True, text=True, timeout=60)


def items(node: pydicom.Dataset):
    """Every content item below ``node`` (depth first)."""
    for item in getattr(node, "ContentSequence", []):
        yield item
        yield from items(item)
