"""The viewer's greyscale pipeline: what the doctor sees for a stored value."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from engine.display.voi import (
    Window,
    apply_lut,
    display_lut,
    drag,
    presets,
)
from engine.imaging.greyscale import window_values
from tests.support.dicom_factory import mg_dataset

U16 = np.dtype(np.uint16)


def grey(ds: Dataset, window: Window, values, invert: bool = False) -> list[int]:
    lut = display_lut(ds, window, U16, invert)
    return [int(v) for v in apply_lut(lut, np.array(values, dtype=np.uint16))]


def test_linear_window_follows_the_standard_formula():
    ds = mg_dataset(WindowCenter=2048, WindowWidth=1024)
    w = presets(ds)[0].window
    # C.11.2.1.2.1: below c - 0.5 - (w-1)/2 black, above c - 0.5 + (w-1)/2 white.
    assert grey(ds, w, [0, 1535, 2048, 2560, 4095]) == [0, 0, 128, 255, 255]
    assert grey(ds, w, [1792])[0] == pytest.approx(64, abs=1)


def test_monochrome1_shows_high_stored_values_dark():
    m2 = mg_dataset(WindowCenter=2048, WindowWidth=4096)
    m1 = mg_dataset(WindowCenter=2048, WindowWidth=4096, PhotometricInterpretation="MONOCHROME1",
                    PresentationLUTShape="INVERSE")
    w = presets(m2)[0].window
    # ((x - 2047.5) / 4095 + 0.5) * 255: 6.3 and 249.1
    assert grey(m2, w, [100, 4000]) == [6, 249]
    assert grey(m1, w, [100, 4000]) == [249, 6]  # one inversion, not two
    assert grey(m1, w, [100, 4000], invert=True) == [6, 249]  # the invert key undoes it


def test_dragging_changes_grey_levels_the_expected_way():
    ds = mg_dataset(WindowCenter=2048, WindowWidth=1024)
    w = presets(ds)[0].window
    before = grey(ds, w, [2300])[0]
    darker = drag(w, 0, 100, span=4096)  # drag down: centre up, the same value darker
    assert darker.center > w.center and grey(ds, darker, [2300])[0] < before
    wider = drag(w, 100, 0, span=4096)  # drag right: wider window, less contrast
    assert wider.width > w.width
    lo, hi = grey(ds, wider, [1800, 2300])
    lo0, hi0 = grey(ds, w, [1800, 2300])
    assert hi - lo < hi0 - lo0
    assert drag(w, -10_000, 0, span=4096).width >= 1.0


def test_monochrome1_drag_moves_the_other_way_on_screen():
    ds = mg_dataset(WindowCenter=2048, WindowWidth=1024, PhotometricInterpretation="MONOCHROME1")
    w = presets(ds)[0].window
    before = grey(ds, w, [2300])[0]
    # Centre up: the value falls lower inside the window; inverted, it gets brighter.
    assert grey(ds, drag(w, 0, 100, span=4096), [2300])[0] > before


def test_sigmoid_function_from_the_file():
    ds = mg_dataset(WindowCenter=2048, WindowWidth=1000, VOILUTFunction="SIGMOID")
    w = presets(ds)[0].window
    assert w.function == "SIGMOID"
    assert grey(ds, w, [2048])[0] == 128
    # 255 / (1 + exp(-4 * 250 / 1000)) = 186.4
    assert grey(ds, w, [2298])[0] == 186
    assert grey(ds, w, [1548])[0] == 30  # 255 / (1 + exp(2)) = 30.4: a smooth tail


def test_voi_lut_sequence_is_a_preset_and_window_drag_works_on_its_output():
    ds = mg_dataset()
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 12]
    # A curved table: output = stored^2 / 4095 (12-bit out).
    item.LUTData = [round(v * v / 4095) for v in range(4096)]
    item.LUTExplanation = "CURVE"
    ds.VOILUTSequence = Sequence([item])
    (p,) = presets(ds)
    assert p.name == "CURVE" and p.window.lut_index == 0
    levels = grey(ds, p.window, [0, 2048, 4095])
    assert levels[0] == 0 and levels[2] == 255
    assert levels[1] == pytest.approx(255 * 1024 / 4095, abs=1)  # the table, not a line
    narrower = drag(p.window, -1000, 0, span=4096)
    assert grey(ds, narrower, [2048])[0] != levels[1]


def test_several_windows_become_named_presets_in_file_order():
    ds = mg_dataset(WindowCenter=[2000, 2500], WindowWidth=[1000, 3000],
                    WindowCenterWidthExplanation=["NORMAL", "HARDER"])
    assert [(p.name, p.window.center, p.window.width) for p in presets(ds)] == [
        ("NORMAL", 2000.0, 1000.0), ("HARDER", 2500.0, 3000.0)]


def test_without_a_window_the_image_range_is_the_preset():
    ds = mg_dataset()
    stored = np.array([[300, 900], [1200, 3300]], dtype=np.uint16)
    (p,) = presets(ds, stored)
    assert p.name == "full range" and grey(ds, p.window, [300, 3300]) == [0, 255]


def test_rescale_is_applied_before_the_window():
    ds = mg_dataset(RescaleSlope=2, RescaleIntercept=-100, WindowCenter=1000, WindowWidth=2)
    w = presets(ds)[0].window
    assert grey(ds, w, [549, 551]) == [0, 255]  # 2*549-100 = 998, 2*551-100 = 1002


def test_signed_pixels_index_the_table_correctly():
    ds = mg_dataset(PixelRepresentation=1, WindowCenter=0, WindowWidth=200)
    lut = display_lut(ds, presets(ds)[0].window, np.dtype(np.int16))
    assert apply_lut(lut, np.array([-500, 0, 500], dtype=np.int16)).tolist() == [0, 128, 255]


def test_linear_exact_and_threshold_width():
    assert window_values(np.array([0.0, 50.0, 100.0]), Window(50, 100, "LINEAR_EXACT")).tolist() \
        == [0.0, 0.5, 1.0]
    assert window_values(np.array([9.0, 10.0]), Window(10, 1)).tolist() == [0.0, 1.0]


# -- attributes a damaged file may carry: the viewer shows the image, never a traceback ----


def _curve(descriptor: list[int] | None, data: object) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = descriptor
    item.LUTData = data
    item.LUTExplanation = "CURVE"
    return item


def test_an_empty_rescale_intercept_shows_the_stored_values():
    ds = mg_dataset(RescaleSlope=2, RescaleIntercept=None, WindowCenter=1000, WindowWidth=2)
    plain = mg_dataset(WindowCenter=1000, WindowWidth=2)
    w = presets(ds)[0].window
    assert grey(ds, w, [998, 1002]) == grey(plain, w, [998, 1002]) == [0, 255]
    stored = np.array([[300, 3300]], dtype=np.uint16)
    (p,) = presets(mg_dataset(RescaleSlope=[1, 2], RescaleIntercept=0), stored)
    assert p.name == "full range" and (p.window.center, p.window.width) == (1800.0, 3000.0)


@pytest.mark.parametrize(
    ("descriptor", "data"),
    [
        (None, [0] * 4096),  # an empty descriptor
        ([4096, 0], [0] * 4096),  # two values of three
        ([4096, 0, 12], [0] * 100),  # a table shorter than it says
        ([4096, 0, 9], [0] * 4096),  # 9 bits per entry
        ([4096, 0, 12], None),  # no data
    ],
)
def test_an_unusable_voi_lut_is_not_offered_and_never_throws(descriptor, data):
    ds = mg_dataset(WindowCenter=2048, WindowWidth=4096)
    ds.VOILUTSequence = Sequence([_curve(descriptor, data)])
    offered = presets(ds)
    assert [p.name for p in offered] == ["window 1"]
    # A window remembered against that table (say, from before the file changed) falls back
    # to the window alone.
    remembered = Window(2048, 4096, "LINEAR", lut_index=0)
    assert grey(ds, remembered, [0, 4095]) == grey(ds, offered[0].window, [0, 4095])


def test_an_unreadable_window_is_skipped():
    ds = mg_dataset(WindowWidth=1000)
    ds[0x00281050] = RawDataElement(Tag(0x00281050), "FD", 2, b"4\x00", 0, False, True)
    stored = np.array([[300, 3300]], dtype=np.uint16)
    assert [p.name for p in presets(ds, stored)] == ["full range"]
