"""A planted-PHI corpus for de-identification tests and benchmarks.

``build_corpus`` writes small phantom mammograms (every woman has a current
and a prior study) and plants a unique marker into every file: in each
Table E.1-1 (PS3.15 Annex E) attribute whose VR can hold one, inside one item
of every listed sequence, in private elements (LO, LT, OB, UN and three
sequences deep), in an overlay and a curve label, and as text burned into
the image background.  ``find_markers`` then tells which markers survive in
an anonymizer's output bytes and ``burned_text_left`` whether the burned-in
text is still visible.  See tests/support/deid_planting.py for the marker shapes.

Layout under ``out_dir``: ``dicom/<study>/<view>.dcm`` and ``manifest.json``
(everything the returned ``Corpus`` holds, paths relative to ``out_dir``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom

from engine.phantom import generate_cohort
from tests.support.deid_planting import (
    MarkerBook,
    burn_text,
    plant_overlay_and_curve,
    plant_private,
    plant_table,
    tag_str,
)


@dataclass
class Corpus:
    """What ``build_corpus`` planted and where."""

    files: list[Path]
    markers: dict[str, list[str]]  # marker value -> places, e.g. "(0010,0010)", "nested private"
    tags_of_marker: dict[str, int | None]  # top-level Table E.1-1 tag; None: private/overlay/curve
    burned_boxes: dict[Path, tuple[int, int, int, int]]  # (row0, col0, row1, col1), ends exclusive
    patients: dict[str, list[Path]]  # PatientID as written in the corpus files -> files
    total_bytes: int
    dicom_dir: Path | None = None  # the folder holding only the DICOM files
    manifest: Path | None = None
    burned_text: dict[Path, str] | None = None  # what was burned into each file


def build_corpus(out_dir: Path, *, patients: int = 2, seed: int = 7) -> Corpus:
    """Write ``patients`` synthetic women (two four-view studies each) with planted PHI."""
    out_dir = Path(out_dir)
    dicom_dir = out_dir / "dicom"
    cohort = generate_cohort(dicom_dir, patients, seed=seed, cancer_rate=0.5, size="small",
                             prior_rate=1.0)
    cohort.labels_csv.unlink()  # holds the phantom's own identifiers: not part of the corpus
    book = MarkerBook(seed)
    boxes: dict[Path, tuple[int, int, int, int]] = {}
    burned: dict[Path, str] = {}
    by_patient: dict[str, list[Path]] = {}
    for path in cohort.files:
        ds = pydicom.dcmread(path)
        keys = {"patient": str(ds.PatientID), "study": str(ds.StudyInstanceUID),
                "series": str(ds.SeriesInstanceUID), "file": str(path)}
        plant_table(ds, book, keys)
        plant_private(ds, book)
        plant_overlay_and_curve(ds, book)
        burned[path] = f"{ds.PatientName} {ds.PatientID}"
        boxes[path] = burn_text(ds, burned[path])
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        by_patient.setdefault(str(ds.PatientID), []).append(path)
    corpus = Corpus(files=list(cohort.files), markers=book.markers, tags_of_marker=book.tags,
                    burned_boxes=boxes, patients=by_patient,
                    total_bytes=sum(p.stat().st_size for p in cohort.files),
                    dicom_dir=dicom_dir, manifest=out_dir / "manifest.json", burned_text=burned)
    _write_manifest(corpus, out_dir)
    return corpus


def _write_manifest(corpus: Corpus, out_dir: Path) -> None:
    def rel(path: Path) -> str:
        return path.relative_to(out_dir).as_posix()

    manifest = {
        "files": [rel(p) for p in corpus.files],
        "total_bytes": corpus.total_bytes,
        "markers": corpus.markers,
        "tags_of_marker": {m: None if t is None else tag_str(t)
                           for m, t in corpus.tags_of_marker.items()},
        "burned": {rel(p): {"box": list(box), "text": (corpus.burned_text or {}).get(p)}
                   for p, box in corpus.burned_boxes.items()},
        "patients": {pid: [rel(p) for p in files] for pid, files in corpus.patients.items()},
    }
    assert corpus.manifest is not None
    corpus.manifest.write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def _trie_pattern(words: Iterable[bytes]) -> bytes:
    """A regex alternation of ``words`` factored by common prefixes (fast to scan)."""
    trie: dict = {}
    for word in words:
        node = trie
        for byte in word:
            node = node.setdefault(byte, {})
        node[None] = {}

    def emit(node: dict) -> bytes:
        alts = [re.escape(bytes([b])) + emit(child) for b, child in node.items() if b is not None]
        if not alts:
            return b""
        if len(alts) == 1 and None not in node:
            return alts[0]
        body = b"(?:" + b"|".join(alts) + b")"
        return body + b"?" if None in node else body

    return emit(trie)


_PATTERNS: dict[frozenset[str], tuple[re.Pattern[bytes], dict[bytes, str]]] = {}


def _compiled(markers: Iterable[str]) -> tuple[re.Pattern[bytes], dict[bytes, str]]:
    key = frozenset(markers)
    if key not in _PATTERNS:
        if len(_PATTERNS) > 8:
            _PATTERNS.clear()
        lowered = {m.lower().encode("ascii"): m for m in key if m}
        pattern = _trie_pattern(sorted(lowered)) if lowered else b"(?!)"
        _PATTERNS[key] = (re.compile(pattern, re.DOTALL), lowered)
    return _PATTERNS[key]


def find_markers(data: bytes, markers: Iterable[str]) -> set[str]:
    """The markers (ASCII) present anywhere in ``data``, ignoring case.

    A marker that starts with a digit (a date, time or UID) does not count
    inside a longer number: after a digit, or as the start of a dotted
    component that goes on (a random replacement UID such as
    ``2.25.<39 digits>`` now and then starts with a planted date; seen:
    ``2.25.19600423...`` against a planted 19600423).
    """
    pattern, lowered = _compiled(markers)
    text = data.lower()
    found: set[str] = set()
    for match in pattern.finditer(text):
        word = match.group()
        start = match.start()
        before = text[start - 1:start] if start else b""
        after = text[match.end():match.end() + 1]
        if word[:1].isdigit() and (before.isdigit() or (before == b"." and after.isdigit())):
            continue
        found.add(lowered[word])
    return found


def burned_text_left(path: Path, box: tuple[int, int, int, int]) -> bool:
    """Whether ``box`` in the file's decoded pixels still shows something other than a
    (near) uniform background: its value range exceeds a quarter of the stored range.

    A file without pixel data shows nothing, so it counts as clean.
    """
    ds = pydicom.dcmread(path)
    if "PixelData" not in ds:
        return False
    pixels = ds.pixel_array
    if pixels.ndim == 3:
        pixels = pixels[0]
    row0, col0, row1, col1 = box
    region = pixels[row0:row1, col0:col1]
    if region.size == 0:
        return False
    full = 2 ** int(ds.get("BitsStored", 16)) - 1
    return bool(int(np.max(region)) - int(np.min(region)) > 0.25 * full)
