"""Pick the adapter for a training-data path and read it.

Recognised layouts (``kind`` names in brackets):
  - a phantom labels.csv, or a folder holding one ("phantom");
  - a folder with CBIS-DDSM case description CSVs ("cbis-ddsm");
  - a folder with VinDr-Mammo's breast-level_annotations.csv ("vindr-mammo");
  - a folder with RSNA 2023's train.csv and train_images/ ("rsna-2023").
A public dataset's own CSV file may also be given in place of its folder.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from engine.ai.datasets import cbis_ddsm, rsna, vindr
from engine.ai.datasets.phantom import read_phantom_labels
from engine.ai.datasets.records import ImageRecord, summarize
from engine.errors import MammoDeskError

KINDS = ("phantom", "cbis-ddsm", "vindr-mammo", "rsna-2023")
EXPECTED = (
    "expected a phantom labels.csv, CBIS-DDSM case description CSVs, "
    "VinDr-Mammo breast-level_annotations.csv, or RSNA 2023 train.csv with train_images/"
)


def _header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return [h.strip() for h in next(csv.reader(fh), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _is_phantom_csv(path: Path) -> bool:
    header = _header(path)
    return path.is_file() and "study_id" in header and "cc_file" in header


def _folder_kind(folder: Path) -> str | None:
    if _is_phantom_csv(folder / "labels.csv"):
        return "phantom"
    if any((folder / name).is_file() for name in cbis_ddsm.CSV_FILES):
        return "cbis-ddsm"
    if (folder / vindr.BREAST_CSV).is_file():
        return "vindr-mammo"
    if (folder / rsna.TRAIN_CSV).is_file() and (folder / rsna.IMAGES).is_dir():
        return "rsna-2023"
    return None


def detect_kind(path: Path) -> tuple[str, Path]:
    """(kind, path to read) for a dataset folder or CSV file; MammoDeskError if unknown."""
    path = Path(path)
    if not path.exists():
        raise MammoDeskError(f"{path} does not exist")
    if path.is_file():
        if path.suffix.lower() == ".csv":
            if _is_phantom_csv(path):
                return "phantom", path
            if path.name in cbis_ddsm.CSV_FILES or path.name in (vindr.BREAST_CSV, rsna.TRAIN_CSV):
                kind = _folder_kind(path.parent)
                if kind is not None and kind != "phantom":
                    return kind, path.parent
        raise MammoDeskError(f"{path} is not a known dataset layout ({EXPECTED})")
    kind = _folder_kind(path)
    if kind is None:
        raise MammoDeskError(f"{path} is not a known dataset layout ({EXPECTED})")
    return kind, (path / "labels.csv" if kind == "phantom" else path)


def read_dataset(
    path: Path,
    kind: str = "auto",
    *,
    boxes: bool = True,
    locate: Callable[[str], Path | None] | None = None,
) -> tuple[list[ImageRecord], dict]:
    """Read a training-data set into records, choosing the adapter from its layout.

    ``kind`` is "auto" or one of KINDS.  ``boxes=False`` skips the slow
    CBIS-DDSM mask reading.  Returns (records, summary): the summary is
    records.summarize() plus "kind" and "skipped" (reason -> count).
    Missing image files are skipped and counted, never fatal.  ``locate``
    (SOP Instance UID -> file) takes the images from elsewhere, the library
    say; only labels CSVs that name their images' UIDs (phantom) allow it.
    """
    path = Path(path)
    if kind == "auto":
        kind, target = detect_kind(path)
    elif kind in KINDS:
        if not path.exists():
            raise MammoDeskError(f"{path} does not exist")
        target = path / "labels.csv" if kind == "phantom" and path.is_dir() else path
        if kind != "phantom" and not target.is_dir():
            raise MammoDeskError(f"a {kind} dataset is a folder, but {path.name} is a file")
    else:
        raise MammoDeskError(
            f"unknown dataset kind {kind!r}; use auto or one of: {', '.join(KINDS)}"
        )
    if locate is not None and kind != "phantom":
        raise MammoDeskError(
            f"images can be taken from the library only for a labels CSV with SOP Instance "
            f"UIDs (phantom layout); {path.name} is {kind}"
        )
    skipped: Counter[str] = Counter()
    if kind == "phantom":
        records = read_phantom_labels(target, skipped=skipped, locate=locate)
    elif kind == "cbis-ddsm":
        records = cbis_ddsm.read_cbis_ddsm(target, boxes, skipped=skipped)
    elif kind == "vindr-mammo":
        records = vindr.read_vindr_mammo(target, skipped=skipped)
    else:
        records = rsna.read_rsna_2023(target, skipped=skipped)
    summary = {"kind": kind, **summarize(records), "skipped": dict(sorted(skipped.items()))}
    return records, summary
