"""Running a model package: TensorFlow (GPU when present) or ONNX Runtime.

The backend is picked without importing TensorFlow when it is not needed:
importing it takes seconds, ONNX Runtime a fraction of one.  `auto` uses
ONNX Runtime when it offers a GPU, when the machine has no NVIDIA GPU or when
TensorFlow is not installed, TensorFlow otherwise.

A workstation installs MammoDesk with ONNX Runtime only (``pip install .``);
TensorFlow comes with the ``train`` extra (training, evaluation on TensorFlow,
GPU inference).  Whatever needs it checks first, with `require_training_extra`,
and a missing extra is one clear line naming the command that installs it.
"""

from __future__ import annotations

import importlib.util
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
# Per-view pooled backbone features (breasts, channels), for the domain check
# (engine/ai/domain).  Present only when the package's model provides them.
FEATURE_NAMES = ("features_cc", "features_mlo")
BACKENDS = ("auto", "tensorflow", "onnxruntime")
TRAIN_EXTRA = 'pip install "mammodesk[train]"'
TENSORFLOW_MODULES = ("tensorflow", "keras")
TRAINING_MODULES = (*TENSORFLOW_MODULES, "tf2onnx", "onnx")  # training exports ONNX too


@dataclass
class Runtime:
    package: ModelPackage
    backend: str
    device: str
    spec: InputSpec
    load_s: float
    _fn: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]

    def predict(self, cc: np.ndarray, mlo: np.ndarray) -> dict[str, np.ndarray]:
        """cc, mlo: (breasts, H, W, 1) float32 -> the model's outputs.

        The keys are OUTPUT_NAMES, plus FEATURE_NAMES when the model provides
        per-view features: ONNX files with those outputs (older exports have
        none: no such keys), Keras models with the ``feat_mean`` layer."""
        return self._fn(cc.astype(np.float32, copy=False), mlo.astype(np.float32, copy=False))


def input_spec(package: ModelPackage) -> InputSpec:
    i = package.manifest.get("input", {})
    try:
        return InputSpec(int(i["height"]), int(i["width"]), float(i["mm_per_pixel"]))
    except (KeyError, TypeError, ValueError):
        raise MammoDeskError(f"model {package.describe()} has no usable input size") from None


def _nvidia_present() -> bool:
    return Path("/proc/driver/nvidia/gpus").is_dir() or os.path.exists("/dev/nvidia0")


def _missing(modules: tuple[str, ...]) -> list[str]:
    """Those of ``modules`` that cannot be imported here (found without importing them)."""
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def tensorflow_installed() -> bool:
    """Whether TensorFlow and Keras (the ``train`` extra) are installed."""
    return not _missing(TENSORFLOW_MODULES)


def require_training_extra(purpose: str, modules: tuple[str, ...] = TENSORFLOW_MODULES) -> None:
    """Raise one clear line when a module of the ``train`` extra is missing.

    Call it before importing TensorFlow, tf2onnx or what imports them.
    """
    missing = _missing(modules)
    if missing:
        raise MammoDeskError(
            f"{purpose} needs {', '.join(missing)}, which this installation lacks; "
            f"install MammoDesk's training extra: {TRAIN_EXTRA}"
        )


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
    outputs = [o.name for o in sess.get_outputs()]
    # The first five outputs are the model's, in OUTPUT_NAMES order (the
    # export names them after internal tensors); features come by name.
    names = outputs[: len(OUTPUT_NAMES)] + [n for n in FEATURE_NAMES if n in outputs]
    keys = (*OUTPUT_NAMES, *names[len(OUTPUT_NAMES) :])
    inputs = [i.name for i in sess.get_inputs()]

    def run(cc: np.ndarray, mlo: np.ndarray) -> dict[str, np.ndarray]:
        feed = dict(zip(inputs, (cc, mlo), strict=True))
        outs = sess.run(names, feed)
        return dict(zip(keys, outs, strict=True))

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
    return "tensorflow" if tensorflow_installed() else "onnxruntime"


def load_runtime(package: ModelPackage, backend: str = "auto") -> Runtime:
    """Load the package's network on the chosen backend; logs the device."""
    chosen = choose_backend(package, backend)
    t0 = time.perf_counter()
    if chosen == "tensorflow":
        no_onnx = backend == "auto" and package.onnx_path is None
        require_training_extra(
            f"model {package.describe()} has no ONNX file, so it"
            if no_onnx
            else "the TensorFlow backend"
        )
        from engine.ai.tf_backend import load_tensorflow

        fn, device = load_tensorflow(package)
    else:
        fn, device = _onnx(package)
    load_s = time.perf_counter() - t0
    log.info(
        "AI model %s loaded on %s with %s in %.2f s", package.describe(), device, chosen, load_s
    )
    return Runtime(package, chosen, device, input_spec(package), load_s, fn)
