"""The one atomic writer: all or nothing, private, and its temporary file never left."""

from __future__ import annotations

import os
import stat

import pytest

from engine.atomic import atomic_file, atomic_output, write_atomically
from engine.errors import MammoDeskError


def test_a_replaced_file_is_whole_and_private(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    write_atomically(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["a.json"]


def test_a_failure_mid_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(target) as fh:
        fh.write(b"half")
        raise RuntimeError("stopped")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_mode_widens_the_permissions(tmp_path):
    target = tmp_path / "manifest.json"
    write_atomically(target, b"{}", mode=0o644)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_user_named_output_that_cannot_be_written_is_one_line(tmp_path):
    with (pytest.raises(MammoDeskError, match=r"cannot write the report to .*: No such file"),
          atomic_output(tmp_path / "missing" / "r.pdf", "report") as fh):
        fh.write(b"x")
