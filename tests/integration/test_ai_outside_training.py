"""A study unlike the model's training gets no score: the analysis says it
is outside what the model was trained on, keeps the numbers aside, and a
study like the training is analysed as before."""

from __future__ import annotations

import copy

import numpy as np
import pydicom
import pytest

from engine.ai.analyze import analyze_datasets
from engine.ai.domain.inputs import perturb
from engine.ai.package import read_package
from engine.ai.results import OUTSIDE_TRAINING
from engine.ai.runtime import load_runtime
from engine.ai.service import BUILTIN_MODEL
from engine.phantom import generate_cohort

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> list[pydicom.Dataset]:
    cohort = generate_cohort(tmp_path_factory.mktemp("ood"), 1, seed=2007, cancer_rate=1.0)
    return [pydicom.dcmread(p) for p in sorted(cohort.files)]


@pytest.fixture(scope="module")
def runtime():
    return load_runtime(read_package(BUILTIN_MODEL), "onnxruntime")


def _noisy(views: list[pydicom.Dataset]) -> list[pydicom.Dataset]:
    rng = np.random.default_rng(7)
    out = []
    for ds in views:
        ds = copy.deepcopy(ds)
        ds.PixelData = perturb("noise", ds, ds.pixel_array, rng).tobytes()
        out.append(ds)
    return out


def test_a_study_like_the_training_is_scored_and_every_view_checked(study, runtime):
    result = analyze_datasets(study, runtime)
    assert result.outside_training is False
    assert result.exam_score is not None and result.withheld_exam_score is None
    assert all(v.domain is not None and v.domain["flagged"] is False for v in result.views)
    assert any(v.marks for v in result.views)  # a cancer study: its marks are shown


def test_a_noisy_study_shows_why_instead_of_a_score(study, runtime):
    inside = analyze_datasets(study, runtime)
    result = analyze_datasets(_noisy(study), runtime)
    assert result.outside_training is True
    assert result.exam_score is None and result.category is None and result.density is None
    assert result.reason is not None and result.reason.startswith(OUTSIDE_TRAINING)
    assert all(b.probability is None and b.reason == OUTSIDE_TRAINING for b in result.breasts)
    assert not any(v.marks for v in result.views)
    assert all(v.heatmap is None for v in result.views)
    flagged = [v for v in result.views if v.domain and v.domain["flagged"]]
    assert flagged and all(v.domain["reasons"] for v in flagged)
    # kept aside, for a reader who asks, and different from the clean study's
    assert result.withheld_exam_score is not None
    assert result.withheld_exam_score != inside.exam_score
