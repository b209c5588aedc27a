"""Pixel decoding across transfer syntaxes, and clear errors for what cannot be decoded."""

from __future__ import annotations

import copy
import warnings
from collections import defaultdict

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.encaps import encapsulate, generate_fragments
from pydicom.tag import Tag
from pydicom.uid import UID

import engine.dicom.pixels as pixels_module
from engine.dicom import (
    DecodeError,
    DicomReadError,
    decode_pixels,
    pixel_data_problem,
    read_dataset,
    supported_transfer_syntaxes,
)
from tests.support.dicom_factory import bundled, bundled_files, mg_dataset, to_bytes

# One bundled file per transfer syntax that pydicom ships (HTJ2K has none in 3.0.2).
BY_SYNTAX = {
    "1.2.840.10008.1.2": "MR_small_implicit.dcm",
    "1.2.840.10008.1.2.1": "MR_small.dcm",
    "1.2.840.10008.1.2.2": "MR_small_bigendian.dcm",
    "1.2.840.10008.1.2.1.99": "image_dfl.dcm",
    "1.2.840.10008.1.2.5": "MR_small_RLE.dcm",
    "1.2.840.10008.1.2.4.50": "SC_rgb_jpeg_dcmtk.dcm",
    "1.2.840.10008.1.2.4.51": "JPGExtended.dcm",
    "1.2.840.10008.1.2.4.70": "SC_rgb_jpeg_gdcm.dcm",
    "1.2.840.10008.1.2.4.80": "MR_small_jpeg_ls_lossless.dcm",
    "1.2.840.10008.1.2.4.81": "JPEGLSNearLossless_16.dcm",
    "1.2.840.10008.1.2.4.90": "MR_small_jp2klossless.dcm",
    "1.2.840.10008.1.2.4.91": "693_J2KI.dcm",
}
# Bundled files whose codestream is known to be broken (see pydicom's test_files/README.txt).
KNOWN_BAD = {"JPEG-lossy.dcm", "JPEG2000-embedded-sequence-delimiter.dcm"}


def expected_shape(ds: pydicom.Dataset) -> tuple[int, ...]:
    frames = int(ds.get("NumberOfFrames") or 1)
    shape: tuple[int, ...] = (ds.Rows, ds.Columns)
    if ds.SamplesPerPixel > 1:
        shape += (ds.SamplesPerPixel,)
    return (frames, *shape) if frames > 1 else shape


@pytest.mark.parametrize(("uid", "name"), sorted(BY_SYNTAX.items()))
def test_decode_each_bundled_transfer_syntax(uid: str, name: str) -> None:
    ds = read_dataset(bundled(name))
    assert ds.file_meta.TransferSyntaxUID == uid
    assert uid in supported_transfer_syntaxes()
    array = decode_pixels(ds)
    assert array.shape == expected_shape(ds)
    assert array.dtype.isnative
    assert array.std() > 0  # an image, not a blank buffer


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_jp2klossless.dcm",
    ],
)
def test_lossless_syntaxes_give_the_same_stored_values(name: str) -> None:
    reference = decode_pixels(read_dataset(bundled("MR_small.dcm")))
    np.testing.assert_array_equal(decode_pixels(read_dataset(bundled(name))), reference)


def test_every_syntax_present_in_bundled_files_decodes() -> None:
    # Discovers syntaxes dynamically, so an HTJ2K file in a newer pydicom is covered too.
    files: dict[str, list[str]] = defaultdict(list)
    for path in bundled_files():
        try:
            ds = read_dataset(path)
        except DicomReadError:
            continue
        if "PixelData" in ds and path.rsplit("/", 1)[-1] not in KNOWN_BAD:
            files[str(ds.file_meta.TransferSyntaxUID)].append(path)
    supported = supported_transfer_syntaxes()
    assert set(BY_SYNTAX) <= set(files)
    for uid, paths in files.items():
        assert uid in supported, UID(uid).name
        decoded = 0
        for path in paths:
            ds = read_dataset(path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    assert decode_pixels(ds).shape == expected_shape(ds), path
                    decoded += 1
                except DecodeError:
                    pass
        assert decoded >= 1, UID(uid).name


@pytest.mark.parametrize("name", sorted(KNOWN_BAD))
def test_known_broken_codestreams_raise_decode_error(name: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_pixels(read_dataset(bundled(name)))
    message = str(info.value)
    assert "\n" not in message and "codestream" in message


def test_single_frame_of_multiframe() -> None:
    ds = read_dataset(bundled("SC_rgb_rle_2frame.dcm"))
    both = decode_pixels(ds)
    assert both.shape == (2, 100, 100, 3)
    np.testing.assert_array_equal(decode_pixels(ds, frame=1), both[1])
    with pytest.raises(DecodeError, match="frame 3 does not exist"):
        decode_pixels(ds, frame=2)


def test_synthetic_mammogram_round_trip() -> None:
    ds = mg_dataset(rows=32, cols=24)
    array = decode_pixels(ds)
    assert array.shape == (32, 24)
    assert array.dtype == np.uint16
    assert int(array[1, 0]) == 24


def _with_fragment(name: str, change) -> pydicom.Dataset:  # type: ignore[no-untyped-def]
    ds = read_dataset(bundled(name))
    # The first item is the Basic Offset Table; the rest make up the single frame.
    fragment = bytearray(b"".join(list(generate_fragments(ds.PixelData))[1:]))
    ds = copy.deepcopy(ds)
    ds.PixelData = encapsulate([bytes(change(fragment))])
    return ds


def test_truncated_jpeg2000_fragment() -> None:
    ds = _with_fragment("MR_small_jp2klossless.dcm", lambda f: f[: len(f) // 2])
    assert "truncated" in (pixel_data_problem(ds) or "")
    with pytest.raises(DecodeError, match="truncated"):
        decode_pixels(ds)


def test_truncated_jpeg_baseline_fragment() -> None:
    ds = _with_fragment("SC_rgb_jpeg_dcmtk.dcm", lambda f: f[: len(f) - 300])
    with pytest.raises(DecodeError, match="truncated"):
        decode_pixels(ds)


def test_corrupt_jpeg2000_header_names_the_syntax() -> None:
    def smash(fragment: bytearray) -> bytearray:
        fragment[24:40] = b"\x13" * 16  # the SIZ tile grid, past the image size
        return fragment

    ds = _with_fragment("MR_small_jp2klossless.dcm", smash)
    assert pixel_data_problem(ds) is None  # the cheap check cannot see this one
    with pytest.raises(DecodeError) as info:
        decode_pixels(ds)
    assert str(info.value).startswith("corrupt JPEG 2000 Image Compression (Lossless Only)")


def test_smashed_jpeg2000_image_size_is_refused_before_decoding() -> None:
    def smash(fragment: bytearray) -> bytearray:
        fragment[4:40] = b"\x13" * 36  # the SIZ image size and offsets
        return fragment

    ds = _with_fragment("MR_small_jp2klossless.dcm", smash)
    expected = "codestream says 0 x 0 but the header says 64 x 64"
    assert pixel_data_problem(ds) == expected
    with pytest.raises(DecodeError, match=expected):
        decode_pixels(ds)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", ["MR_small_jp2klossless.dcm", "693_J2KI.dcm", "JPEG2000.dcm"])
def test_flipped_bytes_in_jpeg2000_never_crash_or_hang(name: str) -> None:
    def flip(fragment: bytearray) -> bytearray:
        middle = len(fragment) // 2
        for i in range(middle, middle + 64):
            fragment[i] ^= 0xFF
        return fragment

    ds = _with_fragment(name, flip)
    # Damage inside entropy-coded data may decode to a wrong picture (JPEG 2000 has no
    # checksum); what must hold is a clean DecodeError or an array of the right shape.
    try:
        assert decode_pixels(ds).shape == expected_shape(ds)
    except DecodeError as exc:
        assert "\n" not in str(exc)


def test_damaged_rle_header() -> None:
    ds = _with_fragment("MR_small_RLE.dcm", lambda f: b"\xff\xff\xff\xff" + f[4:])
    assert pixel_data_problem(ds) == "RLE frame 1 is damaged: segment table does not fit"
    with pytest.raises(DecodeError, match="RLE"):
        decode_pixels(ds)


def test_missing_codestream_start() -> None:
    ds = _with_fragment("SC_rgb_jpeg_dcmtk.dcm", lambda f: bytes(4) + f[4:])
    assert "no codestream start marker" in (pixel_data_problem(ds) or "")


def test_no_pixel_data() -> None:
    with pytest.raises(DecodeError, match="no pixel data"):
        decode_pixels(read_dataset(bundled("rtplan.dcm")))
    with pytest.raises(DecodeError, match="no pixel data"):
        decode_pixels(mg_dataset(with_pixels=False))


def test_truncated_native_pixels() -> None:
    ds = mg_dataset()
    ds.PixelData = ds.PixelData[:100]
    with pytest.raises(DecodeError, match="pixel data truncated: 100 of 1536 bytes"):
        decode_pixels(ds)


@pytest.mark.parametrize(
    ("uid", "name"),
    [
        ("1.2.840.10008.1.2.4.92", "JPEG 2000 Part 2 Multi-component Image Compression"),
        ("1.2.840.10008.1.2.4.100", "MPEG2 Main Profile / Main Level"),
        ("1.2.3.4.5.6", "1.2.3.4.5.6"),
    ],
)
def test_unsupported_syntax_is_named(uid: str, name: str) -> None:
    ds = mg_dataset()
    ds.file_meta.TransferSyntaxUID = uid
    ds.PixelData = encapsulate([b"\x00" * 16])
    with pytest.raises(DecodeError) as info:
        decode_pixels(ds)
    assert name in str(info.value)
    assert "unsupported transfer syntax" in str(info.value)
    assert uid not in supported_transfer_syntaxes()


def test_missing_plugin_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    class Unavailable:
        is_available = False

    monkeypatch.setattr(pixels_module, "get_decoder", lambda uid: Unavailable())
    ds = read_dataset(bundled("MR_small_jp2klossless.dcm"))
    with pytest.raises(DecodeError) as info:
        decode_pixels(ds)
    message = str(info.value)
    assert "JPEG 2000 Image Compression (Lossless Only)" in message
    assert "pylibjpeg-openjpeg" in message


def test_supported_syntaxes_cover_the_mammography_essentials() -> None:
    supported = supported_transfer_syntaxes()
    for uid in (
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.80",
        "1.2.840.10008.1.2.5",
    ):
        assert uid in supported
    assert supported["1.2.840.10008.1.2.4.90"] == "JPEG 2000 Image Compression (Lossless Only)"


# -- headers and pixel data a damaged or fuzzed file may carry ---------------------------


def _raw(ds: pydicom.Dataset, tag: int, vr: str, value: bytes) -> pydicom.Dataset:
    """ds with one element as a file would bring it: raw bytes, converted when first read."""
    ds[tag] = RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)
    return ds


def _rle_mammogram(columns: int) -> pydicom.Dataset:
    """A 64 x 52 RLE image whose Columns then says `columns` (the rest untouched)."""
    ds = mg_dataset(rows=64, cols=52)
    ds.compress(pydicom.uid.RLELossless, encoding_plugin="pydicom")
    ds = read_dataset(to_bytes(ds))
    ds.Columns = columns
    return ds


def test_rle_segments_longer_than_the_image_are_refused_before_decoding() -> None:
    ds = _rle_mammogram(columns=2)
    problem = pixel_data_problem(ds)
    assert problem is not None
    assert problem.startswith("RLE frame 1 does not match the image size")
    with pytest.raises(DecodeError, match="does not match the image size"):
        decode_pixels(ds)


@pytest.mark.parametrize("columns", [30, 51, 53])
def test_rle_columns_that_disagree_with_the_data_give_one_line(
    columns: int, capfd: pytest.CaptureFixture[str]
) -> None:
    # Too few columns for the data would make the Rust RLE decoder panic, and Rust prints a
    # panic on stderr before Python can catch it; too many makes it complain.  Both are one
    # line, and nothing reaches the terminal.
    ds = _rle_mammogram(columns)
    assert pixel_data_problem(ds) is None  # the cheap check cannot see a small mismatch
    with pytest.raises(DecodeError, match="corrupt RLE Lossless codestream") as caught:
        decode_pixels(ds)
    assert "\n" not in str(caught.value)
    assert capfd.readouterr().err == ""


def test_rle_intact_still_decodes() -> None:
    ds = _rle_mammogram(columns=52)
    assert pixel_data_problem(ds) is None
    assert (decode_pixels(ds) == decode_pixels(mg_dataset(rows=64, cols=52))).all()


def test_pixel_data_of_a_text_vr_cannot_be_read() -> None:
    # UC is a text VR: the bytes arrive as several values split at the backslashes.
    ds = _raw(mg_dataset(), 0x7FE00010, "UC", b"ab\\cd\\ef\\gh ")
    assert pixel_data_problem(ds) == "pixel data cannot be read"
    with pytest.raises(DecodeError, match="pixel data cannot be read"):
        decode_pixels(ds)


def test_a_uid_that_is_no_transfer_syntax_is_named_not_a_crash() -> None:
    ds = mg_dataset()
    ds.file_meta.TransferSyntaxUID = "not a uid"
    assert pixel_data_problem(ds) == "pixel data cannot be checked: unknown transfer syntax"
    with pytest.raises(DecodeError, match="unsupported transfer syntax"):
        decode_pixels(ds)


@pytest.mark.parametrize(
    ("tag", "vr", "value", "name"),
    [
        (0x00280011, "FD", b"4\x00", "Columns"),  # 2 bytes for an 8-byte VR
        (0x00280002, "UV", b"\x01\x00", "Samples per Pixel"),
        (0x00280002, "XX", b"\x01\x00", "Samples per Pixel"),  # a VR pydicom does not know
        (0x00280002, "AE", b"\x01\x00", "Samples per Pixel"),  # text that is no number
        (0x00280008, "IS", b"abc ", "Number of Frames"),
        (0x00280010, "US", b"\x40\x00\x41\x00", "Rows"),  # two values
    ],
)
def test_header_integers_of_a_wrong_vr_are_named(tag: int, vr: str, value: bytes,
                                                 name: str) -> None:
    ds = _raw(mg_dataset(), tag, vr, value)
    assert pixel_data_problem(ds) == f"pixel data cannot be checked: {name} is invalid"
    with pytest.raises(DecodeError, match=f"{name} is invalid"):
        decode_pixels(ds)


@pytest.mark.parametrize(
    "uid",
    [
        ["1.2.840.10008.1.2.5", "1.2.826.0.1.3680043.8.498.1"],  # two values
        "1.2.840.10008.1.2.5\x00\x02\x00UI1.2.826.0.1.3680043.8.498.1 SH MAMMODESK",  # overrun
    ],
)
def test_a_garbled_transfer_syntax_is_not_repeated_to_the_user(uid: object) -> None:
    ds = mg_dataset()
    ds.file_meta.TransferSyntaxUID = uid
    assert pixel_data_problem(ds) == "pixel data cannot be checked: unknown transfer syntax"
    with pytest.raises(DecodeError) as caught:
        decode_pixels(ds)
    assert str(caught.value) == \
        "unsupported transfer syntax: an unreadable UID; MammoDesk has no decoder for it"
