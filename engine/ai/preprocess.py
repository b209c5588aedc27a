"""From a mammogram as stored to the model's input, and back.

Steps: refuse what the model must not judge (with a reason), decode at the
coarsest power-of-two reduction whose pixels are still no larger than the
model's (JPEG 2000 straight from its resolution levels, anything else
decoded in full and averaged in blocks of stored values), apply Modality
and VOI LUTs, invert MONOCHROME1 (the greyscale pipeline of
engine.imaging.greyscale), turn every view so the chest wall is on the left
(canonical side), segment the breast (engine.imaging.breast_mask), crop to
it, resample to a fixed physical pixel size, place it on a fixed canvas
anchored at the chest wall, and scale to 0..1 with the background at 0.

`Geometry` records the mapping so heatmaps and marks can be drawn back onto
the stored pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.uid import (
    DigitalMammographyXRayImageStorageForPresentation,
    DigitalMammographyXRayImageStorageForProcessing,
)
from scipy import ndimage

from engine.dicom.grey_luts import grey_pipeline_problem
from engine.dicom.header import instance_header
from engine.dicom.values import header_value
from engine.display.decode import decode_level
from engine.errors import DecodeError
from engine.imaging.breast_mask import MASK_STEP, breast_mask_coarse
from engine.imaging.chest_wall_side import tissue_side
from engine.imaging.greyscale import grey_image

FOR_PRESENTATION = DigitalMammographyXRayImageStorageForPresentation
MG_SOP_CLASSES = {  # SOP Class UID -> its name
    uid: uid.name
    for uid in (FOR_PRESENTATION, DigitalMammographyXRayImageStorageForProcessing)
}


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
    # engine.ai.domain's acquisition statistics of `image`, when measured
    # where the image was prepared (side by side with the other views)
    stats: dict[str, float] | None = None


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
    inversion; returns float32 0..1 where brighter means denser (the model's
    greyscale pipeline, engine.imaging.greyscale.grey_image without a window).

    DecodeError when the file's rescale or VOI attributes cannot be applied."""
    try:
        return grey_image(ds, stored)
    except DecodeError:
        raise
    except Exception as exc:  # pydicom's LUT code raises many types on attributes it trusts
        raise DecodeError("unusable rescale or VOI attributes") from exc


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
    return tissue_side(img) == "right"


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


def model_level(spacing_mm: float, spec: InputSpec) -> int:
    """The coarsest reduction by 2**level whose pixels are no larger than the
    model's: 0.07 mm -> 1 (0.14 mm) for a 0.2 mm model, 0.1 mm -> 1, 0.05 mm -> 2."""
    level = 0
    while spacing_mm * 2 ** (level + 1) <= spec.mm_per_pixel * (1 + 1e-6):
        level += 1
    return level


def decode_for_model(ds: pydicom.Dataset, spec: InputSpec) -> tuple[np.ndarray, int]:
    """Stored values reduced as far as the model allows, and the level given."""
    spacing = pixel_spacing(ds) or spec.mm_per_pixel
    return decode_level(ds, model_level(spacing, spec))


def prepare(ds: pydicom.Dataset, spec: InputSpec, stored: np.ndarray | None = None,
            level: int = 0) -> Prepared:
    """The model's input for one view; NotApplicable or DecodeError when it has none.

    `stored`: the stored values when the caller has them, reduced by
    2**`level` on each side (the default: decoded here, see decode_for_model)."""
    reason = applicability(ds)
    if reason:
        raise NotApplicable(reason)
    if stored is None:
        stored, level = decode_for_model(ds, spec)
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

    spacing = (pixel_spacing(ds) or spec.mm_per_pixel) * 2**level
    factor = spec.mm_per_pixel / spacing  # image px per model px at the nominal size
    factor = max(factor, (y1 - y0) / spec.height, (x1 - x0) / spec.width, 1.0)
    small = _crop_and_resample(img, coarse, (y0, y1, x0, x1), factor)
    scale_y = (y1 - y0) / small.shape[0]
    small = small[: spec.height, : spec.width]
    canvas = np.zeros((spec.height, spec.width), dtype=np.float32)
    pad_v = (spec.height - small.shape[0]) // 2
    canvas[pad_v : pad_v + small.shape[0], : small.shape[1]] = small
    geom = _stored_geometry(ds, img.shape, level, flipped, scale_y, (x0, y0), pad_v)
    frac = float((canvas > 0).mean())
    return Prepared(canvas, geom, frac)


def _crop_and_resample(img: np.ndarray, coarse: np.ndarray, box: tuple[int, int, int, int],
                       factor: float) -> np.ndarray:
    """The breast (outside it 0) inside `box`, reduced by `factor` by area averaging."""
    y0, y1, x0, x1 = box
    step = MASK_STEP
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
        return small
    # The mask's blocks over the box only (y0 and x0 are multiples of the step).
    m = coarse[y0 // step : -(-y1 // step), x0 // step : -(-x1 // step)]
    m = np.repeat(np.repeat(m, step, axis=0), step, axis=1)[: y1 - y0, : x1 - x0]
    crop = np.where(m, img[y0:y1, x0:x1], 0.0)
    return resample(crop, factor)


def _stored_geometry(ds: pydicom.Dataset, shape: tuple[int, ...], level: int, flipped: bool,
                     scale: float, origin: tuple[int, int], pad_v: int) -> Geometry:
    """The model -> stored pixel mapping of an image prepared from a reduction
    by 2**level (pixel i of the reduction covers stored pixels [i, i + 1) * 2**level;
    its last row and column may cover fewer)."""
    k = 2**level
    rows = header_value(ds, "Rows") if level else None
    columns = header_value(ds, "Columns") if level else None
    rows = int(rows) if rows else shape[0] * k
    columns = int(columns) if columns else shape[1] * k
    x0 = origin[0] * k
    if flipped:  # mirrored about the reduction's width, which may pass the last column
        x0 -= shape[1] * k - columns
    return Geometry(rows=rows, columns=columns, flipped=flipped, scale=float(scale * k),
                    x0=float(x0), y0=float(origin[1] * k), pad_u=0.0, pad_v=float(pad_v))
