"""The de-identification commands of main.py: ``anonymize`` and ``deid-key``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.library import Library
from engine.paths import AppPaths
from engine.settings import Settings
from sync.deid import keys as site_keys
from sync.deid.errors import DeidError
from sync.deid.folder import anonymize_folder
from sync.deid.profile import PROFILES, profile_from_settings
from sync.deid.reid_map import ReidMap


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("anonymize", help="de-identify a folder of DICOM files into another")
    p.add_argument("input", type=Path, metavar="IN")
    p.add_argument("output", type=Path, metavar="OUT")
    p.add_argument("--profile", choices=sorted(PROFILES),
                   help="de-identification profile (default: setting deid.profile, else sync)")
    p.add_argument("--verify", action="store_true",
                   help="read every written file back and search its bytes again")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_anonymize)

    p = sub.add_parser("deid-key", help="the site's de-identification key (system keyring)")
    p.add_argument("action", choices=["create", "import", "export", "status"],
                   help="create: a new site key (first workstation); import: the site key "
                        "from stdin (other workstations); export: print it; status: its "
                        "fingerprint")
    p.add_argument("--replace", action="store_true", help="import over an existing key")
    p.set_defaults(handler=cmd_deid_key)

    p = sub.add_parser("reidentify", help="who a pseudonym (patient or study UID) stands for, "
                                          "from this workstation's re-identification map")
    p.add_argument("pseudonym", metavar="PSEUDONYM")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_reidentify)


def cmd_anonymize(args: argparse.Namespace, paths: AppPaths) -> int:
    profile = profile_from_settings(Settings(paths.config).all(), args.profile)
    keys = site_keys.load_site_keys()

    def progress(done: int, total: int) -> None:
        if not args.json and sys.stderr.isatty():
            print(f"\r{done}/{total}", end="", file=sys.stderr, flush=True)

    with Library(paths.library) as library:
        summary = anonymize_folder(args.input, args.output, profile=profile, keys=keys,
                                   reid=ReidMap(library, keys.map_key), verify=args.verify,
                                   progress=progress)
    if args.json:
        doc = summary.as_json(args.output) | {"profile": profile.describe()}
        print(json.dumps(doc, indent=1))
    else:
        if sys.stderr.isatty():
            print(file=sys.stderr)
        print(f"profile {profile.describe()}")
        print(f"written {len(summary.written)} de-identified file(s) to {args.output}")
        for title, rows in (("quarantined (not written)", summary.quarantined),
                            ("blocked by the leak check (not written)", summary.blocked),
                            ("unreadable", summary.failed)):
            if rows:
                print(f"{title}: {len(rows)}")
                for name, reason in rows:
                    print(f"  {name}: {reason}")
        if summary.not_dicom:
            print(f"not DICOM, ignored: {len(summary.not_dicom)}")
    return 1 if summary.blocked or summary.failed else 0


def cmd_deid_key(args: argparse.Namespace, paths: AppPaths) -> int:
    if args.action == "create":
        keys = site_keys.create_site_secret()
        print(f"created the site key {keys.fingerprint()}; copy it to the site's other "
              "workstations with `deid-key export` / `deid-key import`")
    elif args.action == "import":
        keys = site_keys.import_site_secret(sys.stdin.read(), replace=args.replace)
        print(f"imported the site key {keys.fingerprint()}")
    elif args.action == "export":
        print("this is the site's secret: keep it as you would a password", file=sys.stderr)
        print(site_keys.export_site_secret())
    else:
        print(f"site key {site_keys.load_site_keys().fingerprint()}")
    return 0


def cmd_reidentify(args: argparse.Namespace, paths: AppPaths) -> int:
    keys = site_keys.load_site_keys()
    with Library(paths.library) as library:
        found = ReidMap(library, keys.map_key).lookup(args.pseudonym.strip())
    if found is None:
        raise DeidError("this pseudonym is not in this workstation's re-identification map")
    if args.json:
        print(json.dumps(found, indent=1))
    else:
        for key, value in found.items():
            print(f"{key}: {value}")
    return 0
