"""The command line's arguments: the global options and each command's own."""

from __future__ import annotations

import argparse

from ui.cli.commands import COMMANDS, gui
from ui.cli.output import NOT_CLINICAL, PROG


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="MammoDesk mammography reading workstation "
                               f"(AI: {NOT_CLINICAL}).")
    parser.add_argument("--home", metavar="DIR",
                        help="keep everything MammoDesk writes under DIR "
                             "(default: $MAMMODESK_HOME, else the platform's folders)")
    parser.add_argument("--library", metavar="DIR",
                        help="case library folder (default: $MAMMODESK_LIBRARY, else in home)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr too")
    parser.set_defaults(run=gui.run)  # no command: the window
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser
