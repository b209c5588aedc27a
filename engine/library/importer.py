"""Import DICOM files into the library, idempotently and crash-safely.

Re-importing the same files changes nothing (the SOP Instance UID is the
identity); non-DICOM files are counted and skipped; files that are DICOM but
unusable (truncated, corrupt, missing UIDs) are listed with their reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.dicom import (
    NotDicomError,
    instance_header,
    pixel_data_problem,
    read_dataset,
)
from engine.errors import DicomReadError
from engine.library.sources import Candidate, FollowedLink, SourceProblem, iter_candidates
from engine.library.store import Library, NewInstance

log = logging.getLogger(__name__)

# Flush to disk every this many files or bytes, whichever comes first: large
# enough to amortise the transaction, small enough to bound memory.
BATCH_FILES = 64
BATCH_BYTES = 256 * 1024 * 1024


@dataclass
class Rejected:
    source: str
    reason: str


@dataclass
class ImportReport:
    imported: int = 0
    already_present: int = 0
    non_dicom: int = 0
    directories: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    study_uids: set[str] = field(default_factory=set)
    followed_links: list[str] = field(default_factory=list)  # symbolic links read through

    @property
    def examined(self) -> int:
        return (self.imported + self.already_present + self.non_dicom + self.directories
                + len(self.rejected))

    def as_dict(self) -> dict[str, object]:
        return {
            "imported": self.imported,
            "already_present": self.already_present,
            "non_dicom_skipped": self.non_dicom,
            "directory_files": self.directories,
            "rejected": [{"source": r.source, "reason": r.reason} for r in self.rejected],
            "studies": sorted(self.study_uids),
            "followed_links": list(self.followed_links),
        }


ProgressFn = Callable[[int, str], None]


def import_paths(library: Library, paths: Iterable[str | Path],
                 progress: ProgressFn | None = None) -> ImportReport:
    """Import folders, DICOMDIRs, ZIP archives and single files into ``library``."""
    report = ImportReport()
    resolved = [Path(p) for p in paths]
    with library.import_lock():
        library.recover()
        batch: list[NewInstance] = []
        batch_bytes = 0
        batch_uids: set[str] = set()
        for item in iter_candidates(resolved, skip=library.root):
            if isinstance(item, SourceProblem):
                report.rejected.append(Rejected(item.display, item.reason))
                continue
            if isinstance(item, FollowedLink):
                report.followed_links.append(item.display)
                continue
            parsed = _parse(item, report)
            if parsed is None:
                continue
            uid = parsed.header.sop_instance_uid
            if uid in batch_uids or library.known_sop_uids([uid]):
                report.already_present += 1
                continue
            batch.append(replace(parsed, staged=library.stage(parsed.data)))
            batch_uids.add(uid)
            batch_bytes += len(parsed.data)
            if progress:
                progress(report.examined + len(batch), item.display)
            if len(batch) >= BATCH_FILES or batch_bytes >= BATCH_BYTES:
                _flush(library, batch, report)
                batch, batch_bytes, batch_uids = [], 0, set()
        _flush(library, batch, report)
    log.info("import: %d imported, %d already present, %d non-DICOM, %d rejected",
             report.imported, report.already_present, report.non_dicom, len(report.rejected))
    return report


def _parse(item: Candidate, report: ImportReport) -> NewInstance | None:
    try:
        # Reads only regular files, and whole only when they start like DICOM and are within
        # the size ceilings (engine.library.sources).
        data = item.read()
    except NotDicomError:
        report.non_dicom += 1
        return None
    except DicomReadError as exc:  # not a regular file, too large, a ZIP bomb
        report.rejected.append(Rejected(item.display, str(exc)))
        return None
    except OSError as exc:
        report.rejected.append(Rejected(item.display, f"cannot read file ({exc.strerror})"))
        return None
    except Exception as exc:  # zip members: CRC errors, unsupported compression
        report.rejected.append(Rejected(item.display, f"cannot read archive member ({exc})"))
        return None
    try:
        ds = read_dataset(data)
        header = instance_header(ds)
    except NotDicomError:
        report.non_dicom += 1
        return None
    except DicomReadError as exc:
        report.rejected.append(Rejected(item.display, str(exc)))
        return None
    if header.is_directory:
        report.directories += 1
        return None
    problem = pixel_data_problem(ds)
    if problem:
        report.rejected.append(Rejected(item.display, problem))
        return None
    return NewInstance(header, data)


def _flush(library: Library, batch: list[NewInstance], report: ImportReport) -> None:
    report.imported += library.add_instances(batch)
    report.study_uids.update(b.header.study_instance_uid for b in batch)
