"""Training examples: one record -> the model's input plus its targets.

Decoding and preprocessing run in worker processes (real parallelism on a
small machine); the tf.data pipeline caches what they return.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from engine.ai.datasets.records import ImageRecord
from engine.ai.preprocess import Geometry, InputSpec, NotApplicable, prepare
from engine.dicom.reader import read_dataset
from engine.errors import MammoDeskError

log = logging.getLogger(__name__)
MAX_BOXES = 8
DENSITY_INDEX = {"a": 0, "b": 1, "c": 2, "d": 3}


@dataclass
class Example:
    index: int  # position in the record list
    image: np.ndarray  # float16 (H, W)
    boxes: np.ndarray  # float32 (MAX_BOXES, 5): u0, v0, u1, v1, malignant; unused rows -1
    density: int  # 0..3, -1 unknown
    label: int  # the view shows a malignant lesion / belongs to a cancer breast
    extent: np.ndarray  # float32 (4,): u0, v0, u1, v1 of the breast on the canvas


def model_boxes(rec: ImageRecord, geom: Geometry) -> np.ndarray:
    out = np.full((MAX_BOXES, 5), -1.0, dtype=np.float32)
    for i, b in enumerate(rec.boxes[:MAX_BOXES]):
        ua, va = geom.to_model(b.x0, b.y0)
        ub, vb = geom.to_model(b.x1, b.y1)
        out[i] = [min(ua, ub), min(va, vb), max(ua, ub), max(va, vb), float(b.malignant)]
    return out


def make_example(args: tuple[int, ImageRecord, InputSpec]) -> Example | tuple[int, str]:
    """Worker: an Example, or (index, reason) when the image cannot be used."""
    index, rec, spec = args
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = read_dataset(rec.path)
            prep = prepare(ds, spec)
    except (NotApplicable, MammoDeskError, OSError) as exc:
        return index, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    img = prep.image
    cols = np.nonzero(img.max(axis=0) > 0)[0]
    rows = np.nonzero(img.max(axis=1) > 0)[0]
    extent = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=np.float32)
    boxes = model_boxes(rec, prep.geometry)
    label = int(rec.cancer) if not rec.boxes else int(any(b.malignant for b in rec.boxes))
    return Example(
        index=index,
        image=img.astype(np.float16),
        boxes=boxes,
        density=DENSITY_INDEX.get(rec.density or "", -1),
        label=label,
        extent=extent,
    )


def iter_examples(
    records: Sequence[ImageRecord], spec: InputSpec, workers: int | None = None
) -> Iterator[Example | tuple[int, str]]:
    """Examples in record order, prepared by a pool of worker processes."""
    workers = workers or max(1, min(len(os.sched_getaffinity(0)), 8))
    jobs = [(i, r, spec) for i, r in enumerate(records)]
    if workers == 1 or len(jobs) < 4:
        yield from map(make_example, jobs)
        return
    ctx = mp.get_context("spawn")  # never fork a process that has TensorFlow loaded
    with ctx.Pool(workers) as pool:
        yield from pool.imap(make_example, jobs, chunksize=4)
