"""``config get KEY | set KEY VALUE | list``: the settings file, checked."""

from __future__ import annotations

import argparse
import getpass

from engine.errors import MammoDeskError
from engine.paths import AppPaths, default_library
from engine.settings import Settings
from ui.cli.exit_codes import ExitCode
from ui.cli.output import print_json


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("config", help="read, change or list the settings",
                       description="get KEY: the value in effect (the default when unset); "
                                   "set KEY VALUE ('' clears it); list: every key, its value "
                                   "and whether that is the default")
    p.add_argument("action", choices=["get", "set", "list"])
    p.add_argument("key", metavar="KEY", nargs="?")
    p.add_argument("value", nargs="?", metavar="VALUE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def _defaults() -> dict[str, str]:
    """Defaults that depend on this machine: where the library goes, who signs reads."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name to be had (an account without a passwd entry)
        user = ""
    return {"library.path": str(default_library()), "reader.name": user}


def _list(args: argparse.Namespace, settings: Settings) -> int:
    entries = settings.listing(_defaults())
    if args.json:
        print_json({"settings": [e.as_dict() for e in entries]})
        return ExitCode.OK
    values = [e.value or "(none)" for e in entries]
    key_width = max(len(e.key) for e in entries)
    value_width = min(max(len(v) for v in values), 48)
    for e, value in zip(entries, values, strict=True):
        print(f"{e.key:<{key_width}}  {value:<{value_width}}  "
              f"{'default' if e.is_default else 'set'}".rstrip())
    return ExitCode.OK


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    settings = Settings(paths.config)
    if args.action == "list":
        if args.key:
            raise MammoDeskError("config list takes no KEY (config get KEY shows one)")
        return _list(args, settings)
    if not args.key:
        raise MammoDeskError(f"config {args.action} needs a KEY (config list shows them)")
    if args.action == "get":
        entry = settings.effective(args.key, _defaults())
        if args.json:
            print_json(entry.as_dict())
        else:
            print(entry.value)
        return ExitCode.OK
    if args.value is None:
        raise MammoDeskError("config set needs a value (an empty string '' clears the setting)")
    if args.key.startswith("deid."):
        from sync.deid.profile import profile_from_settings

        profile_from_settings(settings.all() | {args.key: args.value})  # refuse bad values
    settings.update({args.key: args.value})
    if args.json:
        print_json(settings.effective(args.key, _defaults()).as_dict())
    return ExitCode.OK
