"""Records from the synthetic phantom cohort's labels.csv (engine.phantom.labels).

labels.csv has one row per breast per exam; each row gives two records, CC
and MLO.  exam_id is the study_id, marked "-prior" for prior exams (the
generator's own study_id already ends so, and is kept as it is); patient_id
groups a woman's current and prior exams.  A lesion's box is on both views;
benign lesions have boxes too, with malignant False.  A row whose image file
is missing, or whose values cannot be read, is skipped and counted.

The images are the files named in the CSV (relative to its folder) or, with a
``locate`` function, the files it returns for the rows' SOP Instance UIDs
(training from studies imported into the library).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from engine.ai.datasets.records import Box, ImageRecord, density_letter, read_table

REQUIRED_COLUMNS = (
    "study_id",
    "patient_id",
    "is_prior",
    "laterality",
    "cancer",
    "lesion_type",
    "lesion_size_mm",
    "density",
    *(
        f"{v}_{f}"
        for v in ("cc", "mlo")
        for f in ("file", "bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1", "cnr")
    ),
)


def _float(text: str) -> float | None:
    return float(text) if text else None


def _box(row: dict[str, str], key: str, malignant: bool) -> tuple[Box, ...]:
    values = [row[f"{key}_bbox_{n}"] for n in ("x0", "y0", "x1", "y1")]
    if not all(values):
        return ()
    x0, y0, x1, y1 = (float(v) for v in values)
    return (Box(x0, y0, x1, y1, malignant),)


def _exam_id(study_id: str, is_prior: bool) -> str:
    if is_prior and not study_id.endswith("-prior"):
        return f"{study_id}-prior"
    return study_id


Locate = Callable[[str], Path | None]


def _image_path(
    row: dict[str, str], view: str, folder: Path, locate: Locate | None, skipped: Counter[str]
) -> Path | None:
    if locate is not None:
        path = locate(row.get(f"{view}_sop_instance_uid", "").strip())
        if path is None:
            skipped["not in the library"] += 1
        return path
    name = row[f"{view}_file"]
    if not name or not (folder / name).is_file():
        skipped["missing file"] += 1
        return None
    return folder / name


def _row_records(
    row: dict[str, str], folder: Path, skipped: Counter[str], locate: Locate | None = None
) -> list[ImageRecord]:
    laterality = row["laterality"].upper()
    if laterality not in ("R", "L"):
        skipped["unknown laterality"] += 2
        return []
    try:
        cancer = int(row["cancer"]) == 1
        size_mm = _float(row["lesion_size_mm"])
        per_view = {
            v: (_box(row, v.lower(), cancer), _float(row[f"{v.lower()}_cnr"]))
            for v in ("CC", "MLO")
        }
    except ValueError:
        skipped["unreadable row"] += 2
        return []
    lesion = row["lesion_type"] if row["lesion_type"] not in ("", "none") else None
    out = []
    for view, (boxes, cnr) in per_view.items():
        path = _image_path(row, view.lower(), folder, locate, skipped)
        if path is None:
            continue
        out.append(
            ImageRecord(
                path=path,
                exam_id=_exam_id(row["study_id"], row["is_prior"] == "1"),
                patient_id=row["patient_id"],
                laterality=laterality,
                view=view,
                cancer=int(cancer),
                boxes=boxes,
                density=density_letter(row["density"]),
                lesion_type=lesion,
                lesion_size_mm=size_mm,
                cnr=cnr,
                source="phantom",
            )
        )
    return out


def read_phantom_labels(
    csv_path: Path, *, skipped: Counter[str] | None = None, locate: Locate | None = None
) -> list[ImageRecord]:
    """Two records (CC, MLO) per breast row of a phantom labels.csv.

    File paths in the CSV are relative to the CSV's folder; with ``locate``
    the images are found by SOP Instance UID instead.  ``skipped``, when
    given, receives counts of what was left out and why.
    """
    csv_path = Path(csv_path)
    skipped = Counter() if skipped is None else skipped
    required = REQUIRED_COLUMNS
    if locate is not None:
        required += ("cc_sop_instance_uid", "mlo_sop_instance_uid")
    records: list[ImageRecord] = []
    for row in read_table(csv_path, required):
        records += _row_records(row, csv_path.parent, skipped, locate)
    return records
