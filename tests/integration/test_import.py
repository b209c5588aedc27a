"""Importing into the case library: cohorts, DICOMDIR, ZIP, bad files, crashes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom.fileset import FileSet

from engine.errors import LibraryError
from engine.library import Library, import_paths, list_studies
from tests.support.cli import ROOT, assert_library_consistent, run_cli

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI

SCREENING = ["RCC", "LCC", "RMLO", "LMLO"]


def test_phantom_cohort_imports_with_all_four_views(library, small_cohort):
    report = import_paths(library, [small_cohort.out_dir])
    assert report.imported == len(small_cohort.files)
    assert report.rejected == []
    assert report.non_dicom == 1  # labels.csv
    studies = list_studies(library)
    assert len(studies) == len({p.parent.name for p in small_cohort.files})
    for study in studies:
        assert study.views == SCREENING
        assert study.in_ai_scope
        assert study.modalities == ["MG"]
    assert_library_consistent(library.root)


def test_reimport_changes_nothing(library, small_cohort):
    import_paths(library, [small_cohort.out_dir])
    db_before = library.conn.execute("SELECT * FROM instances ORDER BY sop_uid").fetchall()
    files_before = sorted((library.root / "files").rglob("*.dcm"))
    again = import_paths(library, [small_cohort.out_dir])
    assert again.imported == 0
    assert again.already_present == len(small_cohort.files)
    assert library.conn.execute("SELECT * FROM instances ORDER BY sop_uid").fetchall() \
        == db_before
    assert sorted((library.root / "files").rglob("*.dcm")) == files_before


def test_library_file_names_carry_no_patient_data(library, small_cohort):
    import_paths(library, [small_cohort.out_dir])
    names = " ".join(p.name for p in (library.root / "files").rglob("*"))
    for study in list_studies(library):
        assert study.patient_id not in names
        assert study.study_uid not in names


def test_dicomdir_import(library, small_cohort, tmp_path):
    fs = FileSet()
    for path in small_cohort.files:
        fs.add(pydicom.dcmread(path))
    media = tmp_path / "media"
    fs.write(media)
    report = import_paths(library, [media / "DICOMDIR"])
    assert report.imported == len(small_cohort.files)
    assert report.rejected == []
    assert all(s.views == SCREENING for s in list_studies(library))


def test_dicomdir_with_missing_file_names_it(library, small_cohort, tmp_path):
    fs = FileSet()
    for path in small_cohort.files[:4]:
        fs.add(pydicom.dcmread(path))
    media = tmp_path / "media"
    fs.write(media)
    victim = next(p for p in (media / "PT000000").rglob("*") if p.is_file())
    victim.unlink()
    report = import_paths(library, [media / "DICOMDIR"])
    assert report.imported == 3
    assert len(report.rejected) == 1
    assert "missing" in report.rejected[0].reason


def test_zip_import_counts_non_dicom_members(library, small_cohort, tmp_path):
    archive = tmp_path / "studies.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in small_cohort.files:
            zf.write(path, path.relative_to(small_cohort.out_dir).as_posix())
        zf.writestr("notes/readme.txt", "synthetic cohort")
    report = import_paths(library, [archive])
    assert report.imported == len(small_cohort.files)
    assert report.non_dicom == 1
    assert report.rejected == []


def test_corrupt_zip_is_rejected_with_reason(library, tmp_path):
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    report = import_paths(library, [bad])
    assert report.imported == 0
    assert len(report.rejected) + report.non_dicom == 1


def test_bad_files_are_counted_or_listed_and_library_stays_intact(library, small_cohort,
                                                                  tmp_path):
    import_paths(library, [small_cohort.out_dir])
    before = assert_library_consistent(library.root)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "notes.txt").write_text("not an image\n")
    (mixed / "empty.dcm").write_bytes(b"")
    data = small_cohort.files[0].read_bytes()
    (mixed / "truncated.dcm").write_bytes(data[: len(data) // 2])
    ds = pydicom.dcmread(small_cohort.files[1])
    del ds.SOPInstanceUID
    ds.save_as(mixed / "no-uid.dcm", enforce_file_format=False)
    report = import_paths(library, [mixed])
    assert report.imported == 0
    assert report.non_dicom == 2
    reasons = {Path(r.source).name: r.reason for r in report.rejected}
    assert set(reasons) == {"truncated.dcm", "no-uid.dcm"}
    assert "truncat" in reasons["truncated.dcm"].lower()
    assert "SOP Instance UID" in reasons["no-uid.dcm"]
    assert all("\n" not in r for r in reasons.values())
    assert assert_library_consistent(library.root) == before


def _bundled_test_files() -> list[Path]:
    folder = Path(pydicom.__file__).parent / "data" / "test_files"
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_pydicom_bundled_files_import_or_are_rejected_with_reason(tmp_path):
    files = _bundled_test_files()
    assert len(files) > 50
    done = run_cli("import", "--json", str(Path(pydicom.__file__).parent / "data" /
                                          "test_files"), home=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    accounted = (report["imported"] + report["already_present"] + report["non_dicom_skipped"]
                 + report["directory_files"] + len(report["rejected"]))
    assert accounted == len(files)
    assert report["imported"] > 30
    assert all(r["reason"] and "\n" not in r["reason"] for r in report["rejected"])
    listing = json.loads(run_cli("studies", "--json", home=tmp_path).stdout)["studies"]
    out_of_scope = [s for s in listing if not s["in_ai_scope"]]
    assert any("CT" in s["ai_scope"] for s in out_of_scope)
    assert all(s["in_ai_scope"] == ("MG" in s["modalities"]) for s in listing
               if s["ai_scope"] != "outside the AI's scope: For Processing images only")
    assert_library_consistent(tmp_path / "library")


def _library_state(root: Path) -> tuple[int, int]:
    incoming = root / "incoming"
    files = root / "files"
    n_incoming = len(list(incoming.iterdir())) if incoming.exists() else 0
    n_files = sum(1 for p in files.rglob("*.dcm")) if files.exists() else 0
    return n_incoming, n_files


@pytest.mark.parametrize("moment", ["staging", "renaming", "late"])
def test_kill_during_import_then_reimport(small_cohort, tmp_path, moment):
    home = tmp_path / "home"
    lib_root = home / "library"
    env = {**os.environ, "MAMMODESK_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "import",
                             str(small_cohort.out_dir)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            n_incoming, n_files = _library_state(lib_root)
            if (moment == "staging" and n_incoming) or (moment == "renaming" and n_files) \
                    or (moment == "late" and n_files >= len(small_cohort.files) // 2):
                break
            time.sleep(0.0005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert_library_consistent(lib_root)
    with Library(lib_root) as lib:
        report = import_paths(lib, [small_cohort.out_dir])
        assert report.imported + report.already_present == len(small_cohort.files)
        assert lib.instance_count() == len(small_cohort.files)
    assert assert_library_consistent(lib_root) == len(small_cohort.files)


def test_disk_full_during_import_leaves_library_consistent(library, small_cohort,
                                                           monkeypatch):
    real_replace = os.replace
    calls = {"n": 0}

    def failing_replace(src, dst):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(LibraryError, match="no space left on device"):
        import_paths(library, [small_cohort.out_dir])
    monkeypatch.setattr(os, "replace", real_replace)
    assert assert_library_consistent(library.root) == 0
    report = import_paths(library, [small_cohort.out_dir])
    assert report.imported == len(small_cohort.files)
    assert assert_library_consistent(library.root) == len(small_cohort.files)


def test_library_can_be_moved_and_still_opens(library, small_cohort, tmp_path):
    import_paths(library, [small_cohort.out_dir])
    library.close()
    moved = tmp_path / "moved"
    shutil.copytree(library.root, moved)
    with Library(moved) as lib:
        assert lib.instance_count() == len(small_cohort.files)
    assert assert_library_consistent(moved) == len(small_cohort.files)


def test_two_imports_at_once_serialise_without_duplicates(small_cohort, tmp_path):
    env = {**os.environ, "MAMMODESK_HOME": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, str(ROOT / "main.py"), "import", "--json",
                               str(small_cohort.out_dir)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    assert sorted(r["imported"] for r in reports) == [0, len(small_cohort.files)]
    assert assert_library_consistent(tmp_path / "library") == len(small_cohort.files)


def test_jpeg2000_cohort_imports_and_decodes_to_the_same_pixels(library, tmp_path):
    import numpy as np

    from engine.dicom import decode_pixels, read_dataset
    from engine.phantom import generate_cohort

    raw = generate_cohort(tmp_path / "raw", 1, seed=9, size="small")
    j2k = generate_cohort(tmp_path / "j2k", 1, seed=9, size="small", jpeg2000=True)
    report = import_paths(library, [j2k.out_dir])
    assert report.imported == 4
    rows = library.conn.execute(
        "SELECT view_label, transfer_syntax_uid, rel_path FROM instances").fetchall()
    assert {r[1] for r in rows} == {pydicom.uid.JPEG2000Lossless}
    originals = {p.stem: p for p in raw.files}
    for label, _, rel in rows:
        stored = decode_pixels(read_dataset(library.file_path(rel)))
        expected = decode_pixels(read_dataset(originals[label]))
        assert np.array_equal(stored, expected)


def test_listing_shows_missing_views_and_for_processing_scope(library, small_cohort,
                                                              tmp_path):
    study = small_cohort.files[0].parent
    partial = tmp_path / "partial"
    partial.mkdir()
    for view in ("RCC", "LCC", "RMLO"):
        shutil.copy(study / f"{view}.dcm", partial / f"{view}.dcm")
    processing = tmp_path / "processing"
    processing.mkdir()
    study_uid = pydicom.uid.generate_uid()
    for path in small_cohort.files[4:8]:
        ds = pydicom.dcmread(path)
        ds.PresentationIntentType = "FOR PROCESSING"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = pydicom.uid.generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        ds.save_as(processing / path.name)
    import_paths(library, [partial, processing])
    by_uid = {s.study_uid: s for s in list_studies(library)}
    assert len(by_uid) == 2
    assert by_uid[study_uid].ai_scope == "outside the AI's scope: For Processing images only"
    assert by_uid[study_uid].views == []
    other = next(s for uid, s in by_uid.items() if uid != study_uid)
    assert other.views == ["RCC", "LCC", "RMLO"]
    assert other.in_ai_scope
