"""Replays what the fuzzer found (tests/fuzz/crashers/) and a few fixed mutants of real files.

Each file goes through the fuzz worker (a child process: read, header, integrity check,
decode, first paint, AI preprocessing, de-identification) and must come out "ok" or as a
one-line rejection, within 10 s and under the memory ceiling.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.fuzz.campaign import CORPUS
from tests.fuzz.layout import parse
from tests.fuzz.runner import Runner
from tests.fuzz.seeds import SYNTHETIC_IDENTITY, build_seeds

CRASHERS = sorted(CORPUS.glob("*.dcm"))


@pytest.fixture(scope="module")
def runner():
    with Runner() as r:
        yield r


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return {s.name: s.data for s in build_seeds(tmp_path_factory.mktemp("seeds"))}


def _set(data: bytes, tag: int, value: bytes) -> bytes:
    """data with one element's value replaced (same length) by value."""
    el = parse(data).find(tag)
    assert el is not None and len(value) == el.length
    return data[: el.value_offset] + value + data[el.value_offset + el.length:]


def _siz(data: bytes, width: int, height: int) -> bytes:
    """A JPEG 2000 file whose codestream header claims another size than Rows x Columns."""
    frag = parse(data).fragments()[1]
    siz = data.find(b"\xff\x4f\xff\x51", frag.value_offset) + 2
    return data[: siz + 6] + struct.pack(">II", width, height) + data[siz + 14:]


# Mutants a user could meet: a size the pixel data cannot hold, a codestream that contradicts
# its header, a file cut short, a transfer syntax nobody decodes, an impossible bit depth.
FIXED = {
    "native, Rows 65535": lambda s: _set(s["explicit-le"], 0x00280010, b"\xff\xff"),
    "JPEG 2000, SIZ 65535 x 65535": lambda s: _siz(s["j2k-small"], 0xFFFF, 0xFFFF),
    "RLE, Columns 2": lambda s: _set(s["rle"], 0x00280011, b"\x02\x00"),
    "implicit VR, cut inside the pixel data": lambda s: s["implicit-le"][:-1000],
    "big endian, 64 bits allocated": lambda s: _set(s["big-endian"], 0x00280100, b"\x00\x40"),
    "JPEG-LS, unknown transfer syntax": lambda s: s["jpeg-ls"].replace(
        b"1.2.840.10008.1.2.4.80", b"1.2.840.10008.9.9.9.9", 1),
}


def _assert_contained(runner: Runner, data: bytes, what: str) -> None:
    verdict = runner.check(data)
    assert not verdict.findings, f"{what}: " + "; ".join(f.line() for f in verdict.findings)
    assert verdict.seconds < 10


@pytest.mark.parametrize("name", sorted(FIXED))
def test_fixed_mutants_meet_only_one_line_rejections(runner, seeds, name) -> None:
    _assert_contained(runner, FIXED[name](seeds), name)


@pytest.mark.parametrize("path", CRASHERS, ids=[p.name for p in CRASHERS])
def test_crashers_meet_only_one_line_rejections(runner, path: Path) -> None:
    _assert_contained(runner, path.read_bytes(), path.name)


def test_crashers_name_only_synthetic_people() -> None:
    """Kept files may only carry the phantom's synthetic names and IDs."""
    for path in CRASHERS:
        layout = parse(path.read_bytes())
        for el in layout.elements:
            if el.tag in (0x00100010, 0x00100020) and 0 < el.length < 0xFFFF:
                value = layout.data[el.value_offset : el.value_offset + el.length].strip(b" \0")
                assert not value or SYNTHETIC_IDENTITY.fullmatch(value), path.name
