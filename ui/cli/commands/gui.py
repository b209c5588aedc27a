"""No command: the reading workstation's window (needs a screen)."""

from __future__ import annotations

import argparse

from engine.errors import MammoDeskError
from engine.paths import AppPaths
from ui.cli.screen import has_display


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The window has no command word: it is what runs without one (see parser.py)."""


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    if not has_display():
        raise MammoDeskError("no display to open the window on; run 'main.py --help' for "
                             "the headless commands (screenshot renders without one)")
    from ui.app import run_gui

    return run_gui(paths)
