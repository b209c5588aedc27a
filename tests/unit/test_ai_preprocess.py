"""The model's view of a mammogram: what it refuses, and how a stored image
becomes the model's input (and how model coordinates map back)."""

from __future__ import annotations

import copy
import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from engine.ai.preprocess import (
    Geometry,
    InputSpec,
    NotApplicable,
    Prepared,
    applicability,
    display_values,
    prepare,
)
from engine.dicom.pixels import decode_pixels
from engine.display.hanging import hang_image
from engine.errors import DecodeError
from engine.phantom import generate_cohort
from tests.support.dicom_factory import code_item

SPEC = InputSpec()
SEED = 5  # one study; its cancer is a 13 mm circumscribed mass in the left breast
VIEWS = ("RCC", "RMLO", "LCC", "LMLO")
FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same synthetic study written as MONOCHROME2 and as MONOCHROME1."""
    root = tmp_path_factory.mktemp("ai_preprocess")
    mono2 = generate_cohort(root / "m2", 1, seed=SEED, cancer_rate=1.0, size="small")
    mono1 = generate_cohort(
        root / "m1", 1, seed=SEED, cancer_rate=1.0, size="small", photometric="MONOCHROME1"
    )
    with open(mono2.labels_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cancer = next(r for r in rows if r["cancer"] == "1")
    assert cancer["lesion_type"].startswith("mass"), cancer["lesion_type"]
    by_view = {r["laterality"] + v.upper(): (r, v) for r in rows for v in ("cc", "mlo")}
    return {"m2": mono2.out_dir, "m1": mono1.out_dir, "cancer": cancer, "views": by_view}


def _read(phantom: dict, view: str, which: str = "m2") -> pydicom.Dataset:
    row, v = phantom["views"][view]
    return pydicom.dcmread(Path(phantom[which]) / row[f"{v}_file"])


def _point(phantom: dict, view: str, name: str) -> tuple[float, float]:
    row, v = phantom["views"][view]
    return float(row[f"{v}_{name}_x"]), float(row[f"{v}_{name}_y"])


def _lesion_box(phantom: dict, view: str) -> tuple[float, float, float, float]:
    row, v = phantom["views"][view]
    x0, y0, x1, y1 = (float(row[f"{v}_bbox_{k}"]) for k in ("x0", "y0", "x1", "y1"))
    return x0, y0, x1, y1


def _cancer_views(phantom: dict) -> list[str]:
    side = phantom["cancer"]["laterality"]
    return [side + "CC", side + "MLO"]


def _mirrored(ds: pydicom.Dataset) -> pydicom.Dataset:
    """The same image stored the other way round, with its orientation saying so."""
    out = copy.deepcopy(ds)
    out.PixelData = np.ascontiguousarray(ds.pixel_array[:, ::-1]).tobytes()
    row_dir, col_dir = (str(v) for v in ds.PatientOrientation)
    out.PatientOrientation = [{"A": "P", "P": "A"}[row_dir], col_dir]
    return out


def _assert_model_input(p: Prepared) -> None:
    """Values 0..1, chest wall on the left edge, nothing on the right edge."""
    img = p.image
    assert img.shape == (SPEC.height, SPEC.width)
    assert img.dtype == np.float32
    assert float(img.min()) == 0.0
    assert float(img.max()) <= 1.0
    assert 0.05 < p.breast_fraction < 0.6
    assert (img[:, 0] > 0).mean() > 0.2, "the breast does not touch the left (chest wall) edge"
    assert not img[:, -1].any(), "tissue on the right edge: the chest wall is not on the left"


def _assert_air_is_zero(phantom: dict, view: str, p: Prepared) -> None:
    """Everything beyond the nipple tip (1 mm margin) is air and must be exactly 0."""
    u, _ = p.geometry.to_model(*_point(phantom, view, "nipple"))
    beyond = p.image[:, int(np.ceil(u)) + 5 :]
    assert beyond.size > 0
    leaked = int(np.count_nonzero(beyond))
    assert leaked == 0, f"{leaked} non-zero air pixels beyond the nipple in {view}"


def _assert_lesion_bright(phantom: dict, view: str, p: Prepared, mirrored: bool = False) -> None:
    """The lesion box centre (mirrored when the file is stored mirrored) maps onto bright pixels."""
    x0, y0, x1, y1 = _lesion_box(phantom, view)
    x = (x0 + x1) / 2
    u, v = p.geometry.to_model(p.geometry.columns - x if mirrored else x, (y0 + y1) / 2)
    r, c = int(v), int(u)
    centre = float(p.image[r - 3 : r + 4, c - 3 : c + 4].mean())
    tissue = p.image[p.image > 0]
    assert centre > float(np.percentile(tissue, 75)), (view, centre)


# -- the prepared image -------------------------------------------------------


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_is_turned_chest_wall_left_with_air_at_zero(phantom, view):
    ds = _read(phantom, view)
    assert applicability(ds) is None
    p = prepare(ds, SPEC)
    _assert_model_input(p)
    _assert_air_is_zero(phantom, view, p)
    # Right-breast images are stored chest wall right: the model's left edge maps there.
    x_wall, _ = p.geometry.to_stored(0.0, SPEC.height / 2)
    assert float(x_wall) == (ds.Columns if view.startswith("R") else 0)


@pytest.mark.parametrize("view", VIEWS)
def test_monochrome1_prepares_to_the_same_image_as_monochrome2(phantom, view):
    p2 = prepare(_read(phantom, view, "m2"), SPEC)
    m1 = _read(phantom, view, "m1")
    assert m1.PhotometricInterpretation == "MONOCHROME1"
    p1 = prepare(m1, SPEC)
    assert p1.geometry == p2.geometry
    # The phantom inverts stored values and its VOI LUT exactly; only LUT rounding differs.
    assert np.allclose(p1.image, p2.image, atol=1e-3)


@pytest.mark.parametrize("view", VIEWS)
def test_mirrored_storage_gives_the_same_model_input_and_lesion_position(phantom, view):
    ds = _read(phantom, view)
    mirrored = _mirrored(ds)
    p, pm = prepare(ds, SPEC), prepare(mirrored, SPEC)
    assert pm.geometry.flipped != p.geometry.flipped
    assert np.array_equal(pm.image, p.image)
    # A point of the stored image and its mirror land on the same model pixel.
    cols = ds.Columns
    x, y = np.array([10.0, 300.5, 700.0]), np.array([20.0, 500.0, 900.0])
    u, v = p.geometry.to_model(x, y)
    um, vm = pm.geometry.to_model(cols - x, y)
    assert np.allclose(u, um) and np.allclose(v, vm)


@pytest.mark.parametrize("view", ["LCC", "LMLO"])
def test_lesion_box_maps_to_the_same_model_box_when_stored_mirrored(phantom, view):
    ds = _read(phantom, view)
    assert view in _cancer_views(phantom)
    p, pm = prepare(ds, SPEC), prepare(_mirrored(ds), SPEC)
    x0, y0, x1, y1 = _lesion_box(phantom, view)
    cols = ds.Columns
    a = p.geometry.to_model(np.array([x0, x1]), np.array([y0, y1]))
    b = pm.geometry.to_model(np.array([cols - x1, cols - x0]), np.array([y0, y1]))
    assert np.allclose(np.sort(a[0]), np.sort(b[0])) and np.allclose(a[1], b[1])
    _assert_lesion_bright(phantom, view, pm, mirrored=True)


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("mirror", [False, True], ids=["as-written", "mirrored"])
def test_without_patient_orientation_the_side_comes_from_the_image(phantom, view, mirror):
    ds = _read(phantom, view)
    if mirror:
        ds = _mirrored(ds)
    want = prepare(ds, SPEC)
    del ds.PatientOrientation
    assert applicability(ds) is None  # laterality and view still known from other tags
    got = prepare(ds, SPEC)
    assert got.geometry == want.geometry
    assert np.array_equal(got.image, want.image)


@pytest.mark.parametrize("view", ["LCC", "RMLO"])
def test_an_unreadable_patient_orientation_counts_as_missing(phantom, view):
    ds = _read(phantom, view)
    want = prepare(ds, SPEC)
    tag = Tag(0x00200020)
    ds[tag] = RawDataElement(tag, "C\x80", 4, b"A\\FR", 0, False, True)  # a VR no one knows
    got = prepare(ds, SPEC)
    assert got.geometry == want.geometry
    assert np.array_equal(got.image, want.image)
    image = hang_image(ds)
    assert image.patient_orientation is None and image.label == view


@pytest.mark.parametrize("view", VIEWS)
def test_geometry_round_trip(phantom, view):
    g = prepare(_read(phantom, view), SPEC).geometry
    u = np.array([0.0, 0.5, 17.25, 255.0, SPEC.width - 0.5])
    v = np.array([0.0, 400.0, 511.5, 700.0, SPEC.height - 1.0])
    back = g.to_model(*g.to_stored(u, v))
    assert np.allclose(back[0], u) and np.allclose(back[1], v)
    x, y = np.array([0.0, 100.0, 831.0]), np.array([0.0, 512.0, 1023.0])
    again = g.to_stored(*g.to_model(x, y))
    assert np.allclose(again[0], x) and np.allclose(again[1], y)


def test_geometry_round_trip_both_ways_by_hand():
    for flipped in (False, True):
        g = Geometry(1024, 832, flipped, 2.0, 12.0, 176.0, 0.0, 332.0)
        x, y = g.to_stored(100.0, 400.0)
        assert float(x) == (832 - 212.0 if flipped else 212.0)
        assert float(y) == 176.0 + 68.0 * 2.0
        u, v = g.to_model(x, y)
        assert (float(u), float(v)) == (100.0, 400.0)


def test_lesion_centre_lands_on_bright_pixels(phantom):
    for view in _cancer_views(phantom):
        p = prepare(_read(phantom, view), SPEC)
        _assert_lesion_bright(phantom, view, p)
        # ...and not because everything there is bright: the same spot on the
        # healthy breast's matching view is darker.
        other = ("R" if view[0] == "L" else "L") + view[1:]
        q = prepare(_read(phantom, other), SPEC)
        x0, y0, x1, y1 = _lesion_box(phantom, view)
        u, v = p.geometry.to_model((x0 + x1) / 2, (y0 + y1) / 2)
        r, c = int(v), int(u)
        assert (
            q.image[r - 3 : r + 4, c - 3 : c + 4].mean()
            < p.image[r - 3 : r + 4, c - 3 : c + 4].mean()
        )


# -- VOI ------------------------------------------------------------------------


def test_window_only_file_prepares(phantom):
    view = "LCC"
    ds = _read(phantom, view)
    del ds.VOILUTSequence
    assert "WindowCenter" in ds
    p = prepare(ds, SPEC)
    _assert_model_input(p)
    _assert_air_is_zero(phantom, view, p)
    _assert_lesion_bright(phantom, view, p)


def test_file_without_window_or_lut_prepares(phantom):
    view = "LCC"
    ds = _read(phantom, view)
    for keyword in ("VOILUTSequence", "WindowCenter", "WindowWidth"):
        del ds[keyword]
    p = prepare(ds, SPEC)
    _assert_model_input(p)
    _assert_lesion_bright(phantom, view, p)
    _assert_air_is_zero(phantom, view, p)


# -- what the model must not judge -------------------------------------------


def _set(**attrs: object) -> Callable[[pydicom.Dataset], None]:
    def change(ds: pydicom.Dataset) -> None:
        for keyword, value in attrs.items():
            setattr(ds, keyword, value)

    return change


def _delete(*keywords: str) -> Callable[[pydicom.Dataset], None]:
    def change(ds: pydicom.Dataset) -> None:
        for keyword in keywords:
            if keyword in ds:
                del ds[keyword]

    return change


def _for_processing(ds: pydicom.Dataset) -> None:
    ds.SOPClassUID = FOR_PROCESSING
    ds.file_meta.MediaStorageSOPClassUID = FOR_PROCESSING
    ds.PresentationIntentType = "FOR PROCESSING"


def _modifier(code: str, meaning: str) -> Callable[[pydicom.Dataset], None]:
    def change(ds: pydicom.Dataset) -> None:
        ds.ViewCodeSequence[0].ViewModifierCodeSequence = Sequence(
            [code_item(code, "SCT", meaning)]
        )

    return change


def _ml_view(ds: pydicom.Dataset) -> None:
    ds.ViewCodeSequence = Sequence([code_item("399260004", "SCT", "medio-lateral")])
    ds.ViewPosition = "ML"


def _too_small(ds: pydicom.Dataset) -> None:
    crop = np.ascontiguousarray(ds.pixel_array[262:762, :380])
    ds.Rows, ds.Columns = crop.shape
    ds.PixelData = crop.tobytes()


REFUSED = [
    ("ct", _set(Modality="CT"), ["not a mammogram", "CT"]),
    ("for-processing", _for_processing, ["For Processing"]),
    (
        "for-processing-intent",
        _set(PresentationIntentType="FOR PROCESSING"),
        ["For Processing"],
    ),
    ("implant", _set(BreastImplantPresent="YES"), ["implant"]),
    (
        "no-laterality",
        _delete("ImageLaterality", "Laterality", "PatientOrientation"),
        ["laterality"],
    ),
    ("ml-view", _ml_view, ["ML", "CC and MLO"]),
    ("spot", _modifier("399055006", "spot compression"), ["spot"]),
    ("magnification", _modifier("399163009", "magnification"), ["magnification"]),
    ("multi-frame", _set(NumberOfFrames=2), ["multi-frame"]),
    ("too-small", _too_small, ["too small", "380x500"]),
    ("no-spacing", _delete("PixelSpacing", "ImagerPixelSpacing"), ["pixel spacing missing"]),
    ("odd-spacing", _set(PixelSpacing=[0.5, 0.5], ImagerPixelSpacing=[0.5, 0.5]), ["spacing"]),
]


@pytest.mark.parametrize(
    ("change", "words"), [(c, w) for _, c, w in REFUSED], ids=[i for i, _, _ in REFUSED]
)
def test_not_applicable_reason_names_the_problem(phantom, change, words):
    ds = _read(phantom, "RMLO")
    change(ds)
    reason = applicability(ds)
    assert reason is not None
    for word in words:
        assert word in reason, reason
    assert "\n" not in reason
    with pytest.raises(NotApplicable) as caught:
        prepare(ds, SPEC)
    assert str(caught.value) == reason


def test_blank_image_is_refused_as_no_breast(phantom):
    ds = _read(phantom, "RCC")
    ds.PixelData = np.full((ds.Rows, ds.Columns), 500, dtype=np.uint16).tobytes()
    assert applicability(ds) is None
    with pytest.raises(NotApplicable, match="no breast"):
        prepare(ds, SPEC)


# -- rescale and VOI attributes that cannot be applied -----------------------------------


def _voi_item(**attrs: object) -> Callable[[pydicom.Dataset], None]:
    def change(ds: pydicom.Dataset) -> None:
        for keyword, value in attrs.items():
            setattr(ds.VOILUTSequence[0], keyword, value)

    return change


def _unreadable(tag: int) -> Callable[[pydicom.Dataset], None]:
    """The element as a damaged file brings it: 2 bytes under an 8-byte VR."""

    def change(ds: pydicom.Dataset) -> None:
        ds[tag] = RawDataElement(Tag(tag), "FD", 2, b"4\x00", 0, False, True)

    return change


def _window_only(**attrs: object) -> Callable[[pydicom.Dataset], None]:
    def change(ds: pydicom.Dataset) -> None:
        del ds.VOILUTSequence
        _set(**attrs)(ds)

    return change


UNUSABLE = [
    ("empty-intercept", _set(RescaleIntercept=None), "Rescale Intercept"),
    ("two-slopes", _set(RescaleSlope=[1, 2]), "Rescale Slope"),
    ("empty-lut-descriptor", _voi_item(LUTDescriptor=None), "VOI LUT Descriptor"),
    ("short-lut-data", _voi_item(LUTData=b"\0\0" * 10), "entries"),
    ("unreadable-voi-sequence", _unreadable(0x00283010), "VOI LUT Sequence"),
    ("unreadable-intercept", _unreadable(0x00281052), "Rescale Intercept"),
    ("zero-width", _window_only(WindowWidth=0), "Window Width"),
    ("unknown-function", _window_only(VOILUTFunction="CURVED"), "VOI LUT Function"),
]


@pytest.mark.parametrize(
    ("change", "word"), [(c, w) for _, c, w in UNUSABLE], ids=[i for i, _, _ in UNUSABLE]
)
def test_unusable_rescale_or_voi_is_refused_in_one_line(phantom, change, word):
    ds = _read(phantom, "RMLO")
    change(ds)
    reason = applicability(ds)
    assert reason is not None and reason.startswith("unusable rescale or VOI attributes")
    assert word in reason and "\n" not in reason
    with pytest.raises(NotApplicable, match="unusable rescale or VOI attributes"):
        prepare(ds, SPEC)
    # The report's thumbnails go through display_values on their own: a one-line DecodeError.
    with pytest.raises(DecodeError, match="unusable rescale or VOI attributes"):
        display_values(ds, decode_pixels(ds))
