"""The library's reads seen through double reading (site setting
``reading.double_reading``; the rules: engine/reading/double_reading.py):
the read a reader sees and edits, the other reads they may see, where a
study's reading stands, and the standing of every signed read for the
screening audit.  Callers pass the site setting as ``double``.  The reads
themselves are stored by engine/library/reads.py."""

from __future__ import annotations

from engine.library.reads import StoredRead, main_reads, main_reads_by_study
from engine.library.store import Library
from engine.reading import double_reading as dr


def read_of(library: Library, study_uid: str, reader: str, *,
            double: bool = False) -> StoredRead | None:
    """The read `reader` sees and edits: under double reading their own (the
    other readers' stay hidden, engine.reading.double_reading), else the
    study's read."""
    mains = main_reads(library, study_uid)
    if dr.is_double(mains, double):
        return dr.own_read(mains, reader)
    return mains[0] if mains else None


def others_visible(library: Library, study_uid: str, reader: str) -> list[StoredRead]:
    """The other readers' signed reads of a double-read study `reader` may see."""
    mains = main_reads(library, study_uid)
    return dr.visible_to(mains, reader) if dr.is_double(mains, False) else []


def stage(library: Library, study_uid: str) -> dr.Stage:
    """Where the study's reading stands (engine.reading.double_reading)."""
    return dr.stage_of(main_reads(library, study_uid))


def stages(library: Library) -> dict[str, dr.Stage]:
    """The stage of every study in the library, in two queries."""
    return {uid: dr.stage_of(mains) for uid, mains in main_reads_by_study(library).items()}


def standings(library: Library) -> dict[tuple[str, str], dr.Standing]:
    """(study UID, reader key) -> the role, exam purpose and finality of each
    signed read (what the screening audit needs beside its facts)."""
    out: dict[tuple[str, str], dr.Standing] = {}
    for st in stages(library).values():
        for r in (st.final, st.first, st.second, st.arbitration):
            if r is not None and r.signed and r.read is not None:
                out.setdefault((r.study_uid, dr.reader_key(r.reader)),
                               dr.Standing(r.role, r.read.exam, r is st.final))
    return out
