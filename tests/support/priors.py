"""A second prior for a cohort woman: a copy of her prior, a year earlier,
with its own UIDs (the phantom cohort gives at most one prior)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid


def older_copy(prior_files: Sequence[Path], out: Path, years: int = 1) -> list[Path]:
    """Write the prior's images again as a study `years` earlier; the new files."""
    out.mkdir(parents=True, exist_ok=True)
    study_uid, series = generate_uid(), {}
    written = []
    for i, path in enumerate(sorted(prior_files)):
        ds = pydicom.dcmread(path)
        date = str(ds.StudyDate)
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = f"{int(date[:4]) - years}{date[4:]}"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series.setdefault(ds.SeriesInstanceUID, generate_uid())
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.AccessionNumber = f"OLD{i:03d}"
        target = out / f"older-{i}.dcm"
        ds.save_as(target, enforce_file_format=True)
        written.append(target)
    return written
