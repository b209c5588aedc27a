"""A study's reading priority: urgent, or routine (every study starts
routine).  The reader sets it in the worklist, a RIS or a script through the
command line; urgent studies come first for "next unread"."""

from __future__ import annotations

from engine.errors import MammoDeskError
from engine.library.store import Library

URGENT, ROUTINE = "urgent", ""  # as the studies table stores them
PRIORITY_NAMES = {URGENT: "urgent", ROUTINE: "routine"}


class UnknownStudy(MammoDeskError):
    """The study UID names no study in the library."""


def set_priority(library: Library, study_uid: str, urgent: bool) -> str:
    """Mark a study urgent or routine, at once; returns the stored value."""
    value = URGENT if urgent else ROUTINE
    with library.transaction() as conn:
        changed = conn.execute("UPDATE studies SET priority = ? WHERE study_uid = ?",
                               (value, study_uid.strip())).rowcount
    if not changed:
        raise UnknownStudy("no such study in the library (see: studies)")
    return value

