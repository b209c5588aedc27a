"""``outcome`` and ``audit`` as a user runs them: outcomes added one at a time
or from a file (a bad row: exit 2, one line, nothing written), and the audit
as a table, as JSON with every measure per reader and site, and as a PDF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.library import Library, import_paths
from engine.library.reads import Finding, Read, sign
from tests.support.cli import run_cli
from tests.support.dicom_factory import mg_dataset

pytestmark = pytest.mark.slow  # each test runs the command line several times

STUDIES = {  # uid: (patient, study date, reader, right breast BI-RADS)
    "1.2.826.0.1.3680043.10.1234.701": ("SYN-0701", "20240110", "Dr A", "4B"),
    "1.2.826.0.1.3680043.10.1234.702": ("SYN-0702", "20240115", "Dr B", "1"),
}
BIOPSIED, NEGATIVE = STUDIES
MEASURES = {"exams", "recalls", "recall_rate", "cancers", "cancer_detection_rate_per_1000",
            "ppv1", "ppv2", "ppv3", "sensitivity", "specificity", "median_reading_time_s"}


@pytest.fixture
def home(tmp_path) -> Path:
    home = tmp_path / "home"
    folder = tmp_path / "dicom"
    folder.mkdir()
    for n, (uid, (patient, date, _r, _b)) in enumerate(STUDIES.items()):
        mg_dataset(StudyInstanceUID=uid, PatientID=patient, StudyDate=date).save_as(
            folder / f"{n}.dcm", enforce_file_format=True)
    with Library(home / "library") as lib:
        assert not import_paths(lib, [folder]).rejected
        for uid, (_p, _d, reader, birads) in STUDIES.items():
            biopsy = birads != "1"
            sign(lib, uid, reader, Read(
                birads={"R": birads, "L": "1"}, density={"R": "b", "L": "b"},
                findings=[Finding("R", "mass", descriptors=["oval"])] if biopsy else [],
                recommendation="biopsy" if biopsy else "routine", reading_time_s=50.0))
    return home


def _listed(home: Path) -> list[dict]:
    done = run_cli("outcome", "list", "--json", home=home)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["outcomes"]


def _user_error(done, *words: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), done.stderr


def test_outcome_add_and_list(home):
    done = run_cli("outcome", "add", BIOPSIED, "--side", "R", "--result", "malignant",
                   "--date", "2024-01-25", "--histology", "invasive ductal carcinoma",
                   "--size-mm", "8", "--nodes", "negative", home=home)
    assert done.returncode == 0, done.stderr
    assert "added 1 outcome" in done.stdout
    [outcome] = _listed(home)
    assert (outcome["study_uid"], outcome["side"], outcome["result"], outcome["date"],
            outcome["size_mm"], outcome["nodes"]) == (BIOPSIED, "R", "malignant", "2024-01-25",
                                                      8.0, "negative")
    _user_error(run_cli("outcome", "add", BIOPSIED, "--side", "R", "--result", "benign",
                        "--date", "25/01/2024", home=home), "YYYY-MM-DD")
    _user_error(run_cli("outcome", "add", "1.2.3.4", "--side", "L", "--result", "benign",
                        "--date", "2024-01-25", home=home), "no such study")
    assert len(_listed(home)) == 1


def test_outcome_import_is_all_or_nothing(home, tmp_path):
    header = "study_uid,side,result,date,histology,size_mm,nodes\n"
    good = (f"{BIOPSIED},R,malignant,2024-01-25,invasive ductal,8,negative\n"
            f"{NEGATIVE},L,benign,2024-02-01,,,\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(header + good + f"{NEGATIVE},L,benign,2024-02-31,,,\n", encoding="utf-8")
    done = run_cli("outcome", "import", str(bad), home=home)
    _user_error(done, "row 3", "date", "nothing was added")
    assert "SYN-07" not in done.stderr and NEGATIVE not in done.stderr
    assert _listed(home) == []
    fine = tmp_path / "fine.csv"
    fine.write_text(header + good, encoding="utf-8")
    done = run_cli("outcome", "import", str(fine), "--json", home=home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 2
    again = run_cli("outcome", "import", str(fine), home=home)
    assert again.returncode == 0 and "added 0 outcomes (2 already recorded)" in again.stdout
    assert len(_listed(home)) == 2


def test_audit_json_has_every_measure_per_reader_and_site(home):
    run_cli("outcome", "add", BIOPSIED, "--side", "R", "--result", "malignant", "--date",
            "2024-01-25", home=home)
    done = run_cli("audit", "--from", "2024-01-01", "--to", "2024-12-31", "--json", home=home)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert sorted(doc["readers"]) == ["Dr A", "Dr B"]
    for group in [doc["site"], *doc["readers"].values()]:
        assert set(group) >= MEASURES and set(group["ai"]) >= MEASURES
        assert "not for clinical use" in group["ai"]["notice"]
    site = doc["site"]
    assert (site["exams"], site["recalls"], site["cancers"]) == (2, 1, 1)
    assert site["recall_rate"] == 0.5 and site["ppv1"] == 1.0 and site["ppv2"] == 1.0
    assert site["cancer_detection_rate_per_1000"] == 500.0
    assert site["median_reading_time_s"] == 50.0
    assert site["ai"]["exams_without_result"] == 2  # nothing analysed
    assert doc["benchmarks"]["bcsc_2017"]["values"]["ppv1"] == 0.044
    assert doc["period"] == {"from": "2024-01-01", "to": "2024-12-31"}
    one = json.loads(run_cli("audit", "--reader", "dr a", "--json", home=home).stdout)
    assert list(one["readers"]) == ["Dr A"]


def test_audit_table_and_pdf(home, tmp_path):
    out = tmp_path / "audit.pdf"
    done = run_cli("audit", "--pdf", str(out), home=home)
    assert done.returncode == 0, done.stderr
    assert "Recall rate" in done.stdout and "BCSC 2017" in done.stdout
    assert "not for clinical use" in done.stdout
    assert out.read_bytes().startswith(b"%PDF")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".audit.pdf")]


@pytest.mark.parametrize(("args", "words"), [
    (("--from", "2024-13-01"), ("--from", "YYYY-MM-DD")),
    (("--from", "2024-06-01", "--to", "2024-01-01"), ("after",)),
    (("--reader", "Dr Nobody"), ("no signed read",)),
])
def test_audit_user_errors_are_one_line(home, args, words):
    _user_error(run_cli("audit", *args, home=home), *words)
