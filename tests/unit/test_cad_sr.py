"""The Mammography CAD SR: valid for dciodvfy and dcmtk, each mark on the right image."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from engine.ai import cad_sr
from engine.ai.cad_sr import build_cad_sr, write_cad_sr
from engine.ai.results import NOT_FOR_CLINICAL_USE, Mark
from engine.errors import MammoDeskError
from tests.support.dicom_factory import mg_dataset, view_code
from tests.support.sr import COLS, ROWS, dciodvfy_errors, dsrdump, items, make_result

VIEWS = {"CC": ("399162004", "cranio-caudal"), "MLO": ("399368009", "medio-lateral oblique")}
# Distinct marks so each centre identifies the image it was found on.
MARKS = {
    "LCC": [Mark(10.5, 20.5, (5.0, 15.0, 16.0, 26.0), 0.83)],
    "LMLO": [Mark(30.5, 40.5, (25.0, 35.0, 36.0, 46.0), 0.61)],
    "RCC": [Mark(12.5, 50.5, (8.0, 44.0, 17.0, 57.0), 0.22)],
}


@pytest.fixture
def sources(tmp_path: Path) -> list[pydicom.Dataset]:
    """Four synthetic views of one study, written to disk and read back as headers."""
    study, series = generate_uid(), generate_uid()
    out = []
    for number, (side, view) in enumerate([("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")]):
        ds = mg_dataset(
            rows=ROWS,
            cols=COLS,
            StudyInstanceUID=study,
            SeriesInstanceUID=series,
            InstanceNumber=number + 1,
            ImageLaterality=side,
            ViewPosition=view,
            ViewCodeSequence=view_code(VIEWS[view][0], "SCT", VIEWS[view][1]),
            PatientOrientation=["P", "L"] if side == "R" else ["A", "R"],
            ImagerPixelSpacing=[0.1, 0.1],
            ContentDate="20240102",
            ContentTime="101600",
            StudyID="S1",
            ReferringPhysicianName="",
        )
        path = tmp_path / f"{side}{view}.dcm"
        ds.save_as(path, enforce_file_format=True)
        out.append(pydicom.dcmread(path, stop_before_pixels=True))
    return out


def named(node: pydicom.Dataset, meaning: str) -> list[pydicom.Dataset]:
    return [
        i
        for i in items(node)
        if "ConceptNameCodeSequence" in i and i.ConceptNameCodeSequence[0].CodeMeaning == meaning
    ]


def resolve(root: pydicom.Dataset, ident: list[int]) -> pydicom.Dataset:
    node = root
    for position in list(ident)[1:]:
        node = node.ContentSequence[position - 1]
    return node


def summary_value(root: pydicom.Dataset) -> str:
    return named(root, "CAD Processing and Findings Summary")[0].ConceptCodeSequence[0].CodeMeaning


def test_sr_with_marks_is_valid_and_dcmtk_renders_the_findings(sources, tmp_path):
    out = tmp_path / "cad.dcm"
    write_cad_sr(make_result(sources, MARKS), sources, out)
    assert dciodvfy_errors(out) == []
    done = dsrdump(out)
    assert done.returncode == 0, done.stderr
    assert not [line for line in done.stderr.splitlines() if line.startswith(("E:", "F:"))]
    assert "Mammography CAD SR Document" in done.stdout
    assert '"Mammography CAD Report"' in done.stdout
    assert "(POINT,10.5/20.5)" in done.stdout
    assert "(POLYLINE,5/15,16/15,16/26,5/26,5/15)" in done.stdout
    assert "(POINT,30.5/40.5)" in done.stdout
    assert NOT_FOR_CLINICAL_USE in done.stdout
    assert "Exam score 73.2 of 100, category 8 of 10" in done.stdout
    assert "All algorithms succeeded; with findings" in done.stdout


def test_each_mark_points_at_the_image_it_was_found_on(sources, tmp_path):
    out = tmp_path / "cad.dcm"
    write_cad_sr(make_result(sources, MARKS), sources, out)
    root = pydicom.dcmread(out)
    uid_of = {f"{s.ImageLaterality}{s.ViewPosition}": s.SOPInstanceUID for s in sources}
    expected = {(m.x, m.y): uid_of[view] for view, marks in MARKS.items() for m in marks}
    findings = named(root, "Single Image Finding")
    assert len(findings) == 3
    seen = {}
    for finding in findings:
        certainty = named(finding, "Certainty of Finding")[0].MeasuredValueSequence[0]
        assert 0 <= float(certainty.NumericValue) <= 100
        center = named(finding, "Center")[0]
        outline = named(finding, "Outline")[0]
        assert center.GraphicType == "POINT" and outline.GraphicType == "POLYLINE"
        assert len(outline.GraphicData) == 10
        assert outline.GraphicData[:2] == outline.GraphicData[-2:]  # closed
        for scoord in (center, outline):
            (link,) = scoord.ContentSequence
            assert link.RelationshipType == "SELECTED FROM"
            image = resolve(root, link.ReferencedContentItemIdentifier)
            assert image.ValueType == "IMAGE"
            seen.setdefault(tuple(center.GraphicData), set()).add(
                image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
            )
    assert {k: v.pop() for k, v in seen.items() if len(v) == 1} == expected


def test_header_copies_patient_and_study_and_references_every_image(sources, tmp_path):
    out = tmp_path / "cad.dcm"
    write_cad_sr(make_result(sources, MARKS), sources, out)
    sr = pydicom.dcmread(out)
    src = sources[0]
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.50"
    assert sr.Modality == "SR"
    for kw in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "StudyInstanceUID",
        "StudyDate",
        "AccessionNumber",
        "StudyID",
    ):
        assert sr[kw].value == src[kw].value, kw
    assert sr.SeriesInstanceUID != src.SeriesInstanceUID
    assert sr.SOPInstanceUID not in {s.SOPInstanceUID for s in sources}
    assert (sr.CompletionFlag, sr.VerificationFlag) == ("COMPLETE", "UNVERIFIED")
    assert sr.Manufacturer == "MammoDesk"
    assert "mammodesk-effb0 1.2.0" in sr.SoftwareVersions
    template = sr.ContentTemplateSequence[0]
    assert (template.TemplateIdentifier, template.MappingResource) == ("4000", "DCMR")
    (evidence,) = sr.CurrentRequestedProcedureEvidenceSequence
    refs = {
        r.ReferencedSOPInstanceUID
        for s in evidence.ReferencedSeriesSequence
        for r in s.ReferencedSOPSequence
    }
    assert refs == {s.SOPInstanceUID for s in sources}
    library = named(sr, "Image Library")[0].ContentSequence
    laterality = [
        named(i, "Image Laterality")[0].ConceptCodeSequence[0].CodeMeaning for i in library
    ]
    assert laterality == ["Right breast", "Left breast", "Right breast", "Left breast"]


def test_no_marks_still_gives_a_valid_report_without_findings(sources, tmp_path):
    out = tmp_path / "cad.dcm"
    write_cad_sr(make_result(sources), sources, out)
    assert dciodvfy_errors(out) == []
    assert dsrdump(out).returncode == 0
    root = pydicom.dcmread(out)
    assert summary_value(root) == "All algorithms succeeded; without findings"
    assert named(root, "Single Image Finding") == []


def test_a_view_the_model_could_not_judge_is_reported_as_not_all_succeeded(sources, tmp_path):
    out = tmp_path / "cad.dcm"
    result = make_result(sources, MARKS, reasons={"RMLO": "no breast tissue found"})
    write_cad_sr(result, sources, out)
    assert dciodvfy_errors(out) == []
    done = dsrdump(out)
    assert done.returncode == 0
    assert "RMLO not analysed: no breast tissue found" in done.stdout
    root = pydicom.dcmread(out)
    assert summary_value(root).startswith("Not all algorithms succeeded")
    (failed,) = named(root, "Failed Detections")
    (link,) = [i for i in items(failed) if "ReferencedContentItemIdentifier" in i]
    image = resolve(root, link.ReferencedContentItemIdentifier)
    rmlo = next(s for s in sources if (s.ImageLaterality, s.ViewPosition) == ("R", "MLO"))
    assert image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == rmlo.SOPInstanceUID


def test_images_that_were_not_analysed_are_refused_with_a_clear_message(sources, tmp_path):
    result = make_result(sources, MARKS)
    others = [pydicom.dcmread(tmp_path / "RCC.dcm", stop_before_pixels=True)]
    others[0].SOPInstanceUID = generate_uid()
    out = tmp_path / "cad.dcm"
    with pytest.raises(MammoDeskError, match="none of the given images"):
        write_cad_sr(result, others, out)
    assert not out.exists()
    with pytest.raises(MammoDeskError, match="none of the given images"):
        build_cad_sr(result, [])


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_debris(
    sources, tmp_path, monkeypatch
):
    out = tmp_path / "reports" / "cad.dcm"
    out.parent.mkdir()
    out.write_bytes(b"previous report")

    def broken(fh, *args, **kwargs):
        fh.write(b"DICM partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cad_sr.pydicom, "dcmwrite", broken)
    with pytest.raises(MammoDeskError, match="No space left"):
        write_cad_sr(make_result(sources, MARKS), sources, out)
    assert out.read_bytes() == b"previous report"
    assert [p.name for p in out.parent.iterdir()] == ["cad.dcm"]


def test_a_study_outside_the_training_says_so_and_reports_no_finding(sources, tmp_path):
    out = tmp_path / "cad.dcm"
    result = make_result(sources, MARKS)
    result.withhold(["RCC: image features unlike the training images (distance 91.0, limit 30.0)"])
    write_cad_sr(result, sources, out)
    assert dciodvfy_errors(out) == []
    done = dsrdump(out)
    assert done.returncode == 0
    assert "No exam score: outside what this model was trained on (RCC: image features" in (
        " ".join(done.stdout.split()))
    assert "Exam score 73.2" not in done.stdout and "(POINT," not in done.stdout
    assert named(pydicom.dcmread(out), "Single Image Finding") == []
    assert NOT_FOR_CLINICAL_USE in done.stdout
