"""The TensorFlow backend of the model runtime (GPU when present, else CPU).

TensorFlow comes with MammoDesk's ``train`` extra; engine/ai/runtime.py checks
that it is installed before importing this module, so a workstation without
it gets one clear line instead of an import error.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

import numpy as np

from engine.ai.package import ModelPackage
from engine.ai.runtime import FEATURE_NAMES, OUTPUT_NAMES


def load_tensorflow(package: ModelPackage) -> tuple[Callable, str]:
    """The package's Keras model as a function (cc, mlo) -> outputs, and the device."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from engine.ai.network import with_features  # also registers the custom layers

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
        model = with_features(keras.saving.load_model(package.keras_path, compile=False))

    @tf.function(reduce_retracing=True)
    def call(cc, mlo):
        return model({"cc": cc, "mlo": mlo}, training=False)

    def run(cc: np.ndarray, mlo: np.ndarray) -> dict[str, np.ndarray]:
        with tf.device(where):
            out = call(tf.constant(cc), tf.constant(mlo))
        return {k: np.asarray(v) for k, v in out.items() if k in OUTPUT_NAMES + FEATURE_NAMES}

    return run, device
