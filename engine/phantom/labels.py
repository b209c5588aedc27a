"""labels.csv: one row per breast per study (current and prior).

Columns (COLUMNS below holds the order):
  study_id, study_instance_uid, patient_id, is_prior (0/1), laterality (R/L),
  cancer (0/1), lesion_type (none, mass_circumscribed, mass_spiculated,
  calcifications, benign_mass, benign_calcifications), lesion_size_mm (mass
  diameter or calcification-cluster extent), lesion_contrast (peak added
  fibroglandular fraction, 0..1 of the full glandular signal),
  lesion_nipple_depth_mm (depth behind the nipple, the same in both views),
  density (ACR a-d), texture_beta, bits_stored, pixel_spacing_mm, photometric;
  then per view, prefixed cc_ and mlo_:
  file (relative to the output folder), sop_instance_uid,
  bbox_x0, bbox_y0, bbox_x1, bbox_y1 (stored-pixel columns/rows as written,
  x1/y1 exclusive; empty when the breast has no lesion), cnr (see
  measure.py; measured on the written pixels in MONOCHROME2 sense, so it is
  the same for MONOCHROME1 files), nipple_x, nipple_y (nipple tip).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from engine.atomic import write_atomically

VIEW_FIELDS = (
    "file",
    "sop_instance_uid",
    "bbox_x0",
    "bbox_y0",
    "bbox_x1",
    "bbox_y1",
    "cnr",
    "nipple_x",
    "nipple_y",
)

COLUMNS: tuple[str, ...] = (
    "study_id",
    "study_instance_uid",
    "patient_id",
    "is_prior",
    "laterality",
    "cancer",
    "lesion_type",
    "lesion_size_mm",
    "lesion_contrast",
    "lesion_nipple_depth_mm",
    "density",
    "texture_beta",
    "bits_stored",
    "pixel_spacing_mm",
    "photometric",
    *(f"cc_{f}" for f in VIEW_FIELDS),
    *(f"mlo_{f}" for f in VIEW_FIELDS),
)


def write_labels(path: Path, rows: list[dict[str, object]]) -> None:
    """Write rows (dicts keyed by COLUMNS; missing keys -> empty) atomically."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(COLUMNS), restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    write_atomically(path, text.getvalue())
