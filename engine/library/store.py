"""The local case library: SQLite (WAL) plus the DICOM files it indexes.

Layout under the library folder::

    library.db            SQLite database (WAL mode), schema in schema.py
    files/ab/cd/<h>.dcm   one file per SOP instance; <h> is a hash of the
                          SOP Instance UID, so file names carry no patient data
    incoming/             files being written; anything left here is debris
    import.lock           held while an import runs (one writer at a time)
    setup.lock            held briefly while a process sets up the database

Adding files follows a small journal so that a crash or ``kill -9`` at any
point leaves no half rows and no orphan files: the final paths are first
recorded in ``pending_files`` (committed), the files are written to
``incoming/`` and renamed into place, and only then are the instance rows
inserted and the pending rows removed in one transaction.  Opening the
library replays that journal: a pending path without its instance row is
deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import filelock
import sqlite_utils

from engine import private
from engine.dicom import InstanceHeader
from engine.errors import LibraryError
from engine.library.schema import migrate

DB_NAME = "library.db"
log = logging.getLogger(__name__)
_STAGING_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="library-stage")


@dataclass(frozen=True)
class NewInstance:
    """A parsed file ready to be stored, possibly already being written."""

    header: InstanceHeader
    data: bytes
    staged: Future[tuple[Path, str]] | None = None


def _make_private(root: Path) -> None:
    """A library open to other users (an old one, or a loose umask) is closed to them.

    The whole tree is walked only when the folder or the database is found
    loose, so a library that is already private costs a few stat calls."""
    top = [root, root / "files", root / "incoming", root / DB_NAME,
           root / f"{DB_NAME}-wal", root / f"{DB_NAME}-shm"]
    if private.is_loose(top):
        changed = private.tighten_tree(root)
        log.warning("the library was readable by other users: %d files and folders "
                    "made private to this user", changed)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def rel_path_for(sop_uid: str) -> str:
    digest = hashlib.sha256(sop_uid.encode("ascii", "replace")).hexdigest()
    return f"files/{digest[:2]}/{digest[2:4]}/{digest}.dcm"


class Library:
    """One library folder.  Cheap to open; use as a context manager."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new library is private
            (self.root / "files").mkdir(mode=0o700, exist_ok=True)
            (self.root / "incoming").mkdir(mode=0o700, exist_ok=True)
            _make_private(self.root)
            conn = sqlite3.connect(self.root / DB_NAME, timeout=30, isolation_level=None)
            # SQLite gives -wal and -shm the database file's own mode.
            private.tighten([self.root / DB_NAME])
        except (OSError, sqlite3.Error) as exc:
            raise LibraryError(f"cannot open the library at {self.root}: {_reason(exc)}") from exc
        self.db = sqlite_utils.Database(conn)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            # Switching to WAL does not wait on SQLite's busy timeout, so two
            # processes opening a new library at once would collide: take
            # turns for the (short) set-up.
            with filelock.FileLock(self.root / "setup.lock", mode=0o600, thread_local=False):
                self.db.enable_wal()
                migrate(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            with self.import_lock(blocking=False) as locked:
                if locked:
                    self.recover()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LibraryError(f"the library database is unreadable: {_reason(exc)}") from exc
        except BaseException:
            conn.close()  # e.g. a library from a newer MammoDesk: refuse, don't leak
            raise

    # -- lifecycle -----------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def import_lock(self, blocking: bool = True) -> Iterator[bool]:
        """Hold the library's single-writer lock; yields False if busy and not blocking.

        filelock gives the same semantics on Linux, macOS and Windows, and the
        operating system drops the lock when a writer dies, even by kill -9.
        """
        lock = filelock.FileLock(self.root / "import.lock", mode=0o600, thread_local=False)
        try:
            lock.acquire(timeout=-1 if blocking else 0)
        except filelock.Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")  # may fail too, e.g. on a full disk
        except BaseException:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            raise

    def recover(self) -> int:
        """Undo what an interrupted import left behind; return files removed.

        Call only while holding the import lock.
        """
        removed = 0
        for row in self.conn.execute("SELECT rel_path FROM pending_files").fetchall():
            rel = row[0]
            owned = self.conn.execute(
                "SELECT 1 FROM instances WHERE rel_path = ?", (rel,)).fetchone()
            if not owned:
                with contextlib.suppress(FileNotFoundError):
                    (self.root / rel).unlink()
                    removed += 1
        with self.transaction() as conn:
            conn.execute("DELETE FROM pending_files")
        for debris in (self.root / "incoming").iterdir():
            with contextlib.suppress(OSError):
                debris.unlink()
                removed += 1
        return removed

    # -- queries -------------------------------------------------------------

    def known_sop_uids(self, sop_uids: Sequence[str]) -> set[str]:
        known: set[str] = set()
        for start in range(0, len(sop_uids), 500):
            chunk = list(sop_uids[start:start + 500])
            marks = ",".join("?" * len(chunk))
            known.update(r[0] for r in self.conn.execute(
                f"SELECT sop_uid FROM instances WHERE sop_uid IN ({marks})", chunk))
        return known

    def instance_count(self) -> int:
        return self.db["instances"].count

    def instance_files(self) -> dict[str, Path]:
        """SOP Instance UID -> stored file, for every instance in the library."""
        rows = self.conn.execute("SELECT sop_uid, rel_path FROM instances")
        return {uid: self.root / rel for uid, rel in rows}

    def file_path(self, rel_path: str) -> Path:
        return self.root / rel_path

    # -- writing -------------------------------------------------------------

    def stage(self, data: bytes) -> Future[tuple[Path, str]]:
        """Start writing a file under incoming/ in the background.

        Writing, fsync and hashing release the GIL, so an import parses the
        next files while these run.  Nothing in incoming/ counts until
        ``add_instances`` moves it into place; recovery deletes leftovers.
        """
        return _STAGING_POOL.submit(self._stage, data)

    def add_instances(self, items: Sequence[NewInstance]) -> int:
        """Store files and their rows atomically.  Caller holds the import lock
        and has already dropped SOP instances the library knows."""
        if not items:
            return 0
        futures = [item.staged or self.stage(item.data) for item in items]
        try:
            self._add_instances(items, futures)
        except (OSError, sqlite3.Error) as exc:
            # A full disk or a lost volume: put things back as they were.  If
            # even that fails, the journal lets the next open finish the job.
            wait(futures)
            with contextlib.suppress(OSError, sqlite3.Error):
                self.recover()
            raise LibraryError(f"cannot write to the library: {_reason(exc)}") from exc
        return len(items)

    def _add_instances(self, items: Sequence[NewInstance],
                       futures: list[Future[tuple[Path, str]]]) -> None:
        stamp = now_iso()
        rels = [rel_path_for(item.header.sop_instance_uid) for item in items]
        # Journal the final names before anything appears under files/.
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO pending_files (rel_path, sop_uid, created_at) "
                "VALUES (?, ?, ?)",
                [(rel, item.header.sop_instance_uid, stamp)
                 for rel, item in zip(rels, items, strict=True)])
        staged = [future.result() for future in futures]
        for (tmp, _), rel in zip(staged, rels, strict=True):
            final = self.root / rel
            final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.replace(tmp, final)
        _fsync_dirs({(self.root / rel).parent for rel in rels})
        with self.transaction() as conn:
            for item, rel, (_, digest) in zip(items, rels, staged, strict=True):
                _insert_rows(conn, item, rel, digest, stamp)
            conn.executemany("DELETE FROM pending_files WHERE rel_path = ?",
                             [(rel,) for rel in rels])

    def _stage(self, data: bytes) -> tuple[Path, str]:
        """Write one file durably under incoming/; return its path and sha256."""
        fd, name = tempfile.mkstemp(dir=self.root / "incoming", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise
        return Path(name), hashlib.sha256(data).hexdigest()


def _insert_rows(conn: sqlite3.Connection, item: NewInstance, rel: str, digest: str,
                 stamp: str) -> None:
    h = item.header
    conn.execute(
        "INSERT INTO studies (study_uid, patient_id, patient_name, patient_birth_date, "
        "patient_sex, study_date, study_time, accession_number, study_description, "
        "first_imported_at) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (study_uid) DO NOTHING",
        (h.study_instance_uid, h.patient_id, h.patient_name, h.patient_birth_date,
         h.patient_sex, h.study_date, h.study_time, h.accession_number,
         h.study_description, stamp))
    conn.execute(
        "INSERT INTO series (series_uid, study_uid, modality, series_number, "
        "series_description) VALUES (?,?,?,?,?) ON CONFLICT (series_uid) DO NOTHING",
        (h.series_instance_uid, h.study_instance_uid, h.modality, h.series_number,
         h.series_description))
    v = h.view
    conn.execute(
        "INSERT INTO instances (sop_uid, series_uid, study_uid, sop_class_uid, modality, "
        "transfer_syntax_uid, instance_number, rows, columns, bits_stored, photometric, "
        "frames, has_pixel_data, presentation_intent, implant_present, laterality, view, "
        "view_label, view_modifiers, laterality_source, view_source, view_conflicts, "
        "rel_path, file_size, sha256, imported_at, patient_orientation, acquisition_order) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (h.sop_instance_uid, h.series_instance_uid, h.study_instance_uid, h.sop_class_uid,
         h.modality, h.transfer_syntax_uid, h.instance_number, h.rows, h.columns,
         h.bits_stored, h.photometric_interpretation, h.number_of_frames,
         int(h.has_pixel_data), h.presentation_intent,
         None if h.implant_present is None else int(h.implant_present),
         v.laterality, v.view, v.label, json.dumps(list(v.modifiers)),
         v.laterality_source, v.view_source, json.dumps(list(v.conflicts)),
         rel, len(item.data), digest, stamp,
         None if h.patient_orientation is None else json.dumps(list(h.patient_orientation)),
         json.dumps(list(h.acquisition_order))))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dirs(folders: set[Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            _fsync(folder)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, sqlite3.Error) and "full" in str(exc):
        return "no space left on device"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
