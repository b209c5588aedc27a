"""The network: a small residual backbone trained here from scratch, a
per-view heatmap head (the marks come from it), per-breast fusion of the CC
and MLO views, and a breast-density head.

`view_model` maps one view (B, H, W, 1) to heatmap logits at stride 8 plus
pooled features; `breast_model` runs it on a breast's CC and MLO and fuses.
A view's malignancy logit is the log-sum-exp pooling of its heatmap logits
(a smooth maximum: multiple-instance style, so the score and the marks come
from the same map).

TensorFlow is imported lazily by callers; this module needs Keras.
"""

from __future__ import annotations

import keras
from keras import layers as L

HEATMAP_STRIDE = 8
LSE_R = 8.0  # sharpness of the log-sum-exp pooling (close to the maximum)
WIDTHS = (24, 48, 96, 128)
BREAST_OUTPUTS = ("heat_cc", "heat_mlo", "view_logits", "breast_prob", "density")
FEATURE_LAYER = "feat_mean"  # averages the per-view pooled features: its inputs


def _block(x, channels: int, stride: int, name: str):
    y = L.Conv2D(channels, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_c1")(x)
    y = L.BatchNormalization(name=f"{name}_bn1")(y)
    y = L.ReLU(name=f"{name}_r1")(y)
    y = L.Conv2D(channels, 3, padding="same", use_bias=False, name=f"{name}_c2")(y)
    y = L.BatchNormalization(name=f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != channels:
        x = L.Conv2D(channels, 1, strides=stride, use_bias=False, name=f"{name}_sc")(x)
        x = L.BatchNormalization(name=f"{name}_bnsc")(x)
    return L.ReLU(name=f"{name}_out")(L.Add(name=f"{name}_add")([x, y]))


def view_model(height: int | None = None, width: int | None = None) -> keras.Model:
    """One view -> (heatmap logits (B, H/8, W/8, 1), pooled features (B, C))."""
    inp = keras.Input((height, width, 1), name="image")
    x = SpeckChannel(name="specks")(inp)
    # Two overlapping stride-2 convolutions: a calcification speck is one or
    # two input pixels, and a non-overlapping patch stem splits it.
    x = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="stem1")(x)
    x = L.BatchNormalization(name="stem1_bn")(x)
    x = L.ReLU(name="stem1_r")(x)
    x = L.Conv2D(WIDTHS[0], 3, strides=2, padding="same", use_bias=False, name="stem2")(x)
    x = L.BatchNormalization(name="stem2_bn")(x)
    x = L.ReLU(name="stem2_r")(x)
    x = _block(x, WIDTHS[0], 1, "s4a")
    s8 = _block(_block(x, WIDTHS[1], 2, "s8a"), WIDTHS[1], 1, "s8b")
    s16 = _block(_block(s8, WIDTHS[2], 2, "s16a"), WIDTHS[2], 1, "s16b")
    s32 = _block(_block(s16, WIDTHS[3], 2, "s32a"), WIDTHS[3], 1, "s32b")
    # Top-down path: context from the coarse levels, detail from stride 8.
    t = L.Conv2D(64, 1, name="td32")(s32)
    t = L.UpSampling2D(2, name="up32")(t)
    t = L.Add(name="td16_add")([t, L.Conv2D(64, 1, name="td16")(s16)])
    t = L.UpSampling2D(2, name="up16")(t)
    t = L.Add(name="td8_add")([t, L.Conv2D(64, 1, name="td8")(s8)])
    t = L.Conv2D(64, 3, padding="same", activation="relu", name="head_c")(t)
    heat = L.Conv2D(1, 1, name="heat", bias_initializer=keras.initializers.Constant(-4.0))(t)
    heat = BreastMask(name="breast_mask")([heat, inp])
    feats = L.GlobalAveragePooling2D(name="gap")(s32)
    return keras.Model(inp, [heat, feats], name="view")


@keras.saving.register_keras_serializable(package="mammodesk")
class SpeckChannel(L.Layer):
    """Adds a white top-hat channel (image minus its grey opening over 3x3):
    small bright specks, the calcifications, stand out of the tissue around
    them.  The classic first step of calcification detection, done in the
    graph so every backend computes the same thing."""

    def call(self, x):
        def pool(t):
            return keras.ops.max_pool(t, pool_size=3, strides=1, padding="same")

        opening = pool(-pool(-x))
        return keras.ops.concatenate([x, (x - opening) * 4.0], axis=-1)


@keras.saving.register_keras_serializable(package="mammodesk")
class BreastMask(L.Layer):
    """Heatmap cells that are mostly air get a very low logit: a finding
    lies in the breast, and the canvas edge must not raise a view's score."""

    def call(self, inputs):
        heat, image = inputs
        inside = keras.ops.cast(image > 0, heat.dtype)
        s = HEATMAP_STRIDE
        frac = keras.ops.average_pool(inside, pool_size=(s, s), strides=(s, s), padding="valid")
        keep = keras.ops.cast(frac >= 0.25, heat.dtype)
        return heat * keep + (keep - 1.0) * 20.0


@keras.saving.register_keras_serializable(package="mammodesk")
class LogSumExpPool(L.Layer):
    """Smooth maximum of the heatmap logits: (1/r) log mean exp(r * z)."""

    def __init__(self, r: float = LSE_R, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.r = r

    def call(self, z):
        flat = keras.ops.reshape(z, (keras.ops.shape(z)[0], -1))
        n = keras.ops.cast(keras.ops.shape(flat)[1], z.dtype)
        lse = keras.ops.logsumexp(self.r * flat, axis=1, keepdims=True)
        return (lse - keras.ops.log(n)) / self.r

    def get_config(self) -> dict:
        return {**super().get_config(), "r": self.r}


def density_layer() -> L.Dense:
    """Density logits (ACR a-d) from pooled features; shared by both models."""
    return L.Dense(4, name="density_logits")


def breast_model(view: keras.Model, density: L.Dense, height: int, width: int) -> keras.Model:
    """CC and MLO of one breast -> heatmaps (probabilities), breast
    probability, view logits and density probabilities."""
    cc = keras.Input((height, width, 1), name="cc")
    mlo = keras.Input((height, width, 1), name="mlo")
    heat_cc, f_cc = view(cc)
    heat_mlo, f_mlo = view(mlo)
    pool = LogSumExpPool(name="lse")
    z_cc = pool(heat_cc)
    z_mlo = pool(heat_mlo)
    z = L.Concatenate(name="view_logits")([z_cc, z_mlo])
    fused = L.Dense(1, name="fusion", kernel_initializer=keras.initializers.Constant(0.5))(z)
    p_breast = L.Activation("sigmoid", name="breast_prob")(fused)
    feats = L.Average(name="feat_mean")([f_cc, f_mlo])
    density_p = L.Softmax(name="density")(density(feats))
    outputs = {
        "heat_cc": L.Activation("sigmoid", name="heat_cc")(heat_cc),
        "heat_mlo": L.Activation("sigmoid", name="heat_mlo")(heat_mlo),
        "view_logits": z,
        "breast_prob": p_breast,
        "density": density_p,
    }
    return keras.Model({"cc": cc, "mlo": mlo}, outputs, name="mammodesk_breast")


def training_model(view: keras.Model, density: L.Dense) -> keras.Model:
    """Single-view model used for training on crops: heatmap logits, view
    logit (LSE) and density logits from the same features."""
    inp = keras.Input((None, None, 1), name="image")
    heat, feats = view(inp)
    z = LogSumExpPool(name="lse")(heat)
    dens = density(feats)
    return keras.Model(inp, {"heat": heat, "view_logit": z, "density": dens}, name="train_view")


def with_features(model: keras.Model) -> keras.Model:
    """``model`` (a breast model) as one that also returns each view's pooled
    backbone features (the inputs of the ``feat_mean`` layer, CC then MLO) as
    ``features_cc`` and ``features_mlo``; ``model`` itself when it has no
    such layer.  Same weights, same graph: nothing retrained or recomputed."""
    try:
        f_cc, f_mlo = model.get_layer(FEATURE_LAYER).input
        outputs = {name: model.get_layer(name).output for name in BREAST_OUTPUTS}
    except (ValueError, TypeError, AttributeError):
        return model
    outputs.update({"features_cc": f_cc, "features_mlo": f_mlo})
    return keras.Model(model.input, outputs, name=f"{model.name}_features")


CUSTOM_OBJECTS = {
    "LogSumExpPool": LogSumExpPool,
    "BreastMask": BreastMask,
    "SpeckChannel": SpeckChannel,
}
