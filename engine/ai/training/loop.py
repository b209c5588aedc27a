"""The training loop: balanced crops, heatmap + view + density losses,
checkpoints every epoch with automatic resume, validation on whole images,
mixed precision and a tf.distribute strategy when GPUs exist."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from engine.ai.datasets.records import ImageRecord
from engine.ai.evaluation.metrics import roc_auc
from engine.ai.network import density_layer, training_model, view_model
from engine.ai.preprocess import InputSpec
from engine.ai.training.pipeline import full_images, training_batches

log = logging.getLogger(__name__)
# A mild weight on lesion cells: heavier weighting teaches a blurry "somewhere
# in this breast" map whose pooled score ranks breasts poorly.
POS_WEIGHT = 2.0
HEAT_WEIGHT = 10.0
# Validation, the best-epoch choice and the package use an exponential moving
# average of the weights (horizon ~1000 steps): single epochs' weights swing
# the validation AUC by several points.
EMA_DECAY = 0.999


@dataclass
class TrainConfig:
    epochs: int = 12
    steps_per_epoch: int = 300
    batch: int = 8
    crop: tuple[int, int] = (512, 256)
    learning_rate: float = 1e-3
    positive_fraction: float = 0.5
    seed: int = 0
    spec: InputSpec = field(default_factory=InputSpec)

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["spec"] = self.spec.as_dict()
        return d


@dataclass
class Hardware:
    strategy: tf.distribute.Strategy
    device: str
    mixed_precision: bool


def pick_hardware() -> Hardware:
    """All GPUs through MirroredStrategy with mixed precision, else the CPU."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return Hardware(tf.distribute.get_strategy(), "CPU", False)
    for g in gpus:
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(g, True)
    keras.mixed_precision.set_global_policy("mixed_float16")
    strategy = tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    return Hardware(strategy, f"{len(gpus)} GPU(s)", True)


def _loss(out: dict, y: dict) -> tf.Tensor:
    """Per-example loss."""
    heat = tf.cast(out["heat"], tf.float32)
    t = y["heat"]
    wbce = tf.nn.weighted_cross_entropy_with_logits(t, heat, pos_weight=POS_WEIGHT)
    heat_loss = tf.reduce_mean(wbce, axis=[1, 2, 3])
    view_label = tf.reduce_max(t, axis=[1, 2, 3])
    z = tf.cast(out["view_logit"], tf.float32)[:, 0]
    view_loss = tf.nn.sigmoid_cross_entropy_with_logits(view_label, z)
    dens = tf.cast(y["density"], tf.int32)
    known = tf.cast(dens >= 0, tf.float32)
    dl = tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.maximum(dens, 0), tf.cast(out["density"], tf.float32)
    )
    return HEAT_WEIGHT * heat_loss + view_loss + 0.3 * dl * known


def view_logits(model: keras.Model, images: tf.data.Dataset, n: int) -> np.ndarray:
    """The view logit of every cached image, by record index."""
    out = np.full(n, np.nan, dtype=np.float64)
    predict = tf.function(lambda x: model(x, training=False)["view_logit"])
    for x, idx in images:
        out[idx.numpy()] = predict(x).numpy()[:, 0]
    return out


def breast_auc(records: Sequence[ImageRecord], logits: np.ndarray) -> float | None:
    """AUC of max(CC, MLO) view logits per breast."""
    best: dict[tuple[str, str], float] = {}
    label: dict[tuple[str, str], int] = {}
    for rec, z in zip(records, logits, strict=True):
        if np.isnan(z):
            continue
        key = (rec.exam_id, rec.laterality)
        best[key] = max(best.get(key, -np.inf), float(z))
        label[key] = max(label.get(key, 0), int(rec.cancer))
    y = np.array([label[k] for k in best])
    if y.min(initial=1) == y.max(initial=0):
        return None
    return float(roc_auc(y, np.array([best[k] for k in best])))


class Trainer:
    def __init__(self, out_dir: Path, cfg: TrainConfig, hw: Hardware) -> None:
        self.out_dir, self.cfg, self.hw = out_dir, cfg, hw
        with hw.strategy.scope():
            self.view = view_model()
            self.density = density_layer()
            self.model = training_model(self.view, self.density)
            total = cfg.epochs * cfg.steps_per_epoch
            sched = keras.optimizers.schedules.CosineDecay(
                cfg.learning_rate, total, warmup_target=None, alpha=0.05
            )
            opt = keras.optimizers.Adam(sched)
            self.opt = keras.optimizers.LossScaleOptimizer(opt) if hw.mixed_precision else opt
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
            # Build the optimizer's slots so a checkpoint restores them.
            self.opt.build(self.model.trainable_variables)
            self.averages = tf.Module()
            self.averages.ema = [
                tf.Variable(v, trainable=False, name="ema") for v in self.model.trainable_variables
            ]
            self.averages.updates = tf.Variable(0, dtype=tf.int64, trainable=False)
        ckpt = tf.train.Checkpoint(
            model=self.model, optimizer=self.opt, epoch=self.epoch, averages=self.averages
        )
        self.manager = tf.train.CheckpointManager(ckpt, str(out_dir / "checkpoints"), 2)
        self.history_path = out_dir / "history.json"

    def restore(self) -> int:
        if self.manager.latest_checkpoint:
            self.manager.checkpoint.restore(self.manager.latest_checkpoint).expect_partial()
            if int(self.averages.updates.numpy()) == 0:  # checkpoint without averages
                self._reset_averages()
        return int(self.epoch.numpy())

    def _reset_averages(self) -> None:
        for e, v in zip(self.averages.ema, self.model.trainable_variables, strict=True):
            e.assign(v)

    @contextlib.contextmanager
    def averaged_weights(self):
        """Run the block with the averaged weights in the model."""
        live = [v.numpy() for v in self.model.trainable_variables]
        for v, e in zip(self.model.trainable_variables, self.averages.ema, strict=True):
            v.assign(e)
        try:
            yield
        finally:
            for v, w in zip(self.model.trainable_variables, live, strict=True):
                v.assign(w)

    def _step_fn(self):
        strategy, model, opt = self.hw.strategy, self.model, self.opt
        global_batch = self.cfg.batch

        def step(x, y):
            with tf.GradientTape() as tape:
                out = model(x, training=True)
                loss = tf.nn.compute_average_loss(_loss(out, y), global_batch_size=global_batch)
                scaled = opt.scale_loss(loss) if self.hw.mixed_precision else loss
            grads = tape.gradient(scaled, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        averages = self.averages

        @tf.function
        def dist_step(x, y):
            per = strategy.run(step, args=(x, y))
            # Bias-corrected start: early averages follow the weights closely.
            n = tf.cast(averages.updates.assign_add(1), tf.float32)
            d = tf.minimum(EMA_DECAY, (1.0 + n) / (10.0 + n))
            for e, v in zip(averages.ema, model.trainable_variables, strict=True):
                e.assign(d * e + (1.0 - d) * tf.cast(v, e.dtype))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, per, axis=None)

        return dist_step

    def fit(
        self,
        train_cached: tf.data.Dataset,
        val_cached: tf.data.Dataset,
        val_records: Sequence[ImageRecord],
    ) -> list[dict]:
        cfg = self.cfg
        history = json.loads(self.history_path.read_text()) if self.history_path.exists() else []
        start = self.restore()
        if start:
            print(f"resuming after epoch {start} of {cfg.epochs}", file=sys.stderr)
        batches = training_batches(
            train_cached, cfg.crop, cfg.batch, cfg.positive_fraction, cfg.seed + start
        )
        dist = self.hw.strategy.experimental_distribute_dataset(batches)
        it = iter(dist)
        step = self._step_fn()
        best = max((h["val_breast_auc"] or 0.0 for h in history), default=-1.0)
        for epoch in range(start, cfg.epochs):
            bar = keras.utils.Progbar(cfg.steps_per_epoch, unit_name="batch")
            print(f"epoch {epoch + 1}/{cfg.epochs}", file=sys.stderr)
            losses = []
            for i in range(cfg.steps_per_epoch):
                loss = float(step(*next(it)))
                if not math.isfinite(loss):
                    raise FloatingPointError(f"training diverged at epoch {epoch + 1}")
                losses.append(loss)
                bar.update(i + 1, values=[("loss", loss)])
            with self.averaged_weights():
                z = view_logits(self.model, full_images(val_cached, 4), len(val_records))
                auc = breast_auc(val_records, z)
                is_best = auc is None or auc > best
                if is_best:
                    self.model.save_weights(str(self.out_dir / "best.weights.h5"))
            self.epoch.assign(epoch + 1)
            self.manager.save()
            entry = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_breast_auc": auc}
            history.append(entry)
            self.history_path.write_text(json.dumps(history, indent=1))
            print(
                f"epoch {epoch + 1}: loss {entry['loss']:.4f}, val breast AUC {auc}",
                file=sys.stderr,
            )
            if is_best and auc is not None:
                best = auc
        return history

    def load_best(self) -> None:
        best = self.out_dir / "best.weights.h5"
        if best.exists():
            self.model.load_weights(str(best))
