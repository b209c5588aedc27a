"""Records from VinDr-Mammo in its published layout.

``root/breast-level_annotations.csv`` lists one row per image (study_id,
series_id, image_id, laterality, view_position, height, width,
breast_birads, breast_density, split); ``root/finding_annotations.csv`` adds
the findings (finding_categories, finding_birads, xmin, ymin, xmax, ymax);
images are ``root/images/<study_id>/<image_id>.dicom``.

VinDr-Mammo has no pathology.  The positive label here is the radiologists'
breast-level assessment: BI-RADS 4 or 5 -> cancer=1, BI-RADS 1-3 -> 0.  So
"cancer" means "suspicious enough to biopsy", not proven malignancy.  A
finding box is malignant=True when its own BI-RADS is 4 or 5.  Findings
without coordinates ("No Finding") give no box.  VinDr publishes no patient
key, so each study counts as its own patient (patient_id = study_id).  The
dataset split "training" becomes "train".  Views other than CC and MLO are
skipped and counted; so are images whose file is missing.
"""

from __future__ import annotations

import ast
import math
from collections import Counter
from pathlib import Path

from engine.ai.datasets.records import Box, ImageRecord, density_letter, read_table

BREAST_CSV = "breast-level_annotations.csv"
FINDING_CSV = "finding_annotations.csv"
BREAST_COLUMNS = (
    "study_id",
    "image_id",
    "laterality",
    "view_position",
    "breast_birads",
    "breast_density",
    "split",
)
FINDING_COLUMNS = (
    "study_id",
    "image_id",
    "finding_categories",
    "finding_birads",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
)
_SPLITS = {"training": "train", "train": "train", "test": "test"}


def birads(text: str) -> int | None:
    """5 from "BI-RADS 5" (or "5"); None when absent or unreadable."""
    digits = text.upper().replace("BI-RADS", "").strip()
    return int(digits) if digits.isdigit() else None


def _categories(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text.strip("[]").replace("'", "").split(",")
    items = value if isinstance(value, (list, tuple)) else [value]
    return [str(c).strip() for c in items if str(c).strip() and str(c).strip() != "No Finding"]


def _finding_box(row: dict[str, str]) -> Box | None:
    try:
        x0, y0, x1, y1 = (float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
    except ValueError:  # empty for "No Finding"
        return None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x1 <= x0 or y1 <= y0:
        return None
    return Box(x0, y0, x1, y1, (birads(row["finding_birads"]) or 0) >= 4)


def _findings(root: Path) -> dict[tuple[str, str], list[dict[str, str]]]:
    path = root / FINDING_CSV
    out: dict[tuple[str, str], list[dict[str, str]]] = {}
    if path.is_file():
        for row in read_table(path, FINDING_COLUMNS):
            out.setdefault((row["study_id"], row["image_id"]), []).append(row)
    return out


def read_vindr_mammo(root: Path, *, skipped: Counter[str] | None = None) -> list[ImageRecord]:
    """One record per image of breast-level_annotations.csv under ``root``.

    ``skipped``, when given, receives counts of what was left out and why.
    """
    root = Path(root)
    skipped = Counter() if skipped is None else skipped
    findings = _findings(root)
    records = []
    for row in read_table(root / BREAST_CSV, BREAST_COLUMNS):
        side = row["laterality"].upper()
        view = row["view_position"].upper()
        if side not in ("R", "L"):
            skipped["unknown laterality"] += 1
            continue
        if view not in ("CC", "MLO"):
            skipped[f"view {view or 'missing'}"] += 1
            continue
        path = root / "images" / row["study_id"] / f"{row['image_id']}.dicom"
        if not row["study_id"] or not row["image_id"] or not path.is_file():
            skipped["missing file"] += 1
            continue
        found = findings.get((row["study_id"], row["image_id"]), [])
        boxes = tuple(b for b in map(_finding_box, found) if b is not None)
        types = sorted({c for f in found for c in _categories(f["finding_categories"])})
        records.append(
            ImageRecord(
                path=path,
                exam_id=row["study_id"],
                patient_id=row["study_id"],
                laterality=side,
                view=view,
                cancer=int((birads(row["breast_birads"]) or 0) >= 4),
                boxes=boxes,
                density=density_letter(row["breast_density"]),
                lesion_type="+".join(types) or None,
                source="vindr-mammo",
                split=_SPLITS.get(row["split"].lower()),
            )
        )
    return records
