"""``anonymize IN OUT``: de-identify a folder of DICOM files into another with
the site's profile and key; exits 1 when files were blocked or unreadable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode
from ui.cli.output import print_json, show_progress


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from sync.deid.profile import PROFILES

    p = sub.add_parser("anonymize", help="de-identify a folder of DICOM files into another")
    p.add_argument("input", type=Path, metavar="IN")
    p.add_argument("output", type=Path, metavar="OUT")
    p.add_argument("--profile", choices=sorted(PROFILES),
                   help="de-identification profile (default: setting deid.profile, else sync)")
    p.add_argument("--verify", action="store_true",
                   help="read every written file back and search its bytes again")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library
    from engine.settings import Settings
    from sync.deid import keys as site_keys
    from sync.deid.folder import anonymize_folder
    from sync.deid.profile import profile_from_settings
    from sync.deid.reid_map import ReidMap

    profile = profile_from_settings(Settings(paths.config).all(), args.profile)
    keys = site_keys.load_site_keys()
    show = not args.json and show_progress()

    def progress(done: int, total: int) -> None:
        if show:
            print(f"\r{done}/{total}", end="", file=sys.stderr, flush=True)

    with Library(paths.library) as library:
        summary = anonymize_folder(args.input, args.output, profile=profile, keys=keys,
                                   reid=ReidMap(library, keys.map_key), verify=args.verify,
                                   progress=progress)
    if show:
        print(file=sys.stderr)
    if args.json:
        print_json(summary.as_json(args.output) | {"profile": profile.describe()})
    else:
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
    return ExitCode.PARTIAL if summary.blocked or summary.failed else ExitCode.OK
