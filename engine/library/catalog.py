"""What the library holds, study by study: existence, UIDs and stored files.

Every question other layers ask about stored studies and files is answered
here (or in listing.py, worklist.py, reads.py, ai_results.py, outbox.py),
as typed records: no code outside engine/library speaks SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydicom.uid import DigitalMammographyXRayImageStorageForPresentation

from engine.library.store import Library


@dataclass(frozen=True)
class StoredFile:
    """One stored DICOM file of the library."""

    sop_uid: str
    study_uid: str
    path: Path
    sha256: str
    size_bytes: int
    sop_class_uid: str
    transfer_syntax_uid: str
    has_pixel_data: bool


_COLUMNS = ("sop_uid, study_uid, rel_path, sha256, file_size, sop_class_uid, "
            "transfer_syntax_uid, has_pixel_data")


def _stored(library: Library, row: tuple) -> StoredFile:
    sop, study, rel, digest, size, sop_class, ts, pixels = row
    return StoredFile(sop, study, library.file_path(rel), digest, int(size or 0), sop_class,
                      ts or "", bool(pixels))


def study_exists(library: Library, study_uid: str) -> bool:
    row = library.conn.execute("SELECT 1 FROM studies WHERE study_uid = ?", (study_uid,))
    return row.fetchone() is not None


def study_uids(library: Library) -> list[str]:
    """Every study, oldest import first."""
    return [u for (u,) in library.conn.execute(
        "SELECT study_uid FROM studies ORDER BY first_imported_at, study_uid")]


def study_files(library: Library, study_uid: str, *, images_only: bool = False
                ) -> list[StoredFile]:
    """The study's stored files, in the order they were imported."""
    where = " AND has_pixel_data" if images_only else ""
    rows = library.conn.execute(
        f"SELECT {_COLUMNS} FROM instances WHERE study_uid = ?{where} ORDER BY rowid",
        (study_uid,))
    return [_stored(library, r) for r in rows]


def stored_file(library: Library, sop_uid: str) -> StoredFile | None:
    row = library.conn.execute(f"SELECT {_COLUMNS} FROM instances WHERE sop_uid = ?",
                               (sop_uid,)).fetchone()
    return None if row is None else _stored(library, row)


def mammogram_count(library: Library, study_uid: str) -> int:
    """How many For Presentation digital mammograms the study holds."""
    row = library.conn.execute(
        "SELECT COUNT(*) FROM instances WHERE study_uid = ? AND sop_class_uid = ?",
        (study_uid, DigitalMammographyXRayImageStorageForPresentation)).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class IndexedImage:
    """A stored image with the facts import indexed for hanging it."""

    file: StoredFile
    laterality: str | None
    view: str | None
    modifiers: tuple[str, ...]
    label: str
    rows: int
    columns: int
    # None when the row predates these columns (the header must be read).
    patient_orientation: tuple[str, str] | None
    acquisition_order: tuple[str, str, int] | None


def earlier_studies(library: Library, study_uid: str, limit: int = 2) -> list[str]:
    """The same patient's studies before this one, most recent first (none
    when the study has no patient ID or date to compare by)."""
    row = library.conn.execute(
        "SELECT patient_id, study_date FROM studies WHERE study_uid = ?", (study_uid,)
    ).fetchone()
    if row is None or not row[0] or not row[1]:
        return []
    rows = library.conn.execute(
        "SELECT study_uid FROM studies WHERE patient_id = ? AND study_date < ? "
        "ORDER BY study_date DESC, study_time DESC LIMIT ?", (row[0], row[1], limit))
    return [r[0] for r in rows]


def study_images(library: Library, study_uid: str) -> list[IndexedImage]:
    """The study's images (files with pixel data), in the order they were imported."""
    rows = library.conn.execute(
        f"SELECT {_COLUMNS}, laterality, view, view_modifiers, view_label, rows, columns, "
        "patient_orientation, acquisition_order FROM instances "
        "WHERE study_uid = ? AND has_pixel_data ORDER BY rowid", (study_uid,))
    out = []
    for row in rows:
        lat, view, mods, label, n_rows, n_cols, orientation, order = row[8:]
        indexed = order is not None
        out.append(IndexedImage(
            _stored(library, row[:8]), lat, view, tuple(json.loads(mods or "[]")), label or "",
            int(n_rows or 0), int(n_cols or 0),
            tuple(json.loads(orientation)) if orientation else None,
            tuple(json.loads(order)) if indexed else None))
    return out
