"""Outcomes: what pathology found after a study, per breast (table outcomes),
and the facts the screening audit reads (engine/reading/audit.py).

An outcome belongs to a study and a breast: malignant, benign or high-risk,
the date of the procedure that gave it (YYYY-MM-DD), and where known the
histology, the invasive size, the axillary nodes and the kind of procedure.
A breast may have several (a biopsy, then surgery).  Outcomes come one at a
time or from a CSV file; a file is checked whole before anything is written,
and an error names the row and the problem, never the values (they may be
patient data).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import MammoDeskError
from engine.library.ai_results import result_summaries
from engine.library.double_reads import standings
from engine.library.reads import Read
from engine.library.store import Library, now_iso
from engine.reading.double_reading import Standing, reader_key

SIDES = ("R", "L")
RESULTS = ("malignant", "benign", "high-risk")
NODES = ("negative", "positive", "unknown")
PROCEDURES = ("biopsy", "surgery")
CSV_COLUMNS = ("study_uid", "side", "result", "date", "histology", "size_mm", "nodes")
CSV_OPTIONAL = ("procedure",)
MAX_CSV_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    study_uid: str
    side: str  # "R" | "L"
    result: str  # one of RESULTS
    date: dt.date  # of the procedure that gave the result
    histology: str = ""  # e.g. "invasive ductal carcinoma", "DCIS"
    size_mm: float | None = None  # invasive size
    nodes: str = "unknown"  # one of NODES
    procedure: str | None = None  # one of PROCEDURES, where known
    id: int | None = None
    created_at: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "study_uid": self.study_uid, "side": self.side,
                "result": self.result, "date": self.date.isoformat(),
                "histology": self.histology, "size_mm": self.size_mm, "nodes": self.nodes,
                "procedure": self.procedure, "created_at": self.created_at}

    def key(self) -> tuple[object, ...]:
        """What makes two records the same outcome (a file imported twice adds nothing)."""
        return (self.study_uid, self.side, self.result, self.date, self.histology,
                self.size_mm, self.nodes, self.procedure)


class OutcomeError(MammoDeskError):
    """An outcome, or a row of an outcomes file, that cannot be recorded."""


def parse_date(text: str) -> dt.date:
    """YYYY-MM-DD; anything else raises ValueError."""
    text = text.strip()
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError("not YYYY-MM-DD")
    return dt.date.fromisoformat(text)


def make_outcome(study_uid: str, side: str, result: str, date: str, histology: str = "",
                 size_mm: str | float | None = None, nodes: str | None = None,
                 procedure: str | None = None) -> Outcome:
    """An outcome from text as a person types it; OutcomeError says what is wrong
    (without repeating the value)."""
    side, result = side.strip().upper(), result.strip().lower()
    if side not in SIDES:
        raise OutcomeError("side must be R or L")
    if result not in RESULTS:
        raise OutcomeError(f"result must be one of {', '.join(RESULTS)}")
    try:
        when = parse_date(date)
    except ValueError:
        raise OutcomeError("date must be a real date written YYYY-MM-DD") from None
    if when > dt.date.today():
        raise OutcomeError("date is in the future")
    size = None
    if size_mm is not None and str(size_mm).strip():
        try:
            size = float(size_mm)
        except ValueError:
            raise OutcomeError("size_mm must be a number of millimetres") from None
        if not 0 < size < 1000:
            raise OutcomeError("size_mm must be between 0 and 1000")
    nodes = (nodes or "").strip().lower() or "unknown"
    if nodes not in NODES:
        raise OutcomeError(f"nodes must be one of {', '.join(NODES)} (or empty)")
    procedure = (procedure or "").strip().lower() or None
    if procedure is not None and procedure not in PROCEDURES:
        raise OutcomeError(f"procedure must be one of {', '.join(PROCEDURES)} (or empty)")
    uid = study_uid.strip()
    if not uid:
        raise OutcomeError("the study UID is empty")
    return Outcome(uid, side, result, when, " ".join(histology.split()), size, nodes, procedure)


def _study_dates(library: Library, uids: Iterable[str]) -> dict[str, dt.date | None]:
    """Study UID -> its study date (None when unknown), for the UIDs the library holds."""
    found: dict[str, dt.date | None] = {}
    wanted = sorted(set(uids))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for uid, date in library.conn.execute(
                f"SELECT study_uid, study_date FROM studies WHERE study_uid IN ({marks})", chunk):
            found[uid] = dicom_date(date)
    return found


def dicom_date(value: str | None) -> dt.date | None:
    """A DICOM DA (YYYYMMDD) as a date; None when empty or not a date."""
    value = (value or "").strip()
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date() if len(value) == 8 else None
    except ValueError:
        return None


def _problem(outcome: Outcome, dates: dict[str, dt.date | None]) -> str | None:
    if outcome.study_uid not in dates:
        return "no such study in the library"
    study_date = dates[outcome.study_uid]
    if study_date is not None and outcome.date < study_date:
        return "the outcome's date is before the study's date"
    return None


def add_outcomes(library: Library, outcomes: list[Outcome]) -> list[Outcome]:
    """Record outcomes in one transaction (all or none); those already recorded
    are left out.  The outcomes written, with their ids."""
    dates = _study_dates(library, (o.study_uid for o in outcomes))
    for outcome in outcomes:
        if problem := _problem(outcome, dates):
            raise OutcomeError(problem)
    known = {o.key() for o in list_outcomes(library)}
    stamp, written = now_iso(), []
    with library.transaction() as conn:
        for o in outcomes:
            if o.key() in known:
                continue
            known.add(o.key())
            cur = conn.execute(
                "INSERT INTO outcomes (study_uid, side, result, outcome_date, procedure, "
                "histology, invasive_size_mm, nodes, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (o.study_uid, o.side, o.result, o.date.isoformat(), o.procedure, o.histology,
                 o.size_mm, o.nodes, stamp))
            written.append(Outcome(o.study_uid, o.side, o.result, o.date, o.histology,
                                   o.size_mm, o.nodes, o.procedure, int(cur.lastrowid or 0),
                                   stamp))
    return written


def list_outcomes(library: Library, study_uid: str | None = None) -> list[Outcome]:
    """Recorded outcomes (of one study), by study, date and id."""
    sql = ("SELECT id, study_uid, side, result, outcome_date, procedure, histology, "
           "invasive_size_mm, nodes, created_at FROM outcomes")
    args: tuple[str, ...] = ()
    if study_uid is not None:
        sql, args = sql + " WHERE study_uid = ?", (study_uid,)
    rows = library.conn.execute(sql + " ORDER BY study_uid, outcome_date, id", args)
    return [Outcome(uid, side, result, dt.date.fromisoformat(date), histology or "",
                    size, nodes, procedure, int(rid), created)
            for rid, uid, side, result, date, procedure, histology, size, nodes, created
            in rows]


def read_outcomes_csv(path: Path, library: Library) -> list[Outcome]:
    """Every row of an outcomes CSV file, checked against the library; the first
    problem found raises OutcomeError naming its row (data rows count from 1)."""
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise OutcomeError(f"the outcomes file is larger than {MAX_CSV_BYTES // 2**20} MB")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OutcomeError("the outcomes file is not UTF-8 text") from None
    except OSError as exc:  # the name is not repeated: it may carry patient data
        raise OutcomeError(f"cannot read the outcomes file: {exc.strerror or exc}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [(name or "").strip().lower() for name in reader.fieldnames or []]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if not header or missing:
        raise OutcomeError("the outcomes file needs a header row with the columns "
                           f"{', '.join(CSV_COLUMNS)} (missing: {', '.join(missing)})")
    unknown = [c for c in header if c not in CSV_COLUMNS + CSV_OPTIONAL]
    if unknown:
        raise OutcomeError(f"the outcomes file has unknown columns: {', '.join(unknown)}")
    reader.fieldnames = header
    outcomes: list[Outcome] = []
    rows = enumerate(reader, start=1)
    while True:
        try:
            number, row = next(rows)
        except StopIteration:
            break
        except csv.Error:
            raise _row_error(len(outcomes) + 1, "not valid CSV") from None
        try:
            if None in row:
                raise OutcomeError("more fields than the header names")
            cells = {k: (v or "") for k, v in row.items()}
            outcomes.append(make_outcome(
                cells["study_uid"], cells["side"], cells["result"], cells["date"],
                cells["histology"], cells["size_mm"], cells["nodes"], cells.get("procedure")))
        except OutcomeError as exc:
            raise _row_error(number, str(exc)) from None
    dates = _study_dates(library, (o.study_uid for o in outcomes))
    for number, outcome in enumerate(outcomes, start=1):
        if problem := _problem(outcome, dates):
            raise _row_error(number, problem)
    if not outcomes:
        raise OutcomeError("the outcomes file has a header but no rows")
    return outcomes


def _row_error(number: int, problem: str) -> OutcomeError:
    return OutcomeError(f"row {number} of the outcomes file: {problem}; nothing was added")


# -- what the screening audit reads --------------------------------------------


@dataclass(frozen=True)
class AuditExam:
    """A signed read of a screening exam, with what the audit needs of its study."""

    study_uid: str
    patient_id: str
    study_date: dt.date | None
    reader: str
    overall: str | None  # the exam's overall BI-RADS assessment
    recommendation: str | None
    reading_time_s: float | None
    # Its place in the study's reading (engine.reading.double_reading): the
    # read's role, the exam's purpose, and whether it is the study's final read.
    role: str = "single"
    exam: str = "screening"
    final: bool = True


@dataclass(frozen=True)
class AuditOutcome:
    outcome: Outcome
    patient_id: str  # of the outcome's study


@dataclass(frozen=True)
class AuditData:
    exams: list[AuditExam]
    outcomes: list[AuditOutcome]
    # Study UID -> the exam score (0..100) of the model audited; None where its
    # result has no score.  Studies without a result of that model are absent.
    ai_scores: dict[str, float | None]


def _audit_exam(row: tuple, standing: Standing | None) -> AuditExam:
    uid, reader, payload, patient_id, study_date = row
    read = Read.from_json(payload)
    time_s = read.reading_time_s
    role, final = (standing.role, standing.final) if standing else ("single", True)
    return AuditExam(uid, patient_id or "", dicom_date(study_date), reader, read.overall,
                     read.recommendation, None if time_s is None else float(time_s),
                     role, read.exam, final)


def audit_data(library: Library, model: tuple[str, str] | None) -> AuditData:
    """Every signed read (addenda aside), every outcome, and the AI exam scores
    of `model` (name, version; none when None)."""
    rows = library.conn.execute(
        "SELECT r.study_uid, r.reader, r.read_json, s.patient_id, s.study_date FROM reads r "
        "JOIN studies s ON s.study_uid = r.study_uid "
        "WHERE r.signed_at IS NOT NULL AND r.addendum_of IS NULL ORDER BY r.id")
    known = standings(library)
    exams = [_audit_exam(row, known.get((row[0], reader_key(row[1])))) for row in rows]
    patients = dict(library.conn.execute(
        "SELECT study_uid, patient_id FROM studies WHERE study_uid IN "
        "(SELECT study_uid FROM outcomes)").fetchall())
    outcomes = [AuditOutcome(o, patients.get(o.study_uid) or "") for o in list_outcomes(library)]
    scores = ({uid: s.exam_score for uid, s in result_summaries(library, model).items()}
              if model else {})
    return AuditData(exams, outcomes, scores)


def readers(library: Library) -> set[str]:
    """Everyone who has signed a read."""
    return {r for (r,) in library.conn.execute(
        "SELECT DISTINCT reader FROM reads WHERE signed_at IS NOT NULL AND addendum_of IS NULL")}

