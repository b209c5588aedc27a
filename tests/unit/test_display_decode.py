"""Reduced-resolution decoding for the first paint."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from engine.dicom.pixels import decode_pixels
from engine.display.decode import (
    block_mean_stored,
    codestream_facts,
    decode_level,
    reduction_level,
)
from engine.errors import DecodeError
from engine.phantom import generate_cohort


@pytest.fixture(scope="module")
def j2k_files(tmp_path_factory):
    cohort = generate_cohort(tmp_path_factory.mktemp("j2k"), 2, seed=12, cancer_rate=0.5,
                             size="small", prior_rate=0.0, jpeg2000=True)
    return cohort.files


def test_reduction_level_keeps_the_target_covered():
    assert reduction_level(4096, 3328, 540, 480) == 2  # 1024 x 832 still covers the cell
    assert reduction_level(4096, 3328, 4096, 3328) == 0
    assert reduction_level(2048, 1664, 100, 100) == 4


def test_codestream_facts_read_depth_and_levels(j2k_files):
    for path in j2k_files[:4]:
        ds = pydicom.dcmread(path)
        frame = next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))
        depth, signed, levels = codestream_facts(frame)
        assert depth == ds.BitsStored and not signed and levels >= 3
    assert codestream_facts(b"not a codestream") is None


def test_j2k_full_level_is_exact_and_reduced_levels_are_close(j2k_files):
    for path in j2k_files[:4]:
        ds = pydicom.dcmread(path)
        full = decode_pixels(ds)
        same, level = decode_level(ds, 0)
        assert level == 0 and np.array_equal(same, full)
        small, level = decode_level(ds, 2)
        assert level == 2
        assert small.shape == tuple(-(-n // 4) for n in full.shape)
        assert small.dtype == full.dtype and small.max() <= 2**ds.BitsStored - 1
        reference = block_mean_stored(full, 4).astype(float)
        diff = np.abs(small.astype(float) - reference)
        # The wavelet low band is a smoother average than a box: close, not equal.
        assert np.median(diff) < 0.01 * (full.max() - full.min())


def test_uncompressed_reduced_is_the_block_mean(small_cohort):
    ds = pydicom.dcmread(small_cohort.files[0])
    full = decode_pixels(ds)
    small, level = decode_level(ds, 1)
    assert level == 1 and np.array_equal(small, block_mean_stored(full, 2))


def test_block_mean_of_odd_sizes_keeps_the_edges():
    arr = np.arange(15, dtype=np.uint16).reshape(3, 5)
    out = block_mean_stored(arr, 2)
    assert out.shape == (2, 3) and out[0, 0] == 3 and out[1, 2] == 14


def test_corrupt_codestream_is_one_line(j2k_files, tmp_path):
    ds = pydicom.dcmread(j2k_files[0])
    frame = bytearray(next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1)))
    cut = bytes(frame[: len(frame) // 3])
    ds.PixelData = pydicom.encaps.encapsulate([cut])
    with pytest.raises(DecodeError) as err:
        decode_level(ds, 2)
    assert "\n" not in str(err.value)


def _raw(ds: pydicom.Dataset, tag: int, vr: str, value: bytes) -> pydicom.Dataset:
    """ds with one element as a damaged file brings it: raw bytes, converted when read."""
    ds[tag] = pydicom.dataelem.RawDataElement(pydicom.tag.Tag(tag), vr, len(value), value, 0,
                                              False, True)
    return ds


@pytest.mark.parametrize("level", [0, 2])
@pytest.mark.parametrize(
    ("tag", "vr", "value", "name"),
    [
        (0x00280008, "IS", b"abc ", "Number of Frames"),
        (0x00280002, "AE", b"\x01\x00", "Samples per Pixel"),
        (0x00280002, "XX", b"\x01\x00", "Samples per Pixel"),
    ],
)
def test_unusable_header_integers_are_one_line_for_the_viewer(j2k_files, level, tag, vr,
                                                              value, name):
    # JPEG 2000 takes the reduced path (level 2) as well as the full decode (level 0).
    ds = _raw(pydicom.dcmread(j2k_files[0]), tag, vr, value)
    with pytest.raises(DecodeError, match=f"{name} is invalid") as err:
        decode_level(ds, level)
    assert "\n" not in str(err.value)
