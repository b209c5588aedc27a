"""``screenshot PATH|UID --out FILE [--step N]``: the reading view rendered to
a PNG or JPEG file without a screen; ``--step`` shows that step of the
reading sequence (the ``hanging.steps`` setting) instead of the first."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode
from ui.cli.output import print_json
from ui.cli.screen import has_display


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("screenshot",
                       help="render the reading view of a study to a PNG or JPEG file")
    p.add_argument("target", metavar="PATH|UID", help="a study folder or a library study UID")
    p.add_argument("--out", required=True, metavar="FILE.png",
                   help="the image to write: .png, or .jpg/.jpeg for JPEG")
    p.add_argument("--step", type=int, metavar="N",
                   help="show step N (1 = the first) of the reading sequence")
    p.add_argument("--json", action="store_true", help="also print where each cell is")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from ui.screenshot import image_format

    out = Path(args.out)
    image_format(out)  # refuse an unknown extension before starting Qt
    if not has_display():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ui.screenshot import render_screenshot

    cells = render_screenshot(paths, args.target, out, step=args.step)
    if args.json:
        print_json({"out": str(args.out), "platform": os.environ.get("QT_QPA_PLATFORM", ""),
                    "step": args.step, "cells": cells})
    else:
        print(f"screenshot of {' '.join(c['label'] for c in cells)} written to {args.out}")
    return ExitCode.OK
