"""The model update audit log: append-only, hash-chained, damage detected."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path

import pytest

from engine.ai import update_log
from engine.ai.update_log import (
    GENESIS,
    UpdateLogDamaged,
    UpdateLogError,
    append,
    entries,
    head_path,
    verify,
)
from engine.errors import MammoDeskError


def _filled(tmp_path: Path, n: int = 5) -> Path:
    log = update_log.log_path(tmp_path / "models")
    for i in range(1, n + 1):
        append(log, "fetched", {"version": f"1.{i}.0", "url": f"https://models.example/{i}"},
               actor="it-admin")
    return log


def _lines(log: Path) -> list[bytes]:
    return log.read_bytes().splitlines(keepends=True)


def _write_lines(log: Path, lines: list[bytes]) -> None:
    log.write_bytes(b"".join(lines))


def _canonical(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_append_and_read_back(tmp_path):
    log = update_log.log_path(tmp_path / "models")
    first = append(log, "fetched", {"version": "1.2.0", "url": "https://m.example/x"})
    second = append(log, "verified", {"version": "1.2.0", "keyids": ["ab12", "cd34"]},
                    actor="dr. reader")
    got = entries(log)
    assert [e.as_dict() for e in got] == [first.as_dict(), second.as_dict()]
    assert [e.seq for e in got] == [1, 2]
    assert got[0].prev == GENESIS and got[1].prev == got[0].hash
    assert got[1].details == {"version": "1.2.0", "keyids": ["ab12", "cd34"],
                              "actor": "dr. reader"}
    assert got[0].at.endswith("Z")


def test_file_format_is_canonical_json_lines_with_sha256_chain(tmp_path):
    log = _filled(tmp_path, 3)
    prev = GENESIS
    for seq, raw in enumerate(_lines(log), start=1):
        assert raw.endswith(b"\n")
        obj = json.loads(raw)
        assert raw[:-1] == _canonical(obj)
        assert set(obj) == {"seq", "at", "event", "details", "prev", "hash"}
        assert obj["seq"] == seq and obj["prev"] == prev
        without = {k: v for k, v in obj.items() if k != "hash"}
        assert obj["hash"] == hashlib.sha256(_canonical(without)).hexdigest()
        prev = obj["hash"]
    assert json.loads(head_path(log).read_text()) == {"seq": 3, "hash": prev}


def test_chain_verifies(tmp_path):
    log = _filled(tmp_path, 5)
    verdict = verify(log)
    assert verdict.ok and verdict.count == 5 and verdict.first_bad is None
    assert verdict.reason == ""


def test_missing_log_is_an_empty_valid_log(tmp_path):
    log = tmp_path / "models" / "update-log.jsonl"
    assert verify(log).ok and verify(log).count == 0
    assert entries(log) == []
    assert not log.parent.exists()  # reading creates nothing


def test_edited_middle_field_is_detected(tmp_path):
    log = _filled(tmp_path, 5)
    lines = _lines(log)
    lines[2] = lines[2].replace(b"1.3.0", b"9.9.9")
    _write_lines(log, lines)
    verdict = verify(log)
    assert not verdict.ok and verdict.first_bad == 3 and verdict.count == 2
    assert "entry 3 was changed" in verdict.reason


def test_edit_with_recomputed_hash_breaks_the_next_link(tmp_path):
    log = _filled(tmp_path, 5)
    lines = _lines(log)
    obj = json.loads(lines[1])
    obj["details"]["version"] = "0.0.1"
    obj["hash"] = hashlib.sha256(_canonical({k: v for k, v in obj.items()
                                             if k != "hash"})).hexdigest()
    lines[1] = _canonical(obj) + b"\n"
    _write_lines(log, lines)
    verdict = verify(log)
    assert not verdict.ok and verdict.first_bad == 3
    assert "does not follow entry 2" in verdict.reason


def test_whitespace_edit_is_detected(tmp_path):
    log = _filled(tmp_path, 3)
    lines = _lines(log)
    lines[1] = lines[1].replace(b'","', b'", "', 1)
    _write_lines(log, lines)
    verdict = verify(log)
    assert not verdict.ok and verdict.first_bad == 2 and "canonical form" in verdict.reason


def test_deleted_middle_line_is_detected(tmp_path):
    log = _filled(tmp_path, 5)
    lines = _lines(log)
    del lines[2]
    _write_lines(log, lines)
    verdict = verify(log)
    assert not verdict.ok and verdict.first_bad == 3
    assert "expected entry 3 but found entry 4" in verdict.reason


def test_swapped_lines_are_detected(tmp_path):
    log = _filled(tmp_path, 5)
    lines = _lines(log)
    lines[1], lines[2] = lines[2], lines[1]
    _write_lines(log, lines)
    verdict = verify(log)
    assert not verdict.ok and verdict.first_bad == 2
    assert "reordered" in verdict.reason


def test_inserted_forged_line_is_detected(tmp_path):
    log = _filled(tmp_path, 5)
    lines = _lines(log)
    # A forger who knows the format chains a well-formed entry onto entry 2.
    forged = {"seq": 3, "at": "2026-01-01T00:00:00.000Z", "event": "accepted",
              "details": {"version": "6.6.6"}, "prev": json.loads(lines[1])["hash"]}
    forged["hash"] = hashlib.sha256(_canonical(forged)).hexdigest()
    lines.insert(2, _canonical(forged) + b"\n")
    _write_lines(log, lines)
    verdict = verify(log)
    assert not verdict.ok and verdict.first_bad == 4 and verdict.count == 3
    assert "expected entry 4 but found entry 3" in verdict.reason


def test_inserted_garbage_line_is_detected(tmp_path):
    log = _filled(tmp_path, 4)
    lines = _lines(log)
    lines.insert(1, b"not json at all\n")
    _write_lines(log, lines)
    verdict = verify(log)
    assert not verdict.ok and verdict.first_bad == 2 and "not valid JSON" in verdict.reason


def test_truncated_tail_is_detected_by_the_head_file(tmp_path):
    log = _filled(tmp_path, 5)
    _write_lines(log, _lines(log)[:3])
    verdict = verify(log)
    assert not verdict.ok and verdict.count == 3 and verdict.first_bad == 4
    assert "ends at entry 3" in verdict.reason and "entry 5" in verdict.reason


def test_emptied_log_is_detected(tmp_path):
    log = _filled(tmp_path, 2)
    log.write_bytes(b"")
    verdict = verify(log)
    assert not verdict.ok and verdict.first_bad == 1


def test_replaced_last_entry_is_detected(tmp_path):
    log = _filled(tmp_path, 3)
    lines = _lines(log)
    # A well-formed, correctly chained replacement for the last entry.
    obj = json.loads(lines[2])
    obj["event"], obj["details"] = "refused", {"reason": "rewritten"}
    obj["hash"] = hashlib.sha256(_canonical({k: v for k, v in obj.items()
                                             if k != "hash"})).hexdigest()
    lines[2] = _canonical(obj) + b"\n"
    _write_lines(log, lines)
    verdict = verify(log)
    assert not verdict.ok and verdict.first_bad == 3
    assert "differs from the one the head file records" in verdict.reason


def test_torn_last_line_is_reported(tmp_path):
    log = _filled(tmp_path, 4)
    with log.open("ab") as fh:
        fh.write(b'{"at":"2026-01-01T00:00:00.000Z","det')
    verdict = verify(log)
    assert not verdict.ok and verdict.count == 4 and verdict.first_bad == 5
    assert "torn" in verdict.reason
    assert len(entries(log)) == 4


def test_head_one_behind_after_a_crash_is_accepted_and_repaired(tmp_path):
    log = _filled(tmp_path, 3)
    head = head_path(log).read_bytes()
    append(log, "activated", {"version": "1.3.0"})
    head_path(log).write_bytes(head)  # as if the process died before the head was replaced
    assert verify(log).ok and verify(log).count == 4
    append(log, "rolled_back", {"version": "1.2.0"})
    assert json.loads(head_path(log).read_text())["seq"] == 5
    assert verify(log).ok


def test_missing_head_on_nonempty_log_is_reported(tmp_path):
    log = _filled(tmp_path, 3)
    head_path(log).unlink()
    verdict = verify(log)
    assert not verdict.ok and verdict.first_bad is None
    assert verdict.reason == "the head file beside the log is missing"


def test_unreadable_head_is_reported(tmp_path):
    log = _filled(tmp_path, 2)
    head_path(log).write_text("{oops")
    verdict = verify(log)
    assert not verdict.ok and "unreadable" in verdict.reason


def test_appending_to_a_damaged_log_is_refused(tmp_path):
    log = _filled(tmp_path, 4)
    lines = _lines(log)
    del lines[1]
    _write_lines(log, lines)
    before = log.read_bytes()
    with pytest.raises(UpdateLogDamaged) as info:
        append(log, "activated", {"version": "2.0.0"})
    assert isinstance(info.value, MammoDeskError)
    message = str(info.value)
    assert "\n" not in message and "damaged" in message and "expected entry 2" in message
    assert log.read_bytes() == before


def test_appending_after_a_torn_line_is_refused(tmp_path):
    log = _filled(tmp_path, 2)
    with log.open("ab") as fh:
        fh.write(b'{"at":')
    before = log.read_bytes()
    with pytest.raises(UpdateLogDamaged, match="torn"):
        append(log, "fetched", {"version": "3.0.0"})
    assert log.read_bytes() == before


def test_unknown_event_is_refused(tmp_path):
    log = tmp_path / "update-log.jsonl"
    with pytest.raises(UpdateLogError, match="unknown model update event 'installed'"):
        append(log, "installed", {"version": "1.0.0"})
    assert not log.exists()


@pytest.mark.parametrize("bad", [
    {"when": __import__("datetime").date(2026, 1, 1)},
    {"keys": {"ab", "cd"}},
    {"blob": b"\x00\x01"},
    {"score": float("nan")},
    {"nested": {1: "x"}},
    {"obj": object()},
])
def test_non_json_details_are_refused(tmp_path, bad):
    log = tmp_path / "update-log.jsonl"
    with pytest.raises(UpdateLogError, match="update log details"):
        append(log, "refused", bad)
    assert not log.exists()


def test_oversized_details_are_refused(tmp_path):
    log = _filled(tmp_path, 1)
    before = log.read_bytes()
    with pytest.raises(UpdateLogError, match="too large"):
        append(log, "refused", {"reason": "x" * update_log.MAX_LINE_BYTES})
    assert log.read_bytes() == before and verify(log).ok


def test_all_events_are_accepted(tmp_path):
    log = tmp_path / "update-log.jsonl"
    for event in update_log.EVENTS:
        append(log, event, {"reason": event})
    assert [e.event for e in entries(log)] == list(update_log.EVENTS)
    assert verify(log).ok


def _worker(log: str, who: int, n: int) -> None:
    for i in range(n):
        append(Path(log), "fetched", {"worker": who, "i": i})


def test_concurrent_appends_from_several_processes(tmp_path):
    log = tmp_path / "models" / "update-log.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(str(log), w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    verdict = verify(log)
    assert verdict.ok and verdict.count == 100
    got = entries(log)
    assert [e.seq for e in got] == list(range(1, 101))
    assert sorted((e.details["worker"], e.details["i"]) for e in got) == [
        (w, i) for w in range(4) for i in range(25)]


def test_entries_added_without_the_head_are_detected(tmp_path):
    log = _filled(tmp_path, 2)
    head = head_path(log).read_bytes()
    append(log, "pinned", {"version": "1.2.0"})
    append(log, "unpinned", {"version": "1.2.0"})
    head_path(log).write_bytes(head)
    verdict = verify(log)
    assert not verdict.ok and verdict.first_bad == 3
    assert "goes on to entry 4" in verdict.reason


def test_a_failed_write_leaves_the_log_as_it_was(tmp_path, monkeypatch):
    log = _filled(tmp_path, 2)
    before = log.read_bytes()
    real_write = update_log.os.write

    def half_then_full_disk(fd, data):
        if len(data) > 10:
            real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(update_log.os, "write", half_then_full_disk)
    with pytest.raises(UpdateLogError, match="No space left on device") as info:
        append(log, "fetched", {"version": "2.0.0"})
    monkeypatch.undo()
    assert "\n" not in str(info.value)
    assert log.read_bytes() == before and verify(log).ok
