"""The common per-image record every training-data adapter produces.

One ImageRecord is one DICOM image (one view of one breast) with its labels.
Boxes are in stored-pixel coordinates of that file as written (column x, row
y, before any display flip), x1/y1 exclusive, the same convention as
engine.ai.results.

Patient keys are only unique within one dataset, so grouping (splitting,
counting) always uses (source, patient_id) and (source, exam_id).
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import MammoDeskError

SOURCES = ("phantom", "cbis-ddsm", "vindr-mammo", "rsna-2023")


@dataclass(frozen=True)
class Box:
    """A lesion box; stored-pixel coordinates of the file as written, x1/y1 exclusive."""

    x0: float
    y0: float
    x1: float
    y1: float
    malignant: bool


@dataclass(frozen=True)
class ImageRecord:
    path: Path  # DICOM file
    exam_id: str  # groups the images of one exam
    patient_id: str  # groups the exams of one woman (anonymous ID for public sets)
    laterality: str  # "R" | "L"
    view: str  # "CC" | "MLO"; adapters skip (and count) other views, never remap them
    cancer: int  # 1 malignant breast, 0 otherwise
    boxes: tuple[Box, ...] = ()  # lesion boxes when the dataset has them
    density: str | None = None  # ACR "a".."d"
    lesion_type: str | None = None
    lesion_size_mm: float | None = None
    cnr: float | None = None
    source: str = ""  # "phantom" | "cbis-ddsm" | "vindr-mammo" | "rsna-2023"
    split: str | None = None  # "train" / "test" when the dataset defines one


def density_letter(value: str) -> str | None:
    """ACR density from "a".."d", "A".."D", "1".."4" or "DENSITY C"; None otherwise."""
    text = value.strip().upper().removeprefix("DENSITY").strip()
    if text in ("1", "2", "3", "4"):
        return "abcd"[int(text) - 1]
    return text.lower() if text in ("A", "B", "C", "D") else None


def read_table(path: Path, required: Iterable[str | tuple[str, ...]]) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts of stripped strings.

    ``required`` names the columns that must be present; a tuple entry means
    "one of these" (datasets that spell a column two ways).  A missing column
    raises MammoDeskError naming the column and the file.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            for need in required:
                names = (need,) if isinstance(need, str) else need
                if not any(n in header for n in names):
                    raise MammoDeskError(f"{path.name} lacks the required column '{names[0]}'")
            reader.fieldnames = header
            return [
                {k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader
            ]
    except OSError as exc:
        raise MammoDeskError(f"cannot read {path.name}: {exc.strerror or 'I/O error'}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise MammoDeskError(f"{path.name} is not a readable CSV file") from exc


def _patient_key(record: ImageRecord) -> tuple[str, str]:
    return (record.source, record.patient_id)


def _take(count: int, fraction: float) -> int:
    """How many of ``count`` groups go to validation: both sides non-empty when possible."""
    n = round(count * fraction)
    if count >= 2 and fraction > 0:
        n = min(max(n, 1), count - 1)
    return n


def split_by_patient(
    records: Sequence[ImageRecord], val_fraction: float, seed: int
) -> tuple[list[ImageRecord], list[ImageRecord]]:
    """Split into (train, validation) by patient, stratified on cancer.

    Every image of a patient goes to the same side.  Patients with any
    positive image and patients without are shuffled separately (the same
    seed and records give the same split), and ``val_fraction`` of each
    group goes to validation, at least one and never all when the group has
    two or more patients, so both sides get positives when that is possible.
    Records keep their input order on each side.  Any dataset-defined split
    is left to the caller (filter on ``record.split`` first).
    """
    if not 0.0 <= float(val_fraction) < 1.0:
        raise MammoDeskError(
            f"validation fraction must be at least 0 and below 1, got {val_fraction!r}"
        )
    positive: set[tuple[str, str]] = set()
    patients: set[tuple[str, str]] = set()
    for r in records:
        patients.add(_patient_key(r))
        if r.cancer:
            positive.add(_patient_key(r))
    rng = random.Random(seed)
    val: set[tuple[str, str]] = set()
    for group in (sorted(positive), sorted(patients - positive)):
        rng.shuffle(group)
        val.update(group[: _take(len(group), float(val_fraction))])
    train = [r for r in records if _patient_key(r) not in val]
    valid = [r for r in records if _patient_key(r) in val]
    return train, valid


def summarize(records: Iterable[ImageRecord]) -> dict:
    """Counts of images, exams, patients, breasts, positive breasts and images, boxes,
    and images by density, by source and by split."""
    exams: set[tuple[str, str]] = set()
    patients: set[tuple[str, str]] = set()
    breasts: set[tuple[str, str, str]] = set()
    positive: set[tuple[str, str, str]] = set()
    by_density: Counter[str] = Counter()
    by_source: Counter[str] = Counter()
    by_split: Counter[str] = Counter()
    images = boxes = positive_images = 0
    for r in records:
        images += 1
        positive_images += 1 if r.cancer else 0
        boxes += len(r.boxes)
        exams.add((r.source, r.exam_id))
        patients.add((r.source, r.patient_id))
        breast = (r.source, r.exam_id, r.laterality)
        breasts.add(breast)
        if r.cancer:
            positive.add(breast)
        by_density[r.density or "unknown"] += 1
        by_source[r.source or "unknown"] += 1
        by_split[r.split or "none"] += 1
    return {
        "images": images,
        "exams": len(exams),
        "patients": len(patients),
        "breasts": len(breasts),
        "positive_breasts": len(positive),
        "positive_images": positive_images,
        "boxes": boxes,
        "by_density": dict(sorted(by_density.items())),
        "by_source": dict(sorted(by_source.items())),
        "by_split": dict(sorted(by_split.items())),
    }
