"""The window's AI process follows a switch of the live model from the next
job on (engine.ai.worker), without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ai import worker
from engine.ai.activation import rollback
from engine.ai.package import install_package
from engine.resources import builtin_model_dir
from tests.support.cloud import shipped_model_copy


@pytest.fixture
def ai_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process as the AI process of a window, with an empty models folder."""
    models = tmp_path / "models"
    for name, value in (("_models_root", models), ("_backend", "onnxruntime"),
                        ("_runtime", None), ("_error", None), ("_loaded", None)):
        monkeypatch.setattr(worker, name, value)
    worker._load()
    return models


def test_a_switch_is_used_from_the_next_job_on(ai_process: Path, tmp_path: Path) -> None:
    shipped = worker.model_info()["version"]
    install_package(shipped_model_copy(tmp_path / "next", "7.0.0"), ai_process)
    assert worker.model_info()["version"] == "7.0.0"
    rollback(ai_process, builtin_model_dir())
    assert worker.model_info()["version"] == shipped


def test_an_unchanged_model_is_not_loaded_again(ai_process: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = worker._runtime
    assert worker.model_info()["name"] and worker._runtime is loaded
