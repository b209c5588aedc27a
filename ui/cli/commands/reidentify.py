"""``reidentify PSEUDONYM``: who a pseudonym (patient or study UID) stands
for, from this workstation's re-identification map."""

from __future__ import annotations

import argparse

from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode
from ui.cli.output import print_json


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("reidentify", help="who a pseudonym (patient or study UID) stands for, "
                                          "from this workstation's re-identification map")
    p.add_argument("pseudonym", metavar="PSEUDONYM")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library
    from sync.deid import keys as site_keys
    from sync.deid.errors import DeidError
    from sync.deid.reid_map import ReidMap

    keys = site_keys.load_site_keys()
    with Library(paths.library) as library:
        found = ReidMap(library, keys.map_key).lookup(args.pseudonym.strip())
    if found is None:
        raise DeidError("this pseudonym is not in this workstation's re-identification map")
    if args.json:
        print_json(found)
    else:
        for key, value in found.items():
            print(f"{key}: {value}")
    return ExitCode.OK
