"""``sync``: send queued studies to the cloud (de-identified), or queue,
pause, resume, retry them, or show where sync stands (``--status``)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TYPE_CHECKING

from engine.paths import AppPaths
from engine.settings import Settings
from ui.cli.exit_codes import ExitCode
from ui.cli.output import print_json

if TYPE_CHECKING:
    from engine.library.store import Library

NO_CLOUD = ("no cloud is configured: set one with `config set cloud.url "
            "https://HOST/dicom-web` (README section \"Cloud sync\")")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sync", help="send queued studies to the cloud (de-identified); see `sync --status`",
        description="Without an action: run until stopped (Ctrl-C), sending what is queued. "
                    "Actions: enqueue UID... | --all (queue studies without a signed read), "
                    "pause, resume, retry (failed objects).")
    p.add_argument("action", nargs="?", choices=["enqueue", "pause", "resume", "retry"])
    p.add_argument("uids", nargs="*", metavar="UID")
    p.add_argument("--all", action="store_true", help="with enqueue: every study")
    p.add_argument("--once", action="store_true",
                   help="send what is queued now, then exit (exit 3 when offline)")
    p.add_argument("--status", action="store_true", help="what is queued, sent and failing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library, outbox
    from sync.errors import SyncError

    settings = Settings(paths.config)
    if args.action in ("pause", "resume"):
        settings.update({"sync.paused": "yes" if args.action == "pause" else ""})
        message = "sync paused" if args.action == "pause" else "sync resumed"
        _say(args, message, {"paused": args.action == "pause"})
        return ExitCode.OK
    with Library(paths.library) as library:
        if args.action == "enqueue":
            return _enqueue(args, library)
        if args.action == "retry":
            again = outbox.retry_failed(library)
            _say(args, f"{again} failed object(s) will be sent again", {"retried": again})
            return ExitCode.OK
        if args.uids:
            raise SyncError("UIDs go with `sync enqueue`")
        if args.status:
            return _status(args, library, bool(settings.all().get("cloud.url")))
        return _run(args, paths, library)


def _say(args: argparse.Namespace, text: str, document: dict[str, object]) -> None:
    if args.json:
        print_json(document)
    else:
        print(text)


def _enqueue(args: argparse.Namespace, library: Library) -> int:
    from engine.library import outbox
    from engine.library.catalog import study_uids
    from sync.errors import SyncError

    if args.all == bool(args.uids):
        raise SyncError("give study UIDs or --all (not both)")
    uids = study_uids(library) if args.all else args.uids
    added = outbox.enqueue(library, uids, "manual")
    _say(args, f"queued {added} object(s) from {len(uids)} study(ies)",
         {"studies": len(uids), "objects_added": added})
    return ExitCode.OK


def _status(args: argparse.Namespace, library: Library, configured: bool) -> int:
    from engine.library import outbox
    from sync import progress as prog
    from sync.status import status_document

    doc = status_document(library)
    if args.json:
        print_json(doc | {"cloud_configured": configured})
        return ExitCode.OK
    objects = doc["objects"]
    assert isinstance(objects, dict)
    waiting = sum(objects[s] for s in outbox.PENDING)
    print(f"sync: {doc['phase']}" + (f" ({doc['message']})" if doc["message"] else ""))
    if not configured:
        print(f"sync: {NO_CLOUD}")
    print(f"objects: {objects[outbox.CONFIRMED]} confirmed, {waiting} waiting "
          f"({objects[outbox.QUEUED]} queued, {objects[outbox.DEIDENTIFIED]} de-identified, "
          f"{objects[outbox.UPLOADING]} uploading), {objects[outbox.FAILED]} failed, "
          f"{objects[outbox.QUARANTINED]} quarantined")
    mb = int(doc["bytes_pending"]) / 1e6
    line = f"to send: {mb:.1f} MB"
    if doc["running"] and doc["rate_bps"]:
        rate = float(doc["rate_bps"]) / 1e6
        line += f" at {rate:.2f} MB/s, ETA {prog.format_eta(doc['eta_s'])}"
    print(line)
    for problem in doc["problems"]:
        print(f"  {problem['state']} {problem['kind']}: {problem['reason']}")
    return ExitCode.OK


def _run(args: argparse.Namespace, paths: AppPaths, library: Library) -> int:
    from sync.errors import OfflineError, TransientError
    from sync.service import build_runner, sync_lock

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def say(message: str) -> None:
        if not args.json:
            print(message, file=sys.stderr, flush=True)

    try:
        with sync_lock(library):
            runner = build_runner(paths, library, once=args.once, stop=stop, say=say)
            try:
                result = runner.run()
            except (OfflineError, TransientError) as exc:
                runner.tally()
                what = "offline" if isinstance(exc, OfflineError) else "gave up for now"
                _summary(args, runner.result, f"{what}: {exc}")
                return ExitCode.OFFLINE
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    notes = {"paused": "sync is paused (`sync resume`)", "stop": "stopped"}
    _summary(args, result, notes.get(result.stopped_by, ""))
    return ExitCode.PARTIAL if result.failed else ExitCode.OK


def _summary(args: argparse.Namespace, result: object, note: str) -> None:
    doc = dict(vars(result)) | {"note": note}
    if args.json:
        print_json(doc)
        return
    line = (f"sync: {doc['confirmed']} confirmed, {doc['pending']} waiting, "
            f"{doc['failed']} failed, {doc['quarantined']} quarantined")
    print(line + (f"; {note}" if note else ""))
