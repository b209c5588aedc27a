"""The acceptance set that ships with MammoDesk: fixed, labelled phantom studies.

Shipping the studies' pixels would cost hundreds of megabytes (phantom
texture hardly compresses), so the set ships as its recipe and its
fingerprints: ``resources/acceptance/set.json`` names the phantom generator's
seed, cancer rate, image size and studies, and holds for every study the
label of each breast and for every view an 8 x 8 grid of block means of its
pixels.  The studies are rendered in memory each time (engine.phantom, the
same deterministic generator as ``main.py phantom``) and every view is
compared with its fingerprint before it is used: a generator that no longer
draws the same studies stops the acceptance run with one line instead of
quietly measuring models on other data.  The grid (not a hash of the pixels)
allows the last-bit differences of floating point between machines.

The images are 1024 x 832 at 0.2 mm, the resolution the shipped model reads,
which keeps rendering at about a quarter of a second a study.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import Dataset

from engine.errors import MammoDeskError
from engine.phantom.plan import plan_study
from engine.phantom.presets import SizePreset
from engine.phantom.study import exam_datasets
from engine.resources import resources_root

FORMAT = "mammodesk-acceptance-set"
GRID = 8
TOLERANCE = 1.0  # largest difference of a block mean, in stored pixel values
PHOTOMETRIC = "MONOCHROME2"
UID_ROOT = "mammodesk-acceptance-v1"


class AcceptanceSetError(MammoDeskError):
    """The acceptance set cannot be read or reproduced on this installation."""


@dataclass(frozen=True)
class Case:
    """One exam of a labelled set: its images and each breast's truth (1 cancer, 0 not)."""

    exam_id: str
    datasets: list[Dataset]
    labels: dict[str, int]  # "R"/"L" -> 1 | 0


def set_path() -> Path:
    return resources_root() / "acceptance" / "set.json"


def fingerprint(pixels: np.ndarray) -> list[float]:
    """GRID x GRID block means of an image, row by row, to 0.1."""
    rows, cols = pixels.shape[0] // GRID, pixels.shape[1] // GRID
    blocks = pixels[: rows * GRID, : cols * GRID].astype(np.float64)
    means = blocks.reshape(GRID, rows, GRID, cols).mean(axis=(1, 3))
    return [round(float(v), 1) for v in means.ravel()]


def _uid_keys(spec: dict[str, Any]) -> list[str]:
    return [UID_ROOT, str(spec["seed"]), repr(float(spec["cancer_rate"]))]


def _preset(spec: dict[str, Any]) -> SizePreset:
    size = spec["size"]
    return SizePreset(int(size["rows"]), int(size["columns"]), float(size["pixel_spacing_mm"]))


def _render(spec: dict[str, Any], index: int) -> tuple[str, list[tuple[str, Dataset]],
                                                        dict[str, int]]:
    seed, rate = int(spec["seed"]), float(spec["cancer_rate"])
    plan = plan_study(seed, index, rate, 0.0)
    exam_id = f"ACC-{seed}-{index + 1:04d}"
    views: list[tuple[str, Dataset]] = []
    labels: dict[str, int] = {}
    for name, ds, row in exam_datasets(plan, plan.current, exam_id, _preset(spec), PHOTOMETRIC,
                                       _uid_keys(spec), seed):
        views.append((name, ds))
        labels[name[0]] = int(bool(row["cancer"]))
    return exam_id, views, labels


def build_spec(seed: int, studies: int, cancer_rate: float, size: SizePreset,
               name: str) -> dict[str, Any]:
    """Render a set once and describe it (what set.json holds)."""
    spec: dict[str, Any] = {
        "format": FORMAT, "name": name, "seed": seed, "cancer_rate": cancer_rate,
        "size": {"rows": size.rows, "columns": size.columns,
                 "pixel_spacing_mm": size.pixel_spacing_mm},
        "grid": GRID, "studies": [],
    }
    for k in range(studies):
        exam_id, views, labels = _render(spec, k)
        spec["studies"].append({
            "index": k, "exam_id": exam_id, "labels": labels,
            "fingerprints": {n: fingerprint(ds.pixel_array) for n, ds in views},
        })
    return spec


def load_spec(path: Path | None = None) -> dict[str, Any]:
    """The set's description (the shipped one by default), checked."""
    path = path or set_path()
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AcceptanceSetError(f"the acceptance set cannot be read "
                                 f"({type(exc).__name__})") from exc
    if not isinstance(spec, dict) or spec.get("format") != FORMAT or not spec.get("studies"):
        raise AcceptanceSetError("the acceptance set file is not a MammoDesk acceptance set")
    return spec


def positives_negatives(spec: dict[str, Any]) -> tuple[int, int]:
    labels = [v for s in spec["studies"] for v in s["labels"].values()]
    return sum(labels), len(labels) - sum(labels)


def cases(spec: dict[str, Any]) -> Iterator[Case]:
    """Render the set's studies one at a time, each view checked against its fingerprint."""
    for study in spec["studies"]:
        exam_id, views, labels = _render(spec, int(study["index"]))
        if exam_id != study["exam_id"] or labels != study["labels"]:
            raise AcceptanceSetError(f"the acceptance set cannot be reproduced: study "
                                     f"{study['exam_id']} has other labels")
        for name, ds in views:
            got = np.asarray(fingerprint(ds.pixel_array))
            want = np.asarray(study["fingerprints"][name], dtype=np.float64)
            if got.shape != want.shape or float(np.max(np.abs(got - want))) > TOLERANCE:
                raise AcceptanceSetError(f"the acceptance set cannot be reproduced: view "
                                         f"{name} of study {study['exam_id']} differs from "
                                         "its fingerprint")
        yield Case(exam_id, [ds for _, ds in views], labels)
