"""``outcome``: record what pathology found after a study, per breast (one at
a time, or a CSV file checked whole before anything is written), and list
what is recorded.  The screening audit (``audit``) reads them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode
from ui.cli.output import print_json

if TYPE_CHECKING:
    from engine.library.outcomes import Outcome

RESULTS = ["malignant", "benign", "high-risk"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("outcome", help="record pathology outcomes (for the screening audit)")
    actions = p.add_subparsers(title="actions", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="record one outcome of a study's breast")
    add.add_argument("study_uid", metavar="UID", help="the study (see: studies)")
    add.add_argument("--side", required=True, choices=["R", "L"])
    add.add_argument("--result", required=True, choices=RESULTS)
    add.add_argument("--date", required=True, metavar="YYYY-MM-DD",
                     help="date of the biopsy or surgery that gave the result")
    add.add_argument("--histology", default="", metavar="TEXT",
                     help='e.g. "invasive ductal carcinoma", "DCIS"')
    add.add_argument("--size-mm", metavar="N", help="invasive size in millimetres")
    add.add_argument("--nodes", choices=["negative", "positive", "unknown"])
    add.add_argument("--procedure", choices=["biopsy", "surgery"])
    add.add_argument("--json", action="store_true")
    add.set_defaults(run=run_add)
    imp = actions.add_parser(
        "import", help="record the outcomes of a CSV file (header: study_uid, side, result, "
                       "date, histology, size_mm, nodes[, procedure]); all rows or none")
    imp.add_argument("file", metavar="FILE.csv", type=Path)
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(run=run_import)
    lst = actions.add_parser("list", help="the recorded outcomes (of one study)")
    lst.add_argument("study_uid", metavar="UID", nargs="?")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(run=run_list)


def _line(o: Outcome) -> str:
    size = "" if o.size_mm is None else f"{o.size_mm:g} mm"
    return (f"{o.date.isoformat()}  {o.side:<4}  {o.result:<9}  {o.procedure or '-':<9}  "
            f"{o.histology or '-'}{', ' + size if size else ''}, nodes {o.nodes}  "
            f"{o.study_uid}")


def _report(args: argparse.Namespace, asked: int, added: list[Outcome]) -> int:
    if args.json:
        print_json({"added": len(added), "already_recorded": asked - len(added),
                    "outcomes": [o.as_dict() for o in added]})
        return ExitCode.OK
    print(f"added {len(added)} outcome{'' if len(added) == 1 else 's'}"
          + (f" ({asked - len(added)} already recorded)" if asked > len(added) else ""))
    return ExitCode.OK


def run_add(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library
    from engine.library.outcomes import add_outcomes, make_outcome

    outcome = make_outcome(args.study_uid, args.side, args.result, args.date, args.histology,
                           args.size_mm, args.nodes, args.procedure)
    with Library(paths.library) as library:
        added = add_outcomes(library, [outcome])
    return _report(args, 1, added)


def run_import(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library
    from engine.library.outcomes import add_outcomes, read_outcomes_csv

    with Library(paths.library) as library:
        outcomes = read_outcomes_csv(args.file, library)
        added = add_outcomes(library, outcomes)
    return _report(args, len(outcomes), added)


def run_list(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library
    from engine.library.outcomes import list_outcomes

    with Library(paths.library) as library:
        outcomes = list_outcomes(library, args.study_uid)
    if args.json:
        print_json({"outcomes": [o.as_dict() for o in outcomes]})
        return ExitCode.OK
    if not outcomes:
        print("no outcomes recorded" + (" for this study" if args.study_uid else ""))
        return ExitCode.OK
    print(f"{'date':<10}  {'side':<4}  {'result':<9}  {'procedure':<9}  histology, size, nodes"
          "  study UID")
    for o in outcomes:
        print(_line(o))
    return ExitCode.OK
