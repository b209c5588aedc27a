"""`main.py train`: records -> split -> cached tf.data -> training -> package.

Training needs MammoDesk's ``train`` extra (TensorFlow, tf2onnx, onnx); `train`
checks for it before importing TensorFlow, so a missing extra is one clear line.

Re-running the same command with the same output folder resumes: prepared
images come from the cache, training from the last checkpoint, and a
finished training goes straight to packaging.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.ai.datasets.records import ImageRecord, split_by_patient, summarize
from engine.ai.runtime import TRAINING_MODULES, require_training_extra
from engine.errors import MammoDeskError

log = logging.getLogger(__name__)


@dataclass
class TrainRequest:
    records: Sequence[ImageRecord]
    out_dir: Path
    name: str = "mammodesk-phantom"
    version: str = "1.0.0"
    val_fraction: float = 0.15
    epochs: int = 12
    steps_per_epoch: int = 300
    batch: int = 8
    seed: int = 0
    workers: int | None = None
    dataset_summary: dict | None = None


def _progress(label: str, total: int) -> Callable[[int], None]:
    tty = sys.stderr.isatty()

    def show(done: int) -> None:
        if done == total or (tty and done % 8 == 0):
            end = "\n" if done == total else ""
            print(f"\r{label}: {done}/{total} images", end=end, file=sys.stderr, flush=True)

    return show


def train(req: TrainRequest) -> Path:
    """Train and write a model package; returns the package folder."""
    require_training_extra("training", TRAINING_MODULES)  # before TensorFlow is imported
    import tensorflow as tf

    from engine.ai.training.loop import TrainConfig, Trainer, pick_hardware
    from engine.ai.training.pipeline import cached_examples

    if not req.records:
        raise MammoDeskError("no training images: the dataset is empty")
    # The heatmap is learnt from lesion boxes: a cancer image without its box
    # would teach "nothing here".  Such images (RSNA 2023 has none; CBIS-DDSM
    # when a mask is missing) are left out and counted.
    usable = [r for r in req.records if not (r.cancer and not r.boxes)]
    unboxed = len(req.records) - len(usable)
    if not any(r.cancer for r in usable):
        raise MammoDeskError(
            "training needs cancer images with lesion boxes; this dataset has "
            f"{unboxed} cancer image(s) without boxes and none with"
        )
    if unboxed:
        print(f"left out {unboxed} cancer image(s) without a lesion box", file=sys.stderr)
    train_recs, val_recs = split_by_patient(usable, req.val_fraction, req.seed)
    if not any(r.cancer for r in train_recs) or not any(r.cancer for r in val_recs):
        raise MammoDeskError("training needs cancer cases in both the training and validation part")
    out = req.out_dir
    (out / "cache").mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(req.seed)
    hw = pick_hardware()
    log.info("training on %s (mixed precision %s)", hw.device, hw.mixed_precision)
    print(
        f"training on {hw.device}; {len(train_recs)} training and {len(val_recs)} "
        f"validation images",
        file=sys.stderr,
    )
    skipped: Counter[str] = Counter()

    def on_skip(_index: int, reason: str) -> None:
        skipped[reason] += 1

    cfg = TrainConfig(
        epochs=req.epochs, steps_per_epoch=req.steps_per_epoch, batch=req.batch, seed=req.seed
    )
    train_c = cached_examples(
        train_recs,
        cfg.spec,
        out / "cache" / "train",
        on_skip,
        _progress("preparing training images", len(train_recs)),
        req.workers,
    )
    val_c = cached_examples(
        val_recs,
        cfg.spec,
        out / "cache" / "val",
        on_skip,
        _progress("preparing validation images", len(val_recs)),
        req.workers,
    )
    if skipped:
        print(f"skipped images: {dict(skipped)}", file=sys.stderr)
    trainer = Trainer(out, cfg, hw)
    history = trainer.fit(train_c, val_c, val_recs)
    trainer.load_best()

    from engine.ai.training.export import export_package

    info = {
        "train": summarize(train_recs),
        "validation": summarize(val_recs),
        "dataset": req.dataset_summary or {},
        "skipped_images": dict(skipped) | ({"cancer without box": unboxed} if unboxed else {}),
        "config": cfg.as_dict(),
        "history": history,
        "hardware": hw.device,
    }
    (out / "training.json").write_text(json.dumps(info, indent=1, default=str))
    return export_package(trainer, val_recs, val_c, out / "package", req.name, req.version, info)
