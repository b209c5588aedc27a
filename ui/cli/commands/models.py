"""``models``: the model packages and their history.  ``models audit`` prints
the update log (engine.ai.update_log): every step so far, each entry chained
to the one before, and whether the chain still verifies.  ``models check``
fetches a newer package from the signed model repository (models.url), runs
it in shadow against the live model (acceptance) and keeps it as a
candidate; it goes live by ``models activate VERSION`` (or at once with
models.auto_activate).  ``models rollback`` returns to the model live before,
``models pin VERSION`` holds one version until ``models unpin``.
``models list`` shows the installed packages, the live one and the
candidates with their verdicts; ``models declare PACKAGE`` measures a package
on the acceptance set and writes the figures into its manifest (for
publishers)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from sync.model_updates.cycle import CheckOutcome
from ui.cli.output import NOT_CLINICAL, note, print_json, show_progress

T = TypeVar("T")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="model packages: updates, acceptance, switching, "
                                      "the update log")
    actions = p.add_subparsers(title="actions", metavar="ACTION", required=True)
    audit = actions.add_parser(
        "audit", help="print the update log and check its hash chain (exit 1 when it "
                      "was changed or cut)")
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(run=run_audit)
    check = actions.add_parser(
        "check", help="fetch and verify a newer package from the model repository and run "
                      "it in shadow (acceptance); exit 3 when the repository cannot be "
                      "reached, 1 when it fails verification")
    check.add_argument("--json", action="store_true")
    check.set_defaults(run=run_check)
    act = actions.add_parser("activate", help="make an accepted candidate or an installed "
                                              "version live")
    act.add_argument("version", metavar="VERSION")
    act.set_defaults(run=run_activate)
    back = actions.add_parser("rollback", help="return to the model that was live before")
    back.set_defaults(run=run_rollback)
    pin = actions.add_parser("pin", help="hold a version: nothing else goes live until unpin")
    pin.add_argument("version", metavar="VERSION")
    pin.set_defaults(run=run_pin)
    unpin = actions.add_parser("unpin", help="release the pin")
    unpin.set_defaults(run=run_unpin)
    ex = actions.add_parser(
        "export-bundle", help="copy the verified model repository and the channel's newest "
                              "package to a folder (a USB stick) for offline workstations; "
                              "OUT must be new or empty")
    ex.add_argument("out", metavar="OUT")
    ex.set_defaults(run=run_export_bundle)
    im = actions.add_parser(
        "import-bundle", help="verify a model bundle offline, keep a newer package as a "
                              "candidate and run acceptance; exit 1 when it is refused")
    im.add_argument("path", metavar="PATH")
    im.add_argument("--json", action="store_true")
    im.set_defaults(run=run_import_bundle)
    declare = actions.add_parser(
        "declare", help="measure a package on the shipped acceptance set and write the "
                        "figures into its manifest (metrics.acceptance), for publishers")
    declare.add_argument("package", metavar="PACKAGE_DIR")
    declare.set_defaults(run=run_declare)
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


def _progress(what: str, done: int, total: int) -> None:
    if show_progress() or done == total:
        end = "\n" if done == total else ""
        print(f"\r{what}: {done}/{total} studies", end=end, file=sys.stderr, flush=True)


def _guarded(work: Callable[[], T], failure: str, logged: bool = True) -> T | ExitCode:
    """Run a model update step; its failure as one line and an exit status:
    a setting missing or wrong is raised (exit 2), an unreachable repository
    is 3, anything refused 1."""
    from sync.model_updates.errors import (
        ModelRepoOffline,
        ModelUpdateConfigError,
        ModelUpdateError,
    )

    try:
        return work()
    except ModelUpdateConfigError:
        raise
    except ModelRepoOffline as exc:
        note(f"offline: {exc}")
        return ExitCode.OFFLINE
    except ModelUpdateError as exc:
        note(f"{failure}: {exc}" + (" (see `models audit`)" if logged else ""))
        return ExitCode.PARTIAL


def run_check(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.settings import Settings
    from sync.model_updates.cycle import check_and_accept

    result = _guarded(lambda: check_and_accept(paths, Settings(paths.config).all(), _progress),
                      "model check failed")
    if isinstance(result, ExitCode):
        return result
    _print_outcome(args, result)
    return ExitCode.OK


def _print_outcome(args: argparse.Namespace, result: CheckOutcome,
                   extra: dict[str, object] | None = None) -> None:
    if args.json:
        print_json({"active": result.active, "candidate": result.candidate,
                    "accepted": result.accepted, "reason": result.reason,
                    "report": result.report, "activated": result.activated} | (extra or {}))
    else:
        print(f"active: {result.active or 'none'}; candidate: {result.candidate or 'none'} "
              f"({NOT_CLINICAL})")
        print(result.reason)
        for c in (result.report or {}).get("checks", []):
            mark = {True: "passed", False: "FAILED", None: "not run"}[c["passed"]]
            print(f"  {mark:<8} {c['set']:<8} {c['name']}: {c['detail']}")


def run_export_bundle(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.settings import Settings
    from sync.model_updates.bundle import export_bundle

    facts = _guarded(lambda: export_bundle(paths, Settings(paths.config).all(),
                                           Path(args.out)), "bundle export failed",
                     logged=False)
    if isinstance(facts, ExitCode):
        return facts
    pkgs = ", ".join(f"{p['name']} {p['version']}" for p in facts["packages"]) or "no package"
    print(f"wrote {facts['folder']}: {facts['channel']} channel, timestamp "
          f"v{facts['timestamp_version']}, {pkgs}")
    return ExitCode.OK


def run_import_bundle(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.settings import Settings
    from sync.model_updates.cycle import import_and_accept

    done = _guarded(lambda: import_and_accept(paths, Settings(paths.config).all(),
                                              Path(args.path), _progress),
                    "model bundle import failed")
    if isinstance(done, ExitCode):
        return done
    result, warnings = done
    for w in warnings:
        note(f"warning: {w}")
    _print_outcome(args, result, {"warnings": warnings})
    return ExitCode.OK


def run_activate(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.activation import activate_version

    live = activate_version(paths.models, args.version)
    print(f"{live.describe()} is live ({NOT_CLINICAL})")
    return ExitCode.OK


def run_rollback(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.activation import rollback
    from engine.resources import builtin_model_dir

    live = rollback(paths.models, builtin_model_dir())
    print(f"rolled back: {live.describe()} is live ({NOT_CLINICAL})")
    return ExitCode.OK


def run_pin(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.activation import pin
    from engine.resources import builtin_model_dir

    live = pin(paths.models, args.version, builtin_model_dir())
    print(f"{live.describe()} is live and pinned")
    return ExitCode.OK


def run_unpin(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.activation import unpin

    was = unpin(paths.models)
    print(f"unpinned {was['name']} {was['version']}" if was else "nothing was pinned")
    return ExitCode.OK


def run_declare(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.acceptance.run import declared_metrics
    from engine.ai.package import read_package, write_manifest

    pkg = read_package(Path(args.package))
    figures = declared_metrics(pkg, progress=_progress)
    manifest = dict(pkg.manifest)
    manifest["metrics"] = dict(manifest.get("metrics") or {}) | {"acceptance": figures}
    write_manifest(pkg.root, manifest)
    read_package(pkg.root)
    print(f"{pkg.describe()} on {figures['set']}: breast AUC {figures['breast_auc']}, "
          f"mean probability {figures['mean_probability']} ({figures['breasts']} breasts)")
    return ExitCode.OK


def run_list(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.activation import candidates, pinned, read_report
    from engine.ai.package import ModelPackage, active_package, list_packages
    from engine.resources import builtin_model_dir

    active = active_package(paths.models, builtin_model_dir())

    def rows(found: list[ModelPackage | tuple[Path, str]]) -> list[dict[str, object]]:
        return [{"name": p.name, "version": p.version, "folder": p.root.name, "ok": True,
                 "problem": None} if isinstance(p, ModelPackage) else
                {"name": None, "version": None, "folder": p[0].name, "ok": False,
                 "problem": p[1]} for p in found]

    installed, cands = rows(list_packages(paths.models)), rows(candidates(paths.models))
    for row in cands:
        report = read_report(paths.models, str(row["name"]), str(row["version"])) \
            if row["ok"] else None
        row["accepted"] = None if report is None else report.get("accepted")
        row["reason"] = None if report is None else report.get("reason")
    pin = pinned(paths.models)
    active_doc = None if active is None else {
        "name": active.name, "version": active.version,
        "builtin": active.root.resolve().parent != paths.models.resolve()}
    if args.json:
        print_json({"active": active_doc, "pinned": pin, "installed": installed,
                    "candidates": cands})
        return ExitCode.OK
    print(f"active: {active.describe() if active else 'none'}"
          f"{' (built in)' if active_doc and active_doc['builtin'] else ''}"
          f"{' (pinned)' if pin else ''}")
    for title, found in (("installed", installed), ("candidates", cands)):
        print(f"{title}:" + ("" if found else " none"))
        for row in found:
            accepted = row.get("accepted")
            verdict = ("  accepted" if accepted is True else
                       "  refused by acceptance" if accepted is False else "")
            print(f"  {row['folder']}" + (verdict if row["ok"] else
                                          f"  DAMAGED: {row['problem']}"))
    return ExitCode.OK
