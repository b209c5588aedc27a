"""Render one four-view exam: as datasets in memory, or written with its label rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from pydicom import Dataset
from pydicom.uid import generate_uid

from engine.phantom.dicom_writer import StudyInfo, build_dataset, write_dataset
from engine.phantom.geometry import ViewGeometry, build_view
from engine.phantom.lesions import Lesion
from engine.phantom.plan import VIEWS, ExamPlan, StudyPlan
from engine.phantom.presets import SizePreset
from engine.phantom.render import RenderedView, render_view
from engine.phantom.texture import power_law_field, white_spectrum

_BASE_DATE = date(2021, 1, 4)
# A prior shares the woman's texture: 0.95 of the same noise plus a little new.
_PRIOR_KEEP = np.float32(0.95)
_PRIOR_NEW = np.float32(np.sqrt(1.0 - 0.95**2))


def _uid(keys: list[str], *parts: str) -> str:
    return str(generate_uid(entropy_srcs=[*keys, *parts]))


def _reach_mm(lesion: Lesion) -> float:
    """Radius around the centre that the lesion may cover (spicules included)."""
    return lesion.size_mm * (1.6 if lesion.kind == "mass_spiculated" else 0.6)


def _fit_to_breast(lesion: Lesion, geoms: dict[str, ViewGeometry], px: float) -> Lesion:
    """Small fields (the "small" preset) hold small breasts: shrink a lesion
    that could not fit, so its box stays inside the breast in both views."""
    usable_mm = min(geoms["CC"].nipple[0], geoms["MLO"].nipple[0]) * px
    limit = 0.22 * usable_mm
    reach = _reach_mm(lesion)
    if reach <= limit:
        return lesion
    f = limit / reach
    specks = None
    if lesion.specks is not None:
        specks = lesion.specks.copy()
        specks[:, :3] *= f
    return replace(lesion, size_mm=lesion.size_mm * f, specks=specks)


def _place(
    lesion: Lesion, geoms: dict[str, ViewGeometry], px: float
) -> dict[str, tuple[float, float]] | None:
    """Put the lesion at the same depth behind the nipple in CC and MLO."""
    margin = int((_reach_mm(lesion) + 3.0) / px)
    usable = min(geoms["CC"].nipple[0], geoms["MLO"].nipple[0]) - int(5.0 / px)
    if usable <= 2 * margin:
        margin = max(1, usable // 3)
    for frac in (lesion.depth_frac, 0.5, 0.35, 0.65, 0.25, 0.8):
        depth = margin + frac * (usable - 2 * margin)
        out: dict[str, tuple[float, float]] = {}
        for view, g in geoms.items():
            x = round(g.nipple[0] - depth)
            # The breast narrows towards the nipple: the rows must hold the
            # lesion on its nipple side too.
            rows = g.inner_rows([x, min(x + margin, g.nipple[0] - 1)], margin)
            if rows is None:
                break
            w = (
                lesion.ml
                if view == "CC"
                else float(np.clip(0.7071 * (lesion.si + lesion.ml), -1.0, 1.0))
            )
            out[view] = (float(x), rows[0] + (w + 1.0) / 2.0 * (rows[1] - rows[0]))
        if len(out) == 2:
            return out
    return None


def _study_info(
    plan: StudyPlan, exam: ExamPlan, study_id: str, uid_keys: list[str], seed: int
) -> StudyInfo:
    exam_date = _BASE_DATE + timedelta(days=plan.day - exam.day_offset)
    minute = plan.minute + (17 if exam.is_prior else 0)
    return StudyInfo(
        patient_name=f"PHANTOM^{seed}-{plan.index + 1:04d}",
        patient_id=f"MDP-{seed}-{plan.index + 1:04d}",
        birth_date=f"{(_BASE_DATE + timedelta(days=plan.day)).year - plan.age}0101",
        age=f"{plan.age - (1 if exam.is_prior else 0):03d}Y",
        study_uid=_uid(uid_keys, study_id, "study"),
        series_uid=_uid(uid_keys, study_id, "series"),
        study_id=f"PH{plan.index + 1:05d}{'P' if exam.is_prior else ''}",  # SH: 16 chars max
        accession=f"PH{seed % 10000:04d}{plan.index + 1:05d}{'P' if exam.is_prior else ''}",
        date=exam_date.strftime("%Y%m%d"),
        time=f"{8 + minute // 60:02d}{minute % 60:02d}00",
        description="Synthetic screening mammogram (phantom, not clinical)",
        compressed_thickness_mm=plan.thickness_mm,
    )


def _side_row(
    plan: StudyPlan,
    exam: ExamPlan,
    study_id: str,
    info: StudyInfo,
    side: str,
    lesion: Lesion | None,
    centres: dict[str, tuple[float, float]] | None,
    geoms: dict[str, ViewGeometry],
    px: float,
    photometric: str,
) -> dict[str, object]:
    """The breast's label row before its views are added."""
    row: dict[str, object] = {
        "study_id": study_id,
        "study_instance_uid": info.study_uid,
        "patient_id": info.patient_id,
        "is_prior": int(exam.is_prior),
        "laterality": side,
        "cancer": int(bool(lesion and lesion.cancer and centres)),
        "lesion_type": lesion.kind if lesion and centres else "none",
        "lesion_size_mm": round(lesion.size_mm, 2) if lesion and centres else "",
        "lesion_contrast": round(lesion.contrast, 4) if lesion and centres else "",
        "density": plan.density,
        "texture_beta": round(plan.beta, 4),
        "bits_stored": plan.bits,
        "pixel_spacing_mm": px,
        "photometric": photometric,
    }
    if centres is not None:
        depth = (geoms["CC"].nipple[0] - centres["CC"][0]) * px
        row["lesion_nipple_depth_mm"] = round(depth, 2)
    return row


def _view_texture(plan: StudyPlan, exam: ExamPlan, name: str, shape: tuple[int, int]) -> np.ndarray:
    """The view's power-law texture; a prior mixes in a little fresh noise."""
    spec = white_spectrum(np.random.default_rng(exam.texture_seeds[name]), shape)
    if exam.prior_mix_seeds is not None:
        fresh = white_spectrum(np.random.default_rng(exam.prior_mix_seeds[name]), shape)
        spec *= _PRIOR_KEEP
        spec += fresh * _PRIOR_NEW
        del fresh
    tex = power_law_field(spec, shape, plan.beta, plan.anisotropy)
    del spec
    return tex


def _add_view_fields(
    row: dict[str, object], view: str, file: str, sop_uid: str, rv: RenderedView
) -> None:
    key = view.lower()
    row[f"{key}_file"] = file
    row[f"{key}_sop_instance_uid"] = sop_uid
    if rv.bbox is not None:
        for n, v in zip(("x0", "y0", "x1", "y1"), rv.bbox, strict=True):
            row[f"{key}_bbox_{n}"] = v
    row[f"{key}_cnr"] = rv.cnr if rv.cnr is not None else ""
    row[f"{key}_nipple_x"], row[f"{key}_nipple_y"] = rv.nipple


def exam_datasets(
    plan: StudyPlan,
    exam: ExamPlan,
    study_id: str,
    preset: SizePreset,
    photometric: str,
    uid_keys: list[str],
    seed: int,
) -> Iterator[tuple[str, Dataset, dict[str, object]]]:
    """Render one exam view by view: (view name such as "RCC", its dataset,
    the breast's label row, complete once its MLO view has been yielded)."""
    px = preset.pixel_spacing_mm
    shape = (preset.rows, preset.columns)
    info = _study_info(plan, exam, study_id, uid_keys, seed)
    for side in ("R", "L"):
        geoms = {v: build_view(exam.shapes[side], v, preset) for v in ("CC", "MLO")}
        lesion = exam.lesions[side]
        if lesion is not None:
            lesion = _fit_to_breast(lesion, geoms, px)
        centres = _place(lesion, geoms, px) if lesion is not None else None
        row = _side_row(plan, exam, study_id, info, side, lesion, centres, geoms, px, photometric)
        for view in ("CC", "MLO"):
            name = f"{side}{view}"
            vi = VIEWS.index(name)
            tex = _view_texture(plan, exam, name, shape)
            noise_rng = np.random.default_rng([*exam.noise_seed.generate_state(2), vi])
            rv = render_view(
                geoms[view],
                tex,
                plan.density,
                side,
                plan.bits,
                px,
                noise_rng,
                lesion if centres else None,
                centres[view] if centres else None,
                view,
            )
            del tex
            sop_uid = _uid(uid_keys, study_id, name)
            ds = build_dataset(
                info, rv.pixels, side, view, vi + 1, sop_uid, plan.bits, px, rv.window, photometric
            )
            _add_view_fields(row, view, f"{study_id}/{name}.dcm", sop_uid, rv)
            yield name, ds, row


def render_exam(
    plan: StudyPlan,
    exam: ExamPlan,
    study_id: str,
    out_dir: Path,
    preset: SizePreset,
    photometric: str,
    jpeg2000: bool,
    uid_keys: list[str],
    seed: int,
) -> tuple[list[Path], list[dict[str, object]]]:
    study_dir = out_dir / study_id
    study_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    rows: list[dict[str, object]] = []
    for name, ds, row in exam_datasets(plan, exam, study_id, preset, photometric, uid_keys, seed):
        path = study_dir / f"{name}.dcm"
        write_dataset(ds, path, jpeg2000)
        files.append(path)
        if name.endswith("MLO"):
            rows.append(row)
    return files, rows
