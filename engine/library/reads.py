"""The radiologist's read of a study: per-breast BI-RADS assessment and ACR
density, findings, an impression; saved as a draft, then signed.

A signed read is locked: it can no longer be changed, only followed by
addenda (each signed when it is added, with its reader and time).  Reads live
in the library's `reads` table; the read itself is JSON in `read_json`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field

from engine.errors import MammoDeskError
from engine.library import outbox
from engine.library.catalog import study_exists
from engine.library.store import Library, now_iso

BIRADS = {
    0: "0 - incomplete: needs additional imaging",
    1: "1 - negative",
    2: "2 - benign",
    3: "3 - probably benign",
    4: "4 - suspicious",
    5: "5 - highly suggestive of malignancy",
    6: "6 - known biopsy-proven malignancy",
}
DENSITY = {
    "a": "a - almost entirely fatty",
    "b": "b - scattered areas of fibroglandular density",
    "c": "c - heterogeneously dense",
    "d": "d - extremely dense",
}
FINDING_TYPES = ("mass", "calcifications", "asymmetry", "architectural distortion", "other")
SIDES = ("R", "L")


@dataclass
class Finding:
    side: str  # "R" | "L"
    kind: str  # one of FINDING_TYPES
    location: str = ""  # clock face / quadrant and depth, e.g. "10 o'clock, middle third"
    size_mm: float | None = None
    note: str = ""


@dataclass
class Read:
    birads: dict[str, int | None] = field(default_factory=lambda: {"R": None, "L": None})
    density: dict[str, str | None] = field(default_factory=lambda: {"R": None, "L": None})
    findings: list[Finding] = field(default_factory=list)
    impression: str = ""

    def problems(self) -> list[str]:
        """What stops this read from being saved at all."""
        out = []
        for side in SIDES:
            b = self.birads.get(side)
            if b is not None and b not in BIRADS:
                out.append(f"BI-RADS for the {_side(side)} breast must be 0 to 6, not {b}")
            d = self.density.get(side)
            if d is not None and d not in DENSITY:
                out.append(f"density for the {_side(side)} breast must be a, b, c or d, not {d!r}")
        for f in self.findings:
            if f.side not in SIDES:
                out.append(f"a finding needs a side (R or L), not {f.side!r}")
            if f.kind not in FINDING_TYPES:
                out.append(f"unknown finding type {f.kind!r}")
        return out

    def missing_for_signing(self) -> list[str]:
        return [
            f"{what} for the {_side(side)} breast"
            for side in SIDES
            for what, value in (("BI-RADS", self.birads.get(side)),
                                ("density", self.density.get(side)))
            if value is None
        ]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Read:
        data = json.loads(text)
        findings = [Finding(**f) for f in data.get("findings", [])]
        return cls(
            birads={k: v for k, v in data.get("birads", {}).items()},
            density={k: v for k, v in data.get("density", {}).items()},
            findings=findings,
            impression=data.get("impression", ""),
        )


@dataclass(frozen=True)
class StoredRead:
    id: int
    study_uid: str
    reader: str
    created_at: str
    signed_at: str | None
    addendum_of: int | None
    read: Read | None  # None for an addendum
    text: str  # an addendum's text; the impression for a read

    @property
    def signed(self) -> bool:
        return self.signed_at is not None


def _side(side: str) -> str:
    return {"R": "right", "L": "left"}.get(side, side)


def _reader(reader: str) -> str:
    reader = " ".join((reader or "").split())
    if not reader:
        raise MammoDeskError("the reader's name is needed to save a read")
    return reader


def _row(row: tuple) -> StoredRead:
    rid, study, reader, created, signed, addendum_of, payload = row
    data = json.loads(payload)
    if addendum_of is None:
        read = Read.from_json(payload)
        return StoredRead(rid, study, reader, created, signed, None, read, read.impression)
    return StoredRead(rid, study, reader, created, signed, addendum_of, None, data.get("text", ""))


_COLUMNS = "id, study_uid, reader, created_at, signed_at, addendum_of, read_json"


def reads_for(library: Library, study_uid: str) -> list[StoredRead]:
    """The study's read and its addenda, oldest first."""
    rows = library.conn.execute(
        f"SELECT {_COLUMNS} FROM reads WHERE study_uid = ? ORDER BY id", (study_uid,)
    ).fetchall()
    return [_row(r) for r in rows]


def signed_study_uids(library: Library) -> set[str]:
    """Studies whose read is signed."""
    return {r[0] for r in library.conn.execute(
        "SELECT study_uid FROM reads WHERE signed_at IS NOT NULL AND addendum_of IS NULL")}


def current_read(library: Library, study_uid: str) -> StoredRead | None:
    """The study's main read (draft or signed), without addenda."""
    for r in reads_for(library, study_uid):
        if r.addendum_of is None:
            return r
    return None


def _check_study(library: Library, study_uid: str) -> None:
    if not study_exists(library, study_uid):
        raise MammoDeskError("no such study in the library")


def save_draft(library: Library, study_uid: str, reader: str, read: Read) -> StoredRead:
    """Create or update the study's unsigned read."""
    reader = _reader(reader)
    _check_saveable(library, study_uid, read)
    with library.transaction() as conn:
        rid = _write_draft(conn, library, study_uid, reader, read)
    return _by_id(library, rid)


def sign(library: Library, study_uid: str, reader: str, read: Read | None = None, *,
         queue: bool = True) -> StoredRead:
    """Sign the study's read (`read` replaces the draft first, when given): it is
    locked from now on.  The study is queued for the cloud in the same
    transaction (a few rows; the sync process does the network work), so a
    signed read is never left unqueued, whatever stops the process."""
    reader = _reader(reader)
    if read is not None:
        _check_saveable(library, study_uid, read)
    with library.transaction() as conn:
        if read is not None:
            rid = _write_draft(conn, library, study_uid, reader, read)
        else:
            existing = current_read(library, study_uid)
            if existing is None:
                raise MammoDeskError("there is no read to sign for this study")
            if existing.signed:
                raise MammoDeskError("this read is already signed")
            rid = existing.id
        missing = _by_id(library, rid).read.missing_for_signing()  # type: ignore[union-attr]
        if missing:
            raise MammoDeskError("cannot sign without " + ", ".join(missing))
        # The WHERE clause makes a second signer lose cleanly.
        done = conn.execute(
            "UPDATE reads SET signed_at = ?, reader = ? WHERE id = ? AND signed_at IS NULL",
            (now_iso(), reader, rid),
        ).rowcount
        if not done:
            raise MammoDeskError("this read is already signed")
        if queue:
            outbox.enqueue_in(conn, library, study_uid, "signed")
    return _by_id(library, rid)


def _check_saveable(library: Library, study_uid: str, read: Read) -> None:
    problems = read.problems()
    if problems:
        raise MammoDeskError(problems[0])
    _check_study(library, study_uid)


def _write_draft(conn: sqlite3.Connection, library: Library, study_uid: str, reader: str,
                 read: Read) -> int:
    """Insert or update the unsigned read inside the caller's transaction; its id."""
    existing = current_read(library, study_uid)
    if existing is not None and existing.signed:
        raise MammoDeskError("this read is signed and locked; add an addendum instead")
    if existing is None:
        cur = conn.execute(
            "INSERT INTO reads (study_uid, reader, created_at, read_json) VALUES (?, ?, ?, ?)",
            (study_uid, reader, now_iso(), read.to_json()),
        )
        return int(cur.lastrowid or 0)
    conn.execute("UPDATE reads SET reader = ?, read_json = ? WHERE id = ?",
                 (reader, read.to_json(), existing.id))
    return existing.id


def add_addendum(library: Library, study_uid: str, reader: str, text: str) -> StoredRead:
    """An addendum to the signed read; signed as it is added."""
    reader = _reader(reader)
    text = (text or "").strip()
    if not text:
        raise MammoDeskError("an addendum needs some text")
    existing = current_read(library, study_uid)
    if existing is None or not existing.signed:
        raise MammoDeskError("an addendum follows a signed read; sign the read first")
    stamp = now_iso()
    with library.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO reads (study_uid, reader, created_at, signed_at, addendum_of, read_json) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (study_uid, reader, stamp, stamp, existing.id, json.dumps({"text": text})),
        )
    return _by_id(library, int(cur.lastrowid or 0))


def _by_id(library: Library, rid: int) -> StoredRead:
    row = library.conn.execute(f"SELECT {_COLUMNS} FROM reads WHERE id = ?", (rid,)).fetchone()
    return _row(row)
