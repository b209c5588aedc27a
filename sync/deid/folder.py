"""De-identify a folder of DICOM files into another folder (``main.py anonymize``).

Output files are named only by pseudonyms (patient pseudonym / new study UID
/ new SOP Instance UID); each is written to a temporary name and renamed,
so a killed run or a full disk leaves no partial file.  Quarantined and
blocked objects are not written at all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from engine.dicom.reader import NotDicomError, read_dataset
from engine.errors import DicomReadError
from sync.deid.deidentify import Deidentifier, Outcome
from sync.deid.errors import DeidError
from sync.deid.keys import SiteKeys
from sync.deid.profile import Profile
from sync.deid.reid_map import ReidMap


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
    if src.is_file():
        return [src]
    try:
        return sorted(p for p in src.rglob("*") if p.is_file())
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


def write_atomically(ds: pydicom.Dataset, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".partial-", suffix=".dcm")
    try:
        with os.fdopen(fd, "wb") as fh:
            ds.save_as(fh, enforce_file_format=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _verify(path: Path, outcome: Outcome) -> str | None:
    """Re-read a written file: the problem found, or None."""
    data = path.read_bytes()
    if outcome.scanner is not None:
        kind = outcome.scanner.scan_file_bytes(data)
        if kind:
            return f"verify: {kind} found in the written file"
    try:
        ds = read_dataset(data)
    except DicomReadError as exc:
        return f"verify: the written file does not read back ({exc})"
    if ds.file_meta.MediaStorageSOPInstanceUID != ds.SOPInstanceUID:
        return "verify: file meta and dataset disagree on the SOP Instance UID"
    return None


def anonymize_folder(src: Path, dst: Path, *, profile: Profile, keys: SiteKeys,
                     reid: ReidMap | None = None, verify: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> FolderSummary:
    src, dst = Path(src), Path(dst)
    files = _inputs(src)
    _check_places(src, dst)
    deid = Deidentifier(profile, keys)
    summary = FolderSummary()
    base = src if src.is_dir() else src.parent
    for number, path in enumerate(files, 1):
        rel = path.relative_to(base).as_posix()
        try:
            summary.bytes_in += path.stat().st_size
            ds = read_dataset(path)
        except NotDicomError:
            summary.not_dicom.append(rel)
            continue
        except (DicomReadError, OSError) as exc:
            summary.failed.append((rel, str(exc)))
            continue
        outcome = deid.run(ds)
        if outcome.status == "quarantined":
            summary.quarantined.append((rel, outcome.reason))
        elif outcome.status == "blocked":
            summary.blocked.append((rel, outcome.reason))
        else:
            target = dst / outcome.patient_pseudonym / outcome.study_uid / (
                outcome.sop_instance_uid + ".dcm")
            try:
                write_atomically(ds, target)
            except OSError as exc:
                raise DeidError(f"cannot write to {dst}: {exc.strerror or exc}") from exc
            problem = _verify(target, outcome) if verify else None
            if problem:
                target.unlink(missing_ok=True)
                summary.blocked.append((rel, problem))
            else:
                summary.written.append(target)
                if reid is not None:
                    _remember(reid, outcome)
        if progress:
            progress(number, len(files))
    return summary


def _remember(reid: ReidMap, outcome: Outcome) -> None:
    o = outcome.original
    reid.record([
        (outcome.patient_pseudonym, "patient",
         {"patient_id": o["patient_id"], "patient_name": o["patient_name"],
          "issuer": o["issuer"]}),
        (outcome.study_uid, "study",
         {"study_uid": o["study_uid"], "patient": outcome.patient_pseudonym}),
    ])
