"""``echo NODE``: C-ECHO a configured DICOM node (``dicom.nodes.NODE``) from this
workstation's AE title (``dicom.ae_title``).  Exit 0 when it answered, 3 when
it cannot be reached, 1 when it rejected the association or the echo, 2 for a
node that is not configured."""

from __future__ import annotations

import argparse

from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode
from ui.cli.output import note, print_json


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("echo", help="check a configured DICOM node with C-ECHO")
    p.add_argument("node", metavar="NODE", help="a node defined as dicom.nodes.NODE")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.dicom.nodes import DEFAULT_AE_TITLE, find_node
    from engine.settings import Settings
    from sync.dicom_net.echo import DicomNetError, NodeUnreachable, echo

    settings = Settings(paths.config).all()
    node = find_node(settings, args.node)
    calling = settings.get("dicom.ae_title") or DEFAULT_AE_TITLE
    try:
        seconds = echo(node, calling, args.timeout)
    except NodeUnreachable as exc:
        note(f"offline: {exc}")
        return ExitCode.OFFLINE
    except DicomNetError as exc:
        note(f"echo failed: {exc}")
        return ExitCode.PARTIAL
    if args.json:
        print_json({"node": node.name, "ae_title": node.ae_title, "host": node.host,
                    "port": node.port, "calling_ae_title": calling,
                    "seconds": round(seconds, 3)})
    else:
        print(f"{node.describe()} answered C-ECHO from {calling} in {seconds * 1000:.0f} ms")
    return ExitCode.OK
