"""The shipped model says when a study is outside its training: a phantom
like the training ones passes, heavy noise and a non-breast image dressed as
a mammogram are flagged, a package without the check still analyses, and the
check is part of what the package verifies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pydicom
import pytest

from engine.ai.analyze import analyze_datasets
from engine.ai.domain import DomainCheck, DomainVerdict, study_flagged
from engine.ai.domain.inputs import Job, StudyInput, study_input
from engine.ai.package import read_package, write_manifest
from engine.ai.package_manifest import ModelPackageError, load_manifest
from engine.ai.runtime import FEATURE_NAMES, OUTPUT_NAMES, Runtime, load_runtime
from engine.ai.service import BUILTIN_MODEL
from engine.phantom import generate_cohort

SEED = 2005  # used by neither the training (1001-1003, 9001) nor the fit (2001-2004)


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return load_runtime(read_package(BUILTIN_MODEL), "onnxruntime")


@pytest.fixture(scope="module")
def check(runtime: Runtime) -> DomainCheck:
    found = DomainCheck.from_package(runtime.package)
    assert found is not None
    return found


def _verdicts(si: StudyInput, runtime: Runtime, check: DomainCheck) -> list[DomainVerdict]:
    """Each breast with both views prepared through the model and the check."""
    verdicts = []
    for side in ("R", "L"):
        by = {v.position: v.prepared for v in si.views if v.laterality == side and v.prepared}
        if len(by) < 2:
            continue
        out = runtime.predict(by["CC"].image[None, ..., None], by["MLO"].image[None, ..., None])
        for pos in ("CC", "MLO"):
            verdicts.append(check.view_verdict(by[pos], out[f"features_{pos.lower()}"][0], pos))
    return verdicts


def _study(kind: str, tmp_path: Path, runtime: Runtime, check: DomainCheck) -> list:
    return _verdicts(study_input(Job(kind, SEED, 0), tmp_path, runtime.spec), runtime, check)


def test_runtime_returns_per_view_features(runtime: Runtime) -> None:
    x = np.zeros((2, runtime.spec.height, runtime.spec.width, 1), np.float32)
    out = runtime.predict(x, x)
    assert set(out) == {*OUTPUT_NAMES, *FEATURE_NAMES}
    assert out["features_cc"].shape == out["features_mlo"].shape == (2, 128)


def test_in_distribution_phantom_study_is_not_flagged(tmp_path, runtime, check) -> None:
    verdicts = _study("phantom", tmp_path, runtime, check)
    assert len(verdicts) == 4
    assert not any(v.flagged for v in verdicts), [v.reasons for v in verdicts]
    assert all(v.distance <= v.threshold for v in verdicts)


def test_heavy_noise_is_flagged(tmp_path, runtime, check) -> None:
    verdicts = _study("noise", tmp_path, runtime, check)
    assert len(verdicts) == 4
    assert study_flagged(verdicts)
    assert all(v.reasons for v in verdicts if v.flagged)


def test_non_breast_image_dressed_as_a_mammogram_is_flagged(tmp_path, runtime, check) -> None:
    verdicts = _study("radiograph", tmp_path, runtime, check)
    assert verdicts, "the dressed images were refused before the model"
    assert study_flagged(verdicts)


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "pkg"
    shutil.copytree(BUILTIN_MODEL, dst)
    return dst


def test_package_without_the_check_still_analyses(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "domain_check.json").unlink()
    # An older export too: its ONNX file has no feature outputs.
    model = onnx.load(str(root / "model.onnx"))
    kept = [o for o in model.graph.output if o.name not in FEATURE_NAMES]
    del model.graph.output[:]
    model.graph.output.extend(kept)
    onnx.save(model, str(root / "model.onnx"))
    manifest = load_manifest(root)
    del manifest["entry"]["domain_check"]
    write_manifest(root, manifest)
    pkg = read_package(root)
    assert DomainCheck.from_package(pkg) is None
    runtime = load_runtime(pkg, "onnxruntime")
    cohort = generate_cohort(tmp_path / "study", 1, seed=SEED, prior_rate=0.0)
    result = analyze_datasets([pydicom.dcmread(f) for f in cohort.files], runtime)
    assert result.exam_score is not None
    x = np.zeros((1, runtime.spec.height, runtime.spec.width, 1), np.float32)
    assert set(runtime.predict(x, x)) == set(OUTPUT_NAMES)


def test_tampered_check_is_refused(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "domain_check.json"
    raw = json.loads(path.read_text())
    raw["positions"]["CC"]["threshold"] *= 10  # a looser check
    path.write_text(json.dumps(raw, indent=1) + "\n")
    with pytest.raises(ModelPackageError, match=r"domain_check\.json"):
        read_package(root)


def test_entry_must_name_a_listed_file(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    manifest = load_manifest(root)
    manifest["entry"]["domain_check"] = "other.json"
    with pytest.raises(ModelPackageError, match=r"entry\.domain_check"):
        write_manifest(root, manifest)


def test_shipped_check_says_how_it_was_validated(check: DomainCheck) -> None:
    v = check.validation
    assert v["meets_target"] is True
    assert v["in_distribution"]["check"]["rate"] <= v["target_study_rate"] <= 0.02
    assert v["in_distribution"]["check"]["studies"] >= 100
    card = (BUILTIN_MODEL / "MODEL_CARD.md").read_text()
    assert "## Outside its training" in card
