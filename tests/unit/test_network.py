"""The network's own promises: the heatmap stays inside the breast, the view
score is a smooth maximum of the heatmap."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from engine.ai.network import (
    HEATMAP_STRIDE,
    LSE_R,
    breast_model,
    density_layer,
    view_model,
)

H, W = 64, 32


@pytest.fixture(scope="module")
def parts():
    keras.utils.set_random_seed(3)
    return view_model(), density_layer()


def _image(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.random((1, H, W, 1)).astype(np.float32)
    img[:, :, W // 2 :] = 0.0  # air on the nipple side
    return img


def test_heatmap_is_masked_outside_the_breast(parts):
    view, density = parts
    model = breast_model(view, density, H, W)
    out = model({"cc": _image(1), "mlo": _image(2)})
    heat = np.asarray(out["heat_cc"])[0, ..., 0]
    assert heat.shape == (H // HEATMAP_STRIDE, W // HEATMAP_STRIDE)
    assert heat[:, -1].max() < 1e-6  # air cells: probability ~ 0


def test_view_logit_is_the_log_sum_exp_of_the_heatmap(parts):
    view, density = parts
    model = breast_model(view, density, H, W)
    out = model({"cc": _image(1), "mlo": _image(2)})
    p = np.asarray(out["heat_cc"], np.float64)[0, ..., 0].ravel()
    z = np.log(p / (1 - p))
    lse = (np.log(np.mean(np.exp(LSE_R * z)))) / LSE_R
    assert float(np.asarray(out["view_logits"])[0, 0]) == pytest.approx(lse, abs=1e-3)
