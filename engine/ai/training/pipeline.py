"""tf.data pipelines: prepared images cached once, then balanced, cropped and
augmented batches for training, and whole images for validation."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from engine.ai.datasets.records import ImageRecord
from engine.ai.network import HEATMAP_STRIDE
from engine.ai.preprocess import InputSpec
from engine.ai.training.examples import MAX_BOXES, Example, iter_examples

BOX_MARGIN = 4.0  # model pixels: tiny lesions still cover one heatmap cell


def _signature(spec: InputSpec) -> dict[str, tf.TensorSpec]:
    return {
        "index": tf.TensorSpec((), tf.int32),
        "image": tf.TensorSpec((spec.height, spec.width, 1), tf.float16),
        "boxes": tf.TensorSpec((MAX_BOXES, 5), tf.float32),
        "density": tf.TensorSpec((), tf.int32),
        "label": tf.TensorSpec((), tf.int32),
        "is_cc": tf.TensorSpec((), tf.bool),
        "extent": tf.TensorSpec((4,), tf.float32),
    }


def cached_examples(
    records: Sequence[ImageRecord],
    spec: InputSpec,
    cache_file: Path,
    on_skip: Callable[[int, str], None],
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> tf.data.Dataset:
    """Every usable record prepared once (in worker processes) and cached in
    `cache_file`.  The first call fills the cache completely; later calls
    read it.  A cache left half-written by a killed run is discarded."""
    done_marker = Path(str(cache_file) + ".complete")
    if not done_marker.exists():
        for stale in glob.glob(glob.escape(str(cache_file)) + "*"):
            os.remove(stale)

    def gen():
        for n, ex in enumerate(iter_examples(records, spec, workers)):
            if progress:
                progress(n + 1)
            if not isinstance(ex, Example):
                on_skip(*ex)
                continue
            yield {
                "index": np.int32(ex.index),
                "image": ex.image[..., None],
                "boxes": ex.boxes,
                "density": np.int32(ex.density),
                "label": np.int32(ex.label),
                "is_cc": records[ex.index].view == "CC",
                "extent": ex.extent,
            }

    ds = tf.data.Dataset.from_generator(gen, output_signature=_signature(spec))
    ds = ds.cache(str(cache_file))
    if not done_marker.exists():
        for _ in ds:  # fill the cache in one pass
            pass
        done_marker.write_text("ok\n")
    return ds


def _pick_centre(ex: dict, ch: int, cw: int) -> tuple[tf.Tensor, tf.Tensor]:
    boxes = ex["boxes"]
    valid = tf.where(boxes[:, 4] >= 0)[:, 0]
    n = tf.shape(valid)[0]
    e = ex["extent"]
    rand_u = tf.random.uniform((), e[0], tf.maximum(e[2], e[0] + 1))
    rand_v = tf.random.uniform((), e[1], tf.maximum(e[3], e[1] + 1))

    def at_box() -> tuple[tf.Tensor, tf.Tensor]:
        b = tf.gather(boxes, tf.random.shuffle(valid)[0])
        ju = tf.random.uniform((), -0.35, 0.35) * cw
        jv = tf.random.uniform((), -0.35, 0.35) * ch
        return (b[0] + b[2]) / 2 + ju, (b[1] + b[3]) / 2 + jv

    use_box = tf.logical_and(n > 0, tf.random.uniform(()) < 0.85)
    return tf.cond(use_box, at_box, lambda: (rand_u, rand_v))


def heat_target(
    boxes: tf.Tensor, left: tf.Tensor, top: tf.Tensor, rows: int, cols: int
) -> tf.Tensor:
    """(rows, cols, 1) map: 1 where a cell centre lies in a malignant box."""
    s = float(HEATMAP_STRIDE)
    xs = tf.cast(left, tf.float32) + (tf.range(cols, dtype=tf.float32) + 0.5) * s
    ys = tf.cast(top, tf.float32) + (tf.range(rows, dtype=tf.float32) + 0.5) * s
    mal = boxes[:, 4] > 0.5
    u0 = boxes[:, 0] - BOX_MARGIN
    u1 = boxes[:, 2] + BOX_MARGIN
    v0 = boxes[:, 1] - BOX_MARGIN
    v1 = boxes[:, 3] + BOX_MARGIN
    in_x = (xs[None, :] >= u0[:, None]) & (xs[None, :] < u1[:, None])  # (n, cols)
    in_y = (ys[None, :] >= v0[:, None]) & (ys[None, :] < v1[:, None])  # (n, rows)
    hit = in_y[:, :, None] & in_x[:, None, :] & mal[:, None, None]
    return tf.cast(tf.reduce_any(hit, axis=0), tf.float32)[..., None]


def _augment(img: tf.Tensor, is_cc: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    breast = tf.cast(img > 0, tf.float32)
    gamma = tf.exp(tf.random.uniform((), -0.2, 0.2))
    img = tf.pow(tf.maximum(img, 1e-6), gamma) * breast
    img = img * tf.random.uniform((), 0.9, 1.1)
    img = img + tf.random.normal(tf.shape(img), stddev=tf.random.uniform((), 0.0, 0.01)) * breast
    flip = tf.logical_and(is_cc, tf.random.uniform(()) < 0.5)  # CC is up-down symmetric
    return tf.clip_by_value(img, 0.0, 1.0), flip


def training_batches(
    cached: tf.data.Dataset,
    crop: tuple[int, int],
    batch: int,
    positive_fraction: float = 0.5,
    seed: int = 0,
) -> tf.data.Dataset:
    """Endless balanced batches of augmented crops with their targets."""
    ch, cw = crop
    rows, cols = ch // HEATMAP_STRIDE, cw // HEATMAP_STRIDE
    base = cached.shuffle(256, seed=seed, reshuffle_each_iteration=True).repeat()
    pos = base.filter(lambda e: e["label"] == 1)
    neg = base.filter(lambda e: e["label"] == 0)
    mixed = tf.data.Dataset.sample_from_datasets(
        [pos, neg], [positive_fraction, 1 - positive_fraction], seed=seed
    )

    def make(ex: dict) -> tuple[tf.Tensor, dict]:
        img = tf.cast(ex["image"], tf.float32)
        h, w = tf.shape(img)[0], tf.shape(img)[1]
        cu, cv = _pick_centre(ex, ch, cw)
        left = tf.clip_by_value(tf.cast(cu - cw / 2, tf.int32), 0, w - cw)
        top = tf.clip_by_value(tf.cast(cv - ch / 2, tf.int32), 0, h - ch)
        left = (left // HEATMAP_STRIDE) * HEATMAP_STRIDE
        top = (top // HEATMAP_STRIDE) * HEATMAP_STRIDE
        patch = img[top : top + ch, left : left + cw]
        target = heat_target(ex["boxes"], left, top, rows, cols)
        patch, flip = _augment(patch, ex["is_cc"])
        patch = tf.cond(flip, lambda: tf.reverse(patch, [0]), lambda: patch)
        target = tf.cond(flip, lambda: tf.reverse(target, [0]), lambda: target)
        patch = tf.ensure_shape(patch, (ch, cw, 1))
        return patch, {"heat": tf.ensure_shape(target, (rows, cols, 1)), "density": ex["density"]}

    return (
        mixed.map(make, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def full_images(cached: tf.data.Dataset, batch: int) -> tf.data.Dataset:
    """Whole prepared images in record order, for validation and fusion."""
    return (
        cached.map(
            lambda e: (tf.cast(e["image"], tf.float32), e["index"]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .batch(batch)
        .prefetch(2)
    )
