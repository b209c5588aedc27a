"""Which AI result a study gets: one already stored for the active model, or
a fresh analysis that is then kept in the library.

Every study in the AI's scope gets a result of the active model: ``import``
analyses its new studies and every study still without one, ``demo`` its
study and the prior, ``analyze --missing`` whatever lacks one.  Headless:
the command line and the window's AI process call these; they print nothing
and decide nothing about output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from engine.ai.analyze import analyze_datasets
from engine.ai.results import ExamResult
from engine.ai.runtime import Runtime, load_runtime
from engine.ai.service import (
    analyze_studies,
    current_package,
    datasets_from_library,
    datasets_from_path,
    in_ai_scope,
)
from engine.ai.store import latest_result, save_result
from engine.errors import MammoDeskError
from engine.library.ai_results import study_uids_with_result
from engine.library.catalog import study_exists, study_uids
from engine.library.store import Library


@dataclass
class StudyResults:
    """Per study in the AI's scope: its result, or the one-line reason it has none."""

    results: dict[str, ExamResult | str] = field(default_factory=dict)
    problem: str | None = None  # why no model could run at all (no model installed, ...)
    reused: set[str] = field(default_factory=set)  # studies whose stored result was kept


@dataclass(frozen=True)
class Analysis:
    """One fresh analysis of a study, and what the library made of it."""

    result: ExamResult
    in_library: bool  # the study is in the library
    kept_reason: str | None = None  # why the library kept the result it had instead

    @property
    def stored(self) -> bool:
        return self.in_library and self.kept_reason is None


def missing_results(library: Library, model: tuple[str, str]) -> list[str]:
    """Library studies in the AI's scope without a result of a model (name,
    version), oldest import first: those an interrupted import, an import
    without the AI, a new model or the demo's prior left without one."""
    have = study_uids_with_result(library, model)
    return [uid for uid in study_uids(library) if uid not in have and in_ai_scope(library, uid)]


def results_for_studies(library: Library, models_root: Path, study_uids: list[str], *,
                        reuse_stored: bool, add_missing: bool = False,
                        backend: str = "auto") -> StudyResults:
    """Results for library studies, of the active model.

    With ``reuse_stored`` a study that already has a result of the active model
    keeps it and is not analysed again; the others are analysed (when they hold
    For Presentation mammograms) and their results stored.  With
    ``add_missing`` every other study in the AI's scope without a result of
    the active model is analysed too.
    """
    out = StudyResults()
    try:
        package = current_package(models_root)
    except MammoDeskError as exc:
        return StudyResults(problem=str(exc))
    model = (package.name, package.version)
    todo = list(dict.fromkeys(study_uids))
    if reuse_stored:
        for uid in todo:
            stored = latest_result(library, uid, model)
            if stored is not None:
                out.results[uid] = stored
                out.reused.add(uid)
        todo = [uid for uid in todo if uid not in out.reused]
    if add_missing:
        todo += [uid for uid in missing_results(library, model)
                 if uid not in todo and uid not in out.reused]
    if not todo:
        return out
    try:
        runtime = load_runtime(package, backend)
    except MammoDeskError as exc:
        out.problem = str(exc)
        return out
    out.results.update(analyze_studies(library, todo, runtime))
    return out


def analyze_with_missing(library: Library, study_uids: list[str], runtime: Runtime
                         ) -> list[tuple[str, ExamResult | str]]:
    """Analyse the given studies, then every other study in the AI's scope
    without a result of the runtime's model (the window after an import)."""
    todo = list(dict.fromkeys(study_uids))
    model = (runtime.package.name, runtime.package.version)
    todo += [uid for uid in missing_results(library, model) if uid not in todo]
    return analyze_studies(library, todo, runtime)


def target_datasets(library: Library, target: str) -> list[pydicom.Dataset]:
    """The images of a file, folder or ZIP (when ``target`` exists on disk), else
    of the library study with that UID."""
    path = Path(target)
    if path.exists():
        return datasets_from_path(path)
    return datasets_from_library(library, target)


def analyze_and_keep(library: Library, datasets: list[pydicom.Dataset],
                     runtime: Runtime) -> Analysis:
    """A fresh result, stored when the library holds the study, unless the
    library's result of the same model judged more of the exam."""
    result = analyze_datasets(datasets, runtime)
    if not study_exists(library, result.study_instance_uid):
        return Analysis(result, in_library=False)
    return Analysis(result, in_library=True, kept_reason=save_result(library, result).kept_reason)
