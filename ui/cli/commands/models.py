"""``models``: the model packages' history.  ``models audit`` prints the
update log (engine.ai.update_log): every activation so far, each entry
chained to the one before, and whether the chain still verifies."""

from __future__ import annotations

import argparse
import json

from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode
from ui.cli.output import note, print_json


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="the model packages' update log")
    actions = p.add_subparsers(title="actions", metavar="ACTION", required=True)
    audit = actions.add_parser(
        "audit", help="print the update log and check its hash chain (exit 1 when it "
                      "was changed or cut)")
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(run=run_audit)


def run_audit(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai import update_log

    log = update_log.log_path(paths.models)
    verdict = update_log.verify(log)
    entries = update_log.entries(log)
    if args.json:
        print_json({"log": str(log), "verified": verdict.ok, "entries": len(entries),
                    "first_bad": verdict.first_bad, "reason": verdict.reason or None,
                    "events": [e.as_dict() for e in entries]})
    else:
        for e in entries:
            print(f"{e.seq:>4}  {e.at}  {e.event:<12}  "
                  f"{json.dumps(e.details, sort_keys=True)}")
        if verdict.ok:
            print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}; "
                  "the hash chain verifies")
    if not verdict.ok:
        note(f"the model update log does not verify: {verdict.reason}")
        return ExitCode.PARTIAL
    return ExitCode.OK
