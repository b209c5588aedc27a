"""Training-data adapters: phantom labels.csv and the public dataset layouts."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
import pytest

from engine.ai.datasets import (
    Box,
    ImageRecord,
    read_cbis_ddsm,
    read_dataset,
    read_phantom_labels,
    split_by_patient,
    summarize,
)
from engine.errors import MammoDeskError
from tests.support.dicom_factory import mg_dataset

MASS_HEADER = [
    "patient_id", "breast_density", "left or right breast", "image view", "abnormality id",
    "abnormality type", "mass shape", "mass margins", "assessment", "pathology", "subtlety",
    "image file path", "cropped image file path", "ROI mask file path",
]  # fmt: skip
CALC_HEADER = [
    "patient_id", "breast density", "left or right breast", "image view", "abnormality id",
    "abnormality type", "calc type", "calc distribution", "assessment", "pathology", "subtlety",
    "image file path", "cropped image file path", "ROI mask file path",
]  # fmt: skip
VINDR_BREAST_HEADER = [
    "study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
    "breast_birads", "breast_density", "split",
]  # fmt: skip
VINDR_FINDING_HEADER = [
    "study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
    "breast_birads", "breast_density", "finding_categories", "finding_birads",
    "xmin", "ymin", "xmax", "ymax", "split",
]  # fmt: skip
RSNA_HEADER = [
    "site_id", "patient_id", "image_id", "laterality", "view", "age", "cancer", "biopsy",
    "invasive", "BIRADS", "implant", "density", "machine_id", "difficult_negative_case",
]  # fmt: skip


def write_dicom(path: Path, pixels: np.ndarray | None = None, shape: tuple = (40, 30)) -> Path:
    rows, cols = shape if pixels is None else pixels.shape
    ds = mg_dataset(rows=rows, cols=cols)
    if pixels is not None:
        ds.PixelData = pixels.astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def mask(shape: tuple[int, int], x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    out = np.zeros(shape, np.uint16)
    out[y0:y1, x0:x1] = 255
    return out


# --- phantom ---------------------------------------------------------------


def test_phantom_cohort_gives_two_records_per_breast_with_boxes_only_on_lesions(small_cohort):
    with open(small_cohort.labels_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    records = read_phantom_labels(small_cohort.labels_csv)

    assert len(records) == 2 * len(rows)
    assert all(r.path.is_file() and r.source == "phantom" for r in records)
    assert {r.path for r in records} == set(small_cohort.files)
    by_breast = {}
    for r in records:
        by_breast.setdefault((r.exam_id, r.laterality), []).append(r)
    for row in rows:
        pair = by_breast[(row["study_id"], row["laterality"])]
        assert sorted(r.view for r in pair) == ["CC", "MLO"]
        has_lesion = row["lesion_type"] != "none"
        for r in pair:
            assert r.cancer == int(row["cancer"])
            assert r.patient_id == row["patient_id"]
            assert r.density == row["density"]
            if has_lesion:
                (box,) = r.boxes
                key = r.view.lower()
                assert (box.x0, box.y0, box.x1, box.y1) == tuple(
                    float(row[f"{key}_bbox_{n}"]) for n in ("x0", "y0", "x1", "y1")
                )
                assert box.malignant == (row["cancer"] == "1")
                assert r.lesion_type == row["lesion_type"]
            else:
                assert r.boxes == () and r.lesion_type is None
    # the fixture has benign lesions (boxes, not malignant), a cancer, and a prior exam
    assert any(b.malignant for r in records for b in r.boxes)
    assert any(not b.malignant for r in records for b in r.boxes)
    priors = [r for r in records if r.exam_id.endswith("-prior")]
    assert priors and not any(r.exam_id.endswith("-prior-prior") for r in records)
    assert {r.patient_id for r in priors} <= {r.patient_id for r in records if r not in priors}


def test_phantom_missing_file_is_skipped_and_counted(small_cohort, tmp_path):
    copy = tmp_path / "cohort"
    shutil.copytree(small_cohort.out_dir, copy)
    victim = small_cohort.files[0].relative_to(small_cohort.out_dir)
    (copy / victim).unlink()

    records, summary = read_dataset(copy)

    assert summary["kind"] == "phantom"
    assert summary["skipped"] == {"missing file": 1}
    assert len(records) == len(small_cohort.files) - 1
    assert summary["images"] == len(records)


def test_phantom_images_come_from_the_library_by_sop_instance_uid(small_cohort, library, tmp_path):
    from engine.library import import_paths

    not_imported = small_cohort.files[0]
    import_paths(library, [f for f in small_cohort.files if f != not_imported])
    labels = tmp_path / "labels-only" / "labels.csv"  # the CSV without its images
    labels.parent.mkdir()
    shutil.copy(small_cohort.labels_csv, labels)

    records, summary = read_dataset(labels, locate=library.instance_files().get)

    assert summary["skipped"] == {"not in the library": 1}
    assert len(records) == len(small_cohort.files) - 1
    by_folder = {r.path: r for r in read_phantom_labels(small_cohort.labels_csv)}
    for r in records:
        assert r.path.is_relative_to(library.root)
        uid = str(pydicom.dcmread(r.path, stop_before_pixels=True).SOPInstanceUID)
        original = next(o for o in by_folder.values() if _uid(o.path) == uid)
        assert (r.exam_id, r.laterality, r.view, r.cancer, r.boxes) == (
            original.exam_id, original.laterality, original.view, original.cancer, original.boxes
        )


def test_library_images_need_a_labels_csv_with_uids(tmp_path):
    root = tmp_path / "vindr"
    write_csv(root / "breast-level_annotations.csv", VINDR_BREAST_HEADER, [])
    with pytest.raises(MammoDeskError, match="only for a labels CSV with SOP Instance UIDs"):
        read_dataset(root, locate=lambda uid: None)


def _uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


# --- CBIS-DDSM -------------------------------------------------------------


@pytest.fixture
def cbis_root(tmp_path: Path) -> Path:
    root = tmp_path / "cbis"
    full = (60, 50)
    data = root / "CBIS-DDSM"
    # Full image: the TCIA download renamed the inner folders and the file.
    write_dicom(data / "Mass-Training_P_90001_LEFT_CC" / "07-20-2016-DDSM-1" / "1-1.dcm",
                shape=full)  # fmt: skip
    # Abnormality 1: the folder holds the cropped image and the mask, renamed;
    # the CSV's mask path points at nothing that exists.
    roi1 = data / "Mass-Training_P_90001_LEFT_CC_1" / "07-21-2016-DDSM-2"
    write_dicom(roi1 / "1.000000-ROI mask images-1" / "1-1.dcm", shape=(12, 10))  # cropped
    write_dicom(roi1 / "1.000000-ROI mask images-1" / "1-2.dcm", mask(full, 5, 7, 17, 20))
    # Abnormality 2: the mask sits exactly at the CSV path.
    mask2 = "Mass-Training_P_90001_LEFT_CC_2/1.2.3/1.2.4/000001.dcm"
    write_dicom(data / mask2, mask(full, 30, 40, 45, 52))
    # A calcification case in the test set, image at the exact CSV path.
    calc_img = "Calc-Test_P_90002_RIGHT_MLO/1.9/1.9.1/000000.dcm"
    write_dicom(data / calc_img, shape=full)
    write_dicom(data / "Calc-Test_P_90002_RIGHT_MLO_1" / "x" / "1-1.dcm", mask(full, 0, 0, 3, 4))
    write_csv(root / "mass_case_description_train_set.csv", MASS_HEADER, [
        ["P_90001", 2, "LEFT", "CC", 1, "mass", "OVAL", "SPICULATED", 5, "MALIGNANT", 4,
         "Mass-Training_P_90001_LEFT_CC/1.2.1/1.2.2/000000.dcm",
         "Mass-Training_P_90001_LEFT_CC_1/1.2.5/1.2.6/000000.dcm",
         "Mass-Training_P_90001_LEFT_CC_1/1.2.5/1.2.6/000001.dcm\n"],
        ["P_90001", 2, "LEFT", "CC", 2, "mass", "ROUND", "CIRCUMSCRIBED", 2, "BENIGN", 3,
         "Mass-Training_P_90001_LEFT_CC/1.2.1/1.2.2/000000.dcm",
         "Mass-Training_P_90001_LEFT_CC_2/1.2.3/1.2.4/000000.dcm", mask2],
    ])  # fmt: skip
    write_csv(root / "calc_case_description_test_set.csv", CALC_HEADER, [
        ["P_90002", 4, "RIGHT", "MLO", 1, "calcification", "PLEOMORPHIC", "CLUSTERED", 3,
         "BENIGN_WITHOUT_CALLBACK", 2, calc_img,
         "Calc-Test_P_90002_RIGHT_MLO_1/a/b/000000.dcm",
         "Calc-Test_P_90002_RIGHT_MLO_1/a/b/000001.dcm"],
        ["P_90003", 3, "LEFT", "CC", 1, "calcification", "AMORPHOUS", "SEGMENTAL", 4,
         "MALIGNANT", 3, "Calc-Test_P_90003_LEFT_CC/1/2/000000.dcm",
         "Calc-Test_P_90003_LEFT_CC_1/1/2/000000.dcm",
         "Calc-Test_P_90003_LEFT_CC_1/1/2/000001.dcm"],
    ])  # fmt: skip
    return root


def test_cbis_merges_abnormalities_and_recovers_boxes_from_masks(cbis_root):
    records, summary = read_dataset(cbis_root)

    assert summary["kind"] == "cbis-ddsm"
    assert summary["skipped"] == {"missing file": 1}  # P_90003's image is not on disk
    by_patient = {r.patient_id: r for r in records}
    assert set(by_patient) == {"P_90001", "P_90002"}
    mass = by_patient["P_90001"]
    assert (mass.laterality, mass.view, mass.cancer, mass.density) == ("L", "CC", 1, "b")
    assert mass.split == "train" and mass.source == "cbis-ddsm"
    assert mass.path.name == "1-1.dcm" and mass.path.is_file()
    assert sorted(mass.boxes, key=lambda b: b.x0) == [
        Box(5.0, 7.0, 17.0, 20.0, True),
        Box(30.0, 40.0, 45.0, 52.0, False),
    ]
    calc = by_patient["P_90002"]
    assert (calc.laterality, calc.view, calc.cancer, calc.density) == ("R", "MLO", 0, "d")
    assert calc.split == "test" and calc.lesion_type == "calcification"
    assert calc.boxes == (Box(0.0, 0.0, 3.0, 4.0, False),)


def test_cbis_without_boxes_reads_no_masks(cbis_root):
    for path in (cbis_root / "CBIS-DDSM").glob("*_1/**/*.dcm"):
        path.unlink()  # masks gone: only a box reader would notice
    skipped: Counter[str] = Counter()
    records = read_cbis_ddsm(cbis_root, boxes=False, skipped=skipped)

    assert len(records) == 2 and all(r.boxes == () for r in records)
    assert skipped == {"missing file": 1}
    assert {r.patient_id: r.cancer for r in records} == {"P_90001": 1, "P_90002": 0}


# --- VinDr-Mammo -----------------------------------------------------------


def test_vindr_birads_5_is_positive_with_a_malignant_box(tmp_path):
    root = tmp_path / "vindr"
    for image in ("img1", "img2", "img3"):
        write_dicom(root / "images" / "st1" / f"{image}.dicom")
    write_csv(root / "breast-level_annotations.csv", VINDR_BREAST_HEADER, [
        ["st1", "se1", "img1", "L", "CC", 40, 30, "BI-RADS 5", "DENSITY C", "training"],
        ["st1", "se1", "img2", "L", "MLO", 40, 30, "BI-RADS 5", "DENSITY C", "training"],
        ["st1", "se2", "img3", "R", "CC", 40, 30, "BI-RADS 1", "DENSITY C", "training"],
        ["st2", "se3", "img4", "R", "MLO", 40, 30, "BI-RADS 2", "DENSITY A", "test"],
    ])  # fmt: skip
    write_csv(root / "finding_annotations.csv", VINDR_FINDING_HEADER, [
        ["st1", "se1", "img1", "L", "CC", 40, 30, "BI-RADS 5", "DENSITY C", "['Mass']",
         "BI-RADS 5", 3.5, 4.0, 12.25, 20.0, "training"],
        ["st1", "se1", "img1", "L", "CC", 40, 30, "BI-RADS 5", "DENSITY C",
         "['Suspicious Calcification']", "BI-RADS 3", 20, 25, 28, 33, "training"],
        ["st1", "se2", "img3", "R", "CC", 40, 30, "BI-RADS 1", "DENSITY C", "['No Finding']",
         "", "", "", "", "", "training"],
    ])  # fmt: skip

    records, summary = read_dataset(root)

    assert summary["kind"] == "vindr-mammo"
    assert summary["skipped"] == {"missing file": 1}
    by_image = {r.path.stem: r for r in records}
    img1 = by_image["img1"]
    assert (img1.cancer, img1.density, img1.split, img1.view) == (1, "c", "train", "CC")
    assert img1.boxes == (Box(3.5, 4.0, 12.25, 20.0, True), Box(20.0, 25.0, 28.0, 33.0, False))
    assert img1.lesion_type == "Mass+Suspicious Calcification"
    assert by_image["img2"].cancer == 1 and by_image["img2"].boxes == ()
    assert by_image["img3"].cancer == 0 and by_image["img3"].boxes == ()
    assert summary["positive_breasts"] == 1 and summary["breasts"] == 2


# --- RSNA 2023 -------------------------------------------------------------


def test_rsna_skips_implants_and_odd_views_and_counts_them(tmp_path):
    root = tmp_path / "rsna"
    for patient, image in (("101", "1"), ("101", "2"), ("101", "3"), ("101", "4"), ("202", "5")):
        write_dicom(root / "train_images" / patient / f"{image}.dcm")
    write_csv(root / "train.csv", RSNA_HEADER, [
        [2, 101, 1, "L", "CC", 61, 0, 0, 0, "", 0, "B", 49, "False"],
        [2, 101, 2, "L", "MLO", 61, 0, 0, 0, "", 0, "B", 49, "False"],
        [2, 101, 3, "R", "AT", 61, 0, 0, 0, "", 0, "B", 49, "False"],
        [2, 101, 4, "R", "CC", 61, 0, 0, 0, "", 1, "B", 49, "False"],
        [1, 202, 5, "R", "MLO", 55, 1, 1, 1, 0, 0, "", 21, "False"],
        [1, 202, 6, "R", "CC", 55, 1, 1, 1, 0, 0, "", 21, "False"],
    ])  # fmt: skip

    records, summary = read_dataset(root)

    assert summary["kind"] == "rsna-2023"
    assert summary["skipped"] == {"view AT": 1, "implant": 1, "missing file": 1}
    assert sorted(r.path.stem for r in records) == ["1", "2", "5"]
    positive = [r for r in records if r.cancer]
    assert [(r.patient_id, r.exam_id, r.laterality, r.view) for r in positive] == [
        ("202", "202", "R", "MLO")
    ]
    assert positive[0].density is None
    assert {r.density for r in records if not r.cancer} == {"b"}
    assert summary["exams"] == 2 and summary["patients"] == 2


# --- detection and errors --------------------------------------------------


def test_unknown_folder_gives_one_line_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(MammoDeskError) as err:
        read_dataset(tmp_path)
    message = str(err.value)
    assert "is not a known dataset layout" in message and "\n" not in message


def test_csv_missing_a_column_names_the_column_and_file(tmp_path):
    root = tmp_path / "rsna"
    (root / "train_images").mkdir(parents=True)
    write_csv(root / "train.csv", [h for h in RSNA_HEADER if h != "laterality"], [])
    with pytest.raises(MammoDeskError) as err:
        read_dataset(root)
    message = str(err.value)
    assert "laterality" in message and "train.csv" in message and "\n" not in message


def test_phantom_csv_missing_a_column_is_reported(small_cohort, tmp_path):
    with open(small_cohort.labels_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = [h for h in rows[0] if h != "mlo_file"]
    bad = tmp_path / "labels.csv"
    write_csv(bad, header, [[row[h] for h in header] for row in rows])
    with pytest.raises(MammoDeskError, match=r"labels\.csv lacks the required column 'mlo_file'"):
        read_dataset(bad)


def test_a_csv_that_is_no_known_dataset_is_refused(tmp_path):
    other = tmp_path / "scores.csv"
    write_csv(other, ["a", "b"], [[1, 2]])
    with pytest.raises(MammoDeskError, match="is not a known dataset layout"):
        read_dataset(other)


# --- splitting and summary -------------------------------------------------


def _record(patient: str, cancer: int, view: str = "CC", source: str = "phantom") -> ImageRecord:
    return ImageRecord(Path(f"{patient}-{view}.dcm"), f"E{patient}", patient, "L", view, cancer,
                       density="b", source=source)  # fmt: skip


def _cohort() -> list[ImageRecord]:
    out = []
    for i in range(30):
        cancer = int(i % 6 == 0)  # five positive patients
        out += [_record(f"P{i}", cancer, v) for v in ("CC", "MLO")]
    return out


def test_split_by_patient_keeps_patients_whole_and_is_deterministic():
    records = _cohort()
    train, val = split_by_patient(records, 0.2, seed=7)

    assert {r.patient_id for r in train}.isdisjoint({r.patient_id for r in val})
    assert sorted(map(id, train + val)) == sorted(map(id, records))
    assert any(r.cancer for r in train) and any(r.cancer for r in val)
    assert len({r.patient_id for r in val}) == 6  # 20% of 25 negatives + 20% of 5 positives
    again = split_by_patient(list(records), 0.2, seed=7)
    assert again == (train, val)


def test_split_puts_one_of_two_positive_patients_on_each_side():
    records = [_record("A", 1), _record("B", 1), *(_record(f"N{i}", 0) for i in range(8))]
    for seed in range(5):
        train, val = split_by_patient(records, 0.1, seed=seed)
        assert sum(r.cancer for r in train) == 1 and sum(r.cancer for r in val) == 1


def test_same_patient_key_in_two_datasets_is_two_patients():
    records = [_record("1", 0, source="rsna-2023"), _record("1", 1, source="cbis-ddsm")]
    summary = summarize(records)
    assert summary["patients"] == 2 and summary["positive_breasts"] == 1
    assert summary["by_source"] == {"cbis-ddsm": 1, "rsna-2023": 1}
    assert summary["by_density"] == {"b": 2}


def test_bad_validation_fraction_is_refused():
    with pytest.raises(MammoDeskError, match="validation fraction"):
        split_by_patient(_cohort(), 1.5, seed=0)
