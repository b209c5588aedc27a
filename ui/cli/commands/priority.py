"""``priority``: mark a study urgent, or routine again, as a RIS or a script
does; the worklist shows urgent studies flagged and "next unread" takes them
first."""

from __future__ import annotations

import argparse

from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode
from ui.cli.output import print_json


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("priority", help="mark a study urgent or routine in the worklist")
    p.add_argument("study_uid", metavar="UID", help="the study (see: studies)")
    level = p.add_mutually_exclusive_group(required=True)
    level.add_argument("--urgent", dest="urgent", action="store_true",
                       help="read it first")
    level.add_argument("--routine", dest="urgent", action="store_false",
                       help="back to the usual order")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library
    from engine.library.priority import PRIORITY_NAMES, set_priority

    with Library(paths.library) as library:
        shown = PRIORITY_NAMES[set_priority(library, args.study_uid, args.urgent)]
    if args.json:
        print_json({"study_uid": args.study_uid.strip(), "priority": shown})
    else:
        print(f"study marked {shown}")
    return ExitCode.OK
