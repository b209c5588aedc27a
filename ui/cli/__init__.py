"""MammoDesk's command line: ``main(argv)`` parses, prepares the folders and
the log, runs one command and turns whatever it raised into one line on
stderr and an exit status (ui/cli/exit_codes.py).  A reader of stdout that
goes away early (``| head``) ends the run quietly, whenever the write fails:
in the command, in argparse's help, or in the last flush, which is done here
rather than at interpreter exit (where Python could only report "Exception
ignored ... BrokenPipeError" and exit 120).

Qt is imported only by the commands that show something (the window, demo
with a screen, screenshot), and only when they run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from engine import private
from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode, broken_pipe, describe_failure
from ui.cli.output import discard_output, note, stdout_closed
from ui.cli.parser import build_parser
from ui.cli.startup import log_file, make_private, resolve_paths, setup_logging

__all__ = ["main"]
log = logging.getLogger("mammodesk")


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status (an ExitCode)."""
    private.restrict_umask()  # before anything is written: folders 0700, files 0600
    try:
        return _parse_and_run(argv)
    except SystemExit as done:  # argparse has printed the help or a usage error
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            return _output_closed()
        # Unbuffered, argparse's own write failed, and argparse says nothing of it.
        if done.code in (0, None) and stdout_closed():
            return _output_closed()
        raise
    except BrokenPipeError:  # argparse's help or usage, written into a closed pipe
        return _output_closed()


def _parse_and_run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    paths: AppPaths | None = None
    try:
        paths = resolve_paths(args)
        setup_logging(paths, args.verbose)
        make_private(paths)
        code = int(args.run(args, paths))
        # Now, where a failed write is told like any other, not at interpreter exit.
        sys.stdout.flush()
        return code
    except (Exception, KeyboardInterrupt) as exc:
        if broken_pipe(exc) and stdout_closed():
            return _output_closed()
        code = _failed(exc, args, log_file(paths) if paths else None)
        try:
            sys.stdout.flush()  # what the command printed before it failed
        except OSError:
            discard_output()  # told already; it would only fail again at exit
        return code


def _output_closed() -> int:
    """The reader of stdout has gone: no message (nobody asked for more), the
    rest of the output discarded, and the status of a program killed by SIGPIPE."""
    log.info("standard output was closed by its reader; stopped")
    discard_output()
    return int(ExitCode.OUTPUT_CLOSED)


def _failed(exc: BaseException, args: argparse.Namespace, log_path: Path | None) -> int:
    message, code = describe_failure(exc, log_path)
    if code in (ExitCode.IO_ERROR, ExitCode.INTERNAL):
        log.error("%s", "operating system error" if code == ExitCode.IO_ERROR
                  else "internal error", exc_info=exc)
    try:
        note(message)
    except BrokenPipeError:  # stderr is a closed pipe too: the status still tells
        discard_output(sys.stderr)
    return int(code)
