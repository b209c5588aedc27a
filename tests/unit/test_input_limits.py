"""Image sizes are checked before anything is allocated (synthetic people only).

A small file claiming a huge image must be refused with one line by every decode path (the
import check, decode_pixels, the reduced JPEG 2000 display decode), and the codestream inside
must agree with the header.  Real sizes (3328 x 4096, about 100 megapixels) still pass.
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from pydicom.uid import (
    JPEG2000,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
)

from engine.dicom import (
    DecodeError,
    DicomReadError,
    decode_pixels,
    limits,
    pixel_data_problem,
    read_dataset,
)
from engine.display.decode import decode_level
from tests.support.codestreams import encapsulated_image, j2k_claiming
from tests.support.dicom_factory import mg_dataset, to_bytes

TOO_LARGE = "image too large: 65535 x 65535 exceeds the 120-megapixel limit " \
            "(limits.frame_megapixels)"


@pytest.fixture(autouse=True)
def default_limits():
    limits.configure(limits.Limits())
    yield
    limits.configure()


def _refused_everywhere(ds, expected: str) -> None:
    assert pixel_data_problem(ds) == expected
    with pytest.raises(DecodeError) as caught:
        decode_pixels(ds)
    assert str(caught.value) == expected
    with pytest.raises(DecodeError) as caught:
        decode_level(ds, 2)  # the reduced display decode through Pillow
    assert str(caught.value) == expected


def test_a_4kb_jpeg2000_claiming_65535_squared_is_refused_everywhere():
    data = to_bytes(encapsulated_image([j2k_claiming(65535, 65535)], JPEG2000Lossless,
                                       65535, 65535))
    assert len(data) < 8192
    _refused_everywhere(read_dataset(data), TOO_LARGE)


def test_a_20000_squared_claim_is_refused():
    ds = encapsulated_image([j2k_claiming(20000, 20000)], JPEG2000, 20000, 20000)
    expected = "image too large: 20000 x 20000 exceeds the 120-megapixel limit " \
               "(limits.frame_megapixels)"
    _refused_everywhere(ds, expected)


def test_jpeg2000_siz_disagreeing_with_the_header_is_refused():
    ds = encapsulated_image([j2k_claiming(65535, 65535)], JPEG2000Lossless, 512, 512)
    _refused_everywhere(ds, "codestream says 65535 x 65535 but the header says 512 x 512")


def test_jpeg2000_inside_a_jp2_wrapper_is_checked():
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((40, 48), 90, np.uint8)).save(buf, "JPEG2000", no_jp2=False)
    jp2 = buf.getvalue()
    assert jp2[4:8] == b"jP  "  # the JP2 signature box, not a bare codestream
    ds = encapsulated_image([jp2], JPEG2000Lossless, 400, 480, bits=8, stored=8)
    assert pixel_data_problem(ds) == "codestream says 40 x 48 but the header says 400 x 480"
    assert pixel_data_problem(encapsulated_image([jp2], JPEG2000Lossless, 40, 48, bits=8,
                                            stored=8)) is None


def test_jpeg2000_components_must_match_samples_per_pixel():
    ds = encapsulated_image([j2k_claiming(components=3)], JPEG2000Lossless, 64, 64)
    assert pixel_data_problem(ds) == \
        "codestream says 3 samples per pixel but the header says 1"


def _jpeg(rows: int, cols: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((rows, cols), 77, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def test_jpeg_sof_disagreeing_with_the_header_is_refused():
    ds = encapsulated_image([_jpeg(16, 24)], JPEGBaseline8Bit, 512, 768, bits=8, stored=8)
    assert pixel_data_problem(ds) == "codestream says 16 x 24 but the header says 512 x 768"
    with pytest.raises(DecodeError, match="codestream says 16 x 24"):
        decode_pixels(ds)
    ok = encapsulated_image([_jpeg(16, 24)], JPEGBaseline8Bit, 16, 24, bits=8, stored=8)
    assert pixel_data_problem(ok) is None
    assert decode_pixels(ok).shape == (16, 24)


def _jpeg_ls(rows: int, cols: int) -> bytes:
    import jpeg_ls

    stream = bytearray(jpeg_ls.encode_array(np.full((16, 16), 300, np.uint16)))
    start = stream.find(b"\xff\xf7")
    assert start > 0
    struct.pack_into(">HH", stream, start + 5, rows, cols)  # SOF55: Lf P Y X
    return bytes(stream)


def test_jpeg_ls_header_claiming_a_huge_image_is_refused():
    ds = encapsulated_image([_jpeg_ls(65535, 65535)], JPEGLSLossless, 16, 16)
    assert pixel_data_problem(ds) == "codestream says 65535 x 65535 but the header says 16 x 16"
    with pytest.raises(DecodeError, match="codestream says 65535 x 65535"):
        decode_pixels(ds)
    assert pixel_data_problem(encapsulated_image([_jpeg_ls(16, 16)], JPEGLSLossless, 16, 16)) \
        is None


def test_rle_segment_count_must_match_samples_and_bytes():
    header = struct.pack("<16I", 15, *[64 + i for i in range(15)]) + bytes(100)
    ds = encapsulated_image([header], RLELossless, 16, 16)
    assert pixel_data_problem(ds) == \
        "RLE frame 1 has 15 segments but 16-bit greyscale needs 2"


def test_native_pixel_data_over_the_ceiling_is_refused():
    limits.configure(frame_megapixels=0.001)  # 1000 pixels
    ds = read_dataset(to_bytes(mg_dataset(rows=64, cols=64)))
    expected = "image too large: 64 x 64 exceeds the 0.001-megapixel limit " \
               "(limits.frame_megapixels)"
    assert pixel_data_problem(ds) == expected
    with pytest.raises(DecodeError, match="image too large"):
        decode_pixels(ds)


def test_native_header_claiming_more_than_the_data_holds_is_refused_before_decoding():
    ds = mg_dataset(rows=64, cols=64)
    ds.Rows, ds.Columns = 65535, 65535
    assert pixel_data_problem(read_dataset(to_bytes(ds))) == TOO_LARGE


def test_a_whole_multiframe_image_has_a_total_ceiling():
    limits.configure(frame_megapixels=0.005)  # 64 x 64 frames fit; 10 of them do not
    frame = j2k_claiming()
    ds = encapsulated_image([frame] * 10, JPEG2000Lossless, 64, 64)
    problem = pixel_data_problem(ds)
    assert problem is not None and problem.startswith("image too large: 10 frames of 64 x 64")
    assert pixel_data_problem(encapsulated_image([frame] * 2, JPEG2000Lossless, 64, 64)) is None


def test_a_later_frame_claiming_more_is_refused():
    ds = encapsulated_image([j2k_claiming(), j2k_claiming(65535, 65535)], JPEG2000Lossless, 64, 64)
    assert pixel_data_problem(ds) == \
        "codestream says 65535 x 65535 but the header says 64 x 64 (frame 2)"


@pytest.mark.parametrize(("rows", "cols"), [(4096, 3328), (10000, 10000)])
def test_real_sizes_are_admitted(rows, cols):
    """A full-field mammogram and a ~100 MP frame pass the header checks."""
    ds = encapsulated_image([j2k_claiming(rows, cols)], JPEG2000Lossless, rows, cols)
    assert pixel_data_problem(ds) is None


def test_a_real_small_jpeg2000_still_decodes_both_ways():
    ds = encapsulated_image([j2k_claiming()], JPEG2000Lossless, 64, 64)
    assert decode_pixels(ds).shape == (64, 64)
    reduced, level = decode_level(ds, 1)
    assert level == 1 and reduced.shape == (32, 32)


def test_limits_come_from_the_settings_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMMODESK_HOME", str(tmp_path))
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.json").write_text(json.dumps(
        {"limits.frame_megapixels": "0.5", "limits.file_mb": "7",
         "limits.zip_ratio": "not a number"}))
    limits.configure()
    got = limits.current()
    assert (got.frame_megapixels, got.file_mb, got.zip_ratio) == (0.5, 7.0, 100.0)
    assert limits.current() is got  # read once per process


def test_an_unreadable_settings_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMMODESK_HOME", str(tmp_path))
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.json").write_text("{not json")
    limits.configure()
    assert limits.current() == limits.Limits()


def test_defaults_admit_the_largest_real_frames():
    assert limits.Limits().frame_pixels >= 100_000_000


def test_explicit_vr_native_within_limits_is_untouched():
    ds = mg_dataset(rows=64, cols=48)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    assert pixel_data_problem(read_dataset(to_bytes(ds))) is None


def _deflated(rows: int, cols: int) -> bytes:
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = mg_dataset(rows=rows, cols=cols)
    ds.PixelData = bytes(rows * cols * 2)  # zeros: deflate shrinks them a thousandfold
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    return to_bytes(ds)


def test_a_deflated_data_set_that_expands_a_thousandfold_is_refused():
    data = _deflated(4096, 4096)
    assert len(data) < 200_000
    with pytest.raises(DicomReadError, match=r"deflated data set expands \d+ times: over "
                                             r"the 100-times limit \(limits.zip_ratio\)"):
        read_dataset(data)


def test_a_small_deflated_data_set_still_reads():
    assert read_dataset(_deflated(64, 64)).Rows == 64
