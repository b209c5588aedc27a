"""generate_cohort's contract: determinism, rates, layout, labels, errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pydicom
import pytest

from engine.errors import MammoDeskError
from engine.phantom import SIZE_PRESETS, CohortResult, generate_cohort

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI

REQUIRED_COLUMNS = {
    "study_id",
    "study_instance_uid",
    "patient_id",
    "is_prior",
    "laterality",
    "cancer",
    "lesion_type",
    "lesion_size_mm",
    "lesion_contrast",
    "density",
    "texture_beta",
    *(
        f"{v}_{k}"
        for v in ("cc", "mlo")
        for k in ("file", "sop_instance_uid", "bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1", "cnr")
    ),
}
LESION_TYPES = {
    "none",
    "mass_circumscribed",
    "mass_spiculated",
    "calcifications",
    "benign_mass",
    "benign_calcifications",
}


def _rows(result: CohortResult) -> list[dict[str, str]]:
    with open(result.labels_csv, newline="") as fh:
        return list(csv.DictReader(fh))


def _fingerprint(result: CohortResult) -> dict[str, tuple]:
    out = {}
    for f in result.files:
        ds = pydicom.dcmread(f)
        out[str(f.relative_to(result.out_dir))] = (
            ds.PixelData,
            ds.SOPInstanceUID,
            ds.StudyInstanceUID,
            ds.SeriesInstanceUID,
            ds.StudyDate,
            ds.PatientID,
        )
    return out


def test_same_seed_gives_identical_files_and_uids(tmp_path: Path) -> None:
    a = generate_cohort(tmp_path / "a", 2, seed=3, size="small", prior_rate=0.5)
    b = generate_cohort(tmp_path / "b", 2, seed=3, size="small", prior_rate=0.5)
    fa, fb = _fingerprint(a), _fingerprint(b)
    assert fa == fb
    assert a.labels_csv.read_bytes() == b.labels_csv.read_bytes()
    c = generate_cohort(tmp_path / "c", 2, seed=4, size="small", prior_rate=0.5)
    fc = _fingerprint(c)
    pix_a = {v[0] for v in fa.values()}
    assert not pix_a & {v[0] for v in fc.values()}
    assert not {v[1] for v in fa.values()} & {v[1] for v in fc.values()}


def test_study_k_does_not_depend_on_cohort_size(tmp_path: Path) -> None:
    one = _fingerprint(generate_cohort(tmp_path / "one", 1, seed=9, size="small"))
    three = _fingerprint(generate_cohort(tmp_path / "three", 3, seed=9, size="small"))
    assert one == {k: v for k, v in three.items() if k.startswith("MDP-9-0001/")}


def test_cancer_rate_is_honoured(tmp_path: Path) -> None:
    none = _rows(generate_cohort(tmp_path / "r0", 6, seed=2, size="small", cancer_rate=0.0))
    assert all(r["cancer"] == "0" for r in none)
    assert all(r["lesion_type"] in ("none", "benign_mass", "benign_calcifications") for r in none)
    every = _rows(generate_cohort(tmp_path / "r1", 6, seed=2, size="small", cancer_rate=1.0))
    per_study: dict[str, int] = {}
    for r in every:
        per_study[r["study_id"]] = per_study.get(r["study_id"], 0) + int(r["cancer"])
    assert len(per_study) == 6 and set(per_study.values()) == {1}  # one breast each


def test_layout_labels_and_files_agree(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    res = generate_cohort(
        tmp_path / "out",
        3,
        seed=7,
        size="small",
        prior_rate=1.0,
        cancer_rate=0.5,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert res.studies == 3 and res.labels_csv == tmp_path / "out" / "labels.csv"
    assert len(res.files) == 3 * 2 * 4
    names = sorted(str(f.relative_to(res.out_dir)) for f in res.files)
    assert names[:8] == sorted(
        f"MDP-7-0001{p}/{v}.dcm" for p in ("", "-prior") for v in ("RCC", "LCC", "RMLO", "LMLO")
    )
    assert not list(res.out_dir.rglob("*.tmp"))
    rows = _rows(res)
    assert set(rows[0]) >= REQUIRED_COLUMNS
    assert len(rows) == 3 * 2 * 2  # one row per breast per (current or prior) study
    rows_per_file = 0
    for r in rows:
        assert r["laterality"] in ("R", "L") and r["is_prior"] in ("0", "1")
        assert r["lesion_type"] in LESION_TYPES and r["density"] in "abcd"
        assert r["cancer"] == (
            "1"
            if r["lesion_type"] in ("mass_circumscribed", "mass_spiculated", "calcifications")
            else "0"
        )
        for view, name in (("cc", "CC"), ("mlo", "MLO")):
            ds = pydicom.dcmread(res.out_dir / r[f"{view}_file"], stop_before_pixels=True)
            rows_per_file += 1
            assert r[f"{view}_file"] == f"{r['study_id']}/{r['laterality']}{name}.dcm"
            assert ds.SOPInstanceUID == r[f"{view}_sop_instance_uid"]
            assert ds.StudyInstanceUID == r["study_instance_uid"]
            assert ds.PatientID == r["patient_id"] and ds.ImageLaterality == r["laterality"]
            if r["lesion_type"] != "none":
                x0, y0, x1, y1 = (int(r[f"{view}_bbox_{k}"]) for k in ("x0", "y0", "x1", "y1"))
                assert 0 <= x0 < x1 <= ds.Columns and 0 <= y0 < y1 <= ds.Rows
                float(r[f"{view}_cnr"])
    assert rows_per_file == len(res.files)


def test_size_presets() -> None:
    assert set(SIZE_PRESETS) == {"small", "default", "full", "large"}
    full = SIZE_PRESETS["full"]
    assert (full.columns, full.rows, full.pixel_spacing_mm) == (3328, 4096, 0.07)
    for p in SIZE_PRESETS.values():
        assert 0.05 <= p.pixel_spacing_mm <= 0.1


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"studies": 0}, "studies"),
        ({"studies": 1, "cancer_rate": 1.5}, "cancer rate"),
        ({"studies": 1, "cancer_rate": -0.1}, "cancer rate"),
        ({"studies": 1, "prior_rate": 2.0}, "prior rate"),
        ({"studies": 1, "size": "huge"}, "size"),
        ({"studies": 1, "photometric": "RGB"}, "photometric"),
        ({"studies": 1, "seed": -1}, "seed"),
    ],
)
def test_bad_arguments_raise_one_line_errors(tmp_path: Path, kwargs: dict, fragment: str) -> None:
    studies = kwargs.pop("studies")
    with pytest.raises(MammoDeskError) as info:
        generate_cohort(tmp_path / "x", studies, **kwargs)
    msg = str(info.value)
    assert fragment in msg and "\n" not in msg
    assert not (tmp_path / "x").exists()  # nothing written on bad input


def test_unwritable_output_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(MammoDeskError):
        generate_cohort(blocker / "out", 1, size="small")


def test_intermediate_cancer_rate_gives_that_fraction_of_cancer_studies() -> None:
    # Planning decides every finding before any pixel is made, so a large
    # cohort's cancer fraction can be checked without rendering it.
    from engine.phantom.plan import plan_study

    plans = [plan_study(13, k, 0.3, 0.0) for k in range(400)]
    cancers = sum(
        any(les is not None and les.cancer for les in p.current.lesions.values()) for p in plans
    )
    assert 0.24 <= cancers / 400 <= 0.36
    densities = {p.density for p in plans}
    assert densities == {"a", "b", "c", "d"}
