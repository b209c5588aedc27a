"""The sync commands of main.py: ``sync`` and ``login``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from engine.library import Library
from engine.paths import AppPaths
from engine.settings import Settings
from sync import outbox
from sync import progress as prog
from sync.errors import OfflineError, SyncError, TransientError

EXIT_NEEDS_ATTENTION = 1
EXIT_OFFLINE = 3


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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
    p.set_defaults(handler=cmd_sync)

    p = sub.add_parser("login", help="store the cloud credentials in the system keyring")
    p.add_argument("--user", help="account name (default: setting cloud.user); saved as "
                                  "cloud.user")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from stdin (never from the command line)")
    p.add_argument("--client-secret-stdin", action="store_true",
                   help="oauth2-client: read the client secret from stdin")
    p.set_defaults(handler=cmd_login)


def cmd_sync(args: argparse.Namespace, paths: AppPaths) -> int:
    settings = Settings(paths.config)
    if args.action in ("pause", "resume"):
        settings.update({"sync.paused": "yes" if args.action == "pause" else ""})
        print("sync paused" if args.action == "pause" else "sync resumed")
        return 0
    with Library(paths.library) as library:
        if args.action == "enqueue":
            return _enqueue(args, library)
        if args.action == "retry":
            print(f"{outbox.retry_failed(library)} failed object(s) will be sent again")
            return 0
        if args.uids:
            raise SyncError("UIDs go with `sync enqueue`")
        if args.status:
            return _status(args, library)
        return _run(args, paths, library)


def _enqueue(args: argparse.Namespace, library: Library) -> int:
    if args.all == bool(args.uids):
        raise SyncError("give study UIDs or --all (not both)")
    uids = ([u for (u,) in library.conn.execute("SELECT study_uid FROM studies")]
            if args.all else args.uids)
    added = outbox.enqueue(library, uids, "manual")
    if args.json:
        print(json.dumps({"studies": len(uids), "objects_added": added}))
    else:
        print(f"queued {added} object(s) from {len(uids)} study(ies)")
    return 0


def status_document(library: Library) -> dict[str, object]:
    counts = outbox.counts(library)
    running = prog.read_progress(library.root)
    pending = {s: counts[s] for s in outbox.PENDING}
    return {
        "objects": {s: c["objects"] for s, c in counts.items()},
        "bytes_pending": sum(c["bytes"] for c in pending.values()),
        "studies": dict(library.conn.execute(
            "SELECT state, COUNT(*) FROM outbox WHERE id IN (SELECT MAX(id) FROM outbox "
            "GROUP BY study_uid) GROUP BY state").fetchall()),
        "running": running is not None,
        "phase": running.phase if running else "not running",
        "message": running.message if running else "",
        "rate_bps": running.rate_bps if running else 0.0,
        "eta_s": running.eta_s if running else None,
        "problems": [{"kind": k, "state": s, "reason": r} for k, s, r in outbox.problems(library)],
    }


def _status(args: argparse.Namespace, library: Library) -> int:
    doc = status_document(library)
    if args.json:
        print(json.dumps(doc, indent=1))
        return 0
    objects = doc["objects"]
    assert isinstance(objects, dict)
    waiting = sum(objects[s] for s in outbox.PENDING)
    print(f"sync: {doc['phase']}" + (f" ({doc['message']})" if doc["message"] else ""))
    print(f"objects: {objects[outbox.CONFIRMED]} confirmed, {waiting} waiting "
          f"({objects[outbox.QUEUED]} queued, {objects[outbox.DEIDENTIFIED]} de-identified, "
          f"{objects[outbox.UPLOADING]} uploading), {objects[outbox.FAILED]} failed, "
          f"{objects[outbox.QUARANTINED]} quarantined")
    mb = int(doc["bytes_pending"]) / 1e6  # type: ignore[call-overload]
    line = f"to send: {mb:.1f} MB"
    if doc["running"] and doc["rate_bps"]:
        rate = float(doc["rate_bps"]) / 1e6  # type: ignore[arg-type]
        line += f" at {rate:.2f} MB/s, ETA {prog.format_eta(doc['eta_s'])}"  # type: ignore[arg-type]
    print(line)
    for problem in doc["problems"]:  # type: ignore[attr-defined]
        print(f"  {problem['state']} {problem['kind']}: {problem['reason']}")
    return 0


def _run(args: argparse.Namespace, paths: AppPaths, library: Library) -> int:
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
            except OfflineError as exc:
                runner.tally()
                _summary(args, runner.result, f"offline: {exc}")
                return EXIT_OFFLINE
            except TransientError as exc:
                runner.tally()
                _summary(args, runner.result, f"gave up for now: {exc}")
                return EXIT_OFFLINE
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    notes = {"paused": "sync is paused (`sync resume`)", "stop": "stopped"}
    note = notes.get(result.stopped_by, "")
    _summary(args, result, note)
    return EXIT_NEEDS_ATTENTION if result.failed else 0


def _summary(args: argparse.Namespace, result: object, note: str) -> None:
    doc = dict(vars(result)) | {"note": note}
    if args.json:
        print(json.dumps(doc))
        return
    line = (f"sync: {doc['confirmed']} confirmed, {doc['pending']} waiting, "
            f"{doc['failed']} failed, {doc['quarantined']} quarantined")
    print(line + (f"; {note}" if note else ""))


def cmd_login(args: argparse.Namespace, paths: AppPaths) -> int:
    from sync.auth import device_sign_in, login_basic, login_client_secret
    from sync.config import cloud_config
    from sync.http import make_session

    settings = Settings(paths.config)
    if args.user:
        settings.update({"cloud.user": args.user})
    cfg = cloud_config(settings.all())
    session = make_session(cfg)
    if cfg.auth == "basic":
        if not args.password_stdin:
            raise SyncError("give the password on stdin with --password-stdin "
                            "(never on the command line)")
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise SyncError("no password on stdin")
        print(login_basic(cfg, session, cfg.user, password))
    elif cfg.auth == "oauth2-client":
        if not args.client_secret_stdin:
            raise SyncError("give the client secret on stdin with --client-secret-stdin")
        secret = sys.stdin.readline().rstrip("\r\n")
        print(login_client_secret(cfg, session, secret))
    else:
        def show(uri: str, code: str) -> None:
            print(f"To sign in, open {uri} and enter the code {code}", flush=True)

        device_sign_in(cfg, session, show)
        print("signed in; the sign-in is kept in the system keyring")
    return 0
