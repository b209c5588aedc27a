"""The sync stager goes on past malformed objects: a malformed image is
quarantined and a report that cannot be built is marked failed, each with one
line and no values; the rest of the study is staged."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.tag import Tag

from engine.ai.store import save_result
from engine.library import import_paths, outbox
from engine.library.reads import Read, save_draft, sign
from engine.library.worklist import worklist
from sync.deid.deidentify import Deidentifier
from sync.deid.keys import create_site_secret
from sync.deid.profile import profile_from_settings
from sync.stage import Stager
from tests.support.sr import make_result


@pytest.fixture
def keys(plaintext_keyring):
    return create_site_secret()


@pytest.fixture
def study(library, small_cohort):
    """A library whose first study has an AI result and a signed read; its image files."""
    import_paths(library, small_cohort.files)
    uid = worklist(library)[0].study_uid
    files = [library.file_path(r) for (r,) in library.conn.execute(
        "SELECT rel_path FROM instances WHERE study_uid = ? ORDER BY rel_path", (uid,))]
    save_result(library, make_result([pydicom.dcmread(f, stop_before_pixels=True)
                                      for f in files]))
    save_draft(library, uid, "Dr Reader", Read(birads={"R": "1", "L": "1"},
                                               density={"R": "b", "L": "b"},
                                               recommendation="routine"))
    sign(library, uid, "Dr Reader", queue=False)  # the tests queue it themselves
    return library, uid, files


def _retype(path: Path, keyword: str, old: str, new: str) -> bytes:
    """Rewrite one element's VR in a file (same header layout); its value bytes."""
    tag = Tag(keyword)
    head = tag.group.to_bytes(2, "little") + tag.element.to_bytes(2, "little")
    data = path.read_bytes()
    at = data.find(head + old.encode())
    assert at > 0 and data.count(head + old.encode()) == 1
    path.write_bytes(data[:at] + head + new.encode() + data[at + 6:])
    length = int.from_bytes(data[at + 6:at + 8], "little")
    return data[at + 8:at + 8 + length].strip(b" \0")


def _prepare(library, keys, tmp_path) -> list[outbox.Item]:
    stager = Stager(library, tmp_path / "outbox", Deidentifier(profile_from_settings({}), keys),
                    workers=1)
    (box, _), = outbox.open_studies(library)
    stager.prepare(outbox.items(library, box))
    return outbox.items(library, box)


def _one_line_without(error: str | None, value: bytes) -> None:
    assert error and "\n" not in error and len(error) < 200, error
    assert value.decode() not in error


def test_a_malformed_image_is_quarantined_and_the_rest_staged(study, keys, tmp_path):
    library, uid, files = study
    value = _retype(files[0], "SeriesInstanceUID", "UI", "DS")  # cannot hold a keyed UID
    outbox.enqueue(library, [uid], "signed")
    items = _prepare(library, keys, tmp_path)
    held = [i for i in items if i.state != outbox.DEIDENTIFIED]
    assert [(i.kind, i.state) for i in held] == [(outbox.IMAGE, outbox.QUARANTINED)]
    assert held[0].last_error.startswith("malformed content")
    _one_line_without(held[0].last_error, value)
    assert len(list((tmp_path / "outbox").rglob("*.dcm"))) == len(items) - 1


def test_an_unreadable_image_header_fails_the_reports_and_staging_goes_on(study, keys,
                                                                          tmp_path):
    library, uid, files = study
    values = {_retype(f, "AccessionNumber", "SH", "FD") for f in files}  # 8-byte floats
    outbox.enqueue(library, [uid], "signed")
    items = _prepare(library, keys, tmp_path)
    reports = [i for i in items if i.kind != outbox.IMAGE]
    assert len(reports) == 2 and {i.state for i in reports} == {outbox.FAILED}
    for item in reports:
        for value in values:
            _one_line_without(item.last_error, value)
    assert {i.state for i in items if i.kind == outbox.IMAGE} == {outbox.DEIDENTIFIED}
