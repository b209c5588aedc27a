"""From a mammogram as stored to the model's input, and back.

Steps: refuse what the model must not judge (with a reason), decode, apply
Modality and VOI LUTs, invert MONOCHROME1, turn every view so the chest wall
is on the left (canonical side), segment the breast, crop to it, resample to
a fixed physical pixel size, place it on a fixed canvas anchored at the chest
wall, and scale to 0..1 with the background at 0.

`Geometry` records the mapping so heatmaps and marks can be drawn back onto
the stored pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from scipy import ndimage

from engine.dicom.grey_luts import grey_pipeline_problem, lut_descriptor
from engine.dicom.header import instance_header
from engine.dicom.pixels import decode_pixels
from engine.dicom.values import header_int, header_value
from engine.errors import DecodeError

MG_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1.2": "Digital Mammography X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.2.1": "Digital Mammography X-Ray Image Storage - For Processing",
}
FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"


@dataclass(frozen=True)
class InputSpec:
    """The model's input: canvas size in pixels and physical pixel size."""

    height: int = 1024
    width: int = 512
    mm_per_pixel: float = 0.2

    def as_dict(self) -> dict[str, object]:
        return {"height": self.height, "width": self.width, "mm_per_pixel": self.mm_per_pixel}


@dataclass(frozen=True)
class Geometry:
    """Model pixel (u, v) -> stored pixel (x, y) of the file as written.

    canonical x = x0 + (u - pad_u) * scale, y = y0 + (v - pad_v) * scale;
    stored x = columns - canonical x when flipped.  Corners, not centres.
    """

    rows: int
    columns: int
    flipped: bool
    scale: float  # stored pixels per model pixel
    x0: float
    y0: float
    pad_u: float
    pad_v: float

    def to_stored(self, u: np.ndarray | float, v: np.ndarray | float) -> tuple:
        x = self.x0 + (np.asarray(u, dtype=np.float64) - self.pad_u) * self.scale
        y = self.y0 + (np.asarray(v, dtype=np.float64) - self.pad_v) * self.scale
        if self.flipped:
            x = self.columns - x
        return x, y

    def to_model(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple:
        """Stored pixel (x, y) -> model pixel (u, v); the inverse of to_stored."""
        x = np.asarray(x, dtype=np.float64)
        if self.flipped:
            x = self.columns - x
        u = (x - self.x0) / self.scale + self.pad_u
        v = (np.asarray(y, dtype=np.float64) - self.y0) / self.scale + self.pad_v
        return u, v


@dataclass
class Prepared:
    image: np.ndarray  # float32 (height, width), 0..1, background 0
    geometry: Geometry
    breast_fraction: float  # of the canvas covered by breast


class NotApplicable(Exception):
    """The model must not judge this image; str(exc) is the reason."""


def applicability(ds: pydicom.Dataset) -> str | None:
    """Why this instance cannot be scored, or None when it can."""
    h = instance_header(ds)
    if h.modality != "MG":
        return f"not a mammogram (modality {h.modality or 'missing'})"
    if h.sop_class_uid not in MG_SOP_CLASSES:
        return "not a digital mammography image"
    if h.sop_class_uid != FOR_PRESENTATION or (h.presentation_intent or "").upper() not in (
        "",
        "FOR PRESENTATION",
    ):
        return "For Processing image (the model reads For Presentation images only)"
    if h.implant_present:
        return "breast implant present"
    if h.view.laterality not in ("R", "L"):
        return "laterality unknown"
    if h.view.view not in ("CC", "MLO"):
        return f"view {h.view.view or 'unknown'} (the model reads CC and MLO)"
    if h.view.modifiers:
        return f"{' '.join(h.view.modifiers)} view (the model reads standard views only)"
    if h.number_of_frames > 1:
        return "multi-frame image (tomosynthesis is not supported)"
    if not h.rows or not h.columns or h.rows < 512 or h.columns < 384:
        return f"image too small ({h.columns}x{h.rows})"
    spacing = pixel_spacing(ds)
    if spacing is None:
        return "pixel spacing missing"
    if not 0.025 <= spacing <= 0.2:
        return f"unsupported pixel spacing {spacing:g} mm"
    lut = grey_pipeline_problem(ds)
    if lut:
        return f"unusable rescale or VOI attributes ({lut})"
    return None


def pixel_spacing(ds: pydicom.Dataset) -> float | None:
    for kw in ("ImagerPixelSpacing", "PixelSpacing"):
        value = header_value(ds, kw)
        try:
            if value is not None and len(value) == 2 and float(value[0]) > 0:
                return float(value[0])
        except (TypeError, ValueError):
            continue
    return None


def display_values(ds: pydicom.Dataset, stored: np.ndarray) -> np.ndarray:
    """Modality LUT, VOI LUT (first window/LUT in the file), MONOCHROME1
    inversion; returns float32 0..1 where brighter means denser.

    For integer pixels with a VOI in the file every step is a function of
    the stored value alone, so it is computed once per possible value and
    applied as one table lookup (the same numbers, several times faster).

    DecodeError when the file's rescale or VOI attributes cannot be applied."""
    try:
        return _display_values(ds, stored)
    except DecodeError:
        raise
    except Exception as exc:  # pydicom's LUT code raises many types on attributes it trusts
        raise DecodeError("unusable rescale or VOI attributes") from exc


def _display_values(ds: pydicom.Dataset, stored: np.ndarray) -> np.ndarray:
    if (
        stored.dtype.kind in "iu"
        and stored.dtype.itemsize <= 2
        and ("VOILUTSequence" in ds or "WindowCenter" in ds)
    ):
        info = np.iinfo(stored.dtype)
        lut = _display_direct(ds, np.arange(info.min, info.max + 1, dtype=stored.dtype))
        if info.min < 0:
            return lut[stored.astype(np.int32) - info.min]
        return lut[stored]
    return _display_direct(ds, stored)


def _display_direct(ds: pydicom.Dataset, stored: np.ndarray) -> np.ndarray:
    arr = apply_modality_lut(stored, ds)
    if arr.dtype.kind == "f" and np.all(arr == np.rint(arr)):
        arr = arr.astype(np.int32)  # identity rescale: keep integers for the LUT
    if "VOILUTSequence" in ds or "WindowCenter" in ds:
        out = apply_voi_lut(arr, ds, index=0, prefer_lut=True).astype(np.float32)
        lo, hi = _voi_range(ds, out)
    else:
        out = arr.astype(np.float32)
        lo, hi = float(np.percentile(out, 0.5)), float(np.percentile(out, 99.5))
    out = np.clip((out - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    if str(header_value(ds, "PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        out = 1.0 - out
    return out.astype(np.float32)


def _voi_range(ds: pydicom.Dataset, out: np.ndarray) -> tuple[float, float]:
    seq = header_value(ds, "VOILUTSequence")
    if seq and "LUTDescriptor" in seq[0]:
        descriptor = lut_descriptor(seq[0])
        if descriptor is None:
            raise DecodeError("unusable rescale or VOI attributes (VOI LUT Descriptor)")
        return 0.0, float(2 ** descriptor[2] - 1)
    bits = header_int(ds, "BitsStored", 16) or 16
    # Windowing maps to the output range of the stored bit depth (pydicom's
    # convention); a negative range means signed output.
    if header_int(ds, "PixelRepresentation", 0) == 1:
        return float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    return 0.0, float(2**bits - 1)


def canonical_flip(ds: pydicom.Dataset, img: np.ndarray, laterality: str) -> bool:
    """True when the image must be mirrored to put the chest wall on the left."""
    po = header_value(ds, "PatientOrientation")
    try:
        row_dir = str(po[0]).upper() if po is not None and len(po) == 2 else ""
    except TypeError:
        row_dir = ""
    if row_dir.startswith("A"):
        return False  # columns run towards the nipple: chest wall on the left
    if row_dir.startswith("P"):
        return True
    # No usable orientation: the chest wall is the side with more tissue.
    cols = img.shape[1]
    band = max(1, cols // 10)
    return float(img[:, -band:].mean()) > float(img[:, :band].mean())


def breast_mask(img: np.ndarray) -> np.ndarray:
    """The breast as the largest bright connected region, holes filled."""
    keep = breast_mask_coarse(img)
    full = np.repeat(np.repeat(keep, MASK_STEP, axis=0), MASK_STEP, axis=1)
    return full[: img.shape[0], : img.shape[1]]


MASK_STEP = 4  # the mask is found on every 4th pixel and holds for 4x4 blocks


def breast_mask_coarse(img: np.ndarray) -> np.ndarray:
    """breast_mask on a grid of MASK_STEP x MASK_STEP blocks."""
    return breast_mask_of(img[::MASK_STEP, ::MASK_STEP])


def breast_mask_of(small: np.ndarray) -> np.ndarray:
    """The breast mask of an image as given (values 0..1, bright tissue)."""
    hist, edges = np.histogram(small, bins=128, range=(0.0, 1.0))
    # Otsu separates fat from gland here, not breast from air: go a tenth of
    # the way from the background level towards it.
    bg = float(np.percentile(small, 1))
    thr = bg + max(0.005, 0.1 * (_otsu(hist, edges) - bg))
    # Where the air is not clipped to black (no VOI in the file), stay above
    # its noise: the darkest tenth of the image is air in any mammogram.
    air = small[small <= np.percentile(small, 10)]
    if air.size:
        med = float(np.median(air))
        mad = float(np.median(np.abs(air - med)))
        thr = max(thr, med + 6.0 * 1.4826 * mad + 0.005)
    mask = ndimage.binary_opening(small > thr, iterations=2)
    labels, n = ndimage.label(mask)
    if n == 0:
        return np.zeros(small.shape, dtype=bool)
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
    return fill_holes(labels == (int(np.argmax(sizes)) + 1))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """scipy's binary_fill_holes, by labelling the background once instead of
    growing it from the border step by step (same result, a few times faster)."""
    background, count = ndimage.label(~mask)
    outer = np.zeros(count + 1, dtype=bool)  # background parts that reach the border
    for edge in (background[0], background[-1], background[:, 0], background[:, -1]):
        outer[edge] = True
    outer[0] = False  # label 0 is the mask itself
    return ~outer[background]


def _otsu(hist: np.ndarray, edges: np.ndarray) -> float:
    p = hist.astype(np.float64) / max(hist.sum(), 1)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    m0 = np.cumsum(p * centres)
    mt = m0[-1]
    w1 = 1.0 - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 - m0) ** 2 / (w0 * w1)
    between = np.nan_to_num(between)
    return float(centres[int(np.argmax(between))])


def block_mean(img: np.ndarray, k: int) -> np.ndarray:
    """Mean of k x k blocks (trailing rows/columns that do not fill a block dropped)."""
    h, w = (img.shape[0] // k) * k, (img.shape[1] // k) * k
    acc = np.zeros((h // k, w // k), dtype=np.float32)
    for dy in range(k):
        for dx in range(k):
            acc += img[dy:h:k, dx:w:k]
    acc *= np.float32(1.0 / (k * k))
    return acc


def resample(img: np.ndarray, factor: float) -> np.ndarray:
    """Downsample by `factor` (>= 1) with area averaging."""
    k = int(np.floor(factor + 1e-6))
    if k >= 2:
        img = block_mean(img, k)
        factor /= k
    if abs(factor - 1.0) > 1e-3:
        img = ndimage.zoom(img, 1.0 / factor, order=1, prefilter=False)
    return img.astype(np.float32, copy=False)


def prepare(ds: pydicom.Dataset, spec: InputSpec, stored: np.ndarray | None = None) -> Prepared:
    """The model's input for one view; NotApplicable or DecodeError when it has none."""
    reason = applicability(ds)
    if reason:
        raise NotApplicable(reason)
    if stored is None:
        stored = decode_pixels(ds)
    if stored.ndim != 2:
        raise DecodeError("expected a single-frame greyscale image")
    try:
        img = display_values(ds, stored)
    except DecodeError as exc:
        raise NotApplicable(str(exc)) from exc
    lat = instance_header(ds).view.laterality or "L"
    flipped = canonical_flip(ds, img, lat)
    if flipped:
        img = img[:, ::-1]
    coarse = breast_mask_coarse(img)
    if coarse.mean() < 0.02:
        raise NotApplicable("no breast found in the image")
    step = MASK_STEP
    ys, xs = np.nonzero(coarse)
    y0, y1 = int(ys.min()) * step, min(img.shape[0], int(ys.max()) * step + step)
    x0, x1 = 0, min(img.shape[1], int(xs.max()) * step + step)  # keep the chest wall edge

    spacing = pixel_spacing(ds) or spec.mm_per_pixel
    factor = spec.mm_per_pixel / spacing  # stored px per model px at the nominal size
    factor = max(factor, (y1 - y0) / spec.height, (x1 - x0) / spec.width, 1.0)
    k = int(np.floor(factor + 1e-6))
    if k >= 2 and step % k == 0:
        # Blocks of k lie inside the mask's blocks (y0, x0 are multiples of
        # the step): average first, then mask; the same as masking first.
        small = block_mean(img[y0:y1, x0:x1], k)
        m = coarse[y0 // step :, x0 // step :]
        m = np.repeat(np.repeat(m, step // k, axis=0), step // k, axis=1)
        small *= m[: small.shape[0], : small.shape[1]]
        if abs(factor / k - 1.0) > 1e-3:
            small = resample(small, factor / k)
    else:
        full = np.repeat(np.repeat(coarse, step, axis=0), step, axis=1)
        crop = np.where(full[: img.shape[0], : img.shape[1]], img, 0.0)[y0:y1, x0:x1]
        small = resample(crop, factor)
    crop_rows = y1 - y0
    scale_y = crop_rows / small.shape[0]
    small = small[: spec.height, : spec.width]
    canvas = np.zeros((spec.height, spec.width), dtype=np.float32)
    pad_v = (spec.height - small.shape[0]) // 2
    canvas[pad_v : pad_v + small.shape[0], : small.shape[1]] = small
    geom = Geometry(
        rows=int(img.shape[0]),
        columns=int(img.shape[1]),
        flipped=flipped,
        scale=float(scale_y),
        x0=float(x0),
        y0=float(y0),
        pad_u=0.0,
        pad_v=float(pad_v),
    )
    frac = float((canvas > 0).mean())
    return Prepared(canvas, geom, frac)
