"""Fitting the domain check: shrinkage, thresholds that keep in-distribution
studies unflagged, and the same fit run by the training export."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ai.domain import DomainCheck
from engine.ai.domain.acquisition import STAT_NAMES, acquisition_stats
from engine.ai.domain.fit import ViewSample, fit_domain_check, ledoit_wolf, study_rate


def test_ledoit_wolf_is_invertible_with_fewer_samples_than_dimensions() -> None:
    x = np.random.default_rng(0).standard_normal((20, 64))
    cov, shrink = ledoit_wolf(x)
    assert 0.0 < shrink <= 1.0
    assert np.linalg.eigvalsh(cov).min() > 0


def test_ledoit_wolf_barely_shrinks_plentiful_data() -> None:
    x = np.random.default_rng(1).standard_normal((5000, 8)) * np.arange(1, 9)
    cov, shrink = ledoit_wolf(x)
    assert shrink < 0.05
    assert np.allclose(np.diag(cov), np.arange(1, 9) ** 2, rtol=0.1)


def _views(rng: np.random.Generator, studies: int, tag: str, shift: float = 0.0) -> list:
    out = []
    for s in range(studies):
        for _ in range(2):  # breasts
            for pos in ("CC", "MLO"):
                feats = rng.standard_normal(16) + (2.0 if pos == "MLO" else 0.0) + shift
                stats = {n: float(rng.normal(0.3, 0.02)) for n in STAT_NAMES}
                out.append(ViewSample(f"{tag}{s}", pos, feats, stats))
    return out


def test_fit_flags_few_in_distribution_studies_and_shifted_ones() -> None:
    rng = np.random.default_rng(2)
    fit, cal, chk = (_views(rng, 150, t) for t in ("f", "t", "c"))
    raw = fit_domain_check(fit, cal, chk, layer="test", groups={})
    check = DomainCheck.from_dict(raw)
    assert raw["validation"]["in_distribution"]["threshold"]["rate"] <= 0.01
    assert raw["validation"]["in_distribution"]["check"]["rate"] <= 0.05
    assert study_rate(check, _views(rng, 50, "s", shift=3.0))[0] > 0.9
    noisy = _views(rng, 50, "n")
    for v in noisy:
        v.stats["noise"] *= 3
    assert study_rate(check, noisy)[0] == 1.0
    verdict = check.verdict("CC", noisy[0].features, noisy[0].stats)
    assert verdict.flagged and any("noise" in r for r in verdict.reasons)


def test_too_few_views_to_fit_is_an_error() -> None:
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match="too few"):
        fit_domain_check(_views(rng, 2, "f"), _views(rng, 2, "t"), [], layer="x", groups={})


def test_acquisition_stats_of_an_empty_canvas() -> None:
    stats = acquisition_stats(np.zeros((64, 32), np.float32))
    assert stats["breast_fraction"] == 0.0 and set(stats) == set(STAT_NAMES)


def _stats_on_the_whole_canvas(img: np.ndarray) -> dict[str, float]:
    """The statistics as the shipped check was fitted with them: scipy on the whole canvas."""
    from scipy import ndimage

    mask = img > 0
    values = img[mask]
    p05, p95 = np.percentile(values, [5.0, 95.0])
    residual = img - ndimage.uniform_filter(img, size=3, mode="nearest")
    inner = ndimage.binary_erosion(mask, iterations=4)
    r = residual[inner] if inner.sum() >= 64 else residual[mask]
    return {
        "breast_fraction": int(mask.sum()) / img.size,
        "breast_mean": float(values.mean()),
        "breast_std": float(values.std()),
        "breast_p05": float(p05),
        "breast_p95": float(p95),
        "noise": 1.4826 * float(np.median(np.abs(r - np.median(r)))),
        "saturated": float((values >= 0.995).mean()),
    }


@pytest.mark.parametrize("seed", range(12))
def test_acquisition_stats_are_the_figures_the_check_was_fitted_on(seed: int) -> None:
    # Breasts against the chest wall edge, at the canvas's top or bottom, thin
    # ones (too few inner pixels) and ragged ones: the statistics, computed on
    # the breast's box with a whole-array erosion, are exactly those of the
    # straightforward computation on the whole canvas.
    rng = np.random.default_rng(seed)
    img = np.zeros((96, 48), np.float32)
    h, w = int(rng.integers(3, 96)), int(rng.integers(3, 48))
    y = int(rng.integers(0, 96 - h + 1))
    x = 0 if seed % 2 else int(rng.integers(0, 48 - w + 1))
    img[y : y + h, x : x + w] = rng.uniform(0.05, 1.0, (h, w))
    img *= rng.random(img.shape) > (0.3 if seed % 3 == 0 else 0.0)
    assert acquisition_stats(img) == _stats_on_the_whole_canvas(img)


def test_training_export_fits_the_check_from_the_breast_model() -> None:
    pytest.importorskip("tensorflow")
    from engine.ai.network import breast_model, density_layer, view_model, with_features
    from engine.ai.training.domain_export import domain_check_from_validation

    h, w = 64, 32
    model = breast_model(view_model(), density_layer(), h, w)
    rng = np.random.default_rng(4)
    arrays = {}
    for i in range(96):
        img = np.zeros((h, w, 1), np.float32)
        img[8:56, :24] = rng.uniform(0.2, 0.8, (48, 24, 1))
        arrays[i] = {"image": img}
    pairs = [(2 * k, 2 * k + 1) for k in range(48)]
    raw = domain_check_from_validation(model, arrays, pairs, [f"E{k // 2}" for k in range(48)])
    check = DomainCheck.from_dict(raw)
    assert raw["channels"] == 128 and set(check.positions) == {"CC", "MLO"}
    assert raw["validation"]["in_distribution"]["fit"]["studies"] == 8
    out = with_features(model)({"cc": arrays[0]["image"][None], "mlo": arrays[1]["image"][None]})
    _, feats = model.get_layer("view")(arrays[0]["image"][None])
    assert np.allclose(np.asarray(out["features_cc"]), np.asarray(feats), atol=1e-5)
