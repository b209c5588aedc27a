"""MammoDesk's AI result as a DICOM Mammography CAD SR (PS3.3 A.35.5, PS3.16 TID 4000).

Content tree written (relationship, value type, concept; templates in brackets):

    CONTAINER Mammography CAD Report                                   [TID 4000, DCMR]
      HAS CONCEPT MOD  CODE Language of Content Item and Descendants   [TID 1204]
      CONTAINS CONTAINER Image Library
        CONTAINS IMAGE, one per analysed image                         [TID 4020]
          HAS ACQ CONTEXT CODE Image Laterality, CODE Image View (+ modifiers), TEXT Patient
          Orientation Row/Column, DATE/TIME Study and Content, NUM pixel spacing
      CONTAINS CODE CAD Processing and Findings Summary (CID 6047)     [TID 4001]
        HAS PROPERTIES TEXT Impression Description (scores, notice) + algorithm [TID 4002, 4019]
        INFERRED FROM CONTAINER Individual Impression/Recommendation, one per breast with marks
          HAS CONCEPT MOD CODE Rendering Intent                          [TID 4003]
          CONTAINS TEXT Impression Description (breast probability) + algorithm [TID 4002]
          CONTAINS CODE Single Image Finding, one per mark               [TID 4006]
            HAS CONCEPT MOD Rendering Intent; HAS PROPERTIES algorithm, NUM Certainty of
            Finding, NUM Probability of cancer, TEXT Selected Region Description,
            SCOORD Center (POINT), SCOORD Outline (closed POLYLINE)     [TID 4021]
              R-SELECTED FROM the image's Image Library entry
      CONTAINS CODE Summary of Detections (CID 6042)
        INFERRED FROM CONTAINER Successful/Failed Detections           [TID 4015, 4017]
      CONTAINS CODE Summary of Analyses (CID 6042)
        INFERRED FROM CONTAINER Successful/Failed Analyses             [TID 4016, 4018]

Images are referenced by reference to their Image Library entry, as the Mammography CAD SR
templates ask (the IOD enables by-reference relationships).  Coordinates are image-relative
(column, row) per PS3.3 C.18.6.1.2, the convention engine.ai.results already uses.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import MammographyCADSRStorage, generate_uid

from engine.ai.results import NOT_FOR_CLINICAL_USE, ExamResult, Mark, ViewResult
from engine.dicom.codes import VIEW_CONCEPTS  # CID 4014 View for Mammography
from engine.errors import MammoDeskError
from engine.notices import with_notice
from engine.reporting.sr.codes import INDIVIDUAL_IMPRESSION, LATERALITY_CODES, OVERALL_ANALYSIS
from engine.reporting.sr.document import Header, evidence, language, sr_document, write_sr
from engine.reporting.sr.items import code_item, content_item, num, ref, scoord, stamp, text
from engine.version import app_version

SIDE_NAMES = {"R": "Right", "L": "Left"}
SERIES_NUMBER = 900
# The model marks locations suspicious for malignancy without telling a mass from a
# calcification or a distortion.  CID 6014 (Mammography Single Image Finding) has no
# type-neutral "suspicious lesion" concept, and each lesion concept in it ("Mammography breast
# density", "Calcification Cluster", ...) asserts a morphology the model cannot know.
# "Selected region" states only that the algorithm singled out this image region; its meaning
# is given by the Selected Region Description and by Probability of cancer.
FINDING = codes.DCM.SelectedRegion
FINDING_DESCRIPTION = "Region suspicious for malignancy (lesion type not classified)"
PRESENTATION_REQUIRED = codes.DCM.PresentationRequiredRenderingDeviceIsExpectedToPresent


def _algorithm(rel: str, result: ExamResult, parameters: bool = False) -> list[Dataset]:
    """TID 4019 CAD Algorithm Identification."""
    items = [
        text(rel, codes.DCM.AlgorithmName, result.model_name),
        text(rel, codes.DCM.AlgorithmVersion, result.model_version),
    ]
    if parameters:
        items += [
            text(rel, codes.DCM.AlgorithmParameters, f"backend: {result.backend}"),
            text(rel, codes.DCM.AlgorithmParameters, f"device: {result.device}"),
        ]
    return items


def _as_code(item: Dataset | None) -> Code | None:
    if item is None or not item.get("CodeValue"):
        return None
    return Code(item.CodeValue, item.CodingSchemeDesignator, item.get("CodeMeaning", ""))


def _sop_ref(view: ViewResult) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = view.sop_class_uid
    ref.ReferencedSOPInstanceUID = view.sop_instance_uid
    return ref


def _value(src: Dataset | None, *keywords: str) -> str:
    for kw in keywords:
        value = getattr(src, kw, None) if src is not None else None
        if value not in (None, ""):
            return str(value)
    return ""


def _library_entry(view: ViewResult, src: Dataset | None, study: Dataset) -> Dataset:
    """TID 4020 CAD Image Library Entry."""
    acq = "HAS ACQ CONTEXT"
    side = _value(src, "ImageLaterality", "Laterality")
    side = side if side in LATERALITY_CODES else view.laterality
    kids = [code_item(acq, codes.DCM.ImageLaterality, LATERALITY_CODES[side])]
    view_item = (getattr(src, "ViewCodeSequence", None) or [None])[0]
    sct, _srt, meaning = VIEW_CONCEPTS.get(view.view_position, ("", "", ""))
    view_code = _as_code(view_item) or (Code(sct, "SCT", meaning) if sct else None)
    mods = getattr(view_item, "ViewModifierCodeSequence", None) or []
    mods = [
        code_item("HAS CONCEPT MOD", codes.DCM.ImageViewModifier, c)
        for c in map(_as_code, mods)
        if c
    ]
    if view_code is not None:
        kids.append(code_item(acq, codes.DCM.ImageView, view_code, mods))
    orientation = list(getattr(src, "PatientOrientation", None) or [])
    if len(orientation) == 2:
        kids += [
            text(acq, codes.DCM.PatientOrientationRow, str(orientation[0])),
            text(acq, codes.DCM.PatientOrientationColumn, str(orientation[1])),
        ]
    date, time = _value(study, "StudyDate"), _value(study, "StudyTime")
    stamps = [
        ("DATE", codes.DCM.StudyDate, date),
        ("TIME", codes.DCM.StudyTime, time),
        ("DATE", codes.DCM.ContentDate, _value(src, "ContentDate", "AcquisitionDate") or date),
        ("TIME", codes.DCM.ContentTime, _value(src, "ContentTime", "AcquisitionTime") or time),
    ]
    kids += [stamp(acq, vt, name, value) for vt, name, value in stamps if value]
    spacing = getattr(src, "ImagerPixelSpacing", None) or getattr(src, "PixelSpacing", None)
    if spacing is not None and len(spacing) == 2:  # (row spacing, column spacing) in mm
        um = codes.UCUM.Micrometer
        kids += [
            num(acq, codes.DCM.HorizontalPixelSpacing, float(spacing[1]) * 1000.0, um),
            num(acq, codes.DCM.VerticalPixelSpacing, float(spacing[0]) * 1000.0, um),
        ]
    item = content_item("CONTAINS", "IMAGE", None, kids)
    item.ReferencedSOPSequence = Sequence([_sop_ref(view)])
    return item


def _finding(result: ExamResult, mark: Mark, view: ViewResult, ident: list[int]) -> Dataset:
    """TID 4006 Mammography CAD Single Image Finding with its TID 4021 geometry."""
    x0, y0, x1, y1 = (float(v) for v in mark.box)
    x0, x1 = (min(max(v, 0.0), float(view.columns)) for v in (x0, x1))
    y0, y1 = (min(max(v, 0.0), float(view.rows)) for v in (y0, y1))
    score = min(max(float(mark.score), 0.0), 1.0) * 100.0
    props = "HAS PROPERTIES"
    kids = [
        code_item("HAS CONCEPT MOD", codes.DCM.RenderingIntent, PRESENTATION_REQUIRED),
        *_algorithm(props, result),
        # The mark's score is the model's likelihood that this region is malignant: it is
        # both how certain the finding is and its probability of cancer.
        num(props, codes.DCM.CertaintyOfFinding, score, codes.UCUM.Percent),
        num(props, codes.DCM.ProbabilityOfCancer, score, codes.UCUM.Percent),
        text(props, codes.DCM.SelectedRegionDescription, FINDING_DESCRIPTION),
        scoord(codes.DCM.Center, "POINT", [mark.x, mark.y], ident),
        scoord(codes.DCM.Outline, "POLYLINE", [x0, y0, x1, y0, x1, y1, x0, y1, x0, y0], ident),
    ]
    return code_item("CONTAINS", codes.DCM.SingleImageFinding, FINDING, kids)


def _impression(result: ExamResult, side: str, ident: dict[str, list[int]]) -> Dataset | None:
    """TID 4003 Individual Impression/Recommendation for one breast's marks (None if none)."""
    findings = [
        _finding(result, mark, view, ident[view.sop_instance_uid])
        for view in result.views
        if view.laterality == side
        for mark in view.marks
    ]
    if not findings:
        return None
    return content_item(
        "INFERRED FROM",
        "CONTAINER",
        INDIVIDUAL_IMPRESSION,
        [
            code_item("HAS CONCEPT MOD", codes.DCM.RenderingIntent, PRESENTATION_REQUIRED),
            text("CONTAINS", codes.DCM.ImpressionDescription, _breast_line(result, side)),
            *_algorithm("CONTAINS", result),
            *findings,
        ],
    )


def _breast_line(result: ExamResult, side: str) -> str:
    breast = result.breast(side)
    if breast is None:
        return f"{SIDE_NAMES[side]} breast: not analysed."
    if breast.probability is None:
        text = f"{SIDE_NAMES[side]} breast: no probability ({breast.reason or 'not assessed'})"
    else:
        text = f"{SIDE_NAMES[side]} breast: probability of malignancy {breast.probability:.1%}"
    return text + (f", density {breast.density}." if breast.density else ".")


def _summary_text(result: ExamResult) -> str:
    if result.exam_score is None:
        lines = [f"No exam score: {result.reason or 'not assessed'}."]
    else:
        lines = [f"Exam score {result.exam_score:.1f} of 100, category {result.category} of 10."]
    lines += [_breast_line(result, side) for side in ("R", "L")]
    if result.density:
        lines.append(f"Breast density (denser breast): {result.density}.")
    lines += [f"{v.view} not analysed: {v.reason}." for v in result.views if not v.applicable]
    lines.append(f"Model {result.model_name} {result.model_version}.")
    lines.append(result.notice or NOT_FOR_CLINICAL_USE)
    return "\n".join(lines)


def _performed(name: Code, value: Code, result: ExamResult, refs: list[list[int]]) -> Dataset:
    """TID 4017 / TID 4018: one algorithm run and the library images it ran on."""
    kids = _algorithm("HAS PROPERTIES", result, parameters=True)
    kids += [ref("HAS PROPERTIES", ident) for ident in refs]
    return code_item("CONTAINS", name, value, kids)


def _summary(name: Code, ok: Code, failed: Code, runs: list[tuple[bool, Dataset]]) -> Dataset:
    """Summary of Detections / Analyses (CID 6042) with TID 4015 / TID 4016 beneath."""
    good = [item for success, item in runs if success]
    bad = [item for success, item in runs if not success]
    status = (
        codes.DCM.Succeeded
        if not bad
        else codes.DCM.Failed
        if not good
        else codes.DCM.PartiallySucceeded
    )
    kids = [
        content_item("INFERRED FROM", "CONTAINER", title, items)
        for title, items in ((ok, good), (failed, bad))
        if items
    ]
    return code_item("CONTAINS", name, status, kids)


def _when(created_at: str) -> datetime:
    try:
        return datetime.fromisoformat(created_at)
    except (TypeError, ValueError):
        return datetime.now().astimezone()


def build_cad_sr(result: ExamResult, sources: list[pydicom.Dataset]) -> pydicom.Dataset:
    """The Mammography CAD SR for ``result``; ``sources`` are the analysed images' headers.

    Only mammograms of a known breast enter the report; other images of the
    study (a CT slice, a secondary capture) are left out."""
    views = [v for v in result.views if v.laterality in LATERALITY_CODES]
    if not views:
        raise MammoDeskError("the study has no mammogram of a known breast; no CAD SR written")
    result = dataclasses.replace(result, views=views)
    by_uid = {str(s.SOPInstanceUID): s for s in sources if "SOPInstanceUID" in s}
    matched = [by_uid[v.sop_instance_uid] for v in result.views if v.sop_instance_uid in by_uid]
    if not matched:
        raise MammoDeskError(
            "none of the given images is one the AI result was computed on; cannot write the CAD SR"
        )
    study = matched[0]
    if any(str(getattr(s, "StudyInstanceUID", "")) != result.study_instance_uid for s in matched):
        raise MammoDeskError("the given images belong to another study than the AI result")
    when = _when(result.created_at)
    head = Header(
        sop_class=MammographyCADSRStorage,
        study_uid=result.study_instance_uid,
        series_uid=generate_uid(),
        instance_uid=generate_uid(),
        series_number=SERIES_NUMBER,
        series_description=with_notice("MammoDesk AI CAD"),
        software_versions=[
            f"MammoDesk {app_version()}",
            f"{result.model_name} {result.model_version}",
        ],
        created=when,
        content=when,
    )
    images = [(v.series_instance_uid, v.sop_class_uid, v.sop_instance_uid) for v in result.views]
    return sr_document(
        head,
        study,
        codes.DCM.MammographyCADReport,
        "4000",
        _content(result, by_uid, study),
        evidence(result.study_instance_uid, images),
    )


def _status(used: bool, all_ok: bool, with_findings: bool) -> Code:
    """CID 6047 CAD Processing and Findings Summary."""
    if not used:
        return codes.DCM.NoAlgorithmsSucceededWithoutFindings
    if all_ok:
        return (
            codes.DCM.AllAlgorithmsSucceededWithFindings
            if with_findings
            else codes.DCM.AllAlgorithmsSucceededWithoutFindings
        )
    return (
        codes.DCM.NotAllAlgorithmsSucceededWithFindings
        if with_findings
        else codes.DCM.NotAllAlgorithmsSucceededWithoutFindings
    )


def _content(result: ExamResult, by_uid: dict[str, Dataset], study: Dataset) -> list[Dataset]:
    # Root children: 1 language, 2 image library, 3 findings, 4 detections, 5 analyses.
    library = [_library_entry(v, by_uid.get(v.sop_instance_uid), study) for v in result.views]
    ident = {v.sop_instance_uid: [1, 2, k] for k, v in enumerate(result.views, start=1)}
    per_side = [_impression(result, side, ident) for side in ("R", "L")]
    impressions = [item for item in per_side if item is not None]
    used = [ident[v.sop_instance_uid] for v in result.views if v.applicable]
    unused = [ident[v.sop_instance_uid] for v in result.views if not v.applicable]
    detections = [
        (ok, _performed(codes.DCM.DetectionPerformed, FINDING, result, refs))
        for ok, refs in ((True, used), (False, unused))
        if refs
    ]
    analyses = [
        (
            done is not None and bool(used),
            _performed(codes.DCM.AnalysisPerformed, kind, result, used or unused),
        )
        for done, kind in (
            (result.exam_score, OVERALL_ANALYSIS),
            (result.density, codes.SCT.BreastCompositionAnalysis),
        )
    ]
    all_ok = all(ok for ok, _ in detections + analyses)
    status = _status(bool(used), all_ok, bool(impressions))
    overall = [
        text("HAS PROPERTIES", codes.DCM.ImpressionDescription, _summary_text(result)),
        *_algorithm("HAS PROPERTIES", result),
    ]
    return [
        language(),
        content_item("CONTAINS", "CONTAINER", codes.DCM.ImageLibrary, library),
        code_item(
            "CONTAINS", codes.DCM.CADProcessingAndFindingsSummary, status, overall + impressions
        ),
        _summary(
            codes.DCM.SummaryOfDetections,
            codes.DCM.SuccessfulDetections,
            codes.DCM.FailedDetections,
            detections,
        ),
        _summary(
            codes.DCM.SummaryOfAnalyses,
            codes.DCM.SuccessfulAnalyses,
            codes.DCM.FailedAnalyses,
            analyses,
        ),
    ]


def write_cad_sr(result: ExamResult, sources: list[pydicom.Dataset], out_path: Path) -> None:
    """Build the CAD SR and write it atomically to ``out_path`` (no partial file on error)."""
    write_sr(build_cad_sr(result, sources), out_path, "CAD SR")
