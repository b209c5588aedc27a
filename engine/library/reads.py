"""The radiologist's read of a study: per-breast BI-RADS assessment (5th
edition: 4A/4B/4C) and ACR density, the management recommendation, findings
with their lexicon descriptors and position, an impression; saved as a draft,
then signed once it passes the sign-off checks (engine.reading.birads).

A signed read is locked: it can no longer be changed, only followed by
addenda (each signed when it is added, with its reader and time).  Reads live
in the library's `reads` table; the read itself is JSON in `read_json`, and
its `role` says what it is in the study's reading: ``single`` where the site
reads once, ``first``, ``second`` or ``arbitration`` under double reading
(the rules: engine/reading/double_reading.py; the queries that apply them:
engine/library/double_reads.py; callers pass the site setting as
``double``).  A read also says whether its exam was a screening (the
default, and what reads saved before the field hold) or a diagnostic one.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field, fields

from engine.errors import MammoDeskError
from engine.library import outbox
from engine.library.catalog import study_exists
from engine.library.store import Library, now_iso
from engine.reading import double_reading as dr
from engine.reading.birads import (
    ALL_ASSESSMENTS,
    ASSESSMENTS,
    DENSITY,
    DEPTHS,
    FINDING_TYPES,
    RECOMMENDATIONS,
    SIDES,
    clock_problem,
    descriptor_problem,
    overall,
    signoff_problems,
)

BIRADS = ALL_ASSESSMENTS  # category -> wording (engine.reading.birads)
SCREENING, DIAGNOSTIC = "screening", "diagnostic"
EXAM_PURPOSES = (SCREENING, DIAGNOSTIC)


@dataclass
class Finding:
    side: str  # "R" | "L"
    kind: str  # one of FINDING_TYPES
    location: str = ""  # free text, e.g. "upper outer quadrant" (reads before clock/depth)
    size_mm: float | None = None
    note: str = ""
    descriptors: list[str] = field(default_factory=list)  # BI-RADS lexicon words
    clock: str = ""  # clock-face position, "10:00"; or "retroareolar", "central", "axillary tail"
    depth: str = ""  # "anterior" | "middle" | "posterior"
    nipple_mm: float | None = None  # distance from the nipple
    # Where the reader placed it: {"sop_uid": ..., "x": column, "y": row} in
    # stored pixels of that image (None when placed by text only).
    point: dict[str, object] | None = None

    def problems(self) -> list[str]:
        out = []
        if self.side not in SIDES:
            out.append(f"a finding needs a side (R or L), not {self.side!r}")
        if self.kind not in FINDING_TYPES:
            out.append(f"unknown finding type {self.kind!r}")
        elif problem := descriptor_problem(self.kind, self.descriptors):
            out.append(problem)
        if problem := clock_problem(self.clock):
            out.append(problem)
        if self.depth and self.depth not in DEPTHS:
            out.append(f"a finding's depth is anterior, middle or posterior, not {self.depth!r}")
        if self.point is not None and not _is_point(self.point):
            out.append("a finding's point needs the image's sop_uid and its x and y in pixels")
        for what, value in (("size", self.size_mm), ("distance from the nipple", self.nipple_mm)):
            if value is not None and not 0 < float(value) < 1000:
                out.append(f"a finding's {what} must be between 0 and 1000 mm, not {value}")
        return out


@dataclass
class Read:
    # Per breast: BI-RADS assessment ("0".."6", 4A/4B/4C) and composition ("a".."d").
    birads: dict[str, str | None] = field(default_factory=lambda: {"R": None, "L": None})
    density: dict[str, str | None] = field(default_factory=lambda: {"R": None, "L": None})
    findings: list[Finding] = field(default_factory=list)
    impression: str = ""
    recommendation: str | None = None  # a key of RECOMMENDATIONS
    reading_time_s: float | None = None  # time spent reading, where it was measured
    # CAD as a second look: when the reader said the first look was done (seconds
    # into the read), and whether the AI was shown before that, on request.
    ai_first_look_s: float | None = None
    ai_shown_early: bool = False
    exam: str = SCREENING  # the exam's purpose: screening or diagnostic

    def problems(self) -> list[str]:
        """What stops this read from being saved at all."""
        out = []
        for side in SIDES:
            b = self.birads.get(side)
            if b is not None and b not in ALL_ASSESSMENTS:
                out.append(f"BI-RADS for the {_side(side)} breast must be one of "
                           f"{', '.join(ASSESSMENTS)}, not {b}")
            d = self.density.get(side)
            if d is not None and d not in DENSITY:
                out.append(f"density for the {_side(side)} breast must be a, b, c or d, not {d!r}")
        if self.recommendation is not None and self.recommendation not in RECOMMENDATIONS:
            out.append(f"unknown recommendation {self.recommendation!r} (one of "
                       f"{', '.join(RECOMMENDATIONS)})")
        if self.exam not in EXAM_PURPOSES:
            out.append(f"the exam is screening or diagnostic, not {self.exam!r}")
        for f in self.findings:
            out += f.problems()
        return out

    def signoff_problems(self) -> list[str]:
        """What stops this read from being signed (the BI-RADS checks)."""
        return self.problems() or signoff_problems(self)

    @property
    def overall(self) -> str | None:
        return overall(self.birads)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Read:
        data = json.loads(text)
        known = {f.name for f in fields(Finding)}
        findings = [Finding(**{k: v for k, v in f.items() if k in known})
                    for f in data.get("findings", [])]
        return cls(
            # Reads saved before 5th-edition categories hold integers.
            birads={k: (None if v is None else str(v)) for k, v in data.get("birads", {}).items()},
            density={k: v for k, v in data.get("density", {}).items()},
            findings=findings,
            impression=data.get("impression", ""),
            recommendation=data.get("recommendation"),
            reading_time_s=data.get("reading_time_s"),
            ai_first_look_s=data.get("ai_first_look_s"),
            ai_shown_early=bool(data.get("ai_shown_early", False)),
            exam=data.get("exam") or SCREENING,
        )


class SignoffRefused(MammoDeskError):
    """A read that fails the sign-off checks; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("cannot sign: " + "; ".join(problems))
        self.problems = problems


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
    role: str = dr.SINGLE  # in the study's reading (engine.reading.double_reading)

    @property
    def signed(self) -> bool:
        return self.signed_at is not None


def _is_point(point: object) -> bool:
    if not isinstance(point, dict) or not isinstance(point.get("sop_uid"), str):
        return False
    return all(isinstance(point.get(k), int | float) and not isinstance(point.get(k), bool)
               for k in ("x", "y"))


def _side(side: str) -> str:
    return {"R": "right", "L": "left"}.get(side, side)


def _reader(reader: str) -> str:
    reader = " ".join((reader or "").split())
    if not reader:
        raise MammoDeskError("the reader's name is needed to save a read")
    return reader


def _row(row: tuple) -> StoredRead:
    rid, study, reader, created, signed, addendum_of, payload, role = row
    if addendum_of is None:
        read = Read.from_json(payload)
        return StoredRead(rid, study, reader, created, signed, None, read, read.impression, role)
    text = json.loads(payload).get("text", "")
    return StoredRead(rid, study, reader, created, signed, addendum_of, None, text, role)


_COLUMNS = "id, study_uid, reader, created_at, signed_at, addendum_of, read_json, role"


def reads_for(library: Library, study_uid: str) -> list[StoredRead]:
    """The study's read and its addenda, oldest first."""
    rows = library.conn.execute(
        f"SELECT {_COLUMNS} FROM reads WHERE study_uid = ? ORDER BY id", (study_uid,)
    ).fetchall()
    return [_row(r) for r in rows]


def main_reads(library: Library, study_uid: str) -> list[StoredRead]:
    """The study's reads without addenda, oldest first."""
    return [r for r in reads_for(library, study_uid) if r.addendum_of is None]


def current_read(library: Library, study_uid: str) -> StoredRead | None:
    """The study's main read: its single read (draft or signed), or under
    double reading its final read once decided (None before)."""
    mains = main_reads(library, study_uid)
    if dr.is_double(mains, False):
        return dr.stage_of(mains).final
    return mains[0] if mains else None


def main_reads_by_study(library: Library) -> dict[str, list[StoredRead]]:
    """Every study's reads without addenda, oldest first (an empty list for a
    study not read yet), in two queries."""
    by_study: dict[str, list[StoredRead]] = {uid: [] for (uid,) in library.conn.execute(
        "SELECT study_uid FROM studies")}
    for row in library.conn.execute(
            f"SELECT {_COLUMNS} FROM reads WHERE addendum_of IS NULL ORDER BY id"):
        read = _row(row)
        by_study.setdefault(read.study_uid, []).append(read)
    return by_study


def _check_study(library: Library, study_uid: str) -> None:
    if not study_exists(library, study_uid):
        raise MammoDeskError("no such study in the library")


def save_draft(library: Library, study_uid: str, reader: str, read: Read, *,
               double: bool = False) -> StoredRead:
    """Create or update the reader's unsigned read (`double`: the site reads twice)."""
    reader = _reader(reader)
    _check_saveable(library, study_uid, read)
    with library.transaction() as conn:
        rid = _write_draft(conn, library, study_uid, reader, read, double)
    return _by_id(library, rid)


def sign(library: Library, study_uid: str, reader: str, read: Read | None = None, *,
         queue: bool = True, double: bool = False) -> StoredRead:
    """Sign the reader's read (`read` replaces the draft first, when given): it
    is locked from now on.  Once the study's reading is decided (at once under
    single reading; under double reading when the second read agrees or the
    arbitration is signed) the study is queued for the cloud in the same
    transaction (a few rows; the sync process does the network work), so a
    decided read is never left unqueued, whatever stops the process."""
    reader = _reader(reader)
    if read is not None:
        _check_saveable(library, study_uid, read)
    with library.transaction() as conn:
        if read is not None:
            rid = _write_draft(conn, library, study_uid, reader, read, double)
        else:
            # The read this reader edits (engine.library.double_reads.read_of).
            mains = main_reads(library, study_uid)
            existing = (dr.own_read(mains, reader) if dr.is_double(mains, double)
                        else mains[0] if mains else None)
            if existing is None:
                raise MammoDeskError("there is no read to sign for this study")
            if existing.signed:
                raise MammoDeskError("this read is already signed")
            rid = existing.id
        problems = _by_id(library, rid).read.signoff_problems()  # type: ignore[union-attr]
        if problems:
            raise SignoffRefused(problems)
        # The WHERE clause makes a second signer lose cleanly.
        done = conn.execute(
            "UPDATE reads SET signed_at = ?, reader = ? WHERE id = ? AND signed_at IS NULL",
            (now_iso(), reader, rid),
        ).rowcount
        if not done:
            raise MammoDeskError("this read is already signed")
        if queue and dr.stage_of(main_reads(library, study_uid)).decided:
            outbox.enqueue_in(conn, library, study_uid, "signed")
    return _by_id(library, rid)


def _check_saveable(library: Library, study_uid: str, read: Read) -> None:
    problems = read.problems()
    if problems:
        raise MammoDeskError(problems[0])
    _check_study(library, study_uid)


def _write_draft(conn: sqlite3.Connection, library: Library, study_uid: str, reader: str,
                 read: Read, double: bool) -> int:
    """Insert or update the reader's unsigned read inside the caller's
    transaction; its id.  DoubleReadingRefused where the rules forbid it."""
    mains = main_reads(library, study_uid)
    if dr.is_double(mains, double):
        role, existing = dr.role_for(mains, reader)
    else:
        role, existing = dr.SINGLE, (mains[0] if mains else None)
    if existing is not None and existing.signed:
        raise MammoDeskError("this read is signed and locked; add an addendum instead")
    if existing is None:
        cur = conn.execute(
            "INSERT INTO reads (study_uid, reader, created_at, read_json, role) "
            "VALUES (?, ?, ?, ?, ?)", (study_uid, reader, now_iso(), read.to_json(), role))
        return int(cur.lastrowid or 0)
    conn.execute("UPDATE reads SET reader = ?, read_json = ? WHERE id = ?",
                 (reader, read.to_json(), existing.id))
    return existing.id


def add_addendum(library: Library, study_uid: str, reader: str, text: str) -> StoredRead:
    """An addendum to the study's signed final read; signed as it is added."""
    reader = _reader(reader)
    text = (text or "").strip()
    if not text:
        raise MammoDeskError("an addendum needs some text")
    existing = current_read(library, study_uid)
    if existing is None and dr.is_double(main_reads(library, study_uid), False):
        raise MammoDeskError("an addendum follows the final read; this study's double "
                             "reading is not decided yet")
    if existing is None or not existing.signed:
        raise MammoDeskError("an addendum follows a signed read; sign the read first")
    stamp = now_iso()
    with library.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO reads (study_uid, reader, created_at, signed_at, addendum_of, read_json, "
            "role) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (study_uid, reader, stamp, stamp, existing.id, json.dumps({"text": text}),
             existing.role),
        )
    return _by_id(library, int(cur.lastrowid or 0))


def _by_id(library: Library, rid: int) -> StoredRead:
    row = library.conn.execute(f"SELECT {_COLUMNS} FROM reads WHERE id = ?", (rid,)).fetchone()
    return _row(row)
