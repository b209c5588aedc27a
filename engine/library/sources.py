"""What an import reads: folders (recursive), DICOMDIR files and ZIP archives.

Each source yields ``Candidate`` objects that read their bytes lazily, so a
large archive or folder never sits in memory at once.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import MammoDeskError

ZIP_SUFFIXES = {".zip"}


@dataclass(frozen=True)
class Candidate:
    display: str                  # shown in reports: a path, or archive!member
    read: Callable[[], bytes]
    size: int


@dataclass(frozen=True)
class SourceProblem:
    display: str
    reason: str


def iter_candidates(paths: list[Path],
                    skip: Path | None = None) -> Iterator[Candidate | SourceProblem]:
    """Expand user-given paths into candidate files, depth first, sorted by name.

    ``skip`` is a folder never descended into (the library itself, should a
    user point the import at a folder that contains it).  A DICOMDIR met
    while walking a folder is passed on like any file (the importer counts
    it as an index); the files it lists are found by the walk itself.  Only
    a DICOMDIR named explicitly is followed to its referenced files.
    """
    for path in paths:
        if not path.exists():
            raise MammoDeskError(f"no such file or folder: {path}")
        if path.is_dir():
            yield from _walk(path, skip)
        elif path.name.upper() == "DICOMDIR":
            yield from _dicomdir(path)
        elif _is_zip(path):
            yield from _zip(path)
        else:
            yield _file_candidate(path)


def _walk(folder: Path, skip: Path | None) -> Iterator[Candidate | SourceProblem]:
    skip_resolved = skip.resolve() if skip else None
    unreadable: list[OSError] = []
    for root, dirs, files in os.walk(folder, onerror=unreadable.append):
        root_path = Path(root)
        if skip_resolved and root_path.resolve() == skip_resolved:
            dirs[:] = []
            continue
        dirs.sort()
        for name in sorted(files):
            path = root_path / name
            if path.is_symlink() and not path.exists():
                yield SourceProblem(str(path), "broken link")
                continue
            if _is_zip(path):
                yield from _zip(path)
            else:
                yield _file_candidate(path)
    # A folder that cannot be listed must not vanish from the report silently.
    for error in unreadable:
        yield SourceProblem(str(error.filename), f"cannot read folder ({error.strerror})")


def _file_candidate(path: Path) -> Candidate:
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    return Candidate(str(path), path.read_bytes, size)


def _is_zip(path: Path) -> bool:
    if path.suffix.lower() not in ZIP_SUFFIXES:
        return False
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _zip(path: Path) -> Iterator[Candidate | SourceProblem]:
    try:
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        yield SourceProblem(str(path), f"not a readable ZIP archive ({exc})")
        return
    with archive:
        for member in sorted(members, key=lambda m: m.filename):
            if member.flag_bits & 0x1:
                yield SourceProblem(f"{path}!{member.filename}",
                                    "encrypted ZIP member (password-protected archives "
                                    "are not supported)")
                continue
            yield Candidate(f"{path}!{member.filename}", _member_reader(archive, member),
                            member.file_size)


def _member_reader(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        return archive.read(member)
    return read


def _dicomdir(path: Path) -> Iterator[Candidate | SourceProblem]:
    """The files a DICOMDIR references (PS3.10 File-set), resolved next to it."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    try:
        ds = dcmread(path)
        records = ds.DirectoryRecordSequence
    except (InvalidDicomError, AttributeError, OSError, ValueError, EOFError) as exc:
        yield SourceProblem(str(path), f"not a readable DICOMDIR ({type(exc).__name__})")
        return
    base = path.parent
    seen: set[Path] = set()
    for record in records:
        ref = record.get("ReferencedFileID")
        if not ref:
            continue
        parts = [ref] if isinstance(ref, str) else list(ref)
        target = base.joinpath(*[str(p) for p in parts])
        if target in seen:
            continue
        seen.add(target)
        if not target.exists():
            # file IDs are case-insensitive on the media that use them
            found = _case_insensitive(base, [str(p) for p in parts])
            if found is None:
                yield SourceProblem(str(target), "listed in DICOMDIR but missing")
                continue
            target = found
        yield _file_candidate(target)


def _case_insensitive(base: Path, parts: list[str]) -> Path | None:
    current = base
    for part in parts:
        try:
            match = next((c for c in current.iterdir() if c.name.upper() == part.upper()), None)
        except OSError:
            return None
        if match is None:
            return None
        current = match
    return current
