"""Studies to fit and validate the domain check with: phantom studies rendered
one at a time (written to a scratch folder, prepared, deleted), and inputs
outside the training made from them.

Kinds (``KINDS``): in-distribution phantoms at the default and the full
detector size; phantoms with a texture spectrum the training never saw;
heavy detector noise; another detector response curve (gamma, logarithm);
film-like grain; scratches; a bright frame; and non-breast images (pydicom's
bundled CT, MR and NM test images) dressed as MG For Presentation views.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pydicom
from scipy import ndimage

from engine.ai.preprocess import InputSpec, NotApplicable, Prepared, prepare
from engine.dicom.pixels import decode_pixels
from engine.errors import MammoDeskError
from engine.phantom.plan import plan_study
from engine.phantom.presets import SIZE_PRESETS
from engine.phantom.study import render_exam

KINDS = {
    "phantom": "in-distribution phantom, default size (0.1 mm)",
    "phantom_full": "in-distribution phantom, full size (0.07 mm)",
    "texture_flat": "phantom, tissue texture spectrum 1/f^1.5 (training 2.5-3.5)",
    "texture_smooth": "phantom, tissue texture spectrum 1/f^4.5 (training 2.5-3.5)",
    "noise": "phantom + heavy detector noise (sd 3% of full scale)",
    "gamma": "phantom, other detector response (gamma 0.5, re-windowed)",
    "log": "phantom, other detector response (logarithmic, re-windowed)",
    "grain": "phantom + film-like grain (blotchy multiplicative noise)",
    "scratches": "phantom + scanner scratches (bright and dark lines)",
    "border": "phantom + bright frame (film scanner border)",
    "radiograph": "non-breast image (pydicom CT, MR, NM, OT test images) dressed as MG",
}
RADIOGRAPH_SOURCES = (
    "693_J2KI.dcm",
    "CT_small.dcm",
    "J2K_pixelrep_mismatch.dcm",
    "JPEG2000.dcm",
    "JPGExtended.dcm",
    "MR_small.dcm",
    "examples_overlay.dcm",
    "image_dfl.dcm",
)


@dataclass(frozen=True)
class Job:
    kind: str
    seed: int
    index: int


@dataclass
class PreparedView:
    laterality: str
    position: str
    prepared: Prepared | None
    reason: str | None = None


@dataclass
class StudyInput:
    study: str
    kind: str
    views: list[PreparedView]


def _rewindow(ds: pydicom.Dataset, pixels: np.ndarray, region: np.ndarray) -> None:
    vals = pixels[::4, ::4][region[::4, ::4]]
    lo, hi = np.percentile(vals, [1.0, 99.8]) if vals.size else (0.0, 1.0)
    ds.WindowCenter = float(round((lo + hi) / 2.0))
    ds.WindowWidth = float(max(round((hi - lo) * 1.1), 16.0))


def _lines(shape: tuple[int, int], rng: np.random.Generator, maxv: float) -> np.ndarray:
    rows, cols = shape
    add = np.zeros(shape, dtype=np.float32)
    yy, xx = np.mgrid[0:rows, 0:cols]
    for _ in range(int(rng.integers(6, 12))):
        y0, x0 = rng.uniform(0, rows), rng.uniform(0, cols)
        angle = rng.uniform(0, np.pi)
        dist = np.abs((yy - y0) * np.cos(angle) - (xx - x0) * np.sin(angle))
        width = rng.uniform(1.0, 3.0)
        add += np.where(dist < width, rng.choice([-0.3, 0.3]) * maxv, 0.0).astype(np.float32)
    return add


def _source_image(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    from pydicom.data import get_testdata_file

    name = RADIOGRAPH_SOURCES[int(rng.integers(len(RADIOGRAPH_SOURCES)))]
    path = get_testdata_file(name)
    if not isinstance(path, str):
        raise MammoDeskError(f"pydicom's test file {name} is missing")
    src = pydicom.dcmread(path)
    img = np.asarray(src.pixel_array, dtype=np.float32)
    img = img[0] if img.ndim == 3 else img
    h, w = img.shape
    fy, fx = rng.uniform(0.6, 1.0, 2)
    y0, x0 = int(rng.uniform(0, h * (1 - fy))), int(rng.uniform(0, w * (1 - fx)))
    img = img[y0 : y0 + max(8, int(h * fy)), x0 : x0 + max(8, int(w * fx))]
    if rng.random() < 0.5:
        img = img[:, ::-1]
    img = ndimage.zoom(img, (shape[0] / img.shape[0], shape[1] / img.shape[1]), order=1)
    return img[: shape[0], : shape[1]]


def perturb(kind: str, ds: pydicom.Dataset, stored: np.ndarray, rng: np.random.Generator):
    """The stored pixels of ``kind`` made from a phantom view (``ds``'s window
    is updated where the kind changes the stored value range)."""
    maxv = float(2 ** int(ds.BitsStored) - 1)
    p = stored.astype(np.float32)
    region = p > 0.08 * maxv  # the breast of the phantom as rendered
    if kind == "noise":
        p += rng.standard_normal(p.shape, dtype=np.float32) * np.float32(0.03 * maxv)
    elif kind in ("gamma", "log"):
        x = p / maxv
        p = (np.sqrt(x) if kind == "gamma" else np.log1p(50 * x) / np.log1p(50.0)) * maxv
    elif kind == "grain":
        g = ndimage.gaussian_filter(rng.standard_normal(p.shape, dtype=np.float32), 1.5)
        p *= 1.0 + np.float32(0.12) * g / np.float32(g.std() + 1e-6)
    elif kind == "scratches":
        p += _lines(p.shape, rng, maxv)
    elif kind == "border":
        b = int(0.04 * min(p.shape))
        for sl in (
            (slice(0, b), slice(None)),
            (slice(-b, None), slice(None)),
            (slice(None), slice(0, b)),
            (slice(None), slice(-b, None)),
        ):
            p[sl] = maxv
    elif kind == "radiograph":
        img = _source_image(rng, p.shape)
        lo, hi = np.percentile(img, [0.5, 99.5])
        p = np.clip((img - lo) / max(hi - lo, 1e-6), 0.0, 1.0) * maxv
        region = np.ones(p.shape, dtype=bool)
    p = np.rint(np.clip(p, 0.0, maxv)).astype(np.uint16)
    if kind in ("gamma", "log", "radiograph"):
        _rewindow(ds, p, region)
    return p


def _render(job: Job, work: Path) -> tuple[str, list[Path]]:
    size = "full" if job.kind == "phantom_full" else "default"
    plan = plan_study(job.seed, job.index, 0.3, 0.0)
    if job.kind.startswith("texture_"):
        plan = replace(plan, beta=1.5 if job.kind == "texture_flat" else 4.5)
    study = f"MDP-{job.seed}-{job.index + 1:04d}-{job.kind}"
    keys = ["mammodesk-domain-check", str(job.seed), job.kind]
    files, _rows = render_exam(
        plan, plan.current, study, work, SIZE_PRESETS[size], "MONOCHROME2", False, keys, job.seed
    )
    return study, files


def study_input(job: Job, work: Path, spec: InputSpec) -> StudyInput:
    """Render the job's study in ``work``, make its kind, prepare its views, delete it."""
    work = Path(work) / f"{job.kind}-{job.seed}-{job.index}"
    shutil.rmtree(work, ignore_errors=True)
    rng = np.random.default_rng([job.seed, job.index, sorted(KINDS).index(job.kind)])
    try:
        study, files = _render(job, work)
        views = []
        for path in files:
            ds = pydicom.dcmread(path)
            stored = decode_pixels(ds)
            if job.kind not in ("phantom", "phantom_full") and not job.kind.startswith("texture"):
                stored = perturb(job.kind, ds, stored, rng)
            view = PreparedView(str(ds.ImageLaterality), str(ds.ViewPosition), None)
            try:
                view.prepared = prepare(ds, spec, stored)
            except (NotApplicable, MammoDeskError) as exc:
                view.reason = str(exc)
            views.append(view)
        return StudyInput(study, job.kind, views)
    finally:
        shutil.rmtree(work, ignore_errors=True)
