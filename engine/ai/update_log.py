"""The model update audit log: an append-only, hash-chained record of each step.

One JSON object per line, UTF-8, canonical (sorted keys, no spaces), e.g.
``{"at":"2026-01-02T03:04:05.678Z","details":{...},"event":"fetched",
"hash":"<64 hex>","prev":"<64 hex>","seq":1}``.  ``seq`` counts from 1;
``prev`` is the previous entry's ``hash`` (64 zeros for the first); ``hash``
is the SHA-256 of the canonical JSON of the entry without ``hash``; ``event``
is one of EVENTS.  ``details`` says what the step was about (model version,
URL, key IDs, reason, actor), never patient data: only JSON values are taken,
and a line over MAX_LINE_BYTES is refused.  Beside the log, ``<log>.head``
holds the last seq and hash (replaced atomically after each append) and
``<log>.lock`` serialises writers across processes.  Each append writes one
whole line and flushes it to the disk, so a crash leaves at most a torn last
line; a write that fails (a full disk) is cut off again.

verify detects: a changed entry (any field, even spacing), a deleted,
inserted, duplicated or reordered line (the first entry whose seq, prev or
hash does not fit is named); a torn last line; entries removed from the end or
the last entry replaced (the log's end is compared with the head file); a head
file that is missing, unreadable or more than one entry behind.  A head
exactly one entry behind, matching that entry, is what a crash between the two
writes leaves: it is accepted, and the next append brings the head up to date.

Not detected: someone able to write both files who rewrites the log,
recomputes every hash and writes a matching head file.  Catching that needs an
anchor kept elsewhere (for example the last hash copied off the machine),
which this module does not provide.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from engine.atomic import write_atomically
from engine.errors import MammoDeskError

EVENTS = (
    "fetched", "verified", "accepted", "refused", "activated", "rolled_back",
    "pinned", "unpinned", "imported_bundle", "check_failed",
)
LOG_NAME = "update-log.jsonl"
GENESIS = "0" * 64
MAX_LINE_BYTES = 16 * 1024
LOCK_TIMEOUT_S = 30.0
_FIELDS = frozenset({"seq", "at", "event", "details", "prev", "hash"})


class UpdateLogError(MammoDeskError):
    """The model update log cannot be written or read."""


class UpdateLogDamaged(UpdateLogError):
    """The log fails verification, so it is not extended."""


@dataclass(frozen=True)
class Entry:
    seq: int
    at: str
    event: str
    details: dict[str, Any]
    prev: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int  # whole entries that verified before the first fault
    first_bad: int | None = None  # seq of the first bad entry; None when none is to blame
    reason: str = ""  # one line; empty when ok


def log_path(models_root: Path) -> Path:
    """Where the update log of a models folder (AppPaths.models) lives."""
    return Path(models_root) / LOG_NAME


def head_path(path: Path) -> Path:
    """The file beside the log that records its last seq and hash."""
    return Path(path).with_name(Path(path).name + ".head")


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def _digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in fields.items() if k != "hash"})).hexdigest()


def _check_value(value: Any, where: str) -> None:
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UpdateLogError(f"update log details: {where} is not a finite number")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UpdateLogError(f"update log details: {where} has a key that is not text")
            _check_value(item, f"{where}.{key}")
        return
    raise UpdateLogError(
        f"update log details: {where} is a {type(value).__name__}, not a JSON value")


def _is_hex64(value: Any) -> bool:
    return (isinstance(value, str) and len(value) == 64
            and all(c in "0123456789abcdef" for c in value))


def _parse(line: bytes) -> Entry | str:
    """The entry a line holds, or why it is not one."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "is not valid JSON"
    if not isinstance(obj, dict) or set(obj) != _FIELDS:
        return "does not have the fields of an entry"
    seq = obj["seq"]
    if (not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(obj["at"], str)
            or obj["event"] not in EVENTS or not isinstance(obj["details"], dict)
            or not _is_hex64(obj["prev"]) or not _is_hex64(obj["hash"])):
        return "has a field of the wrong kind"
    if _canonical(obj) != line:
        return "is not written in canonical form (it was edited)"
    return Entry(**obj)


def _read(path: Path) -> tuple[list[bytes], bool]:
    """The complete lines of the log and whether a torn last line follows them."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], False
    except OSError as exc:
        raise UpdateLogError(f"cannot read the model update log {path}: "
                             f"{exc.strerror or exc}") from exc
    lines = data.split(b"\n")
    torn = lines.pop() != b""
    return lines, torn


def _read_head(path: Path) -> tuple[int, str] | str | None:
    """(seq, hash) from the head file, None when there is none, or why it is unreadable."""
    try:
        obj = json.loads(head_path(path).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError):
        return "the head file beside the log is unreadable"
    if (not isinstance(obj, dict) or not isinstance(obj.get("seq"), int)
            or isinstance(obj.get("seq"), bool) or obj["seq"] < 0
            or not _is_hex64(obj.get("hash"))):
        return "the head file beside the log is unreadable"
    return obj["seq"], obj["hash"]


def _check(path: Path) -> tuple[Verdict, list[Entry]]:
    """The verdict and the entries that verified before the first fault."""
    lines, torn = _read(path)
    good: list[Entry] = []
    prev = GENESIS
    for expected, line in enumerate(lines, start=1):
        parsed = _parse(line)
        if isinstance(parsed, str):
            return Verdict(False, len(good), expected, f"line {expected} {parsed}"), good
        if parsed.seq != expected:
            reason = (f"expected entry {expected} but found entry {parsed.seq}: "
                      "entries were deleted, inserted or reordered")
            return Verdict(False, len(good), expected, reason), good
        if parsed.prev != prev:
            reason = f"entry {expected} does not follow entry {expected - 1} (broken chain)"
            return Verdict(False, len(good), expected, reason), good
        if _digest(parsed.as_dict()) != parsed.hash:
            reason = f"entry {expected} was changed (its hash does not match its content)"
            return Verdict(False, len(good), expected, reason), good
        good.append(parsed)
        prev = parsed.hash
    count = len(good)
    if torn:
        reason = f"the last line (entry {count + 1}) is torn, as by an interrupted write"
        return Verdict(False, count, count + 1, reason), good
    head = _read_head(path)
    if isinstance(head, str):
        return Verdict(False, count, None, head), good
    if head is None:
        if count:
            return Verdict(False, count, None, "the head file beside the log is missing"), good
        return Verdict(True, 0), good
    head_seq, head_hash = head
    if head_seq > count:
        reason = (f"the log ends at entry {count} but its head file records entry {head_seq}: "
                  "entries were removed from the end")
        return Verdict(False, count, count + 1, reason), good
    last = good[head_seq - 1].hash if head_seq >= 1 else GENESIS
    if last != head_hash:
        reason = f"entry {head_seq} differs from the one the head file records"
        return Verdict(False, count, max(head_seq, 1), reason), good
    if head_seq >= count - 1:  # one behind: a crash between writing the line and the head
        return Verdict(True, count), good
    reason = (f"the head file records entry {head_seq} but the log goes on to entry {count}: "
              "entries were added without the head")
    return Verdict(False, count, head_seq + 1, reason), good


@contextlib.contextmanager
def _locked(path: Path, *, create: bool) -> Iterator[None]:
    """Hold the log's lock; a reader goes on without it where none can be made
    (no folder yet, or one it may not write: nothing can append there either)."""
    lock: FileLock | None = None
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        if create or path.parent.is_dir():
            lock = FileLock(str(path.with_name(path.name + ".lock")), timeout=LOCK_TIMEOUT_S)
            lock.acquire()
    except Timeout:
        raise UpdateLogError("the model update log is busy (another process is writing it); "
                             "try again") from None
    except OSError as exc:
        if create:
            raise UpdateLogError(f"cannot write the model update log {path}: "
                                 f"{exc.strerror or exc}") from exc
        lock = None
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


def verify(path: Path) -> Verdict:
    """Check the whole log and its head file; the verdict names the first fault."""
    path = Path(path)
    with _locked(path, create=False):
        return _check(path)[0]


def entries(path: Path) -> list[Entry]:
    """The entries of the log that verify, oldest first (call verify to learn of damage)."""
    path = Path(path)
    with _locked(path, create=False):
        return _check(path)[1]


def _write_line(path: Path, data: bytes) -> None:
    """Append one whole line and flush it; a failed write (a full disk) is cut off again."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def append(path: Path, event: str, details: dict[str, Any] | None = None, *,
           actor: str | None = None) -> Entry:
    """Add one step to the log and return it.

    ``actor`` (who did it) is stored as ``details["actor"]``.  An unknown event,
    details that are not JSON values, or a line over MAX_LINE_BYTES raise
    UpdateLogError; a log that fails verification raises UpdateLogDamaged and
    is left as it is.
    """
    path = Path(path)
    if event not in EVENTS:
        raise UpdateLogError(f"unknown model update event {event!r}; "
                             f"expected one of {', '.join(EVENTS)}")
    details = dict(details or {})
    if actor is not None:
        details["actor"] = actor
    _check_value(details, "details")
    with _locked(path, create=True):
        verdict, good = _check(path)
        if not verdict.ok:
            raise UpdateLogDamaged(f"the model update log {path.name} is damaged "
                                   f"({verdict.reason}); it was not extended")
        fields: dict[str, Any] = {
            "seq": len(good) + 1,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": event,
            "details": details,
            "prev": good[-1].hash if good else GENESIS,
        }
        fields["hash"] = _digest(fields)
        line = _canonical(fields) + b"\n"
        if len(line) > MAX_LINE_BYTES:
            raise UpdateLogError(f"update log details are too large ({len(line)} bytes; "
                                 f"an entry may hold at most {MAX_LINE_BYTES})")
        try:
            _write_line(path, line)
            write_atomically(head_path(path), _canonical({"seq": fields["seq"],
                                                          "hash": fields["hash"]}))
        except OSError as exc:
            raise UpdateLogError(f"cannot write the model update log {path}: "
                                 f"{exc.strerror or exc}") from exc
        return Entry(**fields)
