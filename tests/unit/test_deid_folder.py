"""``anonymize --verify``: the written bytes are checked before the file gets its
name, and a file that fails leaves nothing behind in the output folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sync.deid import folder
from sync.deid.deidentify import Deidentifier
from sync.deid.keys import SiteKeys
from sync.deid.profile import profile_from_settings
from tests.support.deid_planting import OUTSIDE_ID, OUTSIDE_NAME, outside_person_image
from tests.support.dicom_factory import to_bytes

KEYS = SiteKeys(secret=b"v" * 32, map_key=b"w" * 32)


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    (src / "one.dcm").write_bytes(to_bytes(outside_person_image()))
    return src


def _everything(out: Path) -> list[Path]:
    return sorted(out.rglob("*"))


def test_verification_reads_the_bytes_before_the_final_name_exists(tmp_path, monkeypatch):
    seen: list[tuple[bool, int]] = []
    real = folder._verify

    def watching(path, outcome):
        final = [p for p in (tmp_path / "out").rglob("*.dcm") if not p.name.startswith(".")]
        seen.append((bool(final), len(path.read_bytes())))
        return real(path, outcome)

    monkeypatch.setattr(folder, "_verify", watching)
    summary = folder.anonymize_folder(_source(tmp_path), tmp_path / "out",
                                      profile=profile_from_settings({}), keys=KEYS,
                                      verify=True, workers=1)
    assert len(summary.written) == 1
    assert seen and seen[0][0] is False  # verified under the temporary name
    assert seen[0][1] == summary.written[0].stat().st_size
    assert [p.name for p in _everything(tmp_path / "out") if p.is_file()] == [
        summary.written[0].name]


def test_a_file_that_fails_verification_leaves_nothing_in_the_output(tmp_path, monkeypatch):
    real = Deidentifier.run

    def faulty(self, ds, **kwargs):  # a de-identification fault: the ID slips into the bytes
        outcome = real(self, ds, **kwargs)
        outcome.data = outcome.data + OUTSIDE_ID.encode()
        return outcome

    monkeypatch.setattr(Deidentifier, "run", faulty)
    out = tmp_path / "out"
    summary = folder.anonymize_folder(_source(tmp_path), out, profile=profile_from_settings({}),
                                      keys=KEYS, verify=True, workers=1)
    assert summary.written == []
    assert [f for f, _ in summary.blocked] == ["one.dcm"]
    reason = summary.blocked[0][1]
    assert reason.startswith("verify:") and OUTSIDE_ID not in reason and "Oake" not in reason
    assert OUTSIDE_NAME  # the synthetic woman the file belongs to
    assert _everything(out) == []  # no file, no temporary file, no empty folder


def test_fifos_and_devices_are_reported_never_opened(tmp_path):
    src = _source(tmp_path)
    os.mkfifo(src / "pipe.dcm")  # opening it would wait for a writer for ever
    (src / "zero.dcm").symlink_to("/dev/zero")
    started = time.monotonic()
    summary = folder.anonymize_folder(src, tmp_path / "out", profile=profile_from_settings({}),
                                      keys=KEYS, workers=1)
    assert time.monotonic() - started < 30
    assert len(summary.written) == 1
    assert sorted(summary.failed) == [("pipe.dcm", "not a regular file (FIFO)"),
                                      ("zero.dcm", "not a regular file (character device)")]
