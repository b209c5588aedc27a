"""De-identify a folder of DICOM files into another folder (``main.py anonymize``).

Output files are named only by pseudonyms (patient pseudonym / new study UID
/ new SOP Instance UID); each is written to a temporary name and renamed,
so a killed run or a full disk leaves no partial file.  Quarantined and
blocked objects are not written at all.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from engine.atomic import atomic_file
from engine.dicom.config import configure_pydicom
from engine.dicom.reader import NotDicomError, read_dataset
from engine.errors import DicomReadError
from engine.parent_watch import Parent, exit_with_parent, this_process
from sync.deid.deidentify import Deidentifier, Outcome
from sync.deid.errors import DeidError
from sync.deid.keys import SiteKeys
from sync.deid.profile import Profile
from sync.deid.reid_map import ReidMap
from sync.deid.table import load_table

PARALLEL_FROM = 4  # files per worker below which starting processes costs more than it saves


@dataclass
class FolderSummary:
    written: list[Path] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    blocked: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    not_dicom: list[str] = field(default_factory=list)
    bytes_in: int = 0

    def as_json(self, out: Path) -> dict[str, object]:
        return {
            "written": len(self.written),
            "quarantined": [{"file": f, "reason": r} for f, r in self.quarantined],
            "blocked": [{"file": f, "reason": r} for f, r in self.blocked],
            "failed": [{"file": f, "reason": r} for f, r in self.failed],
            "not_dicom": self.not_dicom,
            "output": str(out),
        }


def _inputs(src: Path) -> list[Path]:
    if not src.exists():
        raise DeidError(f"no such folder: {src}")
    if not src.is_dir():
        return [src]
    try:
        # Everything but folders: a FIFO, device or broken link is reported
        # ("not a regular file"), never opened and never skipped in silence.
        return sorted(p for p in src.rglob("*") if not p.is_dir())
    except OSError as exc:
        raise DeidError(f"cannot read the folder {src}: {exc.strerror or exc}") from exc


def _check_places(src: Path, dst: Path) -> None:
    s, d = src.resolve(), dst.resolve()
    if s == d or s in d.parents or d in s.parents:
        raise DeidError("the output folder must be outside the input folder (and not contain it)")
    try:
        dst.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeidError(f"cannot create the output folder {dst}: {exc.strerror or exc}") from exc


def write_atomically(data: bytes, target: Path, *,
                     check: Callable[[Path], str | None] | None = None,
                     temp_dir: Path | None = None) -> str | None:
    """Write ``data`` to ``target`` through a temporary file and a rename.

    ``check`` sees the temporary file once its bytes are on disk, before the
    rename: a problem it returns leaves nothing behind (no file, no folder)
    and is returned.  ``temp_dir`` (same file system) holds the temporary
    file, so that folders are made only for a file that passed."""
    where = temp_dir or target.parent
    where.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_file(target, temp_dir=where) as fh:
            fh.write(data)
            fh.flush()
            problem = check(Path(fh.name)) if check is not None else None
            if problem:
                raise _Refused(problem)
            target.parent.mkdir(parents=True, exist_ok=True)
    except _Refused as refused:
        return str(refused)
    return None


class _Refused(Exception):
    """What `check` found: the temporary file is dropped, nothing is written."""


def _verify(path: Path, outcome: Outcome) -> str | None:
    """Re-read a written (temporary) file: the problem found, or None."""
    data = path.read_bytes()
    if outcome.scanner is not None:
        kind = outcome.scanner.bytes_hit(data)  # the whole file, as bytes
        if kind:
            return f"verify: {kind} found in the written file"
    try:
        ds = read_dataset(data)
    except DicomReadError as exc:
        return f"verify: the written file does not read back ({exc})"
    if ds.file_meta.MediaStorageSOPInstanceUID != ds.SOPInstanceUID:
        return "verify: file meta and dataset disagree on the SOP Instance UID"
    return None


@dataclass
class _Result:
    rel: str
    status: str  # "written" | "quarantined" | "blocked" | "failed" | "not_dicom"
    reason: str = ""
    target: Path | None = None
    size: int = 0
    reid: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def _one(path: Path, rel: str, dst: Path, deid: Deidentifier, verify: bool) -> _Result:
    """De-identify one file into ``dst``; what happened to it."""
    try:
        size = path.stat().st_size if path.is_file() else 0
        ds = read_dataset(path)
    except NotDicomError:
        return _Result(rel, "not_dicom")
    except (DicomReadError, OSError) as exc:
        return _Result(rel, "failed", str(exc))
    # Malformed content pydicom cannot handle comes back quarantined: never written.
    outcome = deid.run(ds)
    if outcome.status != "clean":
        return _Result(rel, outcome.status, outcome.reason, size=size)
    target = dst / outcome.patient_pseudonym / outcome.study_uid / (
        outcome.sop_instance_uid + ".dcm")
    # --verify reads back the bytes as written, before they get their name.
    check = (lambda tmp: _verify(tmp, outcome)) if verify else None
    try:
        problem = write_atomically(outcome.data, target, check=check, temp_dir=dst)
    except OSError as exc:
        raise DeidError(f"cannot write to {dst}: {exc.strerror or exc}") from exc
    if problem:
        return _Result(rel, "blocked", problem, size=size)
    return _Result(rel, "written", target=target, size=size, reid=reid_entries(outcome))


class _WorkerState(TypedDict, total=False):
    """What ``_worker_init`` leaves for the jobs of one worker process."""

    deid: Deidentifier
    dst: Path
    verify: bool


_WORKER: _WorkerState = {}


def _worker_init(profile: Profile, keys: SiteKeys, dst: Path, verify: bool,
                 parent: Parent) -> None:
    exit_with_parent(parent)  # a killed run writes nothing more
    logging.getLogger().handlers.clear()
    configure_pydicom()  # pydicom's value validation quotes patient data: off
    _WORKER.update({"deid": Deidentifier(profile, keys), "dst": dst, "verify": verify})


def _worker_one(job: tuple[Path, str]) -> _Result:
    deid = _WORKER["deid"]
    assert isinstance(deid, Deidentifier)
    return _one(job[0], job[1], _WORKER["dst"], deid, bool(_WORKER["verify"]))


def _results(jobs: list[tuple[Path, str]], dst: Path, profile: Profile, keys: SiteKeys,
             verify: bool, workers: int) -> Iterator[_Result]:
    if workers <= 1 or len(jobs) < 2 * PARALLEL_FROM:
        deid = Deidentifier(profile, keys)
        for path, rel in jobs:
            yield _one(path, rel, dst, deid, verify)
        return
    # Forking is instant and safe from a single-threaded command; anything
    # else (a GUI with its threads, other systems) starts clean processes.
    single = threading.active_count() == 1
    method = "fork" if single and "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    load_table()  # read once here: forked workers inherit it
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init,
                             initargs=(profile, keys, dst, verify, this_process())) as pool:
        try:
            yield from pool.map(_worker_one, jobs)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def anonymize_folder(src: Path, dst: Path, *, profile: Profile, keys: SiteKeys,
                     reid: ReidMap | None = None, verify: bool = False,
                     progress: Callable[[int, int], None] | None = None,
                     workers: int | None = None) -> FolderSummary:
    """De-identify every file under ``src`` into ``dst``.

    ``workers`` processes share the files (default: one per core; each file
    is independent, so a folder goes about that many times faster).
    """
    src, dst = Path(src), Path(dst)
    files = _inputs(src)
    _check_places(src, dst)
    base = src if src.is_dir() else src.parent
    jobs = [(path, path.relative_to(base).as_posix()) for path in files]
    workers = workers if workers is not None else (os.cpu_count() or 1)
    summary = FolderSummary()
    for number, result in enumerate(_results(jobs, dst, profile, keys, verify, workers), 1):
        summary.bytes_in += result.size
        if result.status == "written" and result.target is not None:
            summary.written.append(result.target)
            if reid is not None:
                reid.record(result.reid)
        elif result.status == "not_dicom":
            summary.not_dicom.append(result.rel)
        else:
            getattr(summary, result.status).append((result.rel, result.reason))
        if progress:
            progress(number, len(files))
    return summary


def reid_entries(outcome: Outcome) -> list[tuple[str, str, dict[str, str]]]:
    o = outcome.original
    return [
        (outcome.patient_pseudonym, "patient",
         {"patient_id": o["patient_id"], "patient_name": o["patient_name"],
          "issuer": o["issuer"]}),
        (outcome.study_uid, "study",
         {"study_uid": o["study_uid"], "patient": outcome.patient_pseudonym}),
    ]
