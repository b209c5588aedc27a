"""``models``: the model packages and their history.  ``models audit`` prints
the update log (engine.ai.update_log): every step so far, each entry chained
to the one before, and whether the chain still verifies.  ``models check``
fetches a newer package from the signed model repository (models.url) and
keeps it as a candidate, not active; ``models list`` shows the installed
packages, the active one and the candidates."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

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
    check = actions.add_parser(
        "check", help="fetch and verify a newer package from the model repository, kept "
                      "as a candidate (not activated); exit 3 when the repository cannot "
                      "be reached, 1 when it fails verification")
    check.add_argument("--json", action="store_true")
    check.set_defaults(run=run_check)
    listing = actions.add_parser(
        "list", help="the installed model packages, the active one and the candidates")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=run_list)


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


NOT_ACCEPTED = ("acceptance on the site's own cases is not built yet: the candidate is "
                "not activated")


def run_check(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.settings import Settings
    from sync.model_updates.client import check
    from sync.model_updates.errors import (
        ModelRepoOffline,
        ModelUpdateConfigError,
        ModelUpdateError,
    )

    try:
        result = check(paths, Settings(paths.config).all())
    except ModelUpdateConfigError:
        raise  # one line, exit 2
    except ModelRepoOffline as exc:
        note(f"offline: {exc}")
        return ExitCode.OFFLINE
    except ModelUpdateError as exc:
        note(f"model check failed: {exc} (see `models audit`)")
        return ExitCode.PARTIAL
    reason = result.reason
    if result.candidate:
        reason += f"; {NOT_ACCEPTED}"
    if args.json:
        print_json({"active": result.active, "candidate": result.candidate,
                    "accepted": None, "reason": reason, "report": None})
    else:
        print(f"active: {result.active or 'none'}; candidate: {result.candidate or 'none'}")
        print(reason)
    return ExitCode.OK


def run_list(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.package import ModelPackage, active_package, list_packages
    from engine.resources import builtin_model_dir
    from sync.model_updates.client import candidates

    active = active_package(paths.models, builtin_model_dir())

    def rows(found: list[ModelPackage | tuple[Path, str]]) -> list[dict[str, object]]:
        return [{"name": p.name, "version": p.version, "folder": p.root.name, "ok": True,
                 "problem": None} if isinstance(p, ModelPackage) else
                {"name": None, "version": None, "folder": p[0].name, "ok": False,
                 "problem": p[1]} for p in found]

    installed, cands = rows(list_packages(paths.models)), rows(candidates(paths.models))
    active_doc = None if active is None else {
        "name": active.name, "version": active.version,
        "builtin": active.root.resolve().parent != paths.models.resolve()}
    if args.json:
        print_json({"active": active_doc, "installed": installed, "candidates": cands})
        return ExitCode.OK
    print(f"active: {active.describe() if active else 'none'}"
          f"{' (built in)' if active_doc and active_doc['builtin'] else ''}")
    for title, found in (("installed", installed), ("candidates", cands)):
        print(f"{title}:" + ("" if found else " none"))
        for row in found:
            print(f"  {row['folder']}" + ("" if row["ok"] else f"  DAMAGED: {row['problem']}"))
    return ExitCode.OK
