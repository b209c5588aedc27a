"""The site's own labelled breasts, from its signed reads and recorded outcomes.

A breast of a screening study with a final signed read is
- positive when an outcome of that study and breast is malignant;
- negative when its outcomes are benign (none malignant), or when the read
  was negative or benign (BI-RADS 1 or 2), the study is at least a year old
  and no malignant outcome was recorded for that breast;
- left out when a cancer of that breast was found within the year after
  the screen on a later study (the audit's false negative), and otherwise
  when there is no truth yet.

The set is used only when it holds at least MIN_EACH positive and MIN_EACH
negative breasts; the images are read from the library.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from engine.ai.acceptance.shipped_set import Case
from engine.ai.service import datasets_from_library
from engine.errors import MammoDeskError
from engine.library.outcomes import audit_data
from engine.library.store import Library
from engine.reading.audit_measures import follow_up_end

log = logging.getLogger(__name__)
MIN_EACH = 20
FOLLOW_UP_DAYS = 365
NEGATIVE_READS = ("1", "2")


@dataclass(frozen=True)
class SiteSet:
    labels: dict[str, dict[str, int]]  # study UID -> side -> 1 | 0

    @property
    def positives(self) -> int:
        return sum(v for sides in self.labels.values() for v in sides.values())

    @property
    def negatives(self) -> int:
        return sum(1 - v for sides in self.labels.values() for v in sides.values())

    @property
    def usable(self) -> bool:
        return self.positives >= MIN_EACH and self.negatives >= MIN_EACH


def site_set(library: Library, today: dt.date | None = None) -> SiteSet:
    today = today or dt.date.today()
    data = audit_data(library, None)
    results: dict[tuple[str, str], set[str]] = defaultdict(set)
    cancers: dict[tuple[str, str], list[dt.date]] = defaultdict(list)  # (patient, side)
    for o in data.outcomes:
        results[(o.outcome.study_uid, o.outcome.side)].add(o.outcome.result)
        if o.outcome.result == "malignant" and o.patient_id:
            cancers[(o.patient_id, o.outcome.side)].append(o.outcome.date)
    labels: dict[str, dict[str, int]] = {}
    for exam in data.exams:
        if not exam.final or exam.exam != "screening":
            continue
        old_enough = (exam.study_date is not None
                      and (today - exam.study_date).days >= FOLLOW_UP_DAYS)
        for side in ("R", "L"):
            found = results.get((exam.study_uid, side), set())
            # A cancer found within the year after this screen (on a later
            # study of hers): the audit's false negative, never a normal breast.
            later = exam.study_date is not None and any(
                exam.study_date <= d <= follow_up_end(exam.study_date)
                for d in cancers.get((exam.patient_id, side), []))
            if "malignant" in found:
                labels.setdefault(exam.study_uid, {})[side] = 1
            elif later:
                continue
            elif "benign" in found or (exam.overall in NEGATIVE_READS and old_enough):
                labels.setdefault(exam.study_uid, {})[side] = 0
    return SiteSet(labels)


def site_cases(library: Library, chosen: SiteSet) -> Iterator[Case]:
    """The set's studies with their images; a study that cannot be read is left out."""
    for uid, labels in chosen.labels.items():
        try:
            datasets = datasets_from_library(library, uid)
        except MammoDeskError as exc:
            log.warning("a site study was left out of acceptance: %s", exc)
            continue
        if datasets:
            yield Case(uid, datasets, labels)
