"""The radiologist's signed read as a DICOM Enhanced SR Breast Imaging Report (PS3.16 TID 4200).

Content tree written (relationship, value type, concept; templates in brackets; the rows
marked [text] only with ``include_text=True``):

    CONTAINER Breast Imaging Report                                     [TID 4200, DCMR]
      HAS CONCEPT MOD  CODE Language of Content Item and Descendants     [TID 1204]
      HAS OBS CONTEXT  CODE Observer Type = Person, PNAME Person Observer Name [TID 1002] [text]
      CONTAINS CONTAINER Narrative Summary                               [TID 4202] [text]
        CONTAINS TEXT Impression
      CONTAINS CONTAINER Supplementary Data                              [TID 4208]
        CONTAINS CODE Procedure reported (CID 6050)                      [TID 4201]
        CONTAINS CONTAINER Breast composition                            [TID 4205]
          CONTAINS CODE Breast composition (CID 6001), one per breast
            HAS CONCEPT MOD CODE Laterality (CID 6022)
        CONTAINS CONTAINER Findings, when there are findings             [TID 4206]
          CONTAINS CODE Finding (CID 6054), one per finding
            HAS CONCEPT MOD CODE Laterality; HAS PROPERTIES NUM Diameter (mm) when sized,
            TEXT Clockface or region [text], TEXT Comment [text]
        CONTAINS CONTAINER Overall Assessment                            [TID 4203]
          CONTAINS CODE Assessment Category (CID 6026), one per breast
            HAS CONCEPT MOD CODE Laterality

All relationships are by value, so the Enhanced SR SOP Class carries it.  A read records a
finding's breast but not the view it was seen on, so no IMAGE items are written; every image
of the study is listed in the Current Requested Procedure Evidence Sequence instead.

With ``include_text=False`` (the copy that leaves the site) no TEXT or PNAME item is written
at any depth: the impression, the notes, the location text and the reader's name stay home,
and so does the images' Study Description.  That copy is UNVERIFIED: see build_assessment_sr.
"""

from __future__ import annotations

import hashlib
import math
import platform
from datetime import datetime
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, generate_uid

from engine.ai import sr_codes as codes
from engine.ai.cad_sr import OPTIONAL_KEYS, copy_identity, write_sr
from engine.ai.package_manifest import app_version
from engine.ai.sr_codes import Code
from engine.ai.sr_items import code, code_item, content_item, num, text
from engine.errors import MammoDeskError
from engine.library.reads import SIDES, Finding, Read

ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"
SERIES_NUMBER = 901
# --- concept names ------------------------------------------------------------------------------
BREAST_IMAGING_REPORT: Code = ("111400", "DCM", "Breast Imaging Report")  # CID 7000
NARRATIVE_SUMMARY: Code = ("111412", "DCM", "Narrative Summary")
IMPRESSION: Code = ("121073", "DCM", "Impression")  # CID 6053
SUPPLEMENTARY_DATA: Code = ("111414", "DCM", "Supplementary Data")
PROCEDURE_REPORTED: Code = ("121058", "DCM", "Procedure reported")  # CID 6052 / 6053
BREAST_COMPOSITION: Code = ("129715009", "SCT", "Breast composition")  # CID 6052 / 6053
FINDINGS: Code = ("59776-5", "LN", "Findings")  # CID 6052
FINDING: Code = ("121071", "DCM", "Finding")  # CID 6053
OVERALL_ASSESSMENT: Code = ("111413", "DCM", "Overall Assessment")  # CID 6052 / 6053
ASSESSMENT_CATEGORY: Code = ("111005", "DCM", "Assessment Category")
LATERALITY: Code = ("272741003", "SCT", "Laterality")
DIAMETER: Code = ("81827009", "SCT", "Diameter")  # CID 7470 Linear Measurement
LOCATION: Code = ("111014", "DCM", "Clockface or region")
COMMENT: Code = ("121106", "DCM", "Comment")
OBSERVER_TYPE: Code = ("121005", "DCM", "Observer Type")
PERSON: Code = ("121006", "DCM", "Person")  # CID 270
PERSON_OBSERVER_NAME: Code = ("121008", "DCM", "Person Observer Name")
# --- values -------------------------------------------------------------------------------------
MILLIMETER: Code = ("mm", "UCUM", "millimeter")
PROCEDURES: dict[frozenset[str], Code] = {  # CID 6050 Breast Procedure Reported
    frozenset("RL"): ("36626-0", "LN", "breast - bilateral mammogram"),
    frozenset("R"): ("37774-7", "LN", "breast - right mammogram"),
    frozenset("L"): ("36627-8", "LN", "breast - left mammogram"),
}
DENSITY_CODES: dict[str, Code] = {  # CID 6001 Overall Breast Composition from BI-RADS
    "a": ("129716005", "SCT", "Almost entirely fat"),
    "b": ("129717001", "SCT", "Scattered fibroglandular densities"),
    "c": ("129718006", "SCT", "Heterogeneously dense"),
    "d": ("129719003", "SCT", "Extremely dense"),
}
# CID 6026 Mammography Assessment = CID 6027 Assessment from BI-RADS (+ a marker-placement code).
# Category 6 has no SNOMED concept there; the standard lists the ACR's own code (scheme BI,
# version 4.0) for it.
BI_RADS_VERSION = "4.0"
BIRADS_CODES: dict[int, Code] = {
    0: ("397138000", "SCT", "0 - Incomplete - Need additional imaging evaluation +/- priors"),
    1: ("397140005", "SCT", "1 - Negative"),
    2: ("397141009", "SCT", "2 - Benign"),
    3: ("397143007", "SCT", "3 - Probably Benign"),
    4: ("397144001", "SCT", "4 - Suspicious"),
    5: ("397145000", "SCT", "5 - Highly suggestive of malignancy"),
    6: ("MA.II.A.5.6", "BI", "6 - Known biopsy proven malignancy"),
}
FINDING_CODES: dict[str, Code] = {  # CID 6054 Breast Imaging Finding
    "mass": ("129788004", "SCT", "Mammographic breast mass"),
    "calcifications": ("309587003", "SCT", "Calcification of breast"),
    "asymmetry": ("129790003", "SCT", "Asymmetric breast tissue"),
    "architectural distortion": ("129792006", "SCT", "Architectural distortion of breast"),
    # CID 6054 has no "other finding" concept; the SNOMED top concept for findings asserts
    # nothing about the lesion type (the radiologist's note says what it is, at home).
    "other": ("404684003", "SCT", "Finding"),
}


def _code(c: Code) -> Dataset:
    item = code(c)
    if c[1] == "BI":
        item.CodingSchemeVersion = BI_RADS_VERSION
    return item


def _coded(rel: str, name: Code, value: Code, kids: list[Dataset]) -> Dataset:
    """A CODE item whose value may be an ACR BI-RADS code (which needs its scheme version)."""
    item = code_item(rel, name, value, kids)
    item.ConceptCodeSequence = Sequence([_code(value)])
    return item


def _side(side: str) -> Dataset:
    return code_item("HAS CONCEPT MOD", LATERALITY, codes.LATERALITY_CODES[side])


def _finding(f: Finding, include_text: bool) -> Dataset:
    kids = [_side(f.side)]
    size = f.size_mm
    if size is not None and math.isfinite(float(size)) and float(size) > 0:
        kids.append(num("HAS PROPERTIES", DIAMETER, float(size), MILLIMETER))
    if include_text and f.location.strip():
        kids.append(text("HAS PROPERTIES", LOCATION, f.location.strip()))
    if include_text and f.note.strip():
        kids.append(text("HAS PROPERTIES", COMMENT, f.note.strip()))
    return _coded("CONTAINS", FINDING, FINDING_CODES[f.kind], kids)


def _supplementary(read: Read, sides: frozenset[str], include_text: bool) -> Dataset:
    """TID 4208 with the procedure, composition, findings and assessments beneath."""
    density = [
        _coded("CONTAINS", BREAST_COMPOSITION, DENSITY_CODES[str(read.density[s])], [_side(s)])
        for s in SIDES
    ]
    birads = [
        _coded("CONTAINS", ASSESSMENT_CATEGORY, BIRADS_CODES[int(read.birads[s] or 0)], [_side(s)])
        for s in SIDES
    ]
    procedure = PROCEDURES.get(sides, PROCEDURES[frozenset(SIDES)])
    kids = [
        code_item("CONTAINS", PROCEDURE_REPORTED, procedure),
        content_item("CONTAINS", "CONTAINER", BREAST_COMPOSITION, density),
    ]
    if read.findings:
        findings = [_finding(f, include_text) for f in read.findings]
        kids.append(content_item("CONTAINS", "CONTAINER", FINDINGS, findings))
    kids.append(content_item("CONTAINS", "CONTAINER", OVERALL_ASSESSMENT, birads))
    return content_item("CONTAINS", "CONTAINER", SUPPLEMENTARY_DATA, kids)


def _person_name(reader: str) -> str:
    """The reader as a PN value: one component group of at most 64 characters.

    A name typed without component delimiters goes whole into the family-name component (an
    explicit "^" after it); without one, PN readers take its spaces for the retired ACR-NEMA
    delimiters and would split "Dr Ann Example" into family, given and middle names."""
    name = " ".join(reader.replace("\\", " ").replace("=", " ").split())
    if not name or "^" in name:
        return name[:64]
    return name[:63].strip() + "^"


def _content(read: Read, sides: frozenset[str], reader: str, include_text: bool) -> list[Dataset]:
    items = [code_item("HAS CONCEPT MOD", codes.LANGUAGE, codes.ENGLISH_US)]
    if include_text and reader:
        name = content_item("HAS OBS CONTEXT", "PNAME", PERSON_OBSERVER_NAME)
        name.PersonName = reader
        items += [code_item("HAS OBS CONTEXT", OBSERVER_TYPE, PERSON), name]
    if include_text and read.impression.strip():
        impression = text("CONTAINS", IMPRESSION, read.impression.strip())
        items.append(content_item("CONTAINS", "CONTAINER", NARRATIVE_SUMMARY, [impression]))
    items.append(_supplementary(read, sides, include_text))
    return items


def _signed(signed_at: str) -> datetime:
    try:
        when = datetime.fromisoformat(signed_at)
    except (TypeError, ValueError) as exc:
        raise MammoDeskError(f"the signing time {signed_at!r} is not an ISO date and time") from exc
    return when.astimezone()  # the workstation's local time, the clock the study times use


def _uid(value: str | None, what: str) -> str:
    if value is None:
        return generate_uid()
    if not UID(value).is_valid:
        raise MammoDeskError(f"the given {what} UID is not a valid DICOM UID")
    return value


def _organization(study: Dataset) -> str:
    """The verifier's organization (Type 1 once verified): the site named in the images."""
    return " ".join(str(study.get("InstitutionName", "") or "").split())[:64] or "Unknown"


def _study(sources: list[pydicom.Dataset]) -> Dataset:
    images = [s for s in sources if "SOPInstanceUID" in s and "SOPClassUID" in s]
    if not images:
        raise MammoDeskError("no images of the study were given; the assessment SR needs them")
    if len({str(s.get("StudyInstanceUID", "")) for s in images}) != 1:
        raise MammoDeskError("the given images belong to more than one study")
    if not str(images[0].get("StudyInstanceUID", "")):
        raise MammoDeskError("the given images carry no Study Instance UID")
    return images[0]


def _evidence(sources: list[pydicom.Dataset], study_uid: str) -> Sequence:
    """Hierarchical SOP Instance Reference of every image of the study, by series."""
    series: dict[str, list[Dataset]] = {}
    for src in sources:
        if "SOPInstanceUID" not in src or "SOPClassUID" not in src:
            continue
        ref = Dataset()
        ref.ReferencedSOPClassUID = src.SOPClassUID
        ref.ReferencedSOPInstanceUID = src.SOPInstanceUID
        refs = series.setdefault(str(src.get("SeriesInstanceUID", "")), [])
        if all(r.ReferencedSOPInstanceUID != ref.ReferencedSOPInstanceUID for r in refs):
            refs.append(ref)
    study = Dataset()
    study.StudyInstanceUID = study_uid
    study.ReferencedSeriesSequence = Sequence()
    for uid, refs in series.items():
        item = Dataset()
        item.SeriesInstanceUID = uid
        item.ReferencedSOPSequence = Sequence(refs)
        study.ReferencedSeriesSequence.append(item)
    return Sequence([study])


def build_assessment_sr(
    read: Read,
    sources: list[pydicom.Dataset],
    *,
    signed_at: str,
    reader: str | None = None,
    include_text: bool = False,
    instance_uid: str | None = None,
    series_uid: str | None = None,
) -> pydicom.Dataset:
    """The signed ``read`` as a Breast Imaging Report SR; ``sources`` are the study's images
    (headers are enough).  ``include_text`` adds the impression, notes, locations and the
    reader's name; leave it off for anything that leaves the site."""
    problems = read.problems() + [f"no {m}" for m in read.missing_for_signing()]
    if problems:
        raise MammoDeskError(f"the read cannot be written as a signed report: {problems[0]}")
    study = _study(sources)
    when = _signed(signed_at)
    made = datetime.now().astimezone()
    name = _person_name(reader or "") if include_text else ""
    sides = frozenset(
        str(s.get("ImageLaterality", s.get("Laterality", ""))) for s in sources
    ) & frozenset(SIDES)

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = ENHANCED_SR
    ds.SOPInstanceUID = _uid(instance_uid, "SOP instance")
    ds.InstanceCreationDate = made.strftime("%Y%m%d")
    ds.InstanceCreationTime = made.strftime("%H%M%S")
    ds.ContentDate = ds.SeriesDate = when.strftime("%Y%m%d")
    ds.ContentTime = ds.SeriesTime = when.strftime("%H%M%S")
    ds.TimezoneOffsetFromUTC = when.strftime("%z")
    # The images' Study Description is free text too: only the copy kept at home carries it.
    optional = tuple(k for k in OPTIONAL_KEYS if include_text or k != "StudyDescription")
    copy_identity(ds, study, optional)
    ds.StudyInstanceUID = study.StudyInstanceUID
    ds.Modality = "SR"
    ds.SeriesInstanceUID = _uid(series_uid, "series")
    ds.SeriesNumber = SERIES_NUMBER
    ds.SeriesDescription = "Radiologist breast imaging assessment"
    ds.ReferencedPerformedProcedureStepSequence = Sequence()
    ds.Manufacturer = ds.ManufacturerModelName = "MammoDesk"
    ds.DeviceSerialNumber = hashlib.sha256(platform.node().encode()).hexdigest()[:16].upper()
    ds.SoftwareVersions = f"MammoDesk {app_version()}"[:64]
    ds.InstanceNumber = 1
    ds.CompletionFlag = "COMPLETE"  # the read is signed: nothing more will be added to it
    if name:
        observer = Dataset()
        observer.VerifyingObserverName = name
        observer.VerifyingObserverIdentificationCodeSequence = Sequence()
        observer.VerifyingOrganization = _organization(study)
        observer.VerificationDateTime = when.strftime("%Y%m%d%H%M%S%z")
        ds.VerificationFlag = "VERIFIED"
        ds.VerifyingObserverSequence = Sequence([observer])
    else:
        # VERIFIED requires the Verifying Observer Sequence with the verifier's name, a PN
        # that is withheld from copies leaving the site.  The read is still signed, which
        # CompletionFlag and the content date and time say; the name stays at home.
        ds.VerificationFlag = "UNVERIFIED"
    ds.PerformedProcedureCodeSequence = Sequence()
    ds.CurrentRequestedProcedureEvidenceSequence = _evidence(sources, study.StudyInstanceUID)
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = Sequence([code(BREAST_IMAGING_REPORT)])
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource = "DCMR"
    template.MappingResourceUID = codes.DCMR_UID
    template.TemplateIdentifier = "4200"
    ds.ContentTemplateSequence = Sequence([template])
    ds.ContentSequence = Sequence(_content(read, sides or frozenset(SIDES), name, include_text))
    return ds


def write_assessment_sr(read: Read, sources: list[pydicom.Dataset], *, out_path: Path,
                        **options: Any) -> None:
    """Build the assessment SR (``options`` as for build_assessment_sr) and write it
    atomically to ``out_path`` (no partial file)."""
    write_sr(build_assessment_sr(read, sources, **options), out_path, "assessment SR")
