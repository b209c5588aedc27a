"""De-identifying a study's images side by side, one worker process per core.

Uncompressed images take tens of milliseconds each, less than starting a
worker, so they are done in the sync process itself.  Compressed ones (JPEG
2000 above all: decoded, blanked, encoded again losslessly) take seconds
each, and a four-view study goes about twice as fast on two cores.  Workers
only compute: the sync process writes every staged file and every database
row, so a killed worker loses nothing but its own time.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset

from engine.dicom.config import configure_pydicom
from engine.dicom.reader import read_dataset
from engine.errors import DicomReadError
from engine.parent_watch import Parent, exit_with_parent, this_process
from sync.deid.deidentify import Deidentifier
from sync.deid.folder import reid_entries
from sync.deid.keys import SiteKeys
from sync.deid.profile import Profile
from sync.deid.table import load_table


@dataclass
class Prepared:
    status: str                 # "clean" | "quarantined" | "blocked" | "failed"
    reason: str = ""
    data: bytes = b""
    study_uid: str = ""
    sop_uid: str = ""
    reid: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def prepare_dataset(deid: Deidentifier, ds: Dataset, *, own_report: bool = False) -> Prepared:
    # Content pydicom cannot handle comes back as a quarantined Outcome, never raised.
    outcome = deid.run(ds, own_report=own_report)
    if outcome.status != "clean":
        return Prepared(outcome.status, outcome.reason)
    return Prepared("clean", data=outcome.data, study_uid=outcome.study_uid,
                    sop_uid=outcome.sop_instance_uid,
                    reid=reid_entries(outcome) if outcome.original else [])


def prepare_file(deid: Deidentifier, path: Path) -> Prepared:
    try:
        ds = read_dataset(path)
    except (DicomReadError, OSError) as exc:
        reason = str(getattr(exc, "strerror", None) or exc).splitlines()[0][:200]
        return Prepared("failed", f"the library file cannot be read: {reason}")
    return prepare_dataset(deid, ds)


_WORKER: dict[str, Deidentifier] = {}


def _init(profile: Profile, keys: SiteKeys, parent: Parent) -> None:
    exit_with_parent(parent)  # never outlive the sync process
    logging.getLogger().handlers.clear()
    configure_pydicom()  # pydicom's value validation quotes patient data: off
    _WORKER["deid"] = Deidentifier(profile, keys)


def _one(path: Path) -> Prepared:
    return prepare_file(_WORKER["deid"], path)


class PreparePool:
    def __init__(self, profile: Profile, keys: SiteKeys, workers: int) -> None:
        self.profile, self.keys, self.workers = profile, keys, workers
        self._pool: ProcessPoolExecutor | None = None

    def map(self, paths: Sequence[Path]) -> Iterator[Prepared]:
        if self._pool is None:
            # Fork is instant from a single-threaded command; a GUI (threads)
            # gets clean spawned processes.
            single = threading.active_count() == 1
            method = ("fork" if single and "fork" in multiprocessing.get_all_start_methods()
                      else "spawn")
            load_table()
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context(method),
                initializer=_init, initargs=(self.profile, self.keys, this_process()))
        return self._pool.map(_one, paths)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
