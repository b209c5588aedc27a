"""A STOW-RS request body, streamed from disk.

``MultipartBody`` is a read-only file-like object holding a
``multipart/related; type="application/dicom"`` body (PS3.18 section 8.6.1.2).
Its length is known up front from the file sizes, so requests sends a
Content-Length (nginx and Orthanc get a length, no chunked encoding), and
http.client / urllib3 pull it with ``read(blocksize)``: one file is open at a
time and at most one chunk of it is in memory, however large the batch.

An optional bandwidth cap (a token bucket) keeps a clinic's thin link usable
while a study goes up; the clock and sleep are injectable for tests.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from sync.errors import SyncError

__all__ = ["MultipartBody", "SourceChangedError"]

# RFC 2046 section 5.1.1: 1-70 characters from this set, not ending in a space.
_BOUNDARY_OK = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
_TOKEN = re.compile(r"[0-9A-Za-z!#$%&'*+\-.^_`|~]+")
_BURST_S = 0.25  # a stalled link may catch up with at most this much unused allowance


class SourceChangedError(SyncError):
    """A file went missing or changed size after the body was laid out.

    Raised from ``read`` so that it passes through requests unchanged (it is
    not an ``OSError``, which urllib3 would report as a broken connection).
    The caller should prepare the instance again; ``path`` says which file.
    """

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class MultipartBody:
    """The multipart/related body of one STOW-RS request, read from ``paths``."""

    def __init__(self, paths: Sequence[Path], *, boundary: str | None = None,
                 rate_limit: float | None = None,
                 on_progress: Callable[[int], None] | None = None,
                 chunk_size: int = 256 * 1024,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        if rate_limit is not None and not rate_limit > 0:
            raise ValueError("rate_limit must be a positive number of bytes per second")
        if boundary is None:
            # 160 random bits: cannot occur in the files by chance.
            boundary = "mammodesk-" + secrets.token_hex(20)
        elif not _BOUNDARY_OK.fullmatch(boundary):
            raise ValueError("a multipart boundary is 1-70 characters from RFC 2046's set")
        self.boundary = boundary
        param = boundary if _TOKEN.fullmatch(boundary) else f'"{boundary}"'
        self.content_type = f'multipart/related; type="application/dicom"; boundary={param}'

        self._paths = [Path(p) for p in paths]
        self._sizes = [os.stat(p).st_size for p in self._paths]
        self._rate = rate_limit
        self._on_progress = on_progress
        self._chunk = chunk_size
        self._clock = clock
        self._sleep = sleep

        self._length = sum(len(self._part_head(n)) + n + 2 for n in self._sizes)
        self._length += len(self._closing())

        self._segments: Generator[bytes, None, None] | None = None
        self._pending = b""  # the current segment, handed out from _offset on
        self._offset = 0
        self._file: BinaryIO | None = None
        self._sent = 0
        self._closed = False
        self._tokens = 0.0
        self._last: float | None = None

    # -- layout ----------------------------------------------------------

    def _part_head(self, size: int) -> bytes:
        return (f"--{self.boundary}\r\nContent-Type: application/dicom\r\n"
                f"Content-Length: {size}\r\n\r\n").encode("ascii")

    def _closing(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode("ascii")

    def __len__(self) -> int:
        return self._length

    @property
    def bytes_sent(self) -> int:
        """How many bytes ``read`` has handed out so far."""
        return self._sent

    def _changed(self, index: int, path: Path, what: str) -> SourceChangedError:
        return SourceChangedError(
            f"file {index + 1} of {len(self._paths)} in the upload {what} after the upload "
            "was prepared; it must be prepared again", path)

    def _file_chunks(self, index: int) -> Iterator[bytes]:
        path, size = self._paths[index], self._sizes[index]
        try:
            self._file = open(path, "rb")  # noqa: SIM115 - closed below or in close()
        except OSError:
            raise self._changed(index, path, "could not be opened") from None
        try:
            if os.fstat(self._file.fileno()).st_size != size:
                raise self._changed(index, path, "changed size")
            left = size
            while left > 0:
                try:
                    block = self._file.read(min(self._chunk, left))
                except OSError:
                    raise self._changed(index, path, "could not be read") from None
                if not block:
                    raise self._changed(index, path, "got shorter")
                left -= len(block)
                yield block
            if self._file.read(1):
                raise self._changed(index, path, "got longer")
        finally:
            self._file.close()
            self._file = None

    def _generate(self) -> Generator[bytes, None, None]:
        for index, size in enumerate(self._sizes):
            yield self._part_head(size)
            yield from self._file_chunks(index)
            yield b"\r\n"
        yield self._closing()

    # -- file-like interface ----------------------------------------------

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        """The next bytes of the body: at most ``size`` (one chunk when ``size`` < 0).

        Returns ``b""`` only at the end.  Sleeps as needed to honour the rate
        limit, then reports the running total to ``on_progress``.
        """
        if self._closed:
            raise ValueError("read from a closed MultipartBody")
        want = self._chunk if size is None or size < 0 else size
        if want == 0:
            return b""
        if self._rate is not None:
            # Keep each step short so progress and the cap stay smooth.
            want = min(want, max(1024, int(self._rate * _BURST_S / 2)))
        if self._segments is None:
            self._segments = self._generate()
        while self._offset >= len(self._pending):
            try:
                self._pending, self._offset = next(self._segments), 0
            except StopIteration:
                self._pending, self._offset = b"", 0
                return b""
        if self._offset == 0 and len(self._pending) <= want:
            out = self._pending
        else:
            out = self._pending[self._offset:self._offset + want]
        self._offset += len(out)
        self._throttle(len(out))
        self._sent += len(out)
        if self._on_progress is not None:
            self._on_progress(self._sent)
        return out

    def _throttle(self, nbytes: int) -> None:
        """Token bucket: refill at ``rate``, hold at most ``_BURST_S`` seconds of it."""
        if self._rate is None:
            return
        now = self._clock()
        if self._last is not None:
            capacity = self._rate * _BURST_S
            self._tokens = min(capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        self._tokens -= nbytes
        if self._tokens < 0:
            self._sleep(-self._tokens / self._rate)
            # The sleep paid the debt; the next refill counts from here.
            self._last = self._clock()
            self._tokens = 0.0

    def __iter__(self) -> Iterator[bytes]:
        while True:
            block = self.read(self._chunk)
            if not block:
                return
            yield block

    def close(self) -> None:
        """Close the open file, if any; further reads fail."""
        self._closed = True
        if self._segments is not None:
            self._segments.close()  # runs the generator's finally: closes the file
            self._segments = None
        if self._file is not None:
            self._file.close()
            self._file = None
        self._pending, self._offset = b"", 0

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> MultipartBody:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
