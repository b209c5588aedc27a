"""Records from the RSNA Screening Mammography Breast Cancer Detection (2023) set.

Published layout: ``root/train.csv`` (site_id, patient_id, image_id,
laterality, view, age, cancer, biopsy, invasive, BIRADS, implant, density,
machine_id, difficult_negative_case) and the images at
``root/train_images/<patient_id>/<image_id>.dcm``.

Each patient has one exam in this set, so exam_id = patient_id.  There are
no boxes.  Only CC and MLO images are kept; the other views (AT, ML, LM,
LMO, ...) are skipped and counted by view, not mapped, because their
geometry differs from the two screening views the model reads.  Images of
breasts with implants (implant=1) are skipped and counted: MammoDesk's
preprocessing refuses implant images.  The labelled images are all the
dataset's training set (its test labels are not published), so records
carry no split; use split_by_patient.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from engine.ai.datasets.records import ImageRecord, density_letter, read_table

TRAIN_CSV = "train.csv"
IMAGES = "train_images"
REQUIRED_COLUMNS = ("patient_id", "image_id", "laterality", "view", "cancer", "implant", "density")


def _flag(text: str) -> int | None:
    """0 or 1 from "0", "1", "1.0"; None otherwise."""
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value in (0.0, 1.0) else None


def read_rsna_2023(root: Path, *, skipped: Counter[str] | None = None) -> list[ImageRecord]:
    """One record per CC/MLO image of train.csv under ``root``, implants excluded.

    ``skipped``, when given, receives counts of what was left out and why.
    """
    root = Path(root)
    skipped = Counter() if skipped is None else skipped
    records = []
    for row in read_table(root / TRAIN_CSV, REQUIRED_COLUMNS):
        side = row["laterality"].upper()
        view = row["view"].upper()
        if side not in ("R", "L"):
            skipped["unknown laterality"] += 1
            continue
        if view not in ("CC", "MLO"):
            skipped[f"view {view or 'missing'}"] += 1
            continue
        if _flag(row["implant"]) == 1:
            skipped["implant"] += 1
            continue
        cancer = _flag(row["cancer"])
        if cancer is None:
            skipped["unreadable row"] += 1
            continue
        patient = row["patient_id"]
        path = root / IMAGES / patient / f"{row['image_id']}.dcm"
        if not patient or not row["image_id"] or not path.is_file():
            skipped["missing file"] += 1
            continue
        records.append(
            ImageRecord(
                path=path,
                exam_id=patient,
                patient_id=patient,
                laterality=side,
                view=view,
                cancer=cancer,
                density=density_letter(row["density"]),
                source="rsna-2023",
            )
        )
    return records
