"""MammoDesk entry point: the reading workstation, or a headless subcommand.

Thin on purpose: it parses arguments, calls the same engine functions the
user interface calls, and prints.  User errors are one line on stderr and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import os
import sys
from collections.abc import Callable
from pathlib import Path

from engine.errors import MammoDeskError
from engine.paths import AppPaths, app_paths

PROG = "mammodesk"
NOT_CLINICAL = "synthetic-trained model, not for clinical use"
EXIT_USER_ERROR = 2
EXIT_PARTIAL = 1

log = logging.getLogger("mammodesk")


# -- commands ----------------------------------------------------------------

def cmd_import(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library, import_paths

    show = not args.json and sys.stderr.isatty()

    def progress(done: int, source: str) -> None:
        if show and done % 10 == 0:
            print(f"\r{done} files examined", end="", file=sys.stderr, flush=True)

    with Library(paths.library) as library:
        report = import_paths(library, args.paths, progress=progress)
    if show:
        print("\r", end="", file=sys.stderr)
    if args.json:
        _print_json(report.as_dict())
    else:
        print(f"imported {report.imported} file(s) in {len(report.study_uids)} study(ies); "
              f"{report.already_present} already in the library; "
              f"{report.non_dicom} non-DICOM file(s) skipped")
        for rejected in report.rejected:
            print(f"rejected: {rejected.source}: {rejected.reason}")
    if report.rejected:
        print(f"{PROG}: {len(report.rejected)} file(s) rejected", file=sys.stderr)
        return EXIT_PARTIAL
    return 0


def cmd_studies(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library, list_studies

    with Library(paths.library) as library:
        studies = list_studies(library)
    if args.json:
        _print_json({"library": str(paths.library),
                     "studies": [s.as_dict() for s in studies]})
        return 0
    if not studies:
        print("the library is empty; add studies with: main.py import PATH")
        return 0
    print(f"{'date':<10} {'patient':<24} {'id':<16} {'images':>6}  {'views':<20} AI")
    for s in studies:
        ai = "yes" if s.in_ai_scope else s.ai_scope.replace("outside the AI's scope: ", "no: ")
        print(f"{_date(s.study_date):<10} {s.patient_name[:24]:<24} {s.patient_id[:16]:<16} "
              f"{s.instances:>6}  {' '.join(s.views)[:20]:<20} {ai}")
    return 0


def cmd_phantom(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.phantom import generate_cohort

    def progress(done: int, total: int) -> None:
        if not args.json and sys.stderr.isatty():
            print(f"\r{done}/{total} studies", end="", file=sys.stderr, flush=True)

    result = generate_cohort(
        Path(args.out), args.studies, seed=args.seed, cancer_rate=args.cancer_rate,
        size=args.size, prior_rate=args.prior_rate,
        photometric="MONOCHROME1" if args.monochrome1 else "MONOCHROME2",
        jpeg2000=args.jpeg2000, progress=progress)
    if not args.json and sys.stderr.isatty():
        print(file=sys.stderr)
    summary = {"out": str(result.out_dir), "studies": result.studies,
               "files": len(result.files), "labels": str(result.labels_csv)}
    if args.json:
        _print_json(summary)
    else:
        print(f"wrote {summary['files']} DICOM files for {result.studies} synthetic "
              f"stud{'y' if result.studies == 1 else 'ies'} to {result.out_dir}; "
              f"labels in {result.labels_csv}")
    return 0


def cmd_demo(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.demo import ensure_demo_study
    from engine.library import Library, list_instances, list_studies

    with Library(paths.library) as library:
        demo = ensure_demo_study(paths.demo, library)
        summary = list_studies(library, demo.study_uid)[0]
        images = list_instances(library, demo.study_uid)
    ai = {"status": "no_model",
          "message": "no AI model installed in this build; results will show here, "
                     f"marked '{NOT_CLINICAL}'"}
    headless = args.headless or not _has_display()
    if args.json:
        _print_json({"study": summary.as_dict(), "prior_study_uid": demo.prior_study_uid,
                     "library": str(paths.library), "ai": ai, "headless": headless,
                     "images": [image.as_dict() for image in images]})
        return 0
    print(f"demo study (synthetic): {summary.patient_name}, {_date(summary.study_date)}, "
          f"{summary.instances} images, views {' '.join(summary.views)}")
    for image in images:
        print(f"  {image.view_label:<6} {image.columns}x{image.rows}  view from "
              f"{image.view_source}, laterality from {image.laterality_source}")
    if demo.prior_study_uid:
        print("  prior study from a year earlier is in the library too")
    print(f"AI: {ai['message']}")
    print(f"library: {paths.library}")
    if not headless:
        print("the reading workstation window is not part of this build yet; "
              "shown headless", file=sys.stderr)
    return 0


def cmd_gui(args: argparse.Namespace, paths: AppPaths) -> int:
    raise MammoDeskError("the reading workstation window is not part of this build yet; "
                         "run 'main.py --help' for the headless commands")


# -- plumbing ----------------------------------------------------------------

def _date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 else value


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or sys.platform in ("win32", "darwin"))


def _print_json(document: object) -> None:
    json.dump(document, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="MammoDesk mammography reading workstation "
                               f"(AI: {NOT_CLINICAL}).")
    parser.add_argument("--home", metavar="DIR",
                        help="keep everything MammoDesk writes under DIR "
                             "(default: $MAMMODESK_HOME, else the platform's folders)")
    parser.add_argument("--library", metavar="DIR",
                        help="case library folder (default: $MAMMODESK_LIBRARY, else in home)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr too")
    parser.set_defaults(handler=cmd_gui)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("import", help="import folders, DICOMDIRs and ZIP files")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("studies", help="list the studies in the library")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_studies)

    p = sub.add_parser("phantom", help="write a synthetic screening cohort (DICOM + labels)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--studies", required=True, type=_positive, metavar="N")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--cancer-rate", type=_fraction, default=0.3, metavar="R")
    p.add_argument("--prior-rate", type=_fraction, default=0.0, metavar="P",
                   help="fraction of women who also get a prior study a year earlier")
    p.add_argument("--size", choices=["small", "default", "full"], default="default")
    p.add_argument("--monochrome1", action="store_true", help="write inverted MONOCHROME1")
    p.add_argument("--jpeg2000", action="store_true", help="JPEG 2000 lossless pixel data")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_phantom)

    p = sub.add_parser("demo", help="make and open the synthetic demo study")
    p.add_argument("--headless", action="store_true", help="print instead of opening a window")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_demo)
    return parser


def _setup_logging(paths: AppPaths, verbose: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        paths.logs.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            paths.logs / "mammodesk.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(fmt)
    root.addHandler(handler)
    # Warnings belong in the log, not the user's terminal.  pydicom's value
    # validation quotes the offending value, which may be patient data, so it
    # is switched off: MammoDesk reports unusable files itself, without values.
    logging.captureWarnings(True)
    import pydicom.config

    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
    if verbose:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(fmt)
        root.addHandler(stream)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    paths = app_paths(args.home, args.library)
    _setup_logging(paths, args.verbose)
    handler: Callable[[argparse.Namespace, AppPaths], int] = args.handler
    try:
        return handler(args, paths)
    except MammoDeskError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        log.exception("operating system error")
        print(f"{PROG}: error: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception:
        log.exception("internal error")
        print(f"{PROG}: internal error; details are in {paths.logs / 'mammodesk.log'}",
              file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
