"""Model packages for tests: dummy files (no TensorFlow), a real manifest
with every file's SHA-256, so engine.ai.package verifies them in full."""

from __future__ import annotations

from pathlib import Path

from engine.ai.package import write_manifest
from engine.ai.results import NOT_FOR_CLINICAL_USE


def base_manifest(name: str = "demo", version: str = "1.0.0", **extra: object) -> dict:
    manifest = {
        "name": name,
        "version": version,
        "created": "2025-01-31T12:00:00+00:00",
        "min_app_version": "0.1.0",
        "framework": {"keras": "3.x", "tensorflow": "2.21"},
        "entry": {"keras": "model.keras", "onnx": "model.onnx"},
        "input": {"height": 64, "width": 52, "mm_per_pixel": 0.4},
        "preprocessing": {"normalise": "minmax"},
        "outputs": {"score": "sigmoid"},
        "operating_points": {"high_sensitivity": 0.2, "balanced": 0.5},
        "training_data": {"source": "synthetic cohort", "synthetic": True},
        "metrics": {"auc": 0.9},
        "notice": NOT_FOR_CLINICAL_USE,
    }
    manifest.update(extra)
    return manifest


def make_package(
    folder: Path, name: str = "demo", version: str = "1.0.0", onnx: bool = True, **extra: object
) -> Path:
    (folder / "plots").mkdir(parents=True)
    (folder / "model.keras").write_bytes(f"keras weights {name} {version}".encode() * 100)
    if onnx:
        (folder / "model.onnx").write_bytes(b"onnx graph" * 50)
    (folder / "MODEL_CARD.md").write_text(f"# {name} {version}\n\n{NOT_FOR_CLINICAL_USE}\n")
    (folder / "evaluation.json").write_text('{"auc": 0.9}')
    (folder / "plots" / "roc.png").write_bytes(b"\x89PNG fake")
    manifest = base_manifest(name, version, **extra)
    if not onnx:
        manifest["entry"] = {"keras": "model.keras", "onnx": None}
    write_manifest(folder, manifest)
    return folder
