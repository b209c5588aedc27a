"""De-identify one object: classify, harvest, clean, stamp, leak-check.

``Deidentifier.run(ds)`` changes ``ds`` in place and returns an Outcome:
``clean`` (the dataset may leave), ``quarantined`` (it cannot be cleaned; it
stays here) or ``blocked`` (cleaned, but the leak check found an identifier).
"""

from __future__ import annotations

import io
import logging
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from engine.dicom.integrity import transfer_syntax
from sync.deid import encapsulated, pixels
from sync.deid.classify import Verdict, classify
from sync.deid.identifiers import harvest
from sync.deid.keys import SiteKeys
from sync.deid.leakcheck import Leak, Scanner
from sync.deid.profile import OPTIONS, Profile
from sync.deid.pseudonyms import Pseudonymizer
from sync.deid.table import RuleTable, load_table
from sync.deid.walker import Walker

IMPLEMENTATION_UID = "2.25.98146349761094262613402470357733416911"
IMPLEMENTATION_VERSION = "MAMMODESK_0_1"
CONTENT_SEQUENCE = 0x0040A730
PREAMBLE = bytes(128)
FILE_META_GROUP = 0x0002

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    status: str                      # "clean" | "quarantined" | "blocked"
    reason: str = ""                 # one line, no patient data
    leaks: list[Leak] = field(default_factory=list)
    patient_pseudonym: str = ""
    study_uid: str = ""              # the new Study Instance UID
    sop_instance_uid: str = ""       # the new SOP Instance UID
    original: dict[str, str] = field(default_factory=dict)  # for the re-identification map
    scanner: Scanner | None = None   # to re-check the written bytes (--verify)
    data: bytes = b""                # the file to write (DICOM Part 10), when clean


class Deidentifier:
    def __init__(self, profile: Profile, keys: SiteKeys, table: RuleTable | None = None) -> None:
        self.profile = profile
        self.table = table or load_table()
        self.pseudo = Pseudonymizer(keys.secret)
        self._method = [f"DICOM PS3.15 E.1-1 {self.table.edition}",
                        f"MammoDesk profile {profile.name}"]
        codes = ["basic", "cleanPixelData", *(OPTIONS[o] for o in OPTIONS)]
        # What the stamp writes: not evidence of a leak if an input value matches it.
        self._written = (*(self.table.option_code(c)[1] for c in codes), *self._method)

    def run(self, ds: Dataset, *, own_report: bool = False) -> Outcome:
        """De-identify ``ds`` (changed in place) and leak-check the result.

        ``own_report``: a structured report MammoDesk generated itself (the
        AI's CAD SR, the assessment SR), whose content is codes, numbers and
        machine-written text.  Its Content Sequence is walked element by
        element (UIDs keyed, dates shifted) instead of being replaced, which
        is what Clean Structured Content asks for; the leak check still
        searches every byte of it.

        Content pydicom or numpy cannot handle (an element whose VR does not
        fit its value, and the like) quarantines the object: this is the one
        place that turns such an exception into an Outcome, so that every
        caller (anonymize, the sync stager) goes on with the next object.
        """
        try:
            return self._run(ds, own_report)
        except BaseException as exc:  # whatever the content made a library raise
            # Decoders written in Rust panic with a BaseException; a request to
            # stop is not about the content and goes on up.
            if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                raise
            # The message may quote values (names, UIDs): only the type and the frames.
            log.debug("de-identification stopped by %s at %s", type(exc).__name__,
                      _frames(exc))
            return Outcome("quarantined", f"malformed content: {type(exc).__name__}")

    def _run(self, ds: Dataset, own_report: bool) -> Outcome:
        problem = _structure_problem(ds)
        if problem:
            return Outcome("quarantined", problem)
        verdict = classify(ds, self.table.sop_classes)
        overrides = None
        if own_report and verdict.reason == "structured report with free text or names":
            verdict = Verdict("report")
        if own_report and verdict.kind == "report":
            overrides = {CONTENT_SEQUENCE: "K"}
        if verdict.kind == "quarantine":
            return Outcome("quarantined", verdict.reason)
        sop_class = str(ds.get("SOPClassUID", "")).strip("\0 ")
        patient_key = self.pseudo.patient_key(str(ds.get("PatientID", "") or ""),
                                              str(ds.get("IssuerOfPatientID", "") or ""))
        if not str(ds.get("PatientID", "") or "").strip():
            # No patient ID: the study is the patient, so nothing links it to others.
            patient_key = "study\0" + str(ds.get("StudyInstanceUID", ""))
        shift = self.pseudo.date_shift_days(patient_key) if self.profile.shifts_dates else 0
        walker = Walker(self.table, self.profile, self.pseudo, sop_class, shift, overrides)
        ids = harvest(ds, walker.action_of, dates_kept="retain-full-dates" in self.profile.options,
                      written=self._written)
        original = {"patient_id": str(ds.get("PatientID", "") or ""),
                    "patient_name": str(ds.get("PatientName", "") or ""),
                    "issuer": str(ds.get("IssuerOfPatientID", "") or ""),
                    "study_uid": str(ds.get("StudyInstanceUID", "") or "")}
        cleaned_pixels = False
        if verdict.kind in ("mammogram", "image"):
            try:
                pixels.check_image_attributes(ds)
                # Only the frames' codestreams go on (and are what a mammogram decodes).
                encapsulated.rebuild(ds)
                if verdict.kind == "mammogram":
                    pixels.blank_outside_breast(ds)
                    cleaned_pixels = True
            except pixels.Uncleanable as exc:
                return Outcome("quarantined", f"{verdict.kind} pixels: {exc}")
        walker.clean(ds)
        pseudonym = self.pseudo.patient_id(patient_key)
        self._stamp(ds, patient_key, cleaned_pixels)
        self._file_meta(ds)
        scanner = Scanner(ids)
        outcome = Outcome("clean", patient_pseudonym=pseudonym,
                          study_uid=str(ds.get("StudyInstanceUID", "")),
                          sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
                          original=original, scanner=scanner, data=serialize(ds))
        # The bytes that will leave: searched in one pass, then element by element
        # when that finds something; what no element explains blocks it too.
        outcome.leaks = scanner.check(ds, outcome.data)
        if outcome.leaks:
            outcome.data = b""
            outcome.status = "blocked"
            outcome.reason = "leak check: " + "; ".join(map(str, outcome.leaks[:3]))
        return outcome

    def _stamp(self, ds: Dataset, patient_key: str, cleaned_pixels: bool) -> None:
        # Assigning to an element read with another VR (PatientName as AT, Burned
        # In Annotation as US) would convert the new value to that VR, or fail to:
        # each stamped element is made afresh, with its dictionary VR.
        _put(ds, "PatientName", self.pseudo.patient_name(patient_key))
        _put(ds, "PatientID", self.pseudo.patient_id(patient_key))
        _put(ds, "PatientIdentityRemoved", "YES")
        _put(ds, "DeidentificationMethod", self._method)
        applied = ["basic", *sorted(OPTIONS[o] for o in self.profile.options)]
        if cleaned_pixels:
            applied.append("cleanPixelData")
        items = []
        for key in applied:
            code, meaning = self.table.option_code(key)
            item = Dataset()
            item.CodeValue = code
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = meaning
            items.append(item)
        _put(ds, "DeidentificationMethodCodeSequence", Sequence(items))
        if "retain-full-dates" in self.profile.options:
            longitudinal = "UNMODIFIED"
        elif self.profile.shifts_dates:
            longitudinal = "MODIFIED"
        else:
            longitudinal = "REMOVED"
        _put(ds, "LongitudinalTemporalInformationModified", longitudinal)
        if cleaned_pixels:
            _put(ds, "BurnedInAnnotation", "NO")

    @staticmethod
    def _file_meta(ds: Dataset) -> None:
        """File meta made afresh: only the standard elements MammoDesk sets."""
        meta = FileMetaDataset()
        meta.FileMetaInformationVersion = b"\x00\x01"
        meta.MediaStorageSOPClassUID = UID(str(ds.SOPClassUID))
        meta.MediaStorageSOPInstanceUID = UID(str(ds.SOPInstanceUID))
        # Written afresh: nothing of the old meta (source AE titles, private
        # information) is carried over but the transfer syntax; native data is
        # written as explicit VR little endian.
        ts = transfer_syntax(ds) or UID("")
        encapsulated = ts.is_transfer_syntax and ts.is_encapsulated
        meta.TransferSyntaxUID = ts if encapsulated else pydicom.uid.ExplicitVRLittleEndian
        meta.ImplementationClassUID = UID(IMPLEMENTATION_UID)
        meta.ImplementationVersionName = IMPLEMENTATION_VERSION
        ds.file_meta = meta


def _put(ds: Dataset, keyword: str, value: object) -> None:
    """Set ``keyword`` as a new element (dictionary VR), whatever was there."""
    ds.pop(keyword, None)  # removed as stored: never converted to its old VR
    setattr(ds, keyword, value)


def _structure_problem(ds: Dataset) -> str | None:
    """Why ``ds`` cannot be made into a file at all (one line), or None."""
    # File meta elements (group 0002) belong in the file meta, never in the data
    # set; pydicom refuses to write them there.  The lowest tag, over plain ints
    # (comparing pydicom's tags goes through Python), keeps the common case cheap.
    if min(map(int, ds._dict), default=-1) >> 16 <= FILE_META_GROUP and any(
            int(tag) >> 16 == FILE_META_GROUP for tag in ds._dict):
        return "file meta elements (group 0002) inside the data set"
    # (No SOP Class UID is classify's to quarantine: it says what the object is.)
    if not str(ds.get("SOPInstanceUID", "") or "").strip("\0 "):
        return "no SOP Instance UID: the object cannot be named or written"
    return None


def _frames(exc: BaseException) -> str:
    """Where ``exc`` was raised, as file:line function frames (no message, no values)."""
    return " > ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}"
                      for f in traceback.extract_tb(exc.__traceback__))


def serialize(ds: Dataset) -> bytes:
    """The Part 10 file of a cleaned data set and nothing else: a preamble of
    zeros (the one read in may hold anything, and is never looked at by the
    element walk), the file meta made by ``_file_meta``, the data set, and
    nothing after it."""
    ds.preamble = PREAMBLE
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    if data[:len(PREAMBLE)] != PREAMBLE:
        raise RuntimeError("the written preamble is not empty")
    return data
