"""``main.py anonymize`` and ``deid-key`` as IT and researchers use them."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from tests.support.cli import ROOT, run_cli

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI


@pytest.fixture
def home(tmp_path, plaintext_keyring) -> Path:
    """A MammoDesk home with a file keyring (no desktop keyring on CI)."""
    return tmp_path / "home"


def _outputs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_without_a_site_key_nothing_is_written(home, small_cohort, tmp_path):
    done = run_cli("anonymize", str(small_cohort.out_dir), str(tmp_path / "out"), home=home)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "deid-key create" in done.stderr
    assert not (tmp_path / "out").exists() or not _outputs(tmp_path / "out")


def test_anonymize_a_folder_summary_and_names(home, small_cohort, tmp_path):
    assert run_cli("deid-key", "create", home=home).returncode == 0
    src = tmp_path / "in"
    shutil.copytree(small_cohort.out_dir, src)
    (src / "notes.txt").write_text("not dicom")
    first = small_cohort.files[0].relative_to(small_cohort.out_dir)
    data = (src / first).read_bytes()
    (src / "cut.dcm").write_bytes(data[: len(data) // 3])  # a truncated copy
    out = tmp_path / "out"
    done = run_cli("anonymize", str(src), str(out), "--verify", "--json", home=home)
    assert done.returncode == 1, done.stderr  # one file could not be read
    summary = json.loads(done.stdout)
    assert summary["written"] == len(small_cohort.files)
    assert [f["file"] for f in summary["failed"]] == ["cut.dcm"]
    assert "truncated" in summary["failed"][0]["reason"]
    assert sorted(summary["not_dicom"]) == ["labels.csv", "notes.txt"]
    files = _outputs(out)
    assert len(files) == len(small_cohort.files)
    originals = {str(pydicom.dcmread(f, stop_before_pixels=True).PatientID)
                 for f in small_cohort.files}
    for path in files:
        assert path.suffix == ".dcm" and not path.name.startswith(".partial")
        rel = path.relative_to(out).as_posix()
        assert not any(pid in rel for pid in originals)  # names carry pseudonyms only
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert rel == f"{ds.PatientID}/{ds.StudyInstanceUID}/{ds.SOPInstanceUID}.dcm"


def _headers(folder: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p, stop_before_pixels=True) for p in _outputs(folder)]


def _day(da: str) -> dt.date:
    return dt.datetime.strptime(da, "%Y%m%d").date()


def test_same_patient_same_pseudonym_and_shift_across_runs_and_studies(home, small_cohort,
                                                                       tmp_path):
    run_cli("deid-key", "create", home=home)
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        assert run_cli("anonymize", str(small_cohort.out_dir), str(out), home=home).returncode == 0
    names = [[p.relative_to(o) for p in _outputs(o)] for o in outs]
    assert names[0] == names[1]  # same UIDs, same pseudonyms, run after run

    before: dict[str, set[str]] = {}  # patient -> study dates
    for f in small_cohort.files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        before.setdefault(str(ds.PatientID), set()).add(str(ds.StudyDate))
    after: dict[str, set[str]] = {}
    for ds in _headers(outs[0]):
        after.setdefault(str(ds.PatientID), set()).add(str(ds.StudyDate))
    assert len(after) == len(before)  # one pseudonym per woman, different women differ
    # The woman with a prior: both studies under one pseudonym, moved by one shift,
    # so the interval between them survives.
    old = sorted(next(d for d in before.values() if len(d) == 2))
    new = sorted(next(d for d in after.values() if len(d) == 2))
    assert (_day(old[1]) - _day(old[0])) == (_day(new[1]) - _day(new[0]))
    assert 1 <= (_day(old[0]) - _day(new[0])).days <= 3650


def _cli(*args: str, home: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], input=stdin,
                          text=True, capture_output=True,
                          env={**os.environ, "MAMMODESK_HOME": str(home)})


def test_a_second_workstation_with_the_site_key_gives_the_same_pseudonyms(
        home, small_cohort, tmp_path, monkeypatch):
    run_cli("deid-key", "create", home=home)
    exported = run_cli("deid-key", "export", home=home).stdout.strip()
    run_cli("anonymize", str(small_cohort.out_dir), str(tmp_path / "a"), home=home)

    other = tmp_path / "other-home"
    monkeypatch.setenv("XDG_DATA_HOME", str(other / "xdg"))  # its own keyring
    bad = _cli("deid-key", "import", home=other, stdin="not a key")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    # Another site (its own key): other pseudonyms.
    run_cli("deid-key", "create", home=other)
    run_cli("anonymize", str(small_cohort.out_dir), str(tmp_path / "c"), home=other)
    # The same site: the imported key gives the same names and UIDs.
    refused = _cli("deid-key", "import", home=other, stdin=exported)
    assert refused.returncode == 2 and "--replace" in refused.stderr
    assert _cli("deid-key", "import", "--replace", home=other, stdin=exported).returncode == 0
    run_cli("anonymize", str(small_cohort.out_dir), str(tmp_path / "b"), home=other)
    a, b, c = ([p.relative_to(tmp_path / n) for p in _outputs(tmp_path / n)] for n in "abc")
    assert a == b
    assert not set(a) & set(c)


def test_output_inside_input_and_a_missing_folder_are_refused(home, small_cohort, tmp_path):
    run_cli("deid-key", "create", home=home)
    for src, dst in ((small_cohort.out_dir, small_cohort.out_dir / "anon"),
                     (tmp_path / "nowhere", tmp_path / "out")):
        done = run_cli("anonymize", str(src), str(dst), home=home)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1
    assert not (small_cohort.out_dir / "anon").exists()


def test_profile_setting_is_checked_and_used(home, small_cohort, tmp_path):
    run_cli("deid-key", "create", home=home)
    bad = run_cli("config", "set", "deid.profile", "lenient", home=home)
    assert bad.returncode == 2 and "unknown de-identification profile" in bad.stderr
    assert run_cli("config", "set", "deid.profile", "basic", home=home).returncode == 0
    done = run_cli("anonymize", str(small_cohort.out_dir), str(tmp_path / "o"), home=home)
    assert done.stdout.startswith("profile basic")
    ds = pydicom.dcmread(_outputs(tmp_path / "o")[0], stop_before_pixels=True)
    assert [i.CodeValue for i in ds.DeidentificationMethodCodeSequence] == ["113100", "113101"]


def test_the_reidentification_map_is_local_sealed_and_answers(home, small_cohort, tmp_path):
    run_cli("deid-key", "create", home=home)
    out = tmp_path / "out"
    run_cli("anonymize", str(small_cohort.out_dir), str(out), home=home)
    source = pydicom.dcmread(small_cohort.files[0], stop_before_pixels=True)
    first = _headers(out)
    pseudonym = str(first[0].PatientID)
    done = run_cli("reidentify", pseudonym, "--json", home=home)
    assert done.returncode == 0, done.stderr
    who = json.loads(done.stdout)
    assert who["kind"] == "patient"
    originals = {str(pydicom.dcmread(f, stop_before_pixels=True).PatientID)
                 for f in small_cohort.files}
    assert who["patient_id"] in originals
    study = run_cli("reidentify", str(first[0].StudyInstanceUID), "--json", home=home)
    assert json.loads(study.stdout)["kind"] == "study"
    # Sealed: the library database holds no patient ID or name in the clear.
    db = b"".join(p.read_bytes() for p in (home / "library").rglob("library.db*"))
    assert db, "the map lives in the library database"
    assert str(source.PatientID).encode() not in db
    assert str(source.PatientName).encode() not in db
    unknown = run_cli("reidentify", "MDNOTAPSEUDONYM", home=home)
    assert unknown.returncode == 2 and "not in this workstation" in unknown.stderr


def test_bad_deid_settings_are_refused_in_one_line(home, tmp_path):
    for key, value, fragment in (("deid.options", "retain-everything", "unknown"),
                                 ("deid.options", "retain-full-dates,retain-modified-dates",
                                  "not both"),
                                 ("deid.safe_private", str(tmp_path / "none.txt"), "No such file")):
        done = run_cli("config", "set", key, value, home=home)
        assert done.returncode == 2, key
        assert fragment in done.stderr and len(done.stderr.strip().splitlines()) == 1
    allow = tmp_path / "allow.txt"
    allow.write_text('"VENDOR 1" 0009 10\nbroken line\n')
    done = run_cli("config", "set", "deid.safe_private", str(allow), home=home)
    assert done.returncode == 2 and "line 2" in done.stderr


def test_identifiers_outside_any_element_never_reach_the_output(home, tmp_path):
    """A name or ID in the preamble, the file meta, after the data set, in the
    encapsulation of the pixel data or in delimiters: the written files hold
    the cleaned data set only."""
    from tests.support.deid_planting import MAY_BE_HELD_BACK, leaked, outside_element_files

    run_cli("deid-key", "create", home=home)
    src = tmp_path / "in"
    src.mkdir()
    files = outside_element_files()
    for label, data in files.items():
        (src / (label.replace(" ", "-") + ".dcm")).write_bytes(data)
    for verify in ([], ["--verify"]):
        out = tmp_path / ("out" + "".join(verify))
        done = run_cli("anonymize", str(src), str(out), "--json", *verify, home=home)
        summary = json.loads(done.stdout)
        written = _outputs(out)
        for path in written:
            data = path.read_bytes()
            assert leaked(data) == [], path.name
            assert data[:128] == bytes(128)
        held = {f["file"] for f in summary["quarantined"] + summary["blocked"]}
        assert held <= {label.replace(" ", "-") + ".dcm" for label in MAY_BE_HELD_BACK}, held
        assert summary["written"] == len(files) - len(held) and not summary["failed"]
        assert len(written) == summary["written"]
