"""``deid-key create|import|export|status``: the site's de-identification key
in the system keyring.  ``status`` without a key is a state, not an error:
it says so and exits 0."""

from __future__ import annotations

import argparse
import sys

from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode
from ui.cli.output import print_json


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("deid-key", help="the site's de-identification key (system keyring)")
    p.add_argument("action", choices=["create", "import", "export", "status"],
                   help="create: a new site key (first workstation); import: the site key "
                        "from stdin (other workstations); export: print it; status: its "
                        "fingerprint, or that there is none")
    p.add_argument("--replace", action="store_true", help="import over an existing key")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from sync.deid import keys as site_keys

    if args.action == "create":
        fingerprint = site_keys.create_site_secret().fingerprint()
        text = (f"created the site key {fingerprint}; copy it to the site's other "
                "workstations with `deid-key export` / `deid-key import`")
    elif args.action == "import":
        fingerprint = site_keys.import_site_secret(sys.stdin.read(),
                                                   replace=args.replace).fingerprint()
        text = f"imported the site key {fingerprint}"
    elif args.action == "export":
        print("this is the site's secret: keep it as you would a password", file=sys.stderr)
        secret = site_keys.export_site_secret()
        if args.json:
            print_json({"site_key": secret})
        else:
            print(secret)
        return ExitCode.OK
    else:
        return _status(args)
    if args.json:
        print_json({"key": True, "fingerprint": fingerprint})
    else:
        print(text)
    return ExitCode.OK


def _status(args: argparse.Namespace) -> int:
    from sync.deid import keys as site_keys

    fingerprint = site_keys.load_site_keys().fingerprint() if site_keys.has_site_key() else None
    if args.json:
        print_json({"key": fingerprint is not None, "fingerprint": fingerprint})
    elif fingerprint is None:
        print("no site key on this workstation: `deid-key create` on the site's first "
              "workstation, `deid-key import` on the others")
    else:
        print(f"site key {fingerprint}")
    return ExitCode.OK
