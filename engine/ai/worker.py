"""The AI in a process of its own, for the viewer.

Decoding a study's images holds Python's global lock for seconds (JPEG 2000),
which would freeze a window running the AI on a thread.  The viewer starts
one worker process with `init`, which loads the active model once and starts
the processes that decode a study's views side by side
(engine.ai.prepare_pool); the other functions are the jobs it sends.  Everything crosses by pickle.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from engine.ai.results import ExamResult
from engine.errors import MammoDeskError
from engine.parent_watch import Parent, exit_with_parent

if TYPE_CHECKING:
    from engine.ai.runtime import Runtime

_runtime: Runtime | None = None
_error: str | None = None
_models_root: Path | None = None
_backend = "auto"
_loaded: tuple[str, str] | None = None  # what active.json named when the model was loaded


def init(models_root: str, backend: str = "auto", parent: Parent | None = None) -> None:
    """Process initializer: load the model (a failure is kept, not raised,
    so the jobs can say what it was).  ``parent``: ``this_process()`` of the
    window that starts the worker, which must not outlive it."""
    global _models_root, _backend, _runtime, _error
    exit_with_parent(parent)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _models_root, _backend = Path(models_root), backend
    _load()
    if _runtime is None:
        return
    try:
        from engine.ai import prepare_pool

        prepare_pool.start()  # this process analyses study after study
    except Exception as exc:
        _runtime, _error = None, f"the AI could not start: {type(exc).__name__}: {exc}"


def _load() -> None:
    global _runtime, _error, _loaded
    from engine.ai.package import active_record
    from engine.ai.service import open_runtime

    assert _models_root is not None
    _loaded = active_record(_models_root)
    try:
        _runtime, _error = open_runtime(_models_root, _backend), None
    except MammoDeskError as exc:
        _runtime, _error = None, str(exc)
    except Exception as exc:
        _runtime, _error = None, f"the AI model could not be loaded: {type(exc).__name__}: {exc}"


def _need() -> Runtime:
    """The loaded model; loaded again first when another process switched the
    live model (models activate, rollback), so the next study uses the new one."""
    from engine.ai.package import active_record

    if _models_root is not None and active_record(_models_root) != _loaded:
        _load()
    if _runtime is None:
        raise MammoDeskError(_error or "no AI model installed")
    return _runtime


def model_info() -> dict[str, str]:
    rt = _need()
    return {"name": rt.package.name, "version": rt.package.version, "device": rt.device,
            "backend": rt.backend}


def analyze_library_study(library_root: str, study_uid: str) -> ExamResult:
    from engine.ai.service import analyze_and_store
    from engine.library.store import Library

    rt = _need()
    with Library(Path(library_root)) as lib:
        return analyze_and_store(lib, study_uid, rt)


def analyze_library_studies(library_root: str, study_uids: list[str], add_missing: bool = False
                            ) -> list[tuple[str, ExamResult | str]]:
    """Analyse library studies; with ``add_missing`` also every study in the
    AI's scope still without a result of the loaded model."""
    from engine.ai.service import analyze_studies
    from engine.ai.study_analysis import analyze_with_missing
    from engine.library.store import Library

    rt = _need()
    with Library(Path(library_root)) as lib:
        if add_missing:
            return analyze_with_missing(lib, study_uids, rt)
        return analyze_studies(lib, study_uids, rt)
