"""Running a model package: TensorFlow (GPU when present) or ONNX Runtime.

The backend is picked without importing TensorFlow when it is not needed:
importing it takes seconds, ONNX Runtime a fraction of one.  `auto` uses
ONNX Runtime when it offers a GPU or when the machine has no NVIDIA GPU,
TensorFlow otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.ai.package import ModelPackage
from engine.ai.preprocess import InputSpec
from engine.errors import MammoDeskError

log = logging.getLogger(__name__)
OUTPUT_NAMES = ("heat_cc", "heat_mlo", "view_logits", "breast_prob", "density")
BACKENDS = ("auto", "tensorflow", "onnxruntime")


@dataclass
class Runtime:
    package: ModelPackage
    backend: str
    device: str
    spec: InputSpec
    load_s: float
    _fn: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]

    def predict(self, cc: np.ndarray, mlo: np.ndarray) -> dict[str, np.ndarray]:
        """cc, mlo: (breasts, H, W, 1) float32 -> the model's outputs."""
        return self._fn(cc.astype(np.float32, copy=False), mlo.astype(np.float32, copy=False))


def input_spec(package: ModelPackage) -> InputSpec:
    i = package.manifest.get("input", {})
    try:
        return InputSpec(int(i["height"]), int(i["width"]), float(i["mm_per_pixel"]))
    except (KeyError, TypeError, ValueError):
        raise MammoDeskError(f"model {package.describe()} has no usable input size") from None


def _nvidia_present() -> bool:
    return Path("/proc/driver/nvidia/gpus").is_dir() or os.path.exists("/dev/nvidia0")


def _tensorflow(package: ModelPackage) -> tuple[Callable, str]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    import engine.ai.network  # noqa: F401  (registers the custom layer)

    gpus = tf.config.list_physical_devices("GPU")
    for g in gpus:
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(g, True)
    if gpus:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
        device, where = f"GPU:0 ({name})", "/GPU:0"
    else:
        device, where = "CPU", "/CPU:0"
    with tf.device(where):
        model = keras.saving.load_model(package.keras_path, compile=False)

    @tf.function(reduce_retracing=True)
    def call(cc, mlo):  # type: ignore[no-untyped-def]
        return model({"cc": cc, "mlo": mlo}, training=False)

    def run(cc: np.ndarray, mlo: np.ndarray) -> dict[str, np.ndarray]:
        with tf.device(where):
            out = call(tf.constant(cc), tf.constant(mlo))
        return {k: np.asarray(out[k]) for k in OUTPUT_NAMES}

    return run, device


def _onnx(package: ModelPackage) -> tuple[Callable, str]:
    import onnxruntime as ort

    if package.onnx_path is None:
        raise MammoDeskError(f"model {package.describe()} has no ONNX file")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    providers = [
        p
        for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
        if p in ort.get_available_providers()
    ]
    sess = ort.InferenceSession(str(package.onnx_path), opts, providers=providers)
    used = sess.get_providers()[0]
    device = "GPU:0 (CUDA, ONNX Runtime)" if used == "CUDAExecutionProvider" else "CPU"
    names = [o.name for o in sess.get_outputs()]
    inputs = [i.name for i in sess.get_inputs()]

    def run(cc: np.ndarray, mlo: np.ndarray) -> dict[str, np.ndarray]:
        feed = dict(zip(inputs, (cc, mlo), strict=True))
        outs = sess.run(names, feed)
        return dict(zip(OUTPUT_NAMES, outs, strict=True))

    return run, device


def choose_backend(package: ModelPackage, requested: str = "auto") -> str:
    if requested not in BACKENDS:
        raise MammoDeskError(f"unknown AI backend {requested!r}; choose from {', '.join(BACKENDS)}")
    if requested != "auto":
        return requested
    if package.onnx_path is None:
        return "tensorflow"
    try:
        import onnxruntime as ort
    except ImportError:
        return "tensorflow"
    if "CUDAExecutionProvider" in ort.get_available_providers() or not _nvidia_present():
        return "onnxruntime"
    return "tensorflow"


def load_runtime(package: ModelPackage, backend: str = "auto") -> Runtime:
    """Load the package's network on the chosen backend; logs the device."""
    chosen = choose_backend(package, backend)
    t0 = time.perf_counter()
    fn, device = _tensorflow(package) if chosen == "tensorflow" else _onnx(package)
    load_s = time.perf_counter() - t0
    log.info(
        "AI model %s loaded on %s with %s in %.2f s", package.describe(), device, chosen, load_s
    )
    return Runtime(package, chosen, device, input_spec(package), load_s, fn)
