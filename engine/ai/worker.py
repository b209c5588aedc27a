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


def init(models_root: str, backend: str = "auto", parent: Parent | None = None) -> None:
    """Process initializer: load the model (a failure is kept, not raised,
    so the jobs can say what it was).  ``parent``: ``this_process()`` of the
    window that starts the worker, which must not outlive it."""
    global _runtime, _error
    exit_with_parent(parent)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        from engine.ai.service import open_runtime

        _runtime = open_runtime(Path(models_root), backend)
        from engine.ai import prepare_pool

        prepare_pool.start()  # this process analyses study after study
    except MammoDeskError as exc:
        _error = str(exc)
    except Exception as exc:
        _error = f"the AI model could not be loaded: {type(exc).__name__}: {exc}"


def _need() -> Runtime:
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
