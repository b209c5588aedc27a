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
            CODE Shape, Margins, Lesion Density, Calcification Type, Calcification
              Distribution or Associated finding, one per lexicon descriptor,
            CODE Clockface or region (CID 6018) at a whole hour or a region,
            CODE Depth (CID 6024), NUM Distance from nipple (mm),
            SCOORD POINT Center where the reader placed it on an image of the study
              SELECTED FROM IMAGE (that image),
            TEXT Clockface or region [text], TEXT Comment [text]
        CONTAINS CONTAINER Overall Assessment                            [TID 4203]
          CONTAINS CODE Assessment Category (CID 6026), one per breast
            HAS CONCEPT MOD CODE Laterality
          CONTAINS CODE Recommended Follow-up (CID 6028), when the read has one

All relationships are by value, so the Enhanced SR SOP Class carries it.  Every image of the
study is listed in the Current Requested Procedure Evidence Sequence; an IMAGE item is written
only under a finding's point, for the image it was placed on.

BI-RADS 4A, 4B and 4C are written as category 4's code with the subdivision in the code
meaning (see engine.reporting.sr.codes).  A finding's lexicon descriptors are coded from the
BI-RADS context groups (engine.reporting.sr.codes.DESCRIPTOR_CODES); an asymmetry's kind and
an "other" finding's kind have no concept there and are not written.

With ``include_text=False`` (the copy that leaves the site) no TEXT or PNAME item is written
at any depth: the impression, the notes, the location text and the reader's name stay home,
and so does the images' Study Description.  That copy is UNVERIFIED: see build_assessment_sr.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import UID, EnhancedSRStorage, generate_uid

from engine.dates import dicom_datetime
from engine.errors import MammoDeskError
from engine.library.reads import SIDES, Finding, Read
from engine.reading.birads import incomplete_problems
from engine.reporting.sr.codes import (
    BIRADS_CODES,
    CLOCK_CODES,
    DEPTH_CODES,
    LATERALITY_CODES,
    MILLIMETER,
    RECOMMENDATION_CODES,
    descriptor_code,
)
from engine.reporting.sr.document import Header, evidence, language, sr_document, write_sr
from engine.reporting.sr.identity import OPTIONAL_KEYS
from engine.reporting.sr.items import code_item, content_item, num, text
from engine.version import app_version

SERIES_NUMBER = 901
PROCEDURES: dict[frozenset[str], Code] = {  # CID 6050 Breast Procedure Reported
    frozenset("RL"): codes.LN.BreastBilateralMammogram,
    frozenset("R"): codes.LN.BreastRightMammogram,
    frozenset("L"): codes.LN.BreastLeftMammogram,
}
DENSITY_CODES: dict[str, Code] = {  # CID 6001 Overall Breast Composition from BI-RADS
    "a": codes.SCT.AlmostEntirelyFat,
    "b": codes.SCT.ScatteredFibroglandularDensities,
    "c": codes.SCT.HeterogeneouslyDense,
    "d": codes.SCT.ExtremelyDense,
}
FINDING_CODES: dict[str, Code] = {  # CID 6054 Breast Imaging Finding
    "mass": codes.SCT.MammographicBreastMass,
    "calcifications": codes.SCT.CalcificationOfBreast,
    "asymmetry": codes.SCT.AsymmetricBreastTissue,
    "architectural distortion": codes.SCT.ArchitecturalDistortionOfBreast,
    # CID 6054 has no "other finding" concept; the SNOMED top concept for findings asserts
    # nothing about the lesion type (the radiologist's note says what it is, at home).
    "other": codes.SCT.Finding,
}


def _side(side: str) -> Dataset:
    return code_item("HAS CONCEPT MOD", codes.SCT.Laterality, LATERALITY_CODES[side])


def _millimetres(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) \
        and float(value) > 0 else None


def _point(f: Finding, images: dict[str, str]) -> Dataset | None:
    """SCOORD POINT (column, row) on the image the reader placed the finding on, that image
    beneath it by value; None when it was not placed on an image of this study."""
    point = f.point or {}
    sop_uid, x, y = str(point.get("sop_uid", "")), point.get("x"), point.get("y")
    if sop_uid not in images or not isinstance(x, int | float) or not isinstance(y, int | float):
        return None
    image = content_item("SELECTED FROM", "IMAGE", None)
    referenced = Dataset()
    referenced.ReferencedSOPClassUID = images[sop_uid]
    referenced.ReferencedSOPInstanceUID = sop_uid
    image.ReferencedSOPSequence = Sequence([referenced])
    item = content_item("HAS PROPERTIES", "SCOORD", codes.DCM.Center, [image])
    item.GraphicType = "POINT"
    item.GraphicData = [float(x), float(y)]
    return item


def _finding(f: Finding, include_text: bool, images: dict[str, str]) -> Dataset:
    kids = [_side(f.side)]
    if (size := _millimetres(f.size_mm)) is not None:
        kids.append(num("HAS PROPERTIES", codes.SCT.Diameter, size, MILLIMETER))
    if f.clock in CLOCK_CODES:
        kids.append(code_item("HAS PROPERTIES", codes.DCM.ClockfaceOrRegion, CLOCK_CODES[f.clock]))
    if f.depth in DEPTH_CODES:
        kids.append(code_item("HAS PROPERTIES", codes.DCM.Depth, DEPTH_CODES[f.depth]))
    if (nipple := _millimetres(f.nipple_mm)) is not None:
        kids.append(num("HAS PROPERTIES", codes.DCM.DistanceFromNipple, nipple, MILLIMETER))
    for word in f.descriptors:
        if (coded := descriptor_code(f.kind, word)) is not None:
            kids.append(code_item("HAS PROPERTIES", *coded))
    if (point := _point(f, images)) is not None:
        kids.append(point)
    if include_text and f.location.strip():
        kids.append(text("HAS PROPERTIES", codes.DCM.ClockfaceOrRegion, f.location.strip()))
    if include_text and f.note.strip():
        kids.append(text("HAS PROPERTIES", codes.DCM.Comment, f.note.strip()))
    return code_item("CONTAINS", codes.DCM.Finding, FINDING_CODES[f.kind], kids)


def _supplementary(read: Read, sides: frozenset[str], include_text: bool,
                   images: dict[str, str]) -> Dataset:
    """TID 4208 with the procedure, composition, findings and assessments beneath."""
    composition, category = codes.SCT.BreastComposition, codes.DCM.AssessmentCategory
    density = [
        code_item("CONTAINS", composition, DENSITY_CODES[str(read.density[s])], [_side(s)])
        for s in SIDES
    ]
    birads = [
        code_item("CONTAINS", category, BIRADS_CODES[str(read.birads[s])], [_side(s)])
        for s in SIDES
    ]
    if read.recommendation in RECOMMENDATION_CODES:
        birads.append(code_item("CONTAINS", codes.DCM.RecommendedFollowUp,
                                RECOMMENDATION_CODES[read.recommendation]))
    procedure = PROCEDURES.get(sides, PROCEDURES[frozenset(SIDES)])
    kids = [
        code_item("CONTAINS", codes.DCM.ProcedureReported, procedure),
        content_item("CONTAINS", "CONTAINER", composition, density),
    ]
    if read.findings:
        findings = [_finding(f, include_text, images) for f in read.findings]
        kids.append(content_item("CONTAINS", "CONTAINER", codes.LN.Findings, findings))
    kids.append(content_item("CONTAINS", "CONTAINER", codes.DCM.OverallAssessment, birads))
    return content_item("CONTAINS", "CONTAINER", codes.DCM.SupplementaryData, kids)


def _person_name(reader: str) -> str:
    """The reader as a PN value: one component group of at most 64 characters.

    A name typed without component delimiters goes whole into the family-name component (an
    explicit "^" after it); without one, PN readers take its spaces for the retired ACR-NEMA
    delimiters and would split "Dr Ann Example" into family, given and middle names."""
    name = " ".join(reader.replace("\\", " ").replace("=", " ").split())
    if not name or "^" in name:
        return name[:64]
    return name[:63].strip() + "^"


def _content(read: Read, sides: frozenset[str], reader: str, include_text: bool,
             images: dict[str, str]) -> list[Dataset]:
    items = [language()]
    if include_text and reader:
        name = content_item("HAS OBS CONTEXT", "PNAME", codes.DCM.PersonObserverName)
        name.PersonName = reader
        items += [code_item("HAS OBS CONTEXT", codes.DCM.ObserverType, codes.DCM.Person), name]
    if include_text and read.impression.strip():
        impression = text("CONTAINS", codes.DCM.Impression, read.impression.strip())
        summary = content_item("CONTAINS", "CONTAINER", codes.DCM.NarrativeSummary, [impression])
        items.append(summary)
    items.append(_supplementary(read, sides, include_text, images))
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


def _verified(ds: Dataset, name: str, organization: str, when: datetime) -> None:
    """Mark ``ds`` VERIFIED by the reader ``name`` (a PN value) at ``when``."""
    observer = Dataset()
    observer.VerifyingObserverName = name
    observer.VerifyingObserverIdentificationCodeSequence = Sequence()
    observer.VerifyingOrganization = organization
    observer.VerificationDateTime = dicom_datetime(when)
    ds.VerificationFlag = "VERIFIED"
    ds.VerifyingObserverSequence = Sequence([observer])


def _study(sources: list[pydicom.Dataset]) -> Dataset:
    images = [s for s in sources if "SOPInstanceUID" in s and "SOPClassUID" in s]
    if not images:
        raise MammoDeskError("no images of the study were given; the assessment SR needs them")
    if len({str(s.get("StudyInstanceUID", "")) for s in images}) != 1:
        raise MammoDeskError("the given images belong to more than one study")
    if not str(images[0].get("StudyInstanceUID", "")):
        raise MammoDeskError("the given images carry no Study Instance UID")
    return images[0]


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
    # A read signed before the recommendation and the finding checks existed is still
    # reported: complete assessments are what the SR needs.
    problems = read.problems() + incomplete_problems(read)
    if problems:
        raise MammoDeskError(f"the read cannot be written as a signed report: {problems[0]}")
    study = _study(sources)
    when = _signed(signed_at)
    name = _person_name(reader or "") if include_text else ""
    sides = frozenset(
        str(s.get("ImageLaterality", s.get("Laterality", ""))) for s in sources
    ) & frozenset(SIDES)
    # The images' Study Description is free text too: only the copy kept at home carries it.
    optional = tuple(k for k in OPTIONAL_KEYS if include_text or k != "StudyDescription")
    head = Header(
        sop_class=EnhancedSRStorage,
        instance_uid=_uid(instance_uid, "SOP instance"),
        study_uid=study.StudyInstanceUID,
        series_uid=_uid(series_uid, "series"),
        series_number=SERIES_NUMBER,
        series_description="Radiologist breast imaging assessment",
        software_versions=[f"MammoDesk {app_version()}"],
        created=datetime.now().astimezone(),
        content=when,
        optional=optional,
    )
    images = [
        (str(s.get("SeriesInstanceUID", "")), s.SOPClassUID, s.SOPInstanceUID)
        for s in sources
        if "SOPInstanceUID" in s and "SOPClassUID" in s
    ]
    ds = sr_document(
        head,
        study,
        codes.DCM.BreastImagingReport,
        "4200",
        _content(read, sides or frozenset(SIDES), name, include_text,
                 {sop_uid: sop_class for _series, sop_class, sop_uid in images}),
        evidence(study.StudyInstanceUID, images),
    )
    if name:
        _verified(ds, name, _organization(study), when)
    # Otherwise UNVERIFIED: VERIFIED requires the Verifying Observer Sequence with the
    # verifier's name, a PN that is withheld from copies leaving the site.  The read is still
    # signed, which CompletionFlag (COMPLETE: nothing more will be added to it) and the
    # content date and time say; the name stays at home.
    return ds


def write_assessment_sr(read: Read, sources: list[pydicom.Dataset], *, out_path: Path,
                        **options: Any) -> None:
    """Build the assessment SR (``options`` as for build_assessment_sr) and write it
    atomically to ``out_path`` (no partial file)."""
    write_sr(build_assessment_sr(read, sources, **options), out_path, "assessment SR")
