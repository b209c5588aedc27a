"""Which AI result a study gets: one already stored for the active model, or
a fresh analysis that is then kept in the library.

Headless: the command line calls these for ``import``, ``demo`` and
``analyze``; they print nothing and decide nothing about output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from engine.ai.analyze import analyze_datasets
from engine.ai.results import ExamResult
from engine.ai.runtime import Runtime
from engine.ai.service import (
    analyze_studies,
    current_package,
    datasets_from_library,
    datasets_from_path,
    open_runtime,
)
from engine.ai.store import latest_result, save_result
from engine.errors import MammoDeskError
from engine.library.catalog import study_exists
from engine.library.store import Library


@dataclass
class StudyResults:
    """Per study in the AI's scope: its result, or the one-line reason it has none."""

    results: dict[str, ExamResult | str] = field(default_factory=dict)
    problem: str | None = None  # why no model could run at all (no model installed, ...)
    reused: set[str] = field(default_factory=set)  # studies whose stored result was kept


def results_for_studies(library: Library, models_root: Path, study_uids: list[str], *,
                        reuse_stored: bool, backend: str = "auto") -> StudyResults:
    """Results for library studies.

    With ``reuse_stored`` a study that already has a result of the active model
    keeps it and is not analysed again; the others are analysed (when they hold
    For Presentation mammograms) and their results stored.
    """
    out = StudyResults()
    todo = list(study_uids)
    if reuse_stored:
        try:
            package = current_package(models_root)
        except MammoDeskError as exc:
            return StudyResults(problem=str(exc))
        model = (package.name, package.version)
        for uid in study_uids:
            stored = latest_result(library, uid, model)
            if stored is not None:
                out.results[uid] = stored
                out.reused.add(uid)
        todo = [uid for uid in study_uids if uid not in out.reused]
    if not todo:
        return out
    try:
        runtime = open_runtime(models_root, backend)
    except MammoDeskError as exc:
        out.problem = str(exc)
        return out
    out.results.update(analyze_studies(library, todo, runtime))
    return out


def target_datasets(library: Library, target: str) -> list[pydicom.Dataset]:
    """The images of a file, folder or ZIP (when ``target`` exists on disk), else
    of the library study with that UID."""
    path = Path(target)
    if path.exists():
        return datasets_from_path(path)
    return datasets_from_library(library, target)


def analyze_and_keep(library: Library, datasets: list[pydicom.Dataset],
                     runtime: Runtime) -> tuple[ExamResult, bool]:
    """A fresh result, stored when the library holds the study; (result, stored)."""
    result = analyze_datasets(datasets, runtime)
    stored = study_exists(library, result.study_instance_uid)
    if stored:
        save_result(library, result)
    return result, stored
