"""After training: fit the CC/MLO fusion on the validation part, choose the
operating points, export Keras + ONNX (checked to agree), write the package
with its manifest, validation evaluation and model card.

TensorFlow, Keras, tf2onnx and onnx come with MammoDesk's ``train`` extra:
`export_package` checks that they are installed before importing any of them
(they are imported where used), so a missing extra is one clear line."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.ai.datasets.records import ImageRecord
from engine.ai.evaluation.card import render_model_card
from engine.ai.evaluation.froc import FrocImage, froc_curve, threshold_at_fp
from engine.ai.evaluation.metrics import sensitivity_at_specificity
from engine.ai.evaluation.report import BreastPrediction, evaluate_predictions
from engine.ai.marks import find_marks
from engine.ai.package import write_manifest
from engine.ai.preprocess import Geometry, InputSpec
from engine.ai.results import NOT_FOR_CLINICAL_USE
from engine.ai.runtime import OUTPUT_NAMES, TRAINING_MODULES, require_training_extra
from engine.ai.training.examples import DENSITY_INDEX
from engine.ai.training.fusion import fit_logistic, fit_softmax

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from engine.ai.training.loop import Trainer

ONNX_TOLERANCE = 1e-4
PREPROCESSING = {
    "scope": "MG For Presentation, CC and MLO, no implants, single frame",
    "steps": [
        "Modality LUT, first VOI LUT (window or VOI LUT Sequence), MONOCHROME1 inverted",
        "chest wall turned to the left (PatientOrientation, else tissue side)",
        "breast segmented (threshold between air and Otsu level, largest region)",
        "cropped to the breast, resampled by area averaging to mm_per_pixel",
        "placed on the canvas at the chest wall, centred vertically; 0..1, air 0",
    ],
}


def _val_arrays(cached: tf.data.Dataset) -> dict[int, dict[str, np.ndarray]]:
    out: dict[int, dict[str, np.ndarray]] = {}
    for e in cached:
        out[int(e["index"])] = {
            "image": e["image"].numpy().astype(np.float32),
            "boxes": e["boxes"].numpy(),
        }
    return out


def _pairs(records: Sequence[ImageRecord], have: set[int]) -> list[tuple[int, int]]:
    by: dict[tuple[str, str], dict[str, int]] = {}
    for i, r in enumerate(records):
        if i in have:
            by.setdefault((r.exam_id, r.laterality), {})[r.view] = i
    return [(v["CC"], v["MLO"]) for v in by.values() if "CC" in v and "MLO" in v]


def _identity(spec_h: int, spec_w: int) -> Geometry:
    return Geometry(spec_h, spec_w, False, 1.0, 0.0, 0.0, 0.0, 0.0)


def _predict(model: keras.Model, arrays: dict, pairs: list[tuple[int, int]]) -> list[dict]:
    import tensorflow as tf

    fn = tf.function(lambda a, b: model({"cc": a, "mlo": b}, training=False))
    outs = []
    for k in range(0, len(pairs), 4):
        chunk = pairs[k : k + 4]
        cc = np.stack([arrays[c]["image"] for c, _ in chunk])
        mlo = np.stack([arrays[m]["image"] for _, m in chunk])
        res = {n: np.asarray(v) for n, v in fn(cc, mlo).items()}
        for j in range(len(chunk)):
            outs.append({n: res[n][j] for n in OUTPUT_NAMES})
    return outs


def _refit_density(
    trainer: Trainer, arrays: dict, pairs: list, records: Sequence[ImageRecord]
) -> None:
    """The density head learnt on crops; refit it on whole-image features
    (mean of CC and MLO) of the validation breasts, where it is used."""
    import tensorflow as tf

    feats, labels = [], []
    fn = tf.function(lambda x: trainer.view(x, training=False)[1])
    for c, m in pairs:
        d = DENSITY_INDEX.get(records[c].density or "")
        if d is None:
            continue
        x = np.stack([arrays[c]["image"], arrays[m]["image"]])
        f = np.asarray(fn(x))
        feats.append(f.mean(axis=0))
        labels.append(d)
    if len(set(labels)) < 2:
        return
    w, b = fit_softmax(np.array(feats), np.array(labels), 4)
    trainer.density.set_weights([w.astype(np.float32), b.astype(np.float32)])


def _export_onnx(model: keras.Model, path: Path, h: int, w: int, sample: tuple) -> float:
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx

    sig = (
        tf.TensorSpec((None, h, w, 1), tf.float32, name="cc"),
        tf.TensorSpec((None, h, w, 1), tf.float32, name="mlo"),
    )

    @tf.function(input_signature=sig)
    def fn(cc, mlo):
        out = model({"cc": cc, "mlo": mlo}, training=False)
        return tuple(out[n] for n in OUTPUT_NAMES)

    tf2onnx.convert.from_function(fn, input_signature=sig, opset=17, output_path=str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"cc": sample[0], "mlo": sample[1]})
    want = fn(tf.constant(sample[0]), tf.constant(sample[1]))
    return max(float(np.max(np.abs(g - np.asarray(v)))) for g, v in zip(got, want, strict=True))


def _fit_heads(
    trainer: Trainer, arrays: dict, pairs: list, val_recs: Sequence[ImageRecord]
) -> tuple[keras.Model, list[dict], np.ndarray, np.ndarray]:
    """The breast model with its fusion and density heads fitted on the validation
    part; returns (model, its outputs per breast, breast probabilities, labels)."""
    from engine.ai.network import breast_model

    spec = trainer.cfg.spec
    model = breast_model(trainer.view, trainer.density, spec.height, spec.width)
    raw = _predict(model, arrays, pairs)
    z = np.array([r["view_logits"] for r in raw], dtype=np.float64)
    y = np.array([val_recs[c].cancer for c, _ in pairs], dtype=np.float64)
    w, b = fit_logistic(z, y)
    model.get_layer("fusion").set_weights(
        [w.reshape(2, 1).astype(np.float32), np.array([b], dtype=np.float32)]
    )
    _refit_density(trainer, arrays, pairs, val_recs)
    outs = _predict(model, arrays, pairs)
    probs = np.array([float(o["breast_prob"][0]) for o in outs])
    return model, outs, probs, y


def _validation_items(
    val_recs: Sequence[ImageRecord],
    pairs: list[tuple[int, int]],
    outs: list[dict],
    probs: np.ndarray,
    arrays: dict,
    spec: InputSpec,
) -> tuple[list[BreastPrediction], list[FrocImage]]:
    """Per-breast predictions and per-view marks of the validation part."""
    from engine.ai.network import HEATMAP_STRIDE

    preds, froc_images = [], []
    geom = _identity(spec.height, spec.width)
    for (c, m), o, p in zip(pairs, outs, probs, strict=True):
        r = val_recs[c]
        cnrs = [x for x in (val_recs[c].cnr, val_recs[m].cnr) if x is not None]
        preds.append(
            BreastPrediction(
                r.exam_id,
                r.laterality,
                int(r.cancer),
                float(p),
                r.density,
                r.lesion_type,
                r.lesion_size_mm,
                float(np.mean(cnrs)) if cnrs else None,
            )
        )
        for idx, heat in ((c, o["heat_cc"][..., 0]), (m, o["heat_mlo"][..., 0])):
            marks = find_marks(heat, geom, HEATMAP_STRIDE, 0.02)
            boxes = [tuple(bx[:4]) for bx in arrays[idx]["boxes"] if bx[4] > 0.5]
            froc_images.append(
                FrocImage(
                    str(idx),
                    [(mk.x, mk.y, mk.score) for mk in marks],
                    boxes,
                    [val_recs[idx].cnr] * len(boxes),
                )
            )
    return preds, froc_images


def _operating_points(
    preds: list[BreastPrediction], froc_images: list[FrocImage], y: np.ndarray, probs: np.ndarray
) -> tuple[list[float], dict[str, float]]:
    """Category thresholds (deciles of non-cancer exam scores) and operating points."""
    exam_scores: dict[str, tuple[float, int]] = {}
    for pr in preds:
        s, lab = exam_scores.get(pr.exam_id, (0.0, 0))
        exam_scores[pr.exam_id] = (max(s, 100 * pr.prob), max(lab, pr.label))
    normal = np.array([s for s, lab in exam_scores.values() if lab == 0])
    cats = [float(np.percentile(normal, q)) for q in range(10, 100, 10)]
    curve = froc_curve(froc_images)
    ops = {
        "specificity_90": float(sensitivity_at_specificity(y, probs, 0.90)[1]),
        "specificity_95": float(sensitivity_at_specificity(y, probs, 0.95)[1]),
        "marks": float(min(1.0, max(0.02, threshold_at_fp(curve, 0.5)))),
    }
    return cats, ops


def _save_models(
    model: keras.Model, tmp: Path, arrays: dict, pairs: list, spec: InputSpec
) -> float:
    """model.keras and model.onnx into ``tmp``; the ONNX file is left out when it
    differs from TensorFlow by more than ONNX_TOLERANCE.  Returns the difference."""
    model.save(tmp / "model.keras")
    sample = (
        np.stack([arrays[c]["image"] for c, _ in pairs[:2]]),
        np.stack([arrays[m]["image"] for _, m in pairs[:2]]),
    )
    diff = _export_onnx(model, tmp / "model.onnx", spec.height, spec.width, sample)
    if not diff <= ONNX_TOLERANCE:  # a NaN difference leaves it out too
        (tmp / "model.onnx").unlink()
        print(f"ONNX export differs from TensorFlow by {diff:.2e}; left out", file=sys.stderr)
    return diff


def _domain_check(
    model: keras.Model, tmp: Path, arrays: dict, pairs: list, val_recs: Sequence[ImageRecord]
) -> dict | None:
    """Feature outputs on the ONNX file and the fitted domain check
    (engine/ai/domain) in ``tmp``; None when the validation part is too small
    to fit one (the package then has no check)."""
    from engine.ai.training.domain_export import domain_check_from_validation, write_domain_check
    from engine.ai.training.onnx_features import add_feature_outputs

    if (tmp / "model.onnx").exists():
        add_feature_outputs(tmp / "model.onnx")
    try:
        check = domain_check_from_validation(
            model, arrays, pairs, [val_recs[c].exam_id for c, _ in pairs]
        )
    except ValueError as exc:
        print(f"no domain check: {exc}", file=sys.stderr)
        return None
    write_domain_check(tmp, check)
    return check


def _manifest(
    name: str,
    version: str,
    spec: InputSpec,
    points: tuple[list[float], dict[str, float]],
    info: dict,
    evaluation: dict,
    diff: float,
) -> dict:
    import keras
    import tensorflow as tf

    from engine.ai.network import HEATMAP_STRIDE

    cats, ops = points
    return {
        "format": "mammodesk-model",
        "format_version": 1,
        "name": name,
        "version": version,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "min_app_version": "0.2.0",  # seven ONNX outputs: older apps refuse them
        "framework": {"keras": keras.__version__, "tensorflow": tf.__version__},
        "entry": {"keras": "model.keras", "onnx": "model.onnx" if diff <= ONNX_TOLERANCE else None},
        "input": spec.as_dict() | {"channels": 1, "layout": "NHWC", "inputs": ["cc", "mlo"]},
        "preprocessing": PREPROCESSING,
        "outputs": {
            "order": list(OUTPUT_NAMES),
            "heatmap_stride": HEATMAP_STRIDE,
            "exam_score": "100 x the higher breast probability",
            "category_thresholds": [round(c, 3) for c in cats],
            "category": "1-10 by deciles of validation non-cancer exam scores",
            "density_classes": ["a", "b", "c", "d"],
        },
        "operating_points": ops,
        "training_data": {
            "synthetic": True,
            "description": "MammoDesk phantom cohort (synthetic women, no real patients)",
            **{
                k: info[k]
                for k in ("train", "validation", "dataset", "skipped_images")
                if k in info
            },
        },
        "training": {k: info[k] for k in ("config", "history", "hardware") if k in info},
        "metrics": {
            "validation": {k: evaluation.get(k) for k in ("counts", "breast_auc", "exam_auc")}
        },
        "onnx_max_abs_diff": diff,
        "notice": NOT_FOR_CLINICAL_USE,
    }


def export_package(
    trainer: Trainer,
    val_recs: Sequence[ImageRecord],
    val_cached: tf.data.Dataset,
    pkg_dir: Path,
    name: str,
    version: str,
    info: dict,
) -> Path:
    require_training_extra("exporting a model package", TRAINING_MODULES)
    spec = trainer.cfg.spec
    arrays = _val_arrays(val_cached)
    pairs = _pairs(val_recs, set(arrays))
    model, outs, probs, y = _fit_heads(trainer, arrays, pairs, val_recs)
    preds, froc_images = _validation_items(val_recs, pairs, outs, probs, arrays, spec)
    points = _operating_points(preds, froc_images, y, probs)

    tmp = pkg_dir.with_name(pkg_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    diff = _save_models(model, tmp, arrays, pairs, spec)
    evaluation = evaluate_predictions(preds, froc_images, tmp / "validation", n_resamples=2000)
    manifest = _manifest(name, version, spec, points, info, evaluation, diff)
    (tmp / "MODEL_CARD.md").write_text(render_model_card(manifest, evaluation))
    if _domain_check(model, tmp, arrays, pairs, val_recs) is not None:
        manifest["entry"]["domain_check"] = "domain_check.json"
    write_manifest(tmp, manifest)
    shutil.rmtree(pkg_dir, ignore_errors=True)
    tmp.rename(pkg_dir)
    return pkg_dir
