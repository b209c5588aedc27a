"""``priority UID --urgent|--routine``: what a RIS or a script sets, the
worklist and ``studies`` show, and the library keeps."""

from __future__ import annotations

import json

import pydicom
import pytest

from engine.library import Library, list_studies
from engine.library.worklist import worklist
from ui.cli import main


@pytest.fixture
def home(tmp_path, small_cohort):
    home = tmp_path / "home"
    assert main(["--home", str(home), "import", *map(str, small_cohort.files)]) == 0
    return home


def _run(home, capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--home", str(home), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _studies(home, capsys) -> list[dict]:
    code, out, _ = _run(home, capsys, "studies", "--json")
    assert code == 0
    return json.loads(out)["studies"]


def test_urgent_from_the_command_line_shows_in_the_worklist_and_stays(home, capsys):
    first, second = (s["study_uid"] for s in _studies(home, capsys)[:2])
    code, out, err = _run(home, capsys, "priority", first, "--urgent", "--json")
    assert code == 0, err
    assert json.loads(out) == {"study_uid": first, "priority": "urgent"}
    with Library(home / "library") as lib:  # a fresh open: it was written, not held
        rows = {r.study_uid: r for r in worklist(lib)}
    assert rows[first].urgent and not rows[second].urgent
    listed = {s["study_uid"]: s for s in _studies(home, capsys)}
    assert listed[first]["priority"] == "urgent" and listed[second]["priority"] == "routine"
    code, out, _ = _run(home, capsys, "studies")
    line = next(line for line in out.splitlines() if first in line)
    assert "URGENT" in line
    code, out, _ = _run(home, capsys, "priority", first, "--routine")
    assert code == 0 and out.strip() == "study marked routine"
    assert {s["priority"] for s in _studies(home, capsys)} == {"routine"}


def test_studies_json_keeps_its_keys_and_adds_age_and_priority(home, capsys, small_cohort):
    births = {}
    for path in small_cohort.files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        births[ds.StudyInstanceUID] = str(ds.PatientBirthDate)
    studies = _studies(home, capsys)
    with Library(home / "library") as lib:
        expected_keys = set(list_studies(lib)[0].as_dict()) | {"ai_result"}
    for study in studies:
        assert set(study) == expected_keys | {"age", "priority"}
        born = births[study["study_uid"]]
        assert born.endswith("0101")  # the synthetic women are born on 1 January
        assert study["age"] == int(study["study_date"][:4]) - int(born[:4])


def test_an_unknown_study_is_one_line_and_exit_2(home, capsys):
    code, out, err = _run(home, capsys, "priority", "1.2.999", "--urgent")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and out == ""
    assert len(lines) == 1 and "no such study in the library" in lines[0]
    assert "1.2.999" not in lines[0]


def test_urgent_or_routine_must_be_said(home, capsys):
    uid = _studies(home, capsys)[0]["study_uid"]
    for args in ([], ["--urgent", "--routine"]):
        with pytest.raises(SystemExit) as exited:
            _run(home, capsys, "priority", uid, *args)
        assert exited.value.code == 2
