"""Identifiers harvested from an object before it is de-identified.

The leak check looks for these in the output.  Three sets:

- ``anywhere``: values worth finding in any bytes (binary, private, pixel
  data too): whole names in several formats, IDs, accession numbers, the
  birth date in several formats, the patient's study dates, original UIDs.
- ``in_text``: single name parts, searched only in text values (in binary
  data four letters are too likely by chance).
- ``exact``: values too short to search for as substrings; a text value
  equal to one of them is a leak.

Nothing here is ever logged or shown; a leak is reported by element and kind.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pydicom

from sync.deid.elements import values

MIN_SUBSTRING = 4
# Values MammoDesk itself writes, or placeholders of earlier tools: never
# evidence of a leak.
HARMLESS = {"anon", "anonymous", "anonymized", "anonymised", "unknown", "none", "null",
            "removed", "dummy", "yes", "no", "test"}
_ID_KEYWORD = re.compile(
    r"(ID|IDs|Identifier|Number|Numbers|Name|Names|Address|Telephone|Issuer|Locator|Serial|"
    r"Station|Institution|Department|Email|Owner|Accession)(Sequence)?$")
# The patient's own identifiers: always looked for, wherever they stand.
PATIENT_KEYWORDS = {
    "PatientID", "OtherPatientIDs", "AccessionNumber", "StudyID", "MedicalRecordLocator",
    "AdmissionID", "PatientAddress", "PatientTelephoneNumbers", "PatientTelecomInformation",
    "MilitaryRank", "BranchOfService", "IssuerOfPatientID", "RequestedProcedureID",
    "FillerOrderNumberImagingServiceRequest", "PlacerOrderNumberImagingServiceRequest",
    "PerformedProcedureStepID", "ScheduledProcedureStepID", "PatientInsurancePlanCodeSequence",
}
_KEPT_TEXT_VRS = ("LO", "SH", "LT", "ST", "UC", "UT", "CS", "AE")
_STUDY_DATES = ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate",
                "InstanceCreationDate", "PerformedProcedureStepStartDate")


@dataclass
class Identifiers:
    anywhere: dict[str, str] = field(default_factory=dict)  # lower-case value -> kind
    in_text: dict[str, str] = field(default_factory=dict)
    exact: dict[str, str] = field(default_factory=dict)

    def add(self, value: str, kind: str) -> None:
        value = value.strip(" \0").lower()
        if not value or value in HARMLESS:
            return
        if len(value) >= MIN_SUBSTRING:
            self.anywhere.setdefault(value, kind)
        else:
            self.exact.setdefault(value, kind)

    def add_name_part(self, value: str, kind: str) -> None:
        value = value.strip(" \0").lower()
        if len(value) >= MIN_SUBSTRING and value not in HARMLESS:
            self.in_text.setdefault(value, kind)

    def __len__(self) -> int:
        return len(self.anywhere) + len(self.in_text) + len(self.exact)


def _name_formats(pn: str) -> tuple[list[str], list[str]]:
    """Whole-name renderings and single parts of one PN value."""
    wholes: list[str] = []
    parts: list[str] = []
    for group in pn.split("="):  # alphabetic, ideographic, phonetic
        comps = [c.strip() for c in group.split("^")]
        comps += [""] * (5 - len(comps))
        family, given, middle, prefix, suffix = comps[:5]
        words = [w for w in (family, given, middle, prefix, suffix) if w]
        parts += [w for c in words for w in re.split(r"[\s,.\-']+", c) if w]
        if not words:
            continue
        wholes.append(group.strip("^"))
        if family and given:
            wholes += [f"{family}^{given}", f"{given} {family}", f"{family} {given}",
                       f"{family}, {given}", f"{family},{given}"]
            if middle:
                wholes += [f"{given} {middle} {family}", f"{family} {given} {middle}",
                           f"{family}^{given}^{middle}"]
    return wholes, parts


def _date_formats(value: str) -> list[str]:
    try:
        day = dt.datetime.strptime(value.strip()[:8], "%Y%m%d").date()
    except ValueError:
        return [value] if value.strip() else []
    return [day.strftime(f) for f in ("%Y%m%d", "%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y",
                                      "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%Y.%m.%d")]


ActionOf = Callable[[pydicom.Dataset, int, tuple[int, ...]], "str | None"]


def harvest(ds: pydicom.Dataset, action_of: ActionOf, *, dates_kept: bool,
            written: tuple[str, ...] = ()) -> Identifiers:
    """Identifiers in ``ds`` (every depth, private included) that must not survive.

    ``action_of(dataset, tag, path)`` is the profile's resolved action for
    the element (K for an allowlisted private element); values the profile
    keeps (K, C, or not listed) are not identifiers to look for; ``written``
    are texts the de-identification itself writes (code meanings).
    """
    ids = Identifiers()
    kept_text: list[str] = [w.lower() for w in written]
    for v in values(ds, text_only=True):
        tag = v.tag
        if tag >> 16 & 1 and 0x0010 <= tag & 0xFFFF <= 0x00FF:
            continue  # private creators name a vendor, not a person
        texts = v.texts or []
        action = action_of(v.dataset, tag, v.path)
        removed = action in ("X", "Z", "D", "U")
        if v.vr == "PN":
            for value in texts:
                wholes, parts = _name_formats(value)
                for whole in wholes:
                    ids.add(whole, "person name")
                for part in parts:
                    ids.add_name_part(part, "person name")
        elif v.vr == "UI" and removed:
            for value in texts:
                ids.add(value, "original UID")
        elif v.keyword == "PatientBirthDate":
            for value in texts:
                for text in _date_formats(value):
                    ids.add(text, "birth date")
        elif v.vr == "DA" and not v.path and not dates_kept and v.keyword in _STUDY_DATES:
            for value in texts:
                for text in _date_formats(value)[:2]:
                    ids.add(text, "date")
        elif not removed and v.vr in _KEPT_TEXT_VRS:
            kept_text.extend(t.lower() for t in texts)
        elif removed and tag >> 16 & 1 and v.vr in ("LO", "SH"):
            # Private content is removed anyway; what looks like an ID (short,
            # with a digit) is also looked for elsewhere.
            for value in texts:
                if len(value) <= 64 and any(c.isdigit() for c in value):
                    ids.add(value, "identifier")
        elif (removed and v.vr in ("LO", "SH", "LT", "ST", "UC", "UT", "AE")
              and _ID_KEYWORD.search(v.keyword)):
            kind = "patient identifier" if v.keyword in PATIENT_KEYWORDS else "identifier"
            for value in texts:
                ids.add(value, kind)
    # A single name part or a device/site identifier that also stands in a
    # value kept on purpose (a patient called like the device model, a serial
    # number inside a calibration note) would be found there by design.  The
    # patient's own identifiers, whole names, dates and UIDs are never excused.
    kept = "\0".join(kept_text)
    for table in (ids.in_text, ids.anywhere, ids.exact):
        for value, kind in list(table.items()):
            excusable = kind == "identifier" or (kind == "person name" and table is ids.in_text)
            if excusable and value in kept:
                del table[value]
    return ids
