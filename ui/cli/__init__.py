"""MammoDesk's command line: ``main(argv)`` parses, prepares the folders and
the log, runs one command and turns whatever it raised into one line on
stderr and an exit status (ui/cli/exit_codes.py).

Qt is imported only by the commands that show something (the window, demo
with a screen, screenshot), and only when they run.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from engine import private
from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode, describe_failure
from ui.cli.output import note
from ui.cli.parser import build_parser
from ui.cli.startup import log_file, make_private, resolve_paths, setup_logging

__all__ = ["main"]
log = logging.getLogger("mammodesk")


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status (an ExitCode)."""
    private.restrict_umask()  # before anything is written: folders 0700, files 0600
    args = build_parser().parse_args(argv)
    paths: AppPaths | None = None
    try:
        paths = resolve_paths(args)
        setup_logging(paths, args.verbose)
        make_private(paths)
        return int(args.run(args, paths))
    except (Exception, KeyboardInterrupt) as exc:
        return _failed(exc, args, log_file(paths) if paths else None)


def _failed(exc: BaseException, args: argparse.Namespace, log_path: Path | None) -> int:
    message, code = describe_failure(exc, log_path)
    if code in (ExitCode.IO_ERROR, ExitCode.INTERNAL):
        log.error("%s", "operating system error" if code == ExitCode.IO_ERROR
                  else "internal error", exc_info=exc)
    note(message)
    return int(code)
