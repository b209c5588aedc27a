"""A reader of stdout that goes away early (``mammodesk studies --json | head -1``):
the command stops quietly, with nothing on stderr, and exits 141 as a program
killed by SIGPIPE does; a broken pipe that is not stdout's is still an error."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.cli import ROOT

pytestmark = pytest.mark.slow  # each test starts the command line in a process

OUTPUT_CLOSED = 141  # 128 + SIGPIPE

# The studies command replaced by one whose body is given, run through the real entry.
_DRIVER = """
import sys
from engine.errors import MammoDeskError
from ui.cli.commands import studies
def body(args, paths):
{body}
    return 0
studies.run = body
from ui.cli import main
sys.exit(main(["studies"]))
"""
_PRINT_LOTS = "for i in range(200_000):\n    print(f'study {i:06d} ' + 'x' * 60)"


def _env(home: Path, buffered: bool) -> dict[str, str]:
    env = {**os.environ, "MAMMODESK_HOME": str(home)}
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(name, None)
    if buffered:
        env.pop("PYTHONUNBUFFERED", None)  # stdout flushed only when full, or at exit
    else:
        env["PYTHONUNBUFFERED"] = "1"
    return env


def _main(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), *args]


def _driver(body: str) -> list[str]:
    return [sys.executable, "-c", _DRIVER.format(body=textwrap.indent(body, "    "))]


def _no_reader(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run with a stdout pipe whose reader has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(cmd, cwd=ROOT, env=env, stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=300)
    finally:
        os.close(write_end)


def _first_line_then_close(cmd: list[str], env: dict[str, str]) -> tuple[str, int, str]:
    """What ``cmd | head -1`` sees: the first line, then the reader closes."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read()
    return first, proc.wait(timeout=300), stderr


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("args", [("studies", "--json"), ("studies",), ("config", "list"),
                                  ("--help",)], ids=" ".join)
def test_a_command_whose_reader_has_gone_ends_quietly_with_141(tmp_path, args, buffered):
    done = _no_reader(_main(*args), _env(tmp_path, buffered))
    assert done.stderr == ""
    assert done.returncode == OUTPUT_CLOSED


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_a_long_listing_cut_after_its_first_line_ends_quietly_with_141(tmp_path, buffered):
    first, status, stderr = _first_line_then_close(_driver(_PRINT_LOTS), _env(tmp_path, buffered))
    assert first == "study 000000 " + "x" * 60 + "\n"
    assert stderr == ""
    assert status == OUTPUT_CLOSED


def test_a_failed_write_a_command_reports_as_its_own_error_is_still_quiet(tmp_path):
    body = (f"try:\n{textwrap.indent(_PRINT_LOTS, '    ')}\n"
            "except OSError as exc:\n"
            "    raise MammoDeskError('cannot write the listing') from exc")
    first, status, stderr = _first_line_then_close(_driver(body), _env(tmp_path, False))
    assert first.startswith("study 000000")
    assert stderr == ""
    assert status == OUTPUT_CLOSED


def test_a_broken_pipe_that_is_not_stdouts_is_still_an_error(tmp_path):
    # stdout is read to the end; the broken pipe is some other connection's.
    done = subprocess.run(_driver("raise BrokenPipeError(32, 'Broken pipe')"), cwd=ROOT,
                          env=_env(tmp_path, False), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 74
    assert done.stderr == "mammodesk: error: Broken pipe\n"


def test_analyze_json_into_a_closed_pipe_ends_quietly_with_141(tmp_path, small_cohort):
    study = next(p.parent for p in small_cohort.files if "prior" not in p.parent.name)
    done = _no_reader(_main("analyze", str(study), "--json"), _env(tmp_path, True))
    assert done.stderr == ""
    assert done.returncode == OUTPUT_CLOSED


def test_an_error_is_still_told_when_stdout_is_closed_too(tmp_path):
    done = _no_reader(_main("import", str(tmp_path / "missing")), _env(tmp_path, True))
    assert done.returncode == 2
    assert done.stderr.startswith("mammodesk: error: ")
    assert "Traceback" not in done.stderr


def test_an_error_into_a_closed_pipe_keeps_its_status(tmp_path):
    # ``mammodesk import MISSING 2>&1 | head -c0``: the error line cannot be written.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(_main("import", str(tmp_path / "missing")), cwd=ROOT,
                              env=_env(tmp_path, True), stdout=write_end, stderr=write_end,
                              timeout=300)
    finally:
        os.close(write_end)
    assert done.returncode == 2
