"""Records from CBIS-DDSM (the TCIA curated DDSM subset) in its published layout.

The root folder holds any of the four case description CSVs
(mass/calc x train/test; the mass files spell the density column
"breast_density", the calc files "breast density").  Each CSV row is one
abnormality; the abnormalities of one image (same patient_id, breast and
view, from the mass and the calc files alike) merge into one record with one
box per abnormality, cancer=1 when any is MALIGNANT (BENIGN and
BENIGN_WITHOUT_CALLBACK are benign).  A DDSM case is one exam, so exam_id is
the case's patient_id.  An image listed in a test CSV is split "test", even
when another abnormality of it is in a train CSV.  CBIS has only CC and MLO
views; rows with any other view are skipped and counted.

Finding the files.  The CSV paths look like
``Mass-Training_P_00001_LEFT_CC/<uid>/<uid>/000000.dcm`` but the TCIA
download renames the inner folders and files.  A path is looked up under
``root/CBIS-DDSM/`` and then ``root/``: the exact CSV path when that file
exists, otherwise the ``.dcm`` files under the folder named by its first
component.  For the full mammogram that folder must hold exactly one file
(none: "missing file"; several: skipped, "several images in one folder").

Boxes.  The ROI mask folder holds the mask and the cropped lesion image, in
no fixed order, and the CSV's mask path sometimes names the cropped image.
The mask is the candidate (the exact mask path first, then the files under
the mask's and the cropped image's folders) whose rows and columns equal the
full image's; its box is the bounding box of its nonzero pixels.  A box that
cannot be found is left out and counted; the record is kept.  Reading masks
is slow: ``boxes=False`` skips it (records then have no boxes).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path, PurePosixPath

import numpy as np
import pydicom

from engine.ai.datasets.records import Box, ImageRecord, density_letter, read_table
from engine.dicom.pixels import decode_pixels
from engine.dicom.reader import read_dataset
from engine.errors import MammoDeskError

CSV_FILES: dict[str, str] = {
    "mass_case_description_train_set.csv": "train",
    "mass_case_description_test_set.csv": "test",
    "calc_case_description_train_set.csv": "train",
    "calc_case_description_test_set.csv": "test",
}
REQUIRED_COLUMNS = (
    "patient_id",
    ("breast_density", "breast density"),
    "left or right breast",
    "image view",
    "abnormality type",
    "pathology",
    "image file path",
    "ROI mask file path",
)
_SIDES = {"LEFT": "L", "RIGHT": "R"}
_NO_BOX = "ROI mask not found (box left out)"


def _relative(text: str) -> PurePosixPath | None:
    """The CSV path as a safe relative path (no '..', not absolute), or None."""
    rel = PurePosixPath(text.strip().replace("\\", "/"))
    if not rel.parts or rel.is_absolute() or ".." in rel.parts:
        return None
    return rel


class _Files:
    """Finds CBIS files under root/CBIS-DDSM or root, with cached folder listings."""

    def __init__(self, root: Path) -> None:
        self.bases = [b for b in (root / "CBIS-DDSM", root) if b.is_dir()]
        self._listings: dict[str, list[Path]] = {}
        self._sizes: dict[Path, tuple[int, int] | None] = {}

    def exact(self, text: str) -> Path | None:
        rel = _relative(text)
        if rel is None:
            return None
        return next((b / rel for b in self.bases if (b / rel).is_file()), None)

    def under(self, text: str) -> list[Path]:
        rel = _relative(text)
        if rel is None:
            return []
        first = rel.parts[0]
        if first not in self._listings:
            found: list[Path] = []
            for base in self.bases:
                folder = base / first
                if folder.is_dir():
                    found += sorted(p for p in folder.rglob("*.dcm") if p.is_file())
            self._listings[first] = found
        return self._listings[first]

    def size(self, path: Path) -> tuple[int, int] | None:
        """(rows, columns) from the header, or None when unreadable."""
        if path not in self._sizes:
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
                self._sizes[path] = (int(ds.Rows), int(ds.Columns))
            except Exception:  # any damaged or non-DICOM file: no usable size
                self._sizes[path] = None
        return self._sizes[path]


def _find_image(files: _Files, rows: list[dict[str, str]]) -> Path | str:
    """The full mammogram's file, or the reason it cannot be used."""
    reason = "missing file"
    for row in rows:
        exact = files.exact(row["image file path"])
        if exact is not None:
            return exact
        found = files.under(row["image file path"])
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            reason = "several images in one folder"
    return reason


def _nonzero_box(path: Path, malignant: bool) -> Box | None:
    try:
        pixels = decode_pixels(read_dataset(path))
    except MammoDeskError:
        return None
    mask = np.any(pixels.reshape(pixels.shape[0], pixels.shape[1], -1), axis=2)
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return Box(float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1), malignant)


def _mask_box(files: _Files, row: dict[str, str], size: tuple[int, int]) -> Box | None:
    candidates: list[Path] = []
    exact = files.exact(row["ROI mask file path"])
    if exact is not None:
        candidates.append(exact)
    for column in ("ROI mask file path", "cropped image file path"):
        if row.get(column):
            candidates += files.under(row[column])
    malignant = row["pathology"].upper() == "MALIGNANT"
    for path in dict.fromkeys(candidates):
        if files.size(path) == size:
            return _nonzero_box(path, malignant)
    return None


def _boxes(
    files: _Files, image: Path, rows: list[dict[str, str]], skipped: Counter[str]
) -> tuple[Box, ...]:
    size = files.size(image)
    if size is None:
        skipped["unreadable image header (boxes left out)"] += 1
        return ()
    out = []
    for row in rows:
        box = _mask_box(files, row, size)
        if box is None:
            skipped[_NO_BOX] += 1
        else:
            out.append(box)
    return tuple(out)


def _record(
    key: tuple[str, str, str],
    rows: list[dict[str, str]],
    files: _Files,
    boxes: bool,
    skipped: Counter[str],
) -> ImageRecord | None:
    image = _find_image(files, rows)
    if isinstance(image, str):
        skipped[image] += 1
        return None
    patient, side, view = key
    densities = (
        density_letter(r.get("breast_density") or r.get("breast density") or "") for r in rows
    )
    types = sorted({r["abnormality type"].lower() for r in rows if r["abnormality type"]})
    return ImageRecord(
        path=image,
        exam_id=patient,
        patient_id=patient,
        laterality=side,
        view=view,
        cancer=int(any(r["pathology"].upper() == "MALIGNANT" for r in rows)),
        boxes=_boxes(files, image, rows, skipped) if boxes else (),
        density=next((d for d in densities if d is not None), None),
        lesion_type="+".join(types) or None,
        source="cbis-ddsm",
        split="test" if any(r["_split"] == "test" for r in rows) else "train",
    )


def read_cbis_ddsm(
    root: Path, boxes: bool = True, *, skipped: Counter[str] | None = None
) -> list[ImageRecord]:
    """One record per full mammogram listed in the case description CSVs under ``root``.

    ``boxes=False`` leaves the ROI masks unread.  ``skipped``, when given,
    receives counts of what was left out and why.
    """
    root = Path(root)
    skipped = Counter() if skipped is None else skipped
    present = [name for name in CSV_FILES if (root / name).is_file()]
    if not present:
        raise MammoDeskError(
            f"{root.name or root} holds none of the CBIS-DDSM case description CSVs"
        )
    images: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    bad: set[tuple[str, str, str, str]] = set()
    for name in present:
        for row in read_table(root / name, REQUIRED_COLUMNS):
            side = _SIDES.get(row["left or right breast"].upper())
            view = row["image view"].upper()
            if side is None or view not in ("CC", "MLO"):
                reason = "unknown laterality" if side is None else f"view {view or 'missing'}"
                bad.add((reason, row["patient_id"], row["left or right breast"], view))
                continue
            row["_split"] = CSV_FILES[name]
            images.setdefault((row["patient_id"], side, view), []).append(row)
    for reason, *_ in bad:
        skipped[reason] += 1
    files = _Files(root)
    records = []
    for key, rows in images.items():
        record = _record(key, rows, files, boxes, skipped)
        if record is not None:
            records.append(record)
    return records
