"""Decoding stored pixel values (no Modality or VOI LUT applied) with clear failure reasons.

pydicom picks a decoding plugin per transfer syntax; MammoDesk ships the pylibjpeg family.
Failures become DecodeError naming the transfer syntax and, when nothing can decode it, the
package that would.
"""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
from pydicom import uid as uids
from pydicom.encaps import generate_frames
from pydicom.pixels import get_decoder
from pydicom.pixels.decoders.base import Decoder
from pydicom.uid import UID

from engine.dicom.image_size import declared_size_problem
from engine.dicom.integrity import (
    image_description_problem,
    pixel_data_problem,
    transfer_syntax,
)
from engine.dicom.rle_segments import rle_stride_problem
from engine.dicom.values import header_int
from engine.errors import DecodeError

# Which installable package decodes each compressed family (for the "needs ..." hint).
_PLUGIN_HINT: dict[str, str] = {
    uids.JPEGBaseline8Bit: "pylibjpeg-libjpeg",
    uids.JPEGExtended12Bit: "pylibjpeg-libjpeg",
    uids.JPEGLossless: "pylibjpeg-libjpeg",
    uids.JPEGLosslessSV1: "pylibjpeg-libjpeg",
    uids.JPEGLSLossless: "pylibjpeg-libjpeg",
    uids.JPEGLSNearLossless: "pylibjpeg-libjpeg",
    uids.JPEG2000Lossless: "pylibjpeg-openjpeg",
    uids.JPEG2000: "pylibjpeg-openjpeg",
    uids.HTJ2KLossless: "pylibjpeg-openjpeg",
    uids.HTJ2KLosslessRPCL: "pylibjpeg-openjpeg",
    uids.HTJ2K: "pylibjpeg-openjpeg",
    uids.RLELossless: "pylibjpeg-rle or numpy",
}
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def _shown(ts: UID) -> str:
    # A damaged meta header can put anything where the UID belongs (other elements' bytes
    # among it): only a well-formed UID is repeated to the user.
    return str(ts) if ts.is_valid else "an unreadable UID"


def _name(ts: UID) -> str:
    return ts.name if ts.is_transfer_syntax else f"unknown transfer syntax {_shown(ts)}"


def _label(ts: UID) -> str:
    if ts.is_transfer_syntax:
        return f"{ts.name} ({ts})"
    return f"{ts} (not a known transfer syntax)" if ts.is_valid else _shown(ts)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    # pydicom wraps plugin errors in a generic preamble; the plugin's own words are the reason.
    text = text.replace("Unable to decode as exceptions were raised by all available plugins: ", "")
    return text[:200] + ("..." if len(text) > 200 else "")


def _is_decoder_panic(exc: BaseException) -> bool:
    """A panic in a Rust decoder (pylibjpeg-rle), which PyO3 raises as PanicException.

    PanicException derives from BaseException so that ``except Exception`` lets it through;
    it is not importable by name (its module, pyo3_runtime, exists only inside each extension).
    """
    if isinstance(exc, Exception | KeyboardInterrupt | SystemExit | GeneratorExit):
        return False
    return any(cls.__name__ == "PanicException" for cls in type(exc).__mro__)


def supported_transfer_syntaxes() -> dict[str, str]:
    """UID -> name of every transfer syntax this installation can decode pixel data for."""
    out: dict[str, str] = {}
    for ts in uids.AllTransferSyntaxes:
        try:
            decoder = get_decoder(ts)
        except NotImplementedError:
            continue
        if decoder.is_available:
            out[str(ts)] = UID(ts).name
    return out


def _decoder_for(ts: UID) -> Decoder:
    try:
        decoder = get_decoder(ts)
    except NotImplementedError as exc:
        raise DecodeError(
            f"unsupported transfer syntax: {_label(ts)}; MammoDesk has no decoder for it"
        ) from exc
    if not decoder.is_available:
        hint = _PLUGIN_HINT.get(ts, "a pydicom decoding plugin")
        raise DecodeError(f"cannot decode {_name(ts)}: it needs {hint}, which is not installed")
    return decoder


def _rle_overrun_problem(ds: pydicom.Dataset, frames: int, wanted: int | None) -> str | None:
    """A segment pylibjpeg-rle would write past the frame with (engine.dicom.rle_segments)."""
    pixels = (header_int(ds, "Rows", 0) or 0) * (header_int(ds, "Columns", 0) or 0)
    bits = header_int(ds, "BitsAllocated", 0) or 0
    encapsulated = ds.get("PixelData")
    if bits <= 8 or not isinstance(encapsulated, bytes | bytearray):
        return None  # one byte a sample cannot overrun; empty or absent: the decoder names it
    try:
        # pydicom reads bytearray too (its documentation says so; its annotation omits it).
        frames_of = generate_frames(encapsulated, number_of_frames=frames)  # type: ignore[arg-type]
        for number, data in enumerate(frames_of):
            if wanted is not None and number != wanted:
                continue
            problem = rle_stride_problem(data, pixels, bits)
            if problem:
                return f"frame {number + 1}, {problem}" if frames > 1 else problem
    except ValueError:
        return None  # the items do not split into frames: the decoder names it
    return None


def decode_pixels(ds: pydicom.Dataset, frame: int | None = None) -> np.ndarray:
    """Stored pixel values of one frame (0-based) or of all frames when frame is None.

    Shape: (rows, cols[, samples]) for one frame, (frames, rows, cols[, samples]) for several.
    Colour data in YBR is converted to RGB; no LUT is applied.
    """
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        raise DecodeError("no pixel data in this file")
    ts = transfer_syntax(ds)
    if ts is None:
        raise DecodeError("cannot decode pixel data: the transfer syntax is unknown")
    decoder = _decoder_for(ts)
    # Sizes first: a decoder allocates what the header and codestream claim (Float Pixel
    # Data has no codestream, so the header check runs for it on its own).
    problem = (image_description_problem(ds) or declared_size_problem(ds)
               or pixel_data_problem(ds))
    if problem:
        raise DecodeError(problem)
    frames = header_int(ds, "NumberOfFrames", 1) or 1
    if frame is not None and not 0 <= frame < max(frames, 1):
        raise DecodeError(f"frame {frame + 1} does not exist: the image has {frames} frame(s)")
    if ts == uids.RLELossless:
        problem = _rle_overrun_problem(ds, frames, frame)
        if problem:
            raise DecodeError(f"corrupt {_name(ts)} codestream: {problem}")
    try:
        with warnings.catch_warnings():
            # Decoders warn about recoverable oddities; the array is still the stored data.
            warnings.simplefilter("ignore")
            array, _ = decoder.as_array(ds, index=frame)
    except DecodeError:
        raise
    except MemoryError as exc:
        raise DecodeError(f"not enough memory to decode this {_name(ts)} image") from exc
    except BaseException as exc:  # decoders raise ValueError, RuntimeError and more on bad data
        if not isinstance(exc, Exception):
            if not _is_decoder_panic(exc):
                raise
            # The panic's own words (an index out of bounds) mean nothing to a user.
            raise DecodeError(f"corrupt {_name(ts)} codestream: the decoder failed on data "
                              "that does not fit the image size") from exc
        if ts.is_encapsulated:
            reason = f"corrupt {_name(ts)} codestream: {_one_line(exc)}"
        else:
            reason = f"cannot decode {_name(ts)} pixel data: {_one_line(exc)}"
        raise DecodeError(reason) from exc
    if not array.dtype.isnative:
        # Big endian files decode to big-endian arrays; display and AI code expect native order.
        array = array.astype(array.dtype.newbyteorder("="))
    return array
