"""The reading worklist: every study with what a radiologist sorts by —
patient, age at the study, date, views present, whether a prior exists, its
priority (urgent or routine), and where the study stands.

The status follows the read first: new, AI done, draft (a saved unsigned
read), signed (locked; signing queues it for the cloud), sent (signed, and
the cloud confirmed everything queued).  Under double reading
(engine.reading.double_reading) a study whose first read is signed is
"2nd read due", one whose two readers disagree on recall "arbitration due",
and it is signed only once decided.  A failed sync shows as sync failed
whatever the read, since it needs someone's attention.  Queueing an unread
study for the cloud does not change its status: it still needs reading."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from engine.dates import dicom_date
from engine.library.ai_results import latest_exam_scores
from engine.library.catalog import earlier_studies
from engine.library.listing import list_studies
from engine.library.outbox import StudyState, latest_study_states
from engine.library.priority import PRIORITY_NAMES, URGENT
from engine.library.reads import main_reads_by_study
from engine.library.store import Library
from engine.reading.double_reading import (
    ARBITRATION_NEEDED,
    AWAITING_SECOND,
    reader_key,
    stage_of,
)
from engine.reporting.patient import age_at

NEW, AI_DONE, DRAFT = "new", "AI done", "draft"
SECOND_READ, ARBITRATION = "2nd read due", "arbitration due"
SIGNED, SENT, SYNC_FAILED = "signed", "sent", "sync failed"
STATUSES = (NEW, AI_DONE, DRAFT, SECOND_READ, ARBITRATION, SIGNED, SENT, SYNC_FAILED)
# What "next unread" stops at (a reader's own signed reads aside: WorklistRow.read_by).
UNREAD = frozenset({NEW, AI_DONE, DRAFT, SECOND_READ, ARBITRATION})
STATUS_HELP = {
    NEW: "not read yet; no AI result",
    AI_DONE: "not read yet; the AI has looked at it",
    DRAFT: "a read is saved but not signed",
    SECOND_READ: "double reading: the first read is signed; a second reader reads it blind",
    ARBITRATION: "double reading: the two readers disagree on recall; a third reader decides",
    SIGNED: "the read is signed and locked; waiting to be sent to the cloud",
    SENT: "the read is signed and the cloud has everything",
    SYNC_FAILED: "sending to the cloud failed; see the sync status",
}


@dataclass(frozen=True)
class WorklistRow:
    study_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    description: str
    views: list[str]
    status: str
    exam_score: float | None  # latest AI exam score 0..100
    has_prior: bool
    ai_scope: str
    accession: str = ""
    reader: str = ""  # who saved or signed the read
    reading_time_s: float | None = None  # kept with the read
    age: int | None = None  # whole years at the study; None when a date is unknown
    priority: str = ""  # "urgent", or "" for routine
    read_by: tuple[str, ...] = ()  # every reader who signed a read of it

    def signed_by(self, reader: str) -> bool:
        key = reader_key(reader)
        return any(reader_key(r) == key for r in self.read_by)

    @property
    def urgent(self) -> bool:
        return self.priority == URGENT

    def matches(self, text: str) -> bool:
        """Case-insensitive search over patient, date, description, status, views
        and priority ("urgent")."""
        text = text.strip().lower()
        if not text:
            return True
        hay = " ".join(
            [self.patient_id, self.patient_name, self.study_date, self.description,
             self.status, self.accession, self.reader, self.priority, *self.views]
        ).lower()
        return all(word in hay for word in text.split())


@dataclass(frozen=True)
class WorklistFilter:
    """Which rows the worklist shows: all of these must hold."""

    text: str = ""  # the search words (WorklistRow.matches)
    statuses: frozenset[str] | None = None  # None: any status
    urgent_only: bool = False
    since: str = ""  # study date range, DA, both ends included; "" for open
    until: str = ""

    def accepts(self, row: WorklistRow) -> bool:
        if self.statuses is not None and row.status not in self.statuses:
            return False
        if self.urgent_only and not row.urgent:
            return False
        if (self.since or self.until) and not _dated_within(row.study_date, self.since,
                                                               self.until):
            return False
        return row.matches(self.text)


# The worklist's study-date choices: (label, days up to today; None for any date).
DATE_CHOICES = (("any date", None), ("today", 1), ("last 7 days", 7), ("last 30 days", 30))


def status_choices() -> list[tuple[str, frozenset[str] | None, str]]:
    """The worklist's status filter: (label, the statuses it shows, help) for
    every study, the unread ones, then each status alone."""
    unread = [s for s in STATUSES if s in UNREAD]
    return [("all", None, "every study"),
            ("unread", frozenset(UNREAD), "still to be read: " + ", ".join(unread)),
            *((s, frozenset({s}), STATUS_HELP.get(s, "")) for s in STATUSES)]


def last_days(days: int, today: dt.date) -> tuple[str, str]:
    """The DA range (since, until) of the last `days` days up to `today`
    (1: today only)."""
    return dicom_date(today - dt.timedelta(days=max(days, 1) - 1)), dicom_date(today)


def _dated_within(study_date: str, since: str, until: str) -> bool:
    """Whether a DA study date lies in the range; an unknown date never does."""
    date = (study_date or "").strip()
    if len(date) != 8 or not date.isdigit():
        return False
    return (not since or date >= since) and (not until or date <= until)


def age_years(birth_date: str, study_date: str) -> int | None:
    """Whole years between two DA dates; None when either is missing or malformed."""
    shown = age_at(birth_date, study_date)  # "52 y", or "" when unknown
    return int(shown.split()[0]) if shown else None


def priority_name(row: WorklistRow) -> str:
    """"urgent" or "routine", as the command line writes it."""
    return PRIORITY_NAMES.get(row.priority, row.priority)


def _status(read: bool | None, ai: bool, outbox: StudyState | None) -> str:
    """`read`: None without a read, False for a draft, True when signed;
    `outbox`: the state of the study's latest queueing for the cloud."""
    if outbox == StudyState.FAILED:
        return SYNC_FAILED
    if read:
        return SENT if outbox == StudyState.CONFIRMED else SIGNED
    if read is not None:
        return DRAFT
    return AI_DONE if ai else NEW


@dataclass(frozen=True)
class _ReadState:
    signed: bool  # the study's reading is decided (its read, or its final read, signed)
    reader: str
    reading_time_s: float | None
    read_by: tuple[str, ...] = ()
    pending: str = ""  # SECOND_READ or ARBITRATION while a double reading waits


_WAITING = {AWAITING_SECOND: SECOND_READ, ARBITRATION_NEEDED: ARBITRATION}


def _reads(library: Library) -> dict[str, _ReadState]:
    """Study UID -> where its reading stands, for studies with a read."""
    out = {}
    for uid, mains in main_reads_by_study(library).items():
        if not mains:
            continue
        st = stage_of(mains)
        shown = st.final or mains[0]
        signed = tuple(dict.fromkeys(r.reader for r in mains if r.signed))
        time_s = shown.read.reading_time_s if shown.read else None
        out[uid] = _ReadState(st.decided, " + ".join(signed) or shown.reader,
                              float(time_s) if isinstance(time_s, int | float) else None,
                              signed, _WAITING.get(st.name, ""))
    return out


def _births_and_priorities(library: Library) -> dict[str, tuple[str, str]]:
    """Study UID -> (patient birth date, priority)."""
    rows = library.conn.execute("SELECT study_uid, patient_birth_date, priority FROM studies")
    return {uid: (birth or "", priority or "") for uid, birth, priority in rows}


def worklist(library: Library) -> list[WorklistRow]:
    """All studies, newest first; a handful of queries whatever the size."""
    reads = _reads(library)
    facts = _births_and_priorities(library)
    scores = latest_exam_scores(library)
    outbox = latest_study_states(library)
    dates: dict[str, list[str]] = {}
    summaries = list_studies(library)
    for s in summaries:
        dates.setdefault(s.patient_id, []).append(s.study_date)
    rows = []
    for s in summaries:
        read = reads.get(s.study_uid)
        mine = dates.get(s.patient_id, [])
        earlier = [d for d in mine if d and s.study_date and d < s.study_date]
        birth, priority = facts.get(s.study_uid, ("", ""))
        rows.append(
            WorklistRow(
                study_uid=s.study_uid,
                patient_id=s.patient_id,
                patient_name=s.patient_name,
                study_date=s.study_date,
                description=s.study_description,
                views=list(s.views),
                status=(read.pending if read and read.pending and outbox.get(s.study_uid)
                        != StudyState.FAILED else
                        _status(None if read is None else read.signed, s.study_uid in scores,
                                outbox.get(s.study_uid))),
                exam_score=scores.get(s.study_uid),
                has_prior=bool(earlier) and bool(s.patient_id),
                ai_scope=s.ai_scope,
                accession=s.accession_number,
                reader=read.reader if read else "",
                reading_time_s=read.reading_time_s if read else None,
                age=age_years(birth, s.study_date),
                priority=priority,
                read_by=read.read_by if read else (),
            )
        )
    return rows


def prior_study(library: Library, study_uid: str) -> str | None:
    """The same patient's most recent earlier study, if any."""
    earlier = earlier_studies(library, study_uid, 1)
    return earlier[0] if earlier else None
