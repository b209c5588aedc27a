"""Reading a whole DICOM file (from disk or from bytes, e.g. a ZIP member) into a Dataset.

pydicom is lenient on purpose: a file cut short inside an element is returned with a short
value and no error.  A reading workstation must tell the user instead, so the checks here
turn those silent cases into DicomReadError with a plain reason.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zlib
from typing import BinaryIO

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from engine.dicom import limits
from engine.dicom.files import NotRegularFileError, not_regular_reason, open_regular
from engine.errors import DicomReadError

_UNDEFINED = 0xFFFFFFFF
_VRS = frozenset(
    b"AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV PN SH SL SQ SS ST SV TM UC UI UL UN "
    b"UR US UT UV OW".split()
)
# Groups a preamble-less data set can plausibly start with: file meta, identifying
# information, or (for stripped files) the patient / study groups.
_FIRST_GROUPS = frozenset({0x0002, 0x0008, 0x0010, 0x0018, 0x0020})


class NotDicomError(DicomReadError):
    """The file is not DICOM at all (an importer counts and skips these)."""


def _tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _looks_like_bare_dataset(data: bytes, size: int) -> bool:
    """True when bytes without the 128-byte preamble start like a DICOM data set.

    Old files and some test files are written without preamble and meta header; pydicom reads
    them only with force=True, which would also "read" any text or image file.
    """
    if len(data) < 8:
        return False
    for fmt in ("<HHI", ">HHI"):
        group, _element, length = struct.unpack(fmt, data[:8])
        if group not in _FIRST_GROUPS:
            continue
        if data[4:6] in _VRS:  # explicit VR
            return True
        if fmt == "<HHI" and length <= size - 8:  # implicit VR is always little endian
            return True
    return False


def looks_like_dicom(head: bytes, size: int) -> bool:
    """True when a file's first 132 bytes (of ``size`` in all) start like DICOM.

    Lets a reader skip a large non-DICOM file after reading its first bytes only.
    """
    return (len(head) >= 132 and head[128:132] == b"DICM") or _looks_like_bare_dataset(head,
                                                                                       size)


def too_large_reason(size: int) -> str | None:
    """Why a DICOM file of ``size`` bytes is not read whole, or None when it may be."""
    ceiling = limits.current()
    if size <= ceiling.file_bytes:
        return None
    return (f"file too large: {size / 1e6:.0f} MB exceeds the {ceiling.file_mb_text()} "
            "limit for one file (limits.file_mb)")


_DEFLATED = b"1.2.840.10008.1.2.1.99"  # Deflated Explicit VR Little Endian
_META_SEARCH = 1 << 16


def _deflate_problem(fh: BinaryIO, size: int) -> str | None:
    """Why a deflated data set may not be inflated, or None.

    pydicom inflates a deflated data set whole and unbounded (a 30 KB file can hold a 30 MB
    data set of zeros, or a gigabyte), so it is inflated here first, as a stream whose output
    is counted and dropped, under the same ceilings as a ZIP member.
    """
    fh.seek(132)
    meta = fh.read(_META_SEARCH)
    # (0002,0000) File Meta Information Group Length, explicit VR: tag, "UL", 2, value.
    if len(meta) >= 12 and meta[:6] == b"\x02\x00\x00\x00UL":
        length = 12 + struct.unpack_from("<I", meta, 8)[0]
        if _DEFLATED not in meta[:length]:
            return None
    elif _DEFLATED in meta:
        return "deflated data set cannot be checked: the file meta group length is missing"
    else:
        return None
    start = 132 + length
    ceiling = limits.current()
    packed = max(size - start, 1)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    fh.seek(start)
    while (chunk := fh.read(1 << 20)) and not inflater.eof:
        while chunk:
            try:
                total += len(inflater.decompress(chunk, 1 << 22))
            except zlib.error:
                return None  # damaged: pydicom's own read reports it
            chunk = inflater.unconsumed_tail
            if total > ceiling.file_bytes:
                return (f"deflated data set too large: over the {ceiling.file_mb_text()} "
                        "limit for one file (limits.file_mb)")
            if total > limits.RATIO_FLOOR_BYTES and total > ceiling.zip_ratio * packed:
                return (f"deflated data set expands {total / packed:.0f} times: over the "
                        f"{ceiling.zip_ratio:g}-times limit (limits.zip_ratio)")
    return None


def _infer_transfer_syntax(ds: pydicom.Dataset) -> None:
    # Files without meta header carry no Transfer Syntax UID; pixel decoding needs one, and the
    # encoding pydicom detected while reading is exactly that information.
    meta = ds.file_meta
    if meta.get("TransferSyntaxUID"):
        return
    implicit, little = ds.original_encoding
    if implicit is None:
        return
    if implicit:
        uid = ImplicitVRLittleEndian
    else:
        uid = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    meta.TransferSyntaxUID = UID(uid)


def _check_complete(ds: pydicom.Dataset, size: int) -> None:
    """Raise when the file ended inside the last element (pydicom returns a short value)."""
    raws = [e for e in ds._dict.values() if isinstance(e, RawDataElement)]
    if not raws:
        return
    last = max(raws, key=lambda e: e.value_tell)
    got = len(last.value) if last.value is not None else 0
    if last.length != _UNDEFINED and got < last.length:
        raise DicomReadError(f"truncated: file ends inside element {_tag(last.tag)}")
    if last.length != _UNDEFINED:
        left = size - (last.value_tell + last.length)
        if 0 < left < 8:
            raise DicomReadError(f"truncated: file ends inside the element after {_tag(last.tag)}")


def read_dataset(source: str | os.PathLike | bytes) -> pydicom.Dataset:
    """Read a whole DICOM file or its bytes.

    Raises NotDicomError when the data is not DICOM, DicomReadError when it is DICOM but
    truncated or corrupt.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        ds = _read(io.BytesIO(source), len(source))
        # Read whole (nothing deferred): the data set need not keep the bytes it
        # came from, which would double its memory and what a copy to a worker costs.
        ds.buffer = None
        return ds
    # Read from the open file rather than slurping it: the importer's speed is measured
    # against plain dcmread, and a mammogram is tens of megabytes.  Only a regular file is
    # opened at all: a FIFO would block, a device would never end.
    try:
        mode = os.stat(source).st_mode
        if stat.S_ISDIR(mode):
            raise NotDicomError("not a DICOM file: it is a folder")
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(not_regular_reason(mode))
        fh, size = open_regular(source)
        with fh:
            return _read(fh, size)
    except OSError as exc:
        raise DicomReadError(f"cannot read file: {exc.strerror or 'I/O error'}") from exc


def _read(fh: BinaryIO, size: int) -> pydicom.Dataset:
    if size == 0:
        raise NotDicomError("not a DICOM file: the file is empty")
    head = fh.read(132)
    fh.seek(0)
    has_preamble = len(head) >= 132 and head[128:132] == b"DICM"
    if not has_preamble and not _looks_like_bare_dataset(head, size):
        raise NotDicomError("not a DICOM file: no DICOM header found")
    too_large = too_large_reason(size)
    if too_large:
        raise DicomReadError(too_large)
    if has_preamble:  # only a file meta header can declare the deflated syntax
        problem = _deflate_problem(fh, size)
        fh.seek(0)
        if problem:
            raise DicomReadError(problem)
    # pydicom reports a missing sequence delimiter only as a warning; record it.  (This swaps
    # the process-wide warning filters for the duration of the read, which is harmless here.)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(fh, force=not has_preamble)
        except (EOFError, IndexError, struct.error) as exc:
            raise DicomReadError("truncated: file ends inside the header") from exc
        except InvalidDicomError as exc:
            raise NotDicomError("not a DICOM file: the header is not valid DICOM") from exc
        except Exception as exc:  # pydicom raises many types for damaged data
            raise DicomReadError(f"damaged DICOM file: {type(exc).__name__}") from exc
    for warning in caught:
        if "End of file reached before delimiter" in str(warning.message):
            raise DicomReadError("truncated: file ends inside an undefined-length element")
    if len(ds) == 0 and not ds.file_meta:
        raise NotDicomError("not a DICOM file: no data elements could be read")
    if len(ds) == 0:
        raise DicomReadError("damaged DICOM file: no data elements after the file meta header")
    _check_complete(ds, size)
    _infer_transfer_syntax(ds)
    return ds
