"""The STOW-RS body: exact multipart framing, streamed from disk with a known
length, a bandwidth cap that holds, and a clear stop when a file changes."""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
import re
import time
import tracemalloc
from pathlib import Path

import pytest
import requests

from sync.dicomweb import stow
from sync.multipart import MultipartBody, SourceChangedError
from tests.support.fake_dicomweb import FakeDicomWeb

MB = 1024 * 1024


def read_all(body: MultipartBody, size: int = 16 * 1024) -> bytes:
    out = bytearray()
    while block := body.read(size):
        out += block
    return bytes(out)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def contents() -> list[bytes]:
    # Binary data, CRLFs and dashes that look like framing, and an empty file.
    return [os.urandom(70_000) + b"\r\n--\r\n\r\n--", b"", b"DICM\r\n" * 1000]


@pytest.fixture
def paths(tmp_path: Path, contents: list[bytes]) -> list[Path]:
    out = []
    for i, data in enumerate(contents):
        path = tmp_path / f"part{i}.dcm"
        path.write_bytes(data)
        out.append(path)
    return out


@pytest.fixture
def server():
    fake = FakeDicomWeb()
    yield fake
    fake.close()


def test_body_parses_back_into_the_files(paths, contents):
    with MultipartBody(paths, chunk_size=4096) as body:
        data = read_all(body, 1000)
        assert len(data) == len(body)
        ctype = body.content_type
    message = email.message_from_bytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + data,
                                       policy=email.policy.HTTP)
    assert message.get_content_type() == "multipart/related"
    assert message.get_param("type") == "application/dicom"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["application/dicom"] * 3
    assert [p.get_payload(decode=True) for p in parts] == contents
    assert [int(p["Content-Length"]) for p in parts] == [len(c) for c in contents]


def test_exact_framing(paths, contents):
    with MultipartBody(paths, boundary="b0undary") as body:
        data = read_all(body)
    expected = b"".join(b"--b0undary\r\nContent-Type: application/dicom\r\nContent-Length: "
                        + str(len(c)).encode() + b"\r\n\r\n" + c + b"\r\n" for c in contents)
    assert data == expected + b"--b0undary--\r\n"


def test_boundary_is_random_and_long(paths, contents):
    first, second = MultipartBody(paths), MultipartBody(paths)
    found = re.fullmatch(r'multipart/related; type="application/dicom"; boundary=(\S+)',
                         first.content_type)
    assert found and found.group(1) == first.boundary
    assert len(re.sub(r"[^0-9a-f]", "", first.boundary)) >= 32
    assert first.boundary != second.boundary
    assert all(first.boundary.encode() not in c for c in contents)


def test_reads_are_bounded_by_chunk_size(paths):
    with MultipartBody(paths, chunk_size=8192) as body:
        sizes = []
        while block := body.read(-1):
            sizes.append(len(block))
        assert max(sizes) <= 8192
        assert sum(sizes) == len(body)
        assert body.read(100) == b""  # stays at the end


def test_post_sends_content_length_and_reads_in_chunks(server, tmp_path, monkeypatch):
    path = tmp_path / "one.dcm"
    path.write_bytes(os.urandom(3 * MB))
    calls: list[tuple[int, int]] = []
    original = MultipartBody.read

    def spy(self, size=-1):
        block = original(self, size)
        calls.append((size, len(block)))
        return block

    monkeypatch.setattr(MultipartBody, "read", spy)
    with requests.Session() as session:
        stow(session, server.url, "2.25.7", [(path, "2.25.7.1")])
    seen = server.seen[0]
    assert "transfer-encoding" not in seen.headers
    assert int(seen.headers["content-length"]) == seen.length > 3 * MB
    assert len(calls) > 20  # pulled piece by piece, not in one go
    assert max(got for _, got in calls) <= 256 * 1024
    assert all(size > 0 for size, _ in calls)  # http client asks for blocks, never "all"


@pytest.mark.slow
def test_memory_stays_bounded_for_a_large_batch(tmp_path):
    server = FakeDicomWeb(keep_bodies=False)
    try:
        files = []
        for i in range(10):
            path = tmp_path / f"big{i}.dcm"
            path.write_bytes(os.urandom(5 * MB))
            files.append((path, f"2.25.9.{i}"))
        with MultipartBody([p for p, _ in files], boundary="fixedboundary") as body:
            expected = hashlib.sha256()
            while block := body.read(MB):
                expected.update(block)
            total = len(body)
        with requests.Session() as session:
            tracemalloc.start()
            try:
                tracemalloc.reset_peak()
                # The same body, sent as stow sends it (boundary fixed for the hash).
                with MultipartBody([p for p, _ in files], boundary="fixedboundary") as body:
                    resp = session.post(server.url + "/studies/2.25.9", data=body,
                                        headers={"Content-Type": body.content_type})
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        assert resp.status_code == 200
        seen = server.seen[0]
        assert seen.length == total > 50 * MB
        assert seen.sha256 == expected.hexdigest()
        assert peak < 4 * MB, f"peak {peak / MB:.1f} MB while sending {total / MB:.0f} MB"
    finally:
        server.close()


def test_rate_limit_with_fake_clock(tmp_path):
    path = tmp_path / "two.dcm"
    path.write_bytes(b"\x02" * (2 * MB))
    clock = FakeClock()
    progress: list[tuple[float, int]] = []
    with MultipartBody([path], rate_limit=4 * MB, clock=clock, sleep=clock.sleep,
                       on_progress=lambda n: progress.append((clock.now, n))) as body:
        start = clock.now
        read_all(body)
        elapsed = clock.now - start
    assert 0.45 <= elapsed <= 0.55
    assert max(clock.sleeps) < 0.2  # smooth, not one long stall
    # Half way through the bytes is about half way through the time.
    half = next(t for t, n in progress if n >= len(body) // 2)
    assert 0.2 <= half - start <= 0.3


def test_rate_limit_allows_only_a_short_burst_after_a_stall(tmp_path):
    path = tmp_path / "two.dcm"
    path.write_bytes(b"\x02" * (2 * MB))
    clock = FakeClock()
    with MultipartBody([path], rate_limit=4 * MB, clock=clock, sleep=clock.sleep) as body:
        body.read(16 * 1024)
        clock.now += 60  # the link stalled for a minute
        start = clock.now
        read_all(body)
        elapsed = clock.now - start
    # At most a quarter second of saved allowance: still >= 0.5 s - 0.25 s.
    assert elapsed >= 0.24


def test_rate_limit_real_time(server, tmp_path):
    path = tmp_path / "two.dcm"
    path.write_bytes(os.urandom(2 * MB))
    with requests.Session() as session:
        start = time.monotonic()
        stow(session, server.url, "2.25.8", [(path, "2.25.8.1")], rate_limit=4 * MB)
        elapsed = time.monotonic() - start
    assert server.seen[0].length > 2 * MB
    assert 0.45 <= elapsed < 3.0


@pytest.mark.parametrize("change", ["grow", "shrink", "delete"])
def test_file_changed_after_layout(paths, change):
    body = MultipartBody(paths)
    target = paths[2]
    if change == "grow":
        target.write_bytes(target.read_bytes() + b"x")
    elif change == "shrink":
        target.write_bytes(target.read_bytes()[:-1])
    else:
        target.unlink()
    with pytest.raises(SourceChangedError, match="file 3 of 3") as caught:
        read_all(body)
    assert caught.value.path == target
    assert not isinstance(caught.value, OSError)  # must not look like a network failure
    body.close()


def test_file_changed_while_being_read(tmp_path):
    path = tmp_path / "grows.dcm"
    path.write_bytes(b"\x03" * 100_000)
    with MultipartBody([path], chunk_size=16 * 1024) as body:
        while body.bytes_sent < 20_000:  # past the part header: the file is open now
            body.read(20_000)
        with open(path, "ab") as f:
            f.write(b"late")
        with pytest.raises(SourceChangedError, match="longer"):
            read_all(body)


def test_close_releases_the_open_file(paths):
    body = MultipartBody(paths, chunk_size=1024)
    while body.bytes_sent < 5000:
        body.read(5000)
    handle = body._file
    assert handle is not None and not handle.closed
    body.close()
    assert handle.closed
    with pytest.raises(ValueError):
        body.read(10)


def test_rejects_bad_settings(paths):
    with pytest.raises(ValueError):
        MultipartBody(paths, boundary="x" * 71)
    with pytest.raises(ValueError):
        MultipartBody(paths, rate_limit=0)
    with pytest.raises(FileNotFoundError):
        MultipartBody([paths[0].with_name("missing.dcm")])
