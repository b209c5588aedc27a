"""Double reading (site setting ``reading.double_reading``): two radiologists
read a screening study independently, each blind to the other, and a third
settles a disagreement on recall.  The rules live here, free of storage;
engine/library/reads.py applies them when it saves and signs reads, and
engine/library/double_reads.py when it shows them.

- Roles.  The first reader to save a read of the study reads it ``first``;
  another reader then reads it ``second``.  One reader cannot be both: once
  a reader has a read of the study, their next save edits that read.
- Blindness.  Each reader sees and edits only their own read until both the
  first and the second read are signed; from then on every signed read of
  the study may be seen (the arbitrating reader needs both).  Drafts are
  never shown to anyone but their reader.
- Recall: the exam-level screening decision, positive when either breast's
  assessment is in POSITIVE_AT_SCREENING (BI-RADS 0, 3, 4, 4A-4C, 5).
- Both signed and agreeing on recall: decided (``agreed``); the final read
  is the one with the worse overall assessment (the first read on a tie).
- Both signed and disagreeing: ``arbitration needed``.  A third reader
  (neither of the two) reads it with both reads in view and signs an
  ``arbitration`` read, which is final (``arbitrated``).  No third read is
  taken when the two agree.
- The study goes to the cloud when its decision becomes final (the sign that
  makes it so queues it); a lone first read is never sent.  Addenda follow
  the final read.

Switching the setting.  A study's reading follows the way it began: a study
whose read was saved under single reading (role ``single``) stays read once
after double reading is switched on, and a study with double reads keeps
these rules after it is switched off, so a double reading once begun is
finished under the same blindness and every read stays readable.  Only
studies without a read follow the setting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import MammoDeskError
from engine.reading.birads import POSITIVE_AT_SCREENING, severity

if TYPE_CHECKING:
    from engine.library.reads import Read, StoredRead

SINGLE, FIRST, SECOND, ARBITRATION = "single", "first", "second", "arbitration"
ROLES = (SINGLE, FIRST, SECOND, ARBITRATION)
ROLE_WORDS = {SINGLE: "single", FIRST: "first", SECOND: "second", ARBITRATION: "arbitration"}

AWAITING_FIRST = "awaiting first read"
AWAITING_SECOND = "awaiting second read"
ARBITRATION_NEEDED = "arbitration needed"
AGREED = "agreed"
ARBITRATED = "arbitrated"
READ_ONCE = "read once"  # a study read under single reading
STAGES = (AWAITING_FIRST, AWAITING_SECOND, ARBITRATION_NEEDED, AGREED, ARBITRATED, READ_ONCE)


class DoubleReadingRefused(MammoDeskError):
    """A save or sign the double-reading rules do not allow (one line: why)."""


def reader_key(name: str) -> str:
    """Reader names compare without case and extra spaces."""
    return " ".join((name or "").split()).casefold()


def recall(read: Read) -> bool:
    """The screening decision: either breast assessed 0, 3, 4, 4A-4C or 5."""
    return any(read.birads.get(side) in POSITIVE_AT_SCREENING for side in ("R", "L"))


@dataclass(frozen=True)
class Stage:
    """Where a study's reading stands, with the final read once decided."""

    name: str
    first: StoredRead | None = None
    second: StoredRead | None = None
    arbitration: StoredRead | None = None
    final: StoredRead | None = None

    @property
    def decided(self) -> bool:
        return self.final is not None

    @property
    def recall(self) -> bool | None:
        """The study's recall decision; None until it is decided."""
        read = self.final.read if self.final is not None else None
        return None if read is None else recall(read)

    @property
    def both_signed(self) -> bool:
        return bool(self.first and self.first.signed and self.second and self.second.signed)

    def as_dict(self) -> dict[str, Any]:
        """What any reader may know of the stage (no other reader's assessment)."""
        return {"stage": self.name, "decided": self.decided, "recall": self.recall,
                "final_read_id": self.final.id if self.final else None,
                "final_role": self.final.role if self.final else None}


def _by_role(mains: Sequence[StoredRead], role: str) -> StoredRead | None:
    return next((r for r in mains if r.role == role), None)


def _worse(a: StoredRead, b: StoredRead) -> StoredRead:
    """The read with the worse overall assessment; `a` on a tie."""
    def rank(r: StoredRead) -> int:
        return severity(r.read.overall if r.read else None)
    return b if rank(b) > rank(a) else a


def stage_of(mains: Sequence[StoredRead]) -> Stage:
    """The stage of a study from its main reads (addenda left out), oldest first."""
    if any(r.role == SINGLE for r in mains):
        single = _by_role(mains, SINGLE)
        return Stage(READ_ONCE, final=single if single and single.signed else None)
    first, second = _by_role(mains, FIRST), _by_role(mains, SECOND)
    arbitration = _by_role(mains, ARBITRATION)
    if first is None or not first.signed:
        return Stage(AWAITING_FIRST, first, second, arbitration)
    if second is None or not second.signed:
        return Stage(AWAITING_SECOND, first, second, arbitration)
    assert first.read is not None and second.read is not None
    if recall(first.read) == recall(second.read):
        return Stage(AGREED, first, second, arbitration, _worse(first, second))
    if arbitration is not None and arbitration.signed:
        return Stage(ARBITRATED, first, second, arbitration, arbitration)
    return Stage(ARBITRATION_NEEDED, first, second, arbitration)


def is_double(mains: Sequence[StoredRead], setting: bool) -> bool:
    """Whether the study is read twice: as it began, else as the setting says."""
    if mains:
        return all(r.role != SINGLE for r in mains)
    return setting


def own_read(mains: Sequence[StoredRead], reader: str) -> StoredRead | None:
    key = reader_key(reader)
    return next((r for r in mains if reader_key(r.reader) == key), None)


def role_for(mains: Sequence[StoredRead], reader: str) -> tuple[str, StoredRead | None]:
    """The role `reader`'s read of a double-read study takes, and their read
    to update (None: a new one); DoubleReadingRefused when they may not."""
    stage = stage_of(mains)
    own = own_read(mains, reader)
    if own is not None:
        if not own.signed:
            return own.role, own
        if own.role == FIRST and not stage.both_signed:
            raise DoubleReadingRefused("you read this study first: its second read must be "
                                       "by another reader")
        if stage.name == ARBITRATION_NEEDED and own.role in (FIRST, SECOND):
            raise DoubleReadingRefused(f"you read this study {own.role}: its arbitration must "
                                       "be by a third reader")
        raise DoubleReadingRefused(f"your {own.role} read of this study is signed and locked; "
                                   "add an addendum to the final read instead")
    if stage.first is None:
        return FIRST, None
    if stage.second is None:
        return SECOND, None
    if stage.name == ARBITRATION_NEEDED and stage.arbitration is None:
        return ARBITRATION, None
    if stage.name == ARBITRATION_NEEDED:
        raise DoubleReadingRefused("another reader is arbitrating this study")
    if stage.name == AGREED:
        raise DoubleReadingRefused("the two readers agreed on recall: this study needs no "
                                   "third read")
    if stage.name == ARBITRATED:
        raise DoubleReadingRefused("this study's arbitration is signed: its reading is decided")
    raise DoubleReadingRefused("this study already has its two readers; a third reads it "
                               "only when they disagree on recall")


def visible_to(mains: Sequence[StoredRead], reader: str) -> list[StoredRead]:
    """The other readers' reads `reader` may see: none until the first and the
    second read are both signed, then every other signed read."""
    if not stage_of(mains).both_signed:
        return []
    key = reader_key(reader)
    return [r for r in mains if r.signed and reader_key(r.reader) != key]


def state_line(stage: Stage, role: str | None) -> str:
    """One line for the reader whose read takes `role` (None: not theirs to read)."""
    if stage.name == ARBITRATION_NEEDED:
        return "Arbitration: readers disagreed on recall"
    if stage.name == AGREED:
        return "Double reading decided: the readers agreed on recall"
    if stage.name == ARBITRATED:
        return "Double reading decided by arbitration"
    if role == SECOND:
        return "Second reading: blind to the first read"
    if role == FIRST and stage.name == AWAITING_SECOND:
        return "First reading signed: waiting for the second reader"
    if role == FIRST:
        return "First reading: blind to the second read"
    return f"Double reading: {stage.name}"


def summary(stored: StoredRead) -> str:
    """A signed read in one line, for the arbitrating reader."""
    read = stored.read
    assert read is not None
    decision = "recall" if recall(read) else "no recall"
    return (f"{ROLE_WORDS.get(stored.role, stored.role).capitalize()} read by {stored.reader}: "
            f"right {read.birads.get('R') or '-'}, left {read.birads.get('L') or '-'}, "
            f"overall {read.overall or '-'} ({decision}); recommendation "
            f"{read.recommendation or '-'}; {len(read.findings)} finding(s)")


@dataclass(frozen=True)
class Standing:
    """A signed read's place in the audit: its role, the exam's purpose, and
    whether it is the study's final read."""

    role: str
    exam: str
    final: bool


@dataclass(frozen=True)
class ReaderView:
    """What the reading panel shows one reader of a double-read study: the
    other reads only to the arbitrating reader, and to anyone once decided."""

    read: StoredRead | None  # their own read, else the final read once decided
    line: str  # where the reading stands, for them
    others: list[str]  # the other reads they may see, one line each
    refused: str | None  # why they cannot read the study now (None: they can)


def reader_view(mains: Sequence[StoredRead], reader: str) -> ReaderView:
    """The study as `reader` may see it: blind to the other readers until the
    first and second reads are both signed."""
    stage = stage_of(mains)
    own = own_read(mains, reader)
    role, refused = (own.role if own else None), None
    if own is None:
        try:
            role, _ = role_for(mains, reader)
        except DoubleReadingRefused as exc:
            refused = str(exc)
    shown = own if own is not None else stage.final
    # Both reads are put before the arbitrating reader; once decided, before anyone.
    others = [summary(r) for r in visible_to(mains, reader)
              if (role == ARBITRATION or stage.decided) and (shown is None or r.id != shown.id)]
    return ReaderView(shown, state_line(stage, role), others, refused)


def audit_figures(reads: Iterable[tuple[str, str, bool]]) -> dict[str, Any]:
    """The screening audit's ``double_reading`` block from its signed reads,
    each (study UID, role, positive): among the studies with a first and a
    second read (``exams``), the ``disagreements`` on recall, how many were
    ``arbitrated`` (arbitration signed) or are ``awaiting_arbitration``, and
    ``arbitration_rate`` = disagreements / exams (None without exams)."""
    by_study: dict[str, dict[str, bool]] = {}
    for uid, role, positive in reads:
        if role != SINGLE:
            by_study.setdefault(uid, {})[role] = positive
    pairs = [r for r in by_study.values() if FIRST in r and SECOND in r]
    disagree = [r for r in pairs if r[FIRST] != r[SECOND]]
    arbitrated = sum(ARBITRATION in r for r in disagree)
    return {"exams": len(pairs), "disagreements": len(disagree), "arbitrated": arbitrated,
            "awaiting_arbitration": len(disagree) - arbitrated,
            "arbitration_rate": len(disagree) / len(pairs) if pairs else None}
