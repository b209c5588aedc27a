"""What an import reads: folders (recursive), DICOMDIR files and ZIP archives.

Each source yields ``Candidate`` objects that read their bytes lazily, so a
large archive or folder never sits in memory at once.  Only regular files
are read: a FIFO, device or socket is reported, never opened (opening a FIFO
blocks; /dev/zero never ends).  A file is read whole only once its first
bytes look like DICOM and its size is within engine.dicom.limits; a ZIP
member is read as a stream under a size and a compression-ratio ceiling.  A
DICOMDIR's records are resolved inside its own folder only.  Links that are
followed are announced with ``FollowedLink`` so the import report can list
them.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from engine.dicom import limits
from engine.dicom.files import not_regular_reason, open_regular
from engine.dicom.reader import NotDicomError, looks_like_dicom, read_dataset, too_large_reason
from engine.errors import DicomReadError, MammoDeskError

ZIP_SUFFIXES = {".zip"}
_HEAD = 132  # preamble + "DICM": enough to tell DICOM from anything else
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Candidate:
    display: str                  # shown in reports: a path, or archive!member
    read: Callable[[], bytes]     # NotDicomError / DicomReadError / OSError when refused
    size: int


@dataclass(frozen=True)
class SourceProblem:
    display: str
    reason: str


@dataclass(frozen=True)
class FollowedLink:
    """A symbolic link to a regular file that the import followed."""
    display: str


Item = Candidate | SourceProblem | FollowedLink


def iter_candidates(paths: list[Path], skip: Path | None = None) -> Iterator[Item]:
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
        else:
            yield from _file_items(path, explicit=True)


def _walk(folder: Path, skip: Path | None) -> Iterator[Item]:
    skip_resolved = skip.resolve() if skip else None
    unreadable: list[OSError] = []
    for root, dirs, files in os.walk(folder, onerror=unreadable.append):
        root_path = Path(root)
        if skip_resolved and root_path.resolve() == skip_resolved:
            dirs[:] = []
            continue
        dirs.sort()
        for name in sorted(files):
            yield from _file_items(root_path / name)
    # A folder that cannot be listed must not vanish from the report silently.
    for error in unreadable:
        yield SourceProblem(str(error.filename), f"cannot read folder ({error.strerror})")


def _regular(path: Path) -> os.stat_result | SourceProblem:
    """The target's stat when ``path`` (links followed) is a regular file, else the reason."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return SourceProblem(str(path), "broken link" if path.is_symlink() else "missing")
    except OSError as exc:
        return SourceProblem(str(path), f"cannot read file ({exc.strerror})")
    if not stat.S_ISREG(info.st_mode):
        return SourceProblem(str(path), not_regular_reason(info.st_mode))
    return info


def _file_items(path: Path, explicit: bool = False) -> Iterator[Item]:
    info = _regular(path)
    if isinstance(info, SourceProblem):
        yield info
        return
    if path.is_symlink():
        yield FollowedLink(str(path))
    if explicit and path.name.upper() == "DICOMDIR":
        yield from _dicomdir(path)
    elif path.suffix.lower() in ZIP_SUFFIXES and _is_zip(path):
        yield from _zip(path)
    else:
        yield _file_candidate(path, info.st_size)


def _file_candidate(path: Path, size: int) -> Candidate:
    return Candidate(str(path), lambda: read_file(path), size)


def read_file(path: Path) -> bytes:
    """A regular file's bytes, read whole only when it starts like DICOM and is not too large.

    NotDicomError after the first 132 bytes of anything else; DicomReadError when it is not
    a regular file (any more) or over the size ceiling.
    """
    fh, size = open_regular(path)
    with fh:
        if not looks_like_dicom(fh.read(_HEAD), size):
            raise NotDicomError("not a DICOM file: no DICOM header found")
        too_large = too_large_reason(size)
        if too_large:
            raise DicomReadError(too_large)
        fh.seek(0)
        data = fh.read(size)
        if fh.read(1):  # it grew after the size was checked
            raise DicomReadError("the file changed while it was being read")
        return data


def _is_zip(path: Path) -> bool:
    try:
        fh, _size = open_regular(path)
    except (OSError, DicomReadError):
        return False
    with fh:
        return zipfile.is_zipfile(fh)


def _zip(path: Path) -> Iterator[Item]:
    try:
        fh, _size = open_regular(path)
    except (OSError, DicomReadError) as exc:
        yield SourceProblem(str(path), f"cannot read ZIP archive ({exc})")
        return
    with fh:
        try:
            archive = zipfile.ZipFile(fh)
            members = [m for m in archive.infolist() if not m.is_dir()]
        except (zipfile.BadZipFile, OSError) as exc:
            yield SourceProblem(str(path), f"not a readable ZIP archive ({exc})")
            return
        with archive:
            for member in sorted(members, key=lambda m: m.filename):
                display = f"{path}!{member.filename}"
                if member.flag_bits & 0x1:
                    yield SourceProblem(display, "encrypted ZIP member (password-protected "
                                                 "archives are not supported)")
                    continue
                # The central directory's sizes first (nothing read yet); the stream below
                # counts what actually comes out, because those sizes can lie.
                problem = _member_problem(member.file_size, member.compress_size)
                if problem:
                    yield SourceProblem(display, problem)
                    continue
                yield Candidate(display, _member_reader(archive, member), member.file_size)


def _member_problem(size: int, compressed: int) -> str | None:
    ceiling = limits.current()
    if size > ceiling.file_bytes:
        return (f"ZIP member too large: {size / 1e6:.0f} MB exceeds the "
                f"{ceiling.file_mb_text()} limit (limits.file_mb)")
    ratio = size / max(compressed, 1)
    if size > limits.RATIO_FLOOR_BYTES and ratio > ceiling.zip_ratio:
        return (f"ZIP member expands {ratio:.0f} times: over the {ceiling.zip_ratio:g}-times "
                "limit (limits.zip_ratio)")
    return None


def _member_reader(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        with archive.open(member) as stream:
            head = stream.read(_HEAD)
            if not looks_like_dicom(head, member.file_size):
                raise NotDicomError("not a DICOM file: no DICOM header found")
            out = BytesIO()
            out.write(head)
            while chunk := stream.read(_CHUNK):
                out.write(chunk)
                problem = _member_problem(out.tell(), member.compress_size)
                if problem:
                    raise DicomReadError(problem)
            return out.getvalue()
    return read


def _dicomdir(path: Path) -> Iterator[Item]:
    """The files a DICOMDIR references (PS3.10 File-set), resolved inside its own folder."""
    try:
        records = read_dataset(path).DirectoryRecordSequence
    except (DicomReadError, AttributeError) as exc:
        reason = str(exc) if isinstance(exc, DicomReadError) else "it has no directory records"
        yield SourceProblem(str(path), f"not a readable DICOMDIR ({reason})")
        return
    base = path.parent.resolve()
    seen: set[Path] = set()
    for number, record in enumerate(records, 1):
        ref = record.get("ReferencedFileID")
        if not ref:
            continue
        parts = [str(p) for p in ([ref] if isinstance(ref, str) else list(ref))]
        if not all(_plain_component(p) for p in parts):
            yield SourceProblem(f"{path} (record {number})",
                                "DICOMDIR record refused: its file ID points outside the "
                                "DICOMDIR's folder (an absolute path or '..')")
            continue
        target = base.joinpath(*parts)
        if target in seen:
            continue
        seen.add(target)
        if not os.path.lexists(target):
            # file IDs are case-insensitive on the media that use them
            found = _case_insensitive(base, parts)
            if found is None:
                yield SourceProblem(str(target), "listed in DICOMDIR but missing")
                continue
            target = found
        if not target.resolve().is_relative_to(base):
            yield SourceProblem(f"{path} (record {number})",
                                "DICOMDIR record refused: the file it names is outside the "
                                "DICOMDIR's folder")
            continue
        info = _regular(target)
        if isinstance(info, SourceProblem):
            yield info
            continue
        if target.is_symlink():
            yield FollowedLink(str(target))
        yield _file_candidate(target, info.st_size)


def _plain_component(part: str) -> bool:
    """One path component that stays where it is: no separators, no '..', no drive."""
    stripped = part.strip()
    return bool(stripped) and stripped not in (".", "..") and not any(
        c in part for c in ("/", "\\", "\x00", ":"))


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
