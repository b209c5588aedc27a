"""The mammography hanging protocol: where each view hangs and how it is turned."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from engine.dicom.codes import VIEW_CONCEPTS
from engine.display.hanging import LAYOUTS, HangImage, hang, hang_image, placement, tissue_flip
from tests.support.dicom_factory import empty, view_code

# IHE Mammography Image profile orientations (the target) and their mirrors.
STANDARD = {"RCC": ("P", "L"), "LCC": ("A", "R"), "RMLO": ("P", "F"), "LMLO": ("A", "F")}


def image(label: str, po=None, order=(), modifiers=(), key=None) -> HangImage:
    lat, view = label[0], label[1:]
    return HangImage(key or label + str(order), lat, view, modifiers, po, order, label)


def four(po_for=STANDARD.get) -> list[HangImage]:
    return [image(lbl, po_for(lbl)) for lbl in ("RCC", "LCC", "RMLO", "LMLO")]


def test_screening_2x2_right_breast_left_cc_row_on_top():
    h = hang(four())
    assert [[c.label for c in row] for row in h.rows] == [["RCC", "LCC"], ["RMLO", "LMLO"]]
    assert [[c.placement.anchor for c in row] for row in h.rows] == [["right", "left"]] * 2
    assert not any(c.placement.flip_h or c.placement.flip_v for c in h.cells())


@pytest.mark.parametrize("label", ["RCC", "LCC", "RMLO", "LMLO"])
def test_mirrored_row_direction_is_flipped_back(label):
    row, col = STANDARD[label]
    p = placement(image(label, ({"A": "P", "P": "A"}[row], col)), label[0], label[1:],
                  "right" if label[0] == "R" else "left")
    assert p.flip_h and not p.flip_v and p.orientation_known


@pytest.mark.parametrize(
    "label,column,flip_v",
    [("RCC", "R", True), ("LCC", "L", True), ("RCC", "L", False), ("LCC", "R", False),
     ("RMLO", "H", True), ("LMLO", "H", True), ("RMLO", "FL", False), ("LMLO", "F", False),
     ("RMLO", "HL", True)],
)
def test_column_direction_sets_the_up_down_flip(label, column, flip_v):
    row = STANDARD[label][0]
    p = placement(image(label, (row, column)), label[0], label[1:],
                  "right" if label[0] == "R" else "left")
    assert p.flip_v is flip_v and not p.flip_h


def test_unknown_orientation_leaves_the_mirror_to_the_pixels():
    h = hang(four(lambda _: None))
    for c in h.cells():
        assert not c.placement.orientation_known and not c.placement.flip_h
    # Tissue on the left of an R image: mirror it so the chest wall meets the right edge.
    assert tissue_flip("right", tissue_on_left=True)
    assert not tissue_flip("left", tissue_on_left=True)


def test_missing_views_still_hang_with_a_label():
    h = hang([image("RCC", STANDARD["RCC"]), image("LMLO", STANDARD["LMLO"])])
    cells = {c.label: c for c in h.cells()}
    assert set(cells) == {"RCC", "LCC missing", "RMLO missing", "LMLO"}
    assert cells["LCC missing"].placement is None
    assert cells["LMLO"].placement.anchor == "left"


def test_a_repeated_view_hangs_the_latest_and_says_so():
    first = image("RCC", STANDARD["RCC"], order=("20240101", "101000", 1))
    retake = image("RCC", STANDARD["RCC"], order=("20240101", "101500", 5))
    h = hang([retake, first, *four()[1:]])
    rcc = h.rows[0][0]
    assert rcc.placement.image is retake
    assert rcc.label == "RCC (2 images, latest shown)"


def test_spot_magnification_and_other_views_are_extras():
    spot = image("RCC", STANDARD["RCC"], modifiers=("spot compression",), key="spot")
    ml = image("LML", ("A", "F"), key="ml")
    unknown = HangImage("x", None, None)
    h = hang([*four(), spot, ml, unknown])
    assert {i.key for i in h.extras} == {"spot", "ml", "x"}
    assert h.rows[0][0].placement.image.key != "spot"


def test_prior_comparison_puts_current_over_prior():
    prior = [image(lbl, STANDARD[lbl], key="p" + lbl) for lbl in STANDARD]
    h = hang(four(), "prior CC", prior)
    assert [[c.label for c in row] for row in h.rows] == [["RCC", "LCC"],
                                                          ["RCC prior", "LCC prior"]]
    assert h.rows[1][0].placement.image.key == "pRCC"
    assert [c.label for c in hang(four(), "prior MLO").rows[1]] == ["RMLO prior missing",
                                                                     "LMLO prior missing"]


def test_one_and_two_up_layouts():
    assert [c.label for c in hang(four(), "R").cells()] == ["RCC", "RMLO"]
    assert [c.placement.anchor for c in hang(four(), "L").cells()] == ["left", "left"]
    assert [c.label for c in hang(four(), "MLO").cells()] == ["RMLO", "LMLO"]
    (only,) = hang(four(), "LCC").cells()
    assert only.label == "LCC" and only.placement.anchor == "left"
    with pytest.raises(ValueError, match="unknown layout"):
        hang(four(), "3x3")
    assert {"2x2", "CC", "MLO", "R", "L", "RCC", "LMLO"} <= set(LAYOUTS)


# --- from DICOM headers: every view coding path ---------------------------------


UID = {"RCC": "1.2.3.1", "LCC": "1.2.3.2", "RMLO": "1.2.3.3", "LMLO": "1.2.3.4"}
# Oblique orientations name the side too (PatientOrientation alone must say it).
HEADER_ORIENTATION = {**STANDARD, "RMLO": ("P", "FL"), "LMLO": ("A", "FR")}


def _coded(label: str, path: str) -> Dataset:
    ds = empty()
    ds.SOPInstanceUID = UID[label]
    lat, view = label[0], label[1:]
    if path == "ViewCodeSequence":
        ds.ViewCodeSequence = view_code(VIEW_CONCEPTS[view][0], "SCT")
        ds.ImageLaterality = lat
    elif path == "ViewPosition":
        ds.ImageLaterality, ds.ViewPosition = lat, view
    elif path == "PatientOrientation":
        ds.PatientOrientation = list(HEADER_ORIENTATION[label])
    else:
        ds.SeriesDescription = f"{lat} {view}"
    return ds


@pytest.mark.parametrize(
    "path", ["ViewCodeSequence", "ViewPosition", "PatientOrientation", "SeriesDescription"]
)
def test_hanging_from_headers_on_every_view_coding_path(path):
    h = hang([hang_image(_coded(lbl, path)) for lbl in ("LMLO", "RCC", "LCC", "RMLO")])
    assert [c.placement.image.key for c in h.cells()] == [
        UID["RCC"], UID["LCC"], UID["RMLO"], UID["LMLO"]]
    assert not any(c.placement.flip_h or c.placement.flip_v for c in h.cells())


def test_headers_without_a_view_are_extras_and_the_cells_say_missing():
    h = hang([hang_image(_coded("RCC", "ViewPosition")), hang_image(empty())])
    assert len(h.extras) == 1 and h.extras[0].label == "??"
    assert [c.label for c in h.cells()] == ["RCC", "LCC missing", "RMLO missing", "LMLO missing"]


def test_header_orientation_and_retake_order():
    a = _coded("LCC", "ViewPosition")
    a.PatientOrientation = ["P", "L"]  # mirrored LCC (target A\R)
    a.AcquisitionTime, a.InstanceNumber = "101500", 2
    b = _coded("LCC", "ViewPosition")
    b.SOPInstanceUID = "1.2.3.99"
    b.AcquisitionTime, b.InstanceNumber = "100000", 1
    cell = hang([hang_image(b), hang_image(a)]).rows[0][1]
    assert cell.placement.image.key == UID["LCC"]
    assert cell.placement.flip_h and cell.placement.flip_v
