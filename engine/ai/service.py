"""What the viewer and the command line call: find the active model, load
its images, analyse a study and keep the result in the library."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pydicom

from engine.ai.analyze import analyze_datasets
from engine.ai.package import ModelPackage, active_package
from engine.ai.results import ExamResult
from engine.ai.runtime import Runtime, load_runtime
from engine.ai.store import latest_result, save_result
from engine.dicom.reader import NotDicomError, read_dataset
from engine.errors import DicomReadError, MammoDeskError
from engine.library.catalog import mammogram_count, study_files
from engine.library.sources import Candidate, SourceProblem, iter_candidates
from engine.library.store import Library
from engine.resources import builtin_model_dir

log = logging.getLogger(__name__)
BUILTIN_MODEL = builtin_model_dir()
NO_MODEL = "no AI model installed"


def current_package(models_root: Path, builtin: Path | None = BUILTIN_MODEL) -> ModelPackage:
    """The active model package (installed, else the one shipped)."""
    pkg = active_package(models_root, builtin if builtin and builtin.is_dir() else None)
    if pkg is None:
        raise MammoDeskError(NO_MODEL)
    return pkg


def open_runtime(models_root: Path, backend: str = "auto") -> Runtime:
    return load_runtime(current_package(models_root), backend)


def _read(data: bytes | Path) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_dataset(data)


def datasets_from_path(path: Path) -> list[pydicom.Dataset]:
    """Every DICOM image under a file, folder, DICOMDIR or ZIP (one study)."""
    out: list[pydicom.Dataset] = []
    refused: list[str] = []  # why files were not read (a FIFO, a ZIP bomb, a truncated file)
    for cand in iter_candidates([path]):
        if isinstance(cand, SourceProblem):
            refused.append(cand.reason)
            continue
        if not isinstance(cand, Candidate):
            continue
        try:
            ds = _read(cand.read())
        except NotDicomError:
            continue
        except (DicomReadError, OSError) as exc:
            log.info("skipped an unreadable file while analysing: %s", exc)
            refused.append(str(exc))
            continue
        if "PixelData" in ds:
            out.append(ds)
    if not out:
        why = f" ({len(refused)} file(s) refused: {refused[0]})" if refused else ""
        raise MammoDeskError(f"no DICOM images found in {path}{why}")
    studies = {str(ds.get("StudyInstanceUID", "")) for ds in out}
    if len(studies) > 1:
        raise MammoDeskError(
            f"{path} holds {len(studies)} studies; give one study's folder or its UID"
        )
    return out


def datasets_from_library(library: Library, study_uid: str) -> list[pydicom.Dataset]:
    files = study_files(library, study_uid)
    if not files:
        raise MammoDeskError(f"no study with UID {study_uid} in the library")
    out = []
    for f in files:
        try:
            out.append(_read(f.path))
        except (DicomReadError, OSError) as exc:
            log.warning("a library file could not be read for analysis: %s", exc)
    return out


def analyze_and_store(library: Library, study_uid: str, runtime: Runtime) -> ExamResult:
    """Analyse a library study and keep the result (what import and open do);
    returns the result the library holds for the study and model afterwards
    (the stored one, when it judged more of the exam than this analysis)."""
    result = analyze_datasets(datasets_from_library(library, study_uid), runtime)
    outcome = save_result(library, result)
    if not outcome.stored:
        log.info("AI result not stored: %s", outcome.kept_reason)
        kept = latest_result(library, study_uid, (result.model_name, result.model_version))
        return kept or result
    log.info(
        "AI result stored: model %s %s on %s, %.2f s",
        result.model_name,
        result.model_version,
        result.device,
        result.timings_s.get("total", 0.0),
    )
    return result


def in_ai_scope(library: Library, study_uid: str) -> bool:
    return mammogram_count(library, study_uid) > 0


def analyze_studies(
    library: Library, study_uids: list[str], runtime: Runtime
) -> list[tuple[str, ExamResult | str]]:
    """Analyse each study with For Presentation mammograms; a study that
    fails gets its one-line reason instead of stopping the others."""
    out: list[tuple[str, ExamResult | str]] = []
    if len(study_uids) > 1:
        from engine.ai import prepare_pool

        prepare_pool.start()  # worth its start for study after study
    for uid in study_uids:
        if not in_ai_scope(library, uid):
            continue
        try:
            out.append((uid, analyze_and_store(library, uid, runtime)))
        except MammoDeskError as exc:
            out.append((uid, str(exc)))
    return out
