"""The radiologist's signed read as a Breast Imaging Report SR: valid, coded, and free of text
unless asked for."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from engine.errors import MammoDeskError
from engine.library.reads import BIRADS, DENSITY, FINDING_TYPES, Finding, Read
from engine.reading.birads import RECOMMENDATIONS
from engine.reporting import build_assessment_sr, write_assessment_sr
from engine.reporting.assessment_sr import DENSITY_CODES, FINDING_CODES
from engine.reporting.sr.codes import BIRADS_CODES, RECOMMENDATION_CODES
from tests.support.sr import dciodvfy_errors, dsrdump, items

SIGNED_AT = "2024-05-01T12:34:56+00:00"  # what engine.library.store.now_iso() writes
READER = "Dr Quinta Synthreader"
IMPRESSION = "Synthetic impression zq81: suspicious left mass"
LOCATION = "synthetic location kx44, 2 o'clock"
NOTE = "synthetic note vw17, irregular margin"


@pytest.fixture
def sources(small_cohort) -> list[pydicom.Dataset]:
    """The four views of the first phantom study, headers only."""
    first = sorted({p.parent for p in small_cohort.files})[0]
    files = sorted(p for p in small_cohort.files if p.parent == first)
    return [pydicom.dcmread(p, stop_before_pixels=True) for p in files]


def signed_read() -> Read:
    return Read(
        birads={"R": "2", "L": "4B"},
        density={"R": "b", "L": "c"},
        findings=[
            Finding("L", "mass", location=LOCATION, size_mm=14.5, note=NOTE),
            Finding("R", "calcifications"),
        ],
        impression=IMPRESSION,
        recommendation="biopsy",
    )


def write(tmp_path: Path, sources, *, include_text: bool, read: Read | None = None) -> Path:
    out = tmp_path / f"assessment-{include_text}.dcm"
    write_assessment_sr(
        read or signed_read(),
        sources,
        signed_at=SIGNED_AT,
        reader=READER,
        include_text=include_text,
        out_path=out,
    )
    return out


def by_meaning(root: pydicom.Dataset, meaning: str) -> list[pydicom.Dataset]:
    return [
        i
        for i in items(root)
        if "ConceptNameCodeSequence" in i and i.ConceptNameCodeSequence[0].CodeMeaning == meaning
    ]


def value(item: pydicom.Dataset) -> tuple[str, str]:
    c = item.ConceptCodeSequence[0]
    return c.CodeValue, c.CodingSchemeDesignator


def per_side(root: pydicom.Dataset, meaning: str) -> dict[str, tuple[str, str]]:
    """Coded values of ``meaning`` keyed by the breast their Laterality modifier names."""
    out = {}
    for item in by_meaning(root, meaning):
        if item.ValueType != "CODE":  # the section container of the same name
            continue
        (side,) = by_meaning(item, "Laterality")
        out[side.ConceptCodeSequence[0].CodeMeaning] = value(item)
    return out


def test_outgoing_copy_is_valid_and_carries_the_coded_assessment(sources, tmp_path):
    out = write(tmp_path, sources, include_text=False)
    assert dciodvfy_errors(out) == []
    done = dsrdump(out)
    assert done.returncode == 0, done.stderr
    assert not [line for line in done.stderr.splitlines() if line.startswith(("E:", "F:"))]
    assert "Enhanced SR Document" in done.stdout
    assert '"Breast Imaging Report"' in done.stdout
    sr = pydicom.dcmread(out)
    assert sr.ConceptNameCodeSequence[0].CodeValue == "111400"
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "4200"
    assert per_side(sr, "Assessment Category") == {
        "Right breast": ("397141009", "SCT"),  # BI-RADS 2 - Benign
        "Left breast": ("397144001", "SCT"),  # BI-RADS 4, here 4B
    }
    meanings = {i.ConceptCodeSequence[0].CodeMeaning for i in by_meaning(sr, "Assessment Category")}
    assert "4B - Moderate suspicion for malignancy" in meanings
    (follow_up,) = by_meaning(sr, "Recommended Follow-up")
    assert value(follow_up) == ("111143", "DCM")  # biopsy should be considered
    assert per_side(sr, "Breast composition") == {
        "Right breast": ("129717001", "SCT"),  # b: scattered fibroglandular densities
        "Left breast": ("129718006", "SCT"),  # c: heterogeneously dense
    }


def test_findings_carry_their_type_side_and_size(sources, tmp_path):
    sr = pydicom.dcmread(write(tmp_path, sources, include_text=False))
    findings = by_meaning(sr, "Finding")
    assert [value(f) for f in findings] == [("129788004", "SCT"), ("309587003", "SCT")]
    mass, calcifications = findings
    assert by_meaning(mass, "Laterality")[0].ConceptCodeSequence[0].CodeMeaning == "Left breast"
    (size,) = by_meaning(mass, "Diameter")
    measured = size.MeasuredValueSequence[0]
    assert float(measured.NumericValue) == 14.5
    unit = measured.MeasurementUnitsCodeSequence[0]
    assert (unit.CodeValue, unit.CodingSchemeDesignator) == ("mm", "UCUM")
    side = by_meaning(calcifications, "Laterality")[0].ConceptCodeSequence[0].CodeMeaning
    assert side == "Right breast"
    assert by_meaning(calcifications, "Diameter") == []


def test_outgoing_copy_has_no_free_text_and_no_names(sources, tmp_path):
    out = write(tmp_path, sources, include_text=False)
    sr = pydicom.dcmread(out)
    assert {i.ValueType for i in items(sr)} & {"TEXT", "PNAME"} == set()
    data = out.read_bytes()
    for secret in (IMPRESSION, NOTE, LOCATION, READER, "Synthreader", "zq81", "vw17", "kx44"):
        assert secret.encode() not in data, secret
    assert sr.CompletionFlag == "COMPLETE"
    assert sr.VerificationFlag == "UNVERIFIED"
    assert "VerifyingObserverSequence" not in sr
    assert "StudyDescription" not in sr


def test_copy_kept_at_home_has_the_text_and_is_verified_by_the_reader(sources, tmp_path):
    out = write(tmp_path, sources, include_text=True)
    assert dciodvfy_errors(out) == []
    assert dsrdump(out).returncode == 0
    sr = pydicom.dcmread(out)
    texts = {
        i.ConceptNameCodeSequence[0].CodeMeaning: i.TextValue
        for i in items(sr)
        if i.ValueType == "TEXT"
    }
    assert texts == {"Impression": IMPRESSION, "Clockface or region": LOCATION, "Comment": NOTE}
    (observer,) = [i for i in items(sr) if i.ValueType == "PNAME"]
    assert observer.RelationshipType == "HAS OBS CONTEXT"
    assert str(observer.PersonName).rstrip("^") == READER
    data = out.read_bytes()
    for secret in (IMPRESSION, NOTE, LOCATION, READER):
        assert secret.encode() in data, secret
    assert (sr.CompletionFlag, sr.VerificationFlag) == ("COMPLETE", "VERIFIED")
    (verifier,) = sr.VerifyingObserverSequence
    assert str(verifier.VerifyingObserverName).rstrip("^") == READER
    when = datetime.fromisoformat(SIGNED_AT).astimezone()
    assert verifier.VerificationDateTime == when.strftime("%Y%m%d%H%M%S%z")


def test_header_copies_patient_and_study_and_references_every_image(sources, tmp_path):
    sr = pydicom.dcmread(write(tmp_path, sources, include_text=False))
    src = sources[0]
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.22"  # Enhanced SR
    assert sr.Modality == "SR"
    for kw in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "StudyID",
        "ReferringPhysicianName",
    ):
        assert sr[kw].value == src[kw].value, kw
    assert sr.SeriesInstanceUID not in {s.SeriesInstanceUID for s in sources}
    assert sr.SOPInstanceUID not in {s.SOPInstanceUID for s in sources}
    when = datetime.fromisoformat(SIGNED_AT).astimezone()
    assert (sr.ContentDate, sr.ContentTime) == (when.strftime("%Y%m%d"), when.strftime("%H%M%S"))
    (evidence,) = sr.CurrentRequestedProcedureEvidenceSequence
    assert evidence.StudyInstanceUID == src.StudyInstanceUID
    refs = {
        (r.ReferencedSOPClassUID, r.ReferencedSOPInstanceUID)
        for s in evidence.ReferencedSeriesSequence
        for r in s.ReferencedSOPSequence
    }
    assert refs == {(s.SOPClassUID, s.SOPInstanceUID) for s in sources}
    assert len(refs) == 4


def test_given_uids_are_used_so_a_resend_is_the_same_instance(sources):
    instance, series = generate_uid(), generate_uid()
    kwargs = dict(signed_at=SIGNED_AT, instance_uid=instance, series_uid=series)
    first = build_assessment_sr(signed_read(), sources, **kwargs)
    again = build_assessment_sr(signed_read(), sources, **kwargs)
    assert (first.SOPInstanceUID, first.SeriesInstanceUID) == (instance, series)
    assert (again.SOPInstanceUID, again.SeriesInstanceUID) == (instance, series)
    other = build_assessment_sr(signed_read(), sources, signed_at=SIGNED_AT)
    assert other.SOPInstanceUID not in (instance, first.SOPInstanceUID)


def test_every_choice_the_read_offers_has_a_code():
    assert set(BIRADS_CODES) == set(BIRADS)
    assert set(DENSITY_CODES) == set(DENSITY)
    assert set(FINDING_CODES) == set(FINDING_TYPES)
    assert set(RECOMMENDATION_CODES) == set(RECOMMENDATIONS)
    # 4, 4A, 4B and 4C share category 4's code; their meanings tell them apart.
    assert len({(c.value, c.meaning) for c in BIRADS_CODES.values()}) == len(BIRADS)
    assert {c.value for k, c in BIRADS_CODES.items() if k.startswith("4")} == {"397144001"}


def test_known_malignancy_and_the_other_finding_types_stay_valid(sources, tmp_path):
    kinds = ["asymmetry", "architectural distortion", "other"]
    read = Read(
        birads={"R": "0", "L": "6"},
        density={"R": "a", "L": "d"},
        findings=[Finding("R", kind, size_mm=3.0) for kind in kinds],
    )
    out = write(tmp_path, sources, include_text=False, read=read)
    assert dciodvfy_errors(out) == []
    sr = pydicom.dcmread(out)
    assert per_side(sr, "Assessment Category") == {
        "Right breast": ("397138000", "SCT"),
        "Left breast": ("MA.II.A.5.6", "BI"),
    }
    (six,) = [i for i in by_meaning(sr, "Assessment Category") if value(i)[1] == "BI"]
    assert six.ConceptCodeSequence[0].CodingSchemeVersion == "4.0"
    assert per_side(sr, "Breast composition") == {
        "Right breast": ("129716005", "SCT"),
        "Left breast": ("129719003", "SCT"),
    }
    found = [value(f) for f in by_meaning(sr, "Finding")]
    assert found == [("129790003", "SCT"), ("129792006", "SCT"), ("404684003", "SCT")]


def test_unsigned_reads_and_foreign_images_are_refused(sources, tmp_path):
    incomplete = Read(birads={"R": "1", "L": "1"}, density={"R": "a", "L": None})
    with pytest.raises(MammoDeskError, match=r"\(density\) for the left breast"):
        build_assessment_sr(incomplete, sources, signed_at=SIGNED_AT)
    with pytest.raises(MammoDeskError, match="no images"):
        build_assessment_sr(signed_read(), [], signed_at=SIGNED_AT)
    other = pydicom.Dataset()
    other.update(sources[0])
    other.StudyInstanceUID, other.SOPInstanceUID = generate_uid(), generate_uid()
    with pytest.raises(MammoDeskError, match="more than one study"):
        build_assessment_sr(signed_read(), [*sources, other], signed_at=SIGNED_AT)
    with pytest.raises(MammoDeskError, match="signing time"):
        build_assessment_sr(signed_read(), sources, signed_at="yesterday")
    out = tmp_path / "refused.dcm"
    with pytest.raises(MammoDeskError):
        write_assessment_sr(incomplete, sources, signed_at=SIGNED_AT, out_path=out)
    assert not out.exists()


def test_a_findings_position_and_point_are_coded(sources, tmp_path):
    lcc = next(s for s in sources if s.get("ImageLaterality") == "L")
    placed = Finding("L", "mass", size_mm=9.0, descriptors=["irregular", "spiculated"],
                     clock="2:00", depth="posterior", nipple_mm=42.0,
                     point={"sop_uid": lcc.SOPInstanceUID, "x": 120, "y": 340.5})
    elsewhere = Finding("L", "calcifications", clock="10:30",
                        point={"sop_uid": generate_uid(), "x": 1, "y": 1})
    read = Read(birads={"R": "1", "L": "4A"}, density={"R": "b", "L": "b"},
                findings=[placed, elsewhere], recommendation="biopsy")
    out = write(tmp_path, sources, include_text=False, read=read)
    assert dciodvfy_errors(out) == []
    assert dsrdump(out).returncode == 0
    sr = pydicom.dcmread(out)
    mass, calcifications = by_meaning(sr, "Finding")
    (clock,) = by_meaning(mass, "Clockface or region")
    assert clock.ConceptCodeSequence[0].CodeMeaning == "2 o'clock position"
    (depth,) = by_meaning(mass, "Depth")
    assert value(depth) == ("255551008", "SCT")  # posterior
    (nipple,) = by_meaning(mass, "Distance from nipple")
    assert float(nipple.MeasuredValueSequence[0].NumericValue) == 42.0
    (center,) = by_meaning(mass, "Center")
    assert (center.ValueType, center.GraphicType) == ("SCOORD", "POINT")
    assert [float(v) for v in center.GraphicData] == [120.0, 340.5]
    (image,) = center.ContentSequence
    assert (image.RelationshipType, image.ValueType) == ("SELECTED FROM", "IMAGE")
    assert image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == lcc.SOPInstanceUID
    assert image.ReferencedSOPSequence[0].ReferencedSOPClassUID == lcc.SOPClassUID
    # A half hour has no code, and a point on an image outside the study is not written.
    assert by_meaning(calcifications, "Clockface or region") == []
    assert by_meaning(calcifications, "Center") == []
    (four_a,) = [i for i in by_meaning(sr, "Assessment Category")
                 if value(i) == ("397144001", "SCT")]
    assert four_a.ConceptCodeSequence[0].CodeMeaning == "4A - Low suspicion for malignancy"


def test_a_read_signed_before_recommendations_still_makes_an_sr(sources):
    legacy = Read.from_json('{"birads": {"R": 1, "L": 4}, "density": {"R": "a", "L": "a"}, '
                            '"findings": [{"side": "L", "kind": "mass"}], "impression": ""}')
    sr = build_assessment_sr(legacy, sources, signed_at=SIGNED_AT)
    assert by_meaning(sr, "Recommended Follow-up") == []
    assert {value(i)[0] for i in by_meaning(sr, "Assessment Category")} == {"397140005",
                                                                            "397144001"}


def test_lexicon_descriptors_are_coded_from_the_birads_context_groups(sources, tmp_path):
    mass = Finding("R", "mass", size_mm=12.0,
                   descriptors=["irregular", "spiculated", "high-density", "skin-retraction"])
    calcs = Finding("R", "calcifications", descriptors=["fine-pleomorphic", "segmental", "round"])
    asymmetry = Finding("L", "asymmetry", descriptors=["focal"])
    read = Read(birads={"R": "5", "L": "3"}, density={"R": "c", "L": "c"},
                findings=[mass, calcs, asymmetry], recommendation="biopsy")
    out = write(tmp_path, sources, include_text=False, read=read)
    assert dciodvfy_errors(out) == []
    assert dsrdump(out).returncode == 0
    sr = pydicom.dcmread(out)
    coded_mass, coded_calcs, coded_asymmetry = by_meaning(sr, "Finding")

    def described(finding) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        for item in finding.ContentSequence:
            if item.ValueType == "CODE" and item.RelationshipType == "HAS PROPERTIES":
                name = item.ConceptNameCodeSequence[0].CodeMeaning
                out.setdefault(name, []).append(value(item))
        return out

    assert described(coded_mass) == {
        "Shape": [("49608001", "SCT")],  # irregular (CID 6005)
        "Margins": [("129742005", "SCT")],  # spiculated (CID 6007)
        "Lesion Density": [("129744006", "SCT")],  # high density (CID 6009)
        "Associated finding (attribute)": [("129796009", "SCT")],  # skin retraction (CID 6056)
    }
    assert described(coded_calcs) == {
        "Calcification Type": [("111344", "DCM"), ("129756007", "SCT")],  # fine pleomorphic, round
        "Calcification Distribution": [("129768003", "SCT")],  # segmental (CID 6013)
    }
    assert described(coded_asymmetry) == {}  # no concept for an asymmetry's kind


def test_every_lexicon_word_has_a_descriptor_code():
    from engine.reading.birads import ASSOCIATED_FEATURES, LEXICON
    from engine.reporting.sr.codes import descriptor_code

    for kind in ("mass", "calcifications"):
        for word in {w for group in LEXICON[kind].values() for w in group} | set(
                ASSOCIATED_FEATURES):
            assert descriptor_code(kind, word) is not None, (kind, word)
