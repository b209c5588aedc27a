"""The DICOMweb client against a loopback fake server whose answers each test scripts.

What the sync queue sees: which instances the cloud holds, which failed for
good and why, what to retry, and the right error class for every way the
request can go wrong.
"""

from __future__ import annotations

import json
import socket
import time
from email.utils import formatdate
from pathlib import Path

import pytest
import requests

from sync.dicomweb import BatchTooLargeError, ping, qido_instances, stow
from sync.errors import (
    AuthError,
    ConfigError,
    OfflineError,
    RejectedError,
    TransientError,
)
from sync.multipart import SourceChangedError
from tests.support.fake_dicomweb import Answer, FakeDicomWeb, Seen

STUDY = "2.25.1000"
SOPS = [f"2.25.1000.{i}" for i in range(1, 4)]


@pytest.fixture
def server():
    fake = FakeDicomWeb()
    yield fake
    fake.close()


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


@pytest.fixture
def files(tmp_path: Path) -> list[tuple[Path, str]]:
    out = []
    for i, sop in enumerate(SOPS):
        path = tmp_path / f"instance{i}.dcm"
        path.write_bytes(b"\0" * 128 + b"DICM" + bytes([i]) * (1000 + i))
        out.append((path, sop))
    return out


# -- DICOM JSON answers ------------------------------------------------------------

def _ref(uid: str, warning: int | None = None) -> dict:
    item = {"00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.1.2"]},
            "00081155": {"vr": "UI", "Value": [uid]}}
    if warning is not None:
        item["00081196"] = {"vr": "US", "Value": [warning]}
    return item


def _fail(uid: str, reason: int | str) -> dict:
    return {"00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.1.2"]},
            "00081155": {"vr": "UI", "Value": [uid]},
            "00081197": {"vr": "US", "Value": [reason]}}


def response(stored: list[dict] = (), failed: list[dict] = ()) -> dict:
    body: dict = {"00080005": {"vr": "CS", "Value": ["ISO_IR 100"]}}
    body["00081198"] = {"vr": "SQ", "Value": list(failed)} if failed else {"vr": "SQ"}
    body["00081199"] = {"vr": "SQ", "Value": list(stored)} if stored else {"vr": "SQ"}
    return body


# -- STOW-RS ------------------------------------------------------------------------

def test_all_stored_and_request_is_a_proper_stow(server, session, files):
    server.answer(200, response(stored=[_ref(s) for s in SOPS]))
    out = stow(session, server.url, STUDY, files)
    assert out.status == 200
    assert out.stored == set(SOPS)
    assert not out.failed and not out.retry and not out.unknown

    seen = server.seen[0]
    assert seen.method == "POST"
    assert seen.path == f"/dicom-web/studies/{STUDY}"
    assert seen.headers["accept"] == "application/dicom+json"
    assert seen.headers["content-type"].startswith(
        'multipart/related; type="application/dicom"; boundary=')
    assert "transfer-encoding" not in seen.headers
    assert int(seen.headers["content-length"]) == seen.length == len(seen.body)
    for path, _ in files:
        assert path.read_bytes() in seen.body


def test_partial_failure_names_the_code(server, session, files):
    server.answer(202, response(stored=[_ref(SOPS[0]), _ref(SOPS[2])],
                                failed=[_fail(SOPS[1], 0xC000)]))
    out = stow(session, server.url, STUDY, files)
    assert out.stored == {SOPS[0], SOPS[2]}
    assert set(out.failed) == {SOPS[1]}
    assert "0xC000" in out.failed[SOPS[1]]
    assert "\n" not in out.failed[SOPS[1]]
    assert not out.retry and not out.unknown


@pytest.mark.parametrize("code", [0x0111, 45070])  # PS3.7 duplicate; Azure "already exists"
def test_duplicate_counts_as_stored(server, session, files, code):
    server.answer(409, response(failed=[_fail(s, code) for s in SOPS]))
    out = stow(session, server.url, STUDY, files)
    assert out.status == 409
    assert out.stored == set(SOPS)
    assert not out.failed and not out.retry


def test_repost_answered_like_orthanc_is_stored(server, session, files):
    # Orthanc answers a re-post with 200 and every instance referenced again.
    server.answer(200, response(stored=[_ref(s) for s in SOPS]))
    server.answer(200, response(stored=[_ref(s) for s in SOPS]))
    first = stow(session, server.url, STUDY, files)
    again = stow(session, server.url, STUDY, files)
    assert first.stored == again.stored == set(SOPS)


def test_conflict_is_parsed_per_instance(server, session, files):
    # 409 from Orthanc with 0x0110 is a study mismatch: retrying cannot help.
    server.answer(409, response(failed=[_fail(SOPS[0], 0x0110), _fail(SOPS[1], 0xA700)]),
                  content_type=None)
    out = stow(session, server.url, STUDY, files)
    assert "0x0110" in out.failed[SOPS[0]]
    assert out.retry == {SOPS[1]}  # out of resources: later
    assert SOPS[2] in out.failed  # not named in a 409: not stored
    assert "409" in out.failed[SOPS[2]]


@pytest.mark.parametrize("code,verdict", [
    (0x0110, "retry"), (0xA700, "retry"), (0xA7FF, "retry"), (45071, "retry"),
    (0xA771, "failed"), (0xA900, "failed"), (0xC122, "failed"), (0x0122, "failed"),
])
def test_failure_reasons_sorted_into_retry_or_failed(server, session, files, code, verdict):
    server.answer(202, response(stored=[_ref(SOPS[0])], failed=[_fail(SOPS[1], code)]))
    out = stow(session, server.url, STUDY, files[:2])
    assert out.stored == {SOPS[0]}
    if verdict == "retry":
        assert out.retry == {SOPS[1]} and not out.failed
    else:
        assert set(out.failed) == {SOPS[1]} and not out.retry
        assert f"0x{code:04X}" in out.failed[SOPS[1]]


def test_warning_reason_is_stored_with_warning(server, session, files):
    server.answer(200, response(stored=[_ref(SOPS[0], warning=0xB000)]))
    out = stow(session, server.url, STUDY, files[:1])
    assert out.stored == {SOPS[0]}
    assert "0xB000" in out.warnings[SOPS[0]]


XML = """<?xml version="1.0" encoding="utf-8"?>
<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">
  <DicomAttribute tag="00081198" vr="SQ" keyword="FailedSOPSequence">
    <Item number="1">
      <DicomAttribute tag="00081155" vr="UI"><Value number="1">{fail}</Value></DicomAttribute>
      <DicomAttribute tag="00081197" vr="US"><Value number="1">43264</Value></DicomAttribute>
    </Item>
  </DicomAttribute>
  <DicomAttribute tag="00081199" vr="SQ" keyword="ReferencedSOPSequence">
    <Item number="1">
      <DicomAttribute tag="00081155" vr="UI"><Value number="1">{ok}</Value></DicomAttribute>
    </Item>
    <Value number="1" />
  </DicomAttribute>
</NativeDicomModel>
"""


def test_xml_answer_is_parsed(server, session, files):
    body = XML.format(fail=SOPS[1], ok=SOPS[0]).encode()
    server.answer(202, body, content_type="application/dicom+xml")
    out = stow(session, server.url, STUDY, files)
    assert out.stored == {SOPS[0]}
    assert "0xA900" in out.failed[SOPS[1]]
    assert out.unknown == {SOPS[2]}


def test_xml_with_doctype_is_not_trusted(server, session, files):
    body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + XML.format(
        fail=SOPS[1], ok=SOPS[0]).split("?>", 1)[1].encode()
    server.answer(200, body, content_type=None)
    out = stow(session, server.url, STUDY, files)
    assert out.unknown == set(SOPS)


@pytest.mark.parametrize("body,ctype", [(b"", None), (b"<html>ok</html>", "text/html"),
                                        (b"{not json", "application/dicom+json")])
def test_unreadable_success_leaves_instances_unknown(server, session, files, body, ctype):
    server.answer(200, body, content_type=ctype)
    out = stow(session, server.url, STUDY, files)
    assert out.status == 200
    assert out.unknown == set(SOPS)
    assert not out.stored and not out.failed


@pytest.mark.parametrize("body", [
    {"00081199": "garbage"},
    {"00081199": {"vr": "SQ", "Value": [{"00081155": {"Value": [{"x": 1}]}}, 7, None]}},
    {"00081198": {"vr": "SQ", "Value": [{"00081155": {"Value": [SOPS[0]]},
                                         "00081197": {"Value": ["not a number"]}}]}},
    [[]],
])
def test_odd_answers_do_not_crash(server, session, files, body):
    server.answer(200, body)
    out = stow(session, server.url, STUDY, files)
    assert out.stored | out.unknown | set(out.failed) == set(SOPS)
    assert not out.stored


def test_bad_request_listing_instances_fails_the_unnamed(server, session, files):
    # Orthanc: one part unreadable -> 400, the readable parts stored and listed.
    server.answer(400, response(stored=[_ref(SOPS[0]), _ref(SOPS[2])]), content_type=None)
    out = stow(session, server.url, STUDY, files)
    assert out.stored == {SOPS[0], SOPS[2]}
    assert set(out.failed) == {SOPS[1]} and "400" in out.failed[SOPS[1]]


def test_bad_request_without_listing_is_rejected(server, session, files):
    server.answer(400, b"<html>400 Bad Request</html>", content_type="text/html")
    with pytest.raises(RejectedError, match="400"):
        stow(session, server.url, STUDY, files)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials(server, session, files, status):
    server.answer(status, b"")
    with pytest.raises(AuthError, match=f"HTTP {status}"):
        stow(session, server.url, STUDY, files)


def test_too_large_tells_the_caller_to_split(server, session, files):
    server.answer(413, b"<html>413</html>", content_type="text/html")
    with pytest.raises(BatchTooLargeError, match="too large") as caught:
        stow(session, server.url, STUDY, files)
    assert isinstance(caught.value, RejectedError)


def test_unsupported_media_type_is_rejected(server, session, files):
    server.answer(415, b"")
    with pytest.raises(RejectedError, match="415"):
        stow(session, server.url, STUDY, files)


def test_too_many_requests_carries_retry_after(server, session, files):
    server.answer(429, b"", Retry_After="7")
    with pytest.raises(TransientError) as caught:
        stow(session, server.url, STUDY, files)
    assert caught.value.retry_after == 7


def test_unavailable_with_http_date(server, session, files):
    server.answer(503, b"", Retry_After=formatdate(time.time() + 120, usegmt=True))
    with pytest.raises(TransientError) as caught:
        stow(session, server.url, STUDY, files)
    assert 110 <= caught.value.retry_after <= 121


@pytest.mark.parametrize("status", [500, 502, 504])
def test_server_errors_are_transient(server, session, files, status):
    server.answer(status, b"oops", content_type="text/plain")
    with pytest.raises(TransientError) as caught:
        stow(session, server.url, STUDY, files)
    assert caught.value.retry_after is None


@pytest.mark.parametrize("status", [404, 405, 301, 302, 307])
def test_wrong_address_is_a_configuration_error(server, session, files, status):
    server.answer(status, b"", content_type="text/html", Location=server.url + "/elsewhere")
    with pytest.raises(ConfigError, match=r"cloud\.url"):
        stow(session, server.url, STUDY, files)
    assert len(server.seen) == 1  # not followed


def test_connection_dropped_mid_body_is_transient(server, session, tmp_path):
    big = tmp_path / "big.dcm"
    big.write_bytes(b"\x01" * (8 * 1024 * 1024))
    server.keep_bodies = False
    server.script.append(Answer(drop_after=64 * 1024))
    with pytest.raises(TransientError):
        stow(session, server.url, STUDY, [(big, SOPS[0])])


def test_connection_refused_is_offline(session, files):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OfflineError):
        stow(session, f"http://127.0.0.1:{port}/dicom-web", STUDY, files,
             timeout=(2, 2))


def test_file_changing_mid_send_stops_the_upload(server, session, files):
    def grow_second_file(sent: int) -> None:
        with open(files[1][0], "ab") as f:
            f.write(b"more")

    with pytest.raises(SourceChangedError, match="prepared again") as caught:
        stow(session, server.url, STUDY, files, on_progress=grow_second_file)
    assert caught.value.path == files[1][0]
    assert STUDY not in str(caught.value)


def test_progress_reaches_the_body_length(server, session, files):
    server.answer(200, response(stored=[_ref(s) for s in SOPS]))
    progress: list[int] = []
    stow(session, server.url, STUDY, files, on_progress=progress.append)
    assert progress == sorted(progress)
    assert progress[-1] == server.seen[0].length


# -- QIDO-RS and ping ------------------------------------------------------------------

def _qido_rows(uids: list[str]) -> list[dict]:
    return [{"00080018": {"vr": "UI", "Value": [u]},
             "0020000D": {"vr": "UI", "Value": [STUDY]}} for u in uids]


def test_qido_pages_until_a_short_page(server, session):
    held = [f"{STUDY}.{i}" for i in range(10)]

    def page(seen: Seen) -> Answer:
        offset = int(seen.query["offset"][0])
        limit = int(seen.query["limit"][0])
        body = json.dumps(_qido_rows(held[offset:offset + limit])).encode()
        return Answer(200, body, {"Content-Type": "application/dicom+json"})

    server.script.extend([page, page, page])
    found = qido_instances(session, server.url, STUDY, expected=held, page=4)
    assert found == set(held)
    assert [s.query["offset"] for s in server.seen] == [["0"], ["4"], ["8"]]
    assert all(s.query["limit"] == ["4"] for s in server.seen)
    assert all(s.query["includefield"] == ["00080018"] for s in server.seen)
    assert server.seen[0].path == f"/dicom-web/studies/{STUDY}/instances"


def test_qido_stops_when_server_ignores_offset(server, session):
    rows = _qido_rows([f"{STUDY}.{i}" for i in range(4)])
    for _ in range(5):
        server.answer(200, rows)
    wanted = [f"{STUDY}.{i}" for i in range(10)]  # the server holds only the first 4
    found = qido_instances(session, server.url, STUDY, expected=wanted, page=4)
    assert len(found) == 4
    assert len(server.seen) == 2


@pytest.mark.parametrize("status,body", [(204, b""), (404, b""), (200, b"[]"), (200, b"")])
def test_qido_nothing_there(server, session, status, body):
    server.answer(status, body)
    assert qido_instances(session, server.url, STUDY, expected=SOPS) == set()


def test_qido_refused_credentials(server, session):
    server.answer(401, b"")
    with pytest.raises(AuthError):
        qido_instances(session, server.url, STUDY, expected=SOPS)


def test_qido_unreadable_answer_is_transient(server, session):
    server.answer(200, b"<html>captive portal</html>", content_type="text/html")
    with pytest.raises(TransientError):
        qido_instances(session, server.url, STUDY, expected=SOPS)


def test_ping(server, session):
    server.answer(200, [])
    ping(session, server.url)
    assert server.seen[0].path == "/dicom-web/studies"
    assert server.seen[0].query["limit"] == ["1"]


@pytest.mark.parametrize("status,body,error", [
    (401, b"", AuthError),
    (404, b"", ConfigError),
    (400, b"", ConfigError),  # Orthanc's own REST API at /studies without "since"
    (200, b'["fdfa429c-754616fa"]', ConfigError),  # Orthanc's own REST API: identifiers
    (200, b"<html>welcome to nginx</html>", ConfigError),
    (503, b"", TransientError),
])
def test_ping_errors(server, session, status, body, error):
    server.answer(status, body)
    with pytest.raises(error):
        ping(session, server.url)
