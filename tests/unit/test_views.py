"""View identification on every coding path a mammography header can use."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from engine.dicom import ViewInfo, identify_view
from engine.dicom.codes import MODIFIER_CONCEPTS, VIEW_CONCEPTS
from tests.support.dicom_factory import code_item, empty, view_code

SCT_CASES = [(view, sct) for view, (sct, _srt, _m) in VIEW_CONCEPTS.items() if view != "SPECIMEN"]
SRT_CASES = [(view, srt) for view, (_sct, srt, _m) in VIEW_CONCEPTS.items() if view != "SPECIMEN"]


@pytest.mark.parametrize(("view", "code"), SCT_CASES)
def test_every_cid4014_sct_code(view: str, code: str) -> None:
    ds = empty()
    ds.ViewCodeSequence = view_code(code, "SCT")
    ds.ImageLaterality = "L"
    info = identify_view(ds)
    assert info.view == view
    assert info.view_source == "ViewCodeSequence"
    assert info.label == "L" + view


@pytest.mark.parametrize(("view", "code"), SRT_CASES)
def test_every_cid4014_legacy_srt_code(view: str, code: str) -> None:
    ds = empty()
    ds.ViewCodeSequence = view_code(code, "SRT")
    assert identify_view(ds).view == view


def test_well_known_codes_are_the_standard_ones() -> None:
    # Guards the table against typos in the two codes every screening study uses.
    ds = empty()
    ds.ViewCodeSequence = view_code("399162004", "SCT", "cranio-caudal")
    assert identify_view(ds).view == "CC"
    ds.ViewCodeSequence = view_code("R-10226", "SRT", "medio-lateral oblique")
    assert identify_view(ds).view == "MLO"


def test_spot_and_magnification_modifiers_in_label() -> None:
    ds = empty()
    ds.ImageLaterality = "R"
    ds.ViewCodeSequence = view_code(
        "399162004",
        modifiers=[
            code_item("399055006", "SCT", "spot compression"),
            code_item("R-102D6", "SRT", "magnification"),
        ],
    )
    info = identify_view(ds)
    assert info.modifiers == ("spot", "magnification")
    assert info.label == "RCC spot mag"


@pytest.mark.parametrize(("key", "scheme", "index"), [("SCT", "SCT", 0), ("SRT", "SRT", 1)])
def test_every_cid4015_modifier(key: str, scheme: str, index: int) -> None:
    for modifier, concept in MODIFIER_CONCEPTS.items():
        ds = empty()
        ds.ViewCodeSequence = view_code(
            "399368009", modifiers=[code_item(concept[index], scheme, "")]
        )
        assert identify_view(ds).modifiers == (modifier,), (key, modifier)


def test_implant_displaced_label() -> None:
    ds = empty()
    ds.ImageLaterality = "L"
    ds.ViewCodeSequence = view_code("399368009", modifiers=[code_item("399209000", "SCT", "")])
    assert identify_view(ds).label == "LMLO ID"


def test_unknown_code_falls_back_to_code_meaning() -> None:
    ds = empty()
    ds.ViewCodeSequence = view_code("99999", "99LOCAL", "Medio-lateral oblique")
    assert identify_view(ds).view == "MLO"


def test_image_laterality_wins_over_series_laterality() -> None:
    ds = empty()
    ds.ImageLaterality = "R"
    ds.Laterality = "L"
    info = identify_view(ds)
    assert (info.laterality, info.laterality_source) == ("R", "ImageLaterality")
    assert info.conflicts == ("Laterality says L but ImageLaterality says R",)


def test_series_laterality_alone() -> None:
    ds = empty()
    ds.Laterality = "L"
    info = identify_view(ds)
    assert (info.laterality, info.laterality_source) == ("L", "Laterality")
    assert info.label == "L?"


def test_both_breasts() -> None:
    ds = empty()
    ds.ImageLaterality = "B"
    ds.ViewPosition = "CC"
    assert identify_view(ds).label == "BCC"


@pytest.mark.parametrize(
    "term", ["CC", "MLO", "ML", "LM", "XCCL", "XCCM", "LMO", "SIO", "FB", "AT", "CV"]
)
def test_view_position_only(term: str) -> None:
    ds = empty()
    ds.ViewPosition = term
    info = identify_view(ds)
    assert (info.view, info.view_source, info.laterality) == (term, "ViewPosition", None)
    assert info.label == "?" + term


@pytest.mark.parametrize(
    ("orientation", "label"),
    [(["P", "L"], "RCC"), (["A", "R"], "LCC"), (["P", "FL"], "RMLO"), (["A", "FR"], "LMLO")],
)
def test_patient_orientation_only(orientation: list[str], label: str) -> None:
    ds = empty()
    ds.PatientOrientation = orientation
    info = identify_view(ds)
    assert info.label == label
    assert info.laterality_source == info.view_source == "PatientOrientation"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("R CC", "RCC"),
        ("RCC", "RCC"),
        ("L MLO", "LMLO"),
        ("LMLO", "LMLO"),
        ("Right CC", "RCC"),
        ("XCCL R", "RXCCL"),
        ("left mlo spot", "LMLO spot"),
        ("R MLO ID", "RMLO ID"),
        ("Screening", "??"),
        ("R CC L MLO", "??"),
    ],
)
def test_series_description_only(text: str, label: str) -> None:
    ds = empty()
    ds.SeriesDescription = text
    info = identify_view(ds)
    assert info.label == label
    if label != "??":
        assert info.view_source == "SeriesDescription"


def test_other_text_sources_are_last_resort() -> None:
    ds = empty()
    ds.AcquisitionDeviceProcessingDescription = "LCC"
    assert identify_view(ds).label == "LCC"
    ds = empty()
    ds.ProtocolName = "R MLO"
    assert identify_view(ds).view_source == "ProtocolName"


def test_nothing_at_all() -> None:
    info = identify_view(empty())
    assert info == ViewInfo(None, None, (), None, None, ())
    assert info.label == "??"


def test_contradictory_file_best_source_wins_and_conflicts_listed() -> None:
    ds = empty()
    ds.ViewCodeSequence = view_code("399162004", "SCT", "cranio-caudal")
    ds.ViewPosition = "MLO"
    ds.SeriesDescription = "L MLO"
    ds.ImageLaterality = "R"
    info = identify_view(ds)
    assert info.label == "RCC"
    assert (info.laterality_source, info.view_source) == ("ImageLaterality", "ViewCodeSequence")
    assert set(info.conflicts) == {
        "SeriesDescription says L but ImageLaterality says R",
        "ViewPosition says MLO but ViewCodeSequence says CC",
        "SeriesDescription says MLO but ViewCodeSequence says CC",
    }


def test_patient_orientation_conflict_is_by_view_family() -> None:
    ds = empty()
    ds.ViewPosition = "LM"  # lateral family, agrees with an oblique-looking orientation
    ds.PatientOrientation = ["A", "FR"]
    assert identify_view(ds).conflicts == ()
    ds.ViewPosition = "CC"
    info = identify_view(ds)
    assert info.view == "CC"
    assert info.conflicts == ("PatientOrientation says a MLO-type view but ViewPosition says CC",)


def test_sources_complement_each_other() -> None:
    # Laterality only in text, view only in codes: each comes from the best source that has it.
    ds = empty()
    ds.ViewCodeSequence = view_code("399368009")
    ds.SeriesDescription = "Left breast"
    info = identify_view(ds)
    assert (info.label, info.laterality_source, info.view_source) == (
        "LMLO",
        "SeriesDescription",
        "ViewCodeSequence",
    )


@pytest.mark.filterwarnings("ignore:Invalid value for VR")
def test_garbage_values_are_normalised_or_ignored() -> None:
    ds = empty()
    ds.ImageLaterality = " r "
    ds.ViewPosition = "mlo "
    assert identify_view(ds).label == "RMLO"

    ds = empty()
    ds.ImageLaterality = "X"
    ds.Laterality = "U"
    ds.ViewPosition = "SIDEWAYS"
    ds.PatientOrientation = "nonsense"
    item = Dataset()  # a code item with no value, scheme or meaning
    bad = Dataset()
    bad.CodeValue = "123"
    bad.CodingSchemeDesignator = "SCT"  # unknown code, no meaning
    ds.ViewCodeSequence = Sequence([item, bad])
    ds.SeriesDescription = ""
    info = identify_view(ds)
    assert info.label == "??"
    assert info.conflicts == ()


def test_wrong_scheme_does_not_match_a_snomed_number() -> None:
    ds = empty()
    ds.ViewCodeSequence = view_code("399162004", "LN", "")
    assert identify_view(ds).view is None
