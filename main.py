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

from engine import private
from engine.errors import MammoDeskError
from engine.paths import HOME_ENV, AppPaths, app_paths

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
        ai_results, ai_problem = ({}, "switched off") if args.no_ai else _ai_for(
            paths, library, sorted(report.study_uids))
    if show:
        print("\r", end="", file=sys.stderr)
    if args.json:
        _print_json(report.as_dict() | {
            "ai": {uid: _ai_summary(r) for uid, r in ai_results.items()},
            "ai_status": ai_problem or "done"})
    else:
        print(f"imported {report.imported} file(s) in {len(report.study_uids)} study(ies); "
              f"{report.already_present} already in the library; "
              f"{report.non_dicom} non-DICOM file(s) skipped")
        for rejected in report.rejected:
            print(f"rejected: {rejected.source}: {rejected.reason}")
        for link in report.followed_links:
            print(f"followed link: {link}")
        for outcome in ai_results.values():
            line = _ai_summary(outcome)
            if line["status"] == "done":
                print(f"AI: exam score {line['exam_score']}, category {line['category']} "
                      f"({NOT_CLINICAL})")
            else:
                print(f"AI: not analysed: {line['message']}")
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


def _ai_for(paths: AppPaths, library, study_uids: list[str], backend: str = "auto"):  # type: ignore[no-untyped-def]
    """Run the active model over studies; ({uid: result or reason}, None) or
    ({}, reason) when no model can be loaded."""
    from engine.ai.service import analyze_studies, open_runtime

    try:
        runtime = open_runtime(paths.models, backend)
    except MammoDeskError as exc:
        return {}, str(exc)
    return dict(analyze_studies(library, study_uids, runtime)), None


def _ai_summary(outcome) -> dict[str, object]:  # type: ignore[no-untyped-def]
    if isinstance(outcome, str):
        return {"status": "failed", "message": outcome}
    return {"status": "done", "notice": outcome.notice, "model": outcome.model_name,
            "model_version": outcome.model_version, "device": outcome.device,
            "backend": outcome.backend, "exam_score": outcome.exam_score,
            "category": outcome.category, "density": outcome.density,
            "breasts": {b.laterality: b.probability for b in outcome.breasts},
            "marks": sum(len(v.marks) for v in outcome.views),
            "seconds": outcome.timings_s.get("total")}


def cmd_demo(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.service import current_package
    from engine.ai.store import latest_result
    from engine.demo import ensure_demo_study
    from engine.library import Library, list_instances, list_studies

    with Library(paths.library) as library:
        demo = ensure_demo_study(paths.demo, library)
        try:
            pkg = current_package(paths.models)
            stored = latest_result(library, demo.study_uid, (pkg.name, pkg.version))
        except MammoDeskError:
            stored = None
        if stored is not None:
            results, problem = {demo.study_uid: stored}, None
        else:
            results, problem = _ai_for(paths, library, [demo.study_uid])
        summary = list_studies(library, demo.study_uid)[0]
        images = list_instances(library, demo.study_uid)
    if problem:
        ai: dict[str, object] = {"status": "no_model", "message": f"{problem}; results will "
                                 f"show here, marked '{NOT_CLINICAL}'"}
    else:
        ai = _ai_summary(results[demo.study_uid])
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
    if problem:
        print(f"AI: {ai['message']}")
    else:
        _print_result(results[demo.study_uid])
    print(f"library: {paths.library}")
    if not headless:
        from ui.app import run_gui

        return run_gui(paths, open_uid=demo.study_uid)
    return 0


def cmd_analyze(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.analyze import analyze_datasets
    from engine.ai.service import (
        datasets_from_library,
        datasets_from_path,
        open_runtime,
        study_in_library,
    )
    from engine.ai.store import save_result
    from engine.library import Library

    target = Path(args.target)
    with Library(paths.library) as library:
        if target.exists():
            datasets = datasets_from_path(target)
        else:
            datasets = datasets_from_library(library, args.target)
        if args.model:
            from engine.ai.package import read_package
            from engine.ai.runtime import load_runtime

            runtime = load_runtime(read_package(Path(args.model)), args.backend)
        else:
            runtime = open_runtime(paths.models, args.backend)
        result = analyze_datasets(datasets, runtime)
        stored = study_in_library(library, result.study_instance_uid)
        if stored:
            save_result(library, result)
    if args.sr:
        from engine.ai.cad_sr import write_cad_sr

        write_cad_sr(result, datasets, Path(args.sr))
    if args.pdf:
        from engine.ai.display import display_images
        from engine.ai.report_pdf import write_report_pdf

        images, flips = display_images(datasets, result)
        write_report_pdf(result, images, Path(args.pdf), flips=flips, heatmap_alpha=0.35)
    if args.json:
        _print_json(result.to_dict() | {"stored_in_library": stored,
                                        "model_load_s": round(runtime.load_s, 3)})
        return 0
    _print_result(result)
    return 0


def _print_result(result) -> None:  # type: ignore[no-untyped-def]
    print(f"AI result ({result.notice})")
    print(f"  model {result.model_name} {result.model_version} on {result.device} "
          f"({result.backend}), {result.timings_s.get('total', 0):.2f} s")
    if result.exam_score is not None:
        print(f"  exam score {result.exam_score:.0f}/100, category {result.category}/10, "
              f"density {result.density}")
    if result.reason:
        print(f"  note: {result.reason}")
    for b in result.breasts:
        side = "right" if b.laterality == "R" else "left"
        if b.probability is None:
            print(f"  {side} breast: {b.reason}")
        else:
            print(f"  {side} breast: malignancy probability {b.probability:.3f}, "
                  f"density {b.density}")
    for v in result.views:
        if v.reason:
            print(f"  {v.view or '?'}: not applicable: {v.reason}")
        for m in v.marks:
            print(f"  {v.view}: mark at ({m.x:.0f}, {m.y:.0f}) score {m.score:.2f}")


def cmd_evaluate(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.datasets.detect import read_dataset
    from engine.ai.evaluate_model import evaluate_model, update_package
    from engine.ai.package import read_package
    from engine.ai.runtime import load_runtime
    from engine.ai.service import current_package

    records, summary = read_dataset(Path(args.data), args.kind)
    pkg = read_package(Path(args.model)) if args.model else current_package(paths.models)
    runtime = load_runtime(pkg, args.backend)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() or done == total:
            end = "\n" if done == total else ""
            print(f"\r{done}/{total} exams", end=end, file=sys.stderr, flush=True)

    out = Path(args.out)
    evaluation = evaluate_model(records, runtime, out, args.resamples, progress)
    if args.update_package:
        if not args.model:
            raise MammoDeskError("--update-package needs --model PACKAGE_FOLDER")
        update_package(Path(args.model), evaluation, out, summary)
    if args.json:
        _print_json(evaluation)
        return 0
    b, e = evaluation["breast_auc"], evaluation["exam_auc"]
    froc = evaluation.get("froc") or {}
    print(f"model {pkg.describe()} on {runtime.device} ({NOT_CLINICAL})")
    print(f"breast-level AUC {b['auc']} (95% CI {b['ci_low']}-{b['ci_high']}), "
          f"exam-level AUC {e['auc']} (95% CI {e['ci_low']}-{e['ci_high']})")
    if froc:
        print(f"FROC sensitivity at 1 false mark per image: "
              f"{froc['sensitivity_at_fp'].get('1')}")
    print(f"evaluation written to {out}")
    return 0


def cmd_train(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.datasets.detect import read_dataset
    from engine.ai.training.run import TrainRequest, train
    from engine.library import Library

    locate = None
    if args.images_from == "library":
        with Library(paths.library) as library:
            files = library.instance_files()
        if not files:
            raise MammoDeskError("the library has no images; import the studies first")
        locate = files.get
    records, summaries = [], []
    for data in args.data:
        part, summary = read_dataset(Path(data), args.kind, locate=locate)
        print(f"dataset {Path(data).name}: {summary.get('kind')}, {len(part)} images, "
              f"{summary.get('positive_breasts')} cancer breasts; "
              f"skipped {summary.get('skipped')}", file=sys.stderr)
        records += part
        summaries.append(summary)
    summary = summaries[0] if len(summaries) == 1 else {"parts": summaries}
    package = train(TrainRequest(
        records=records, out_dir=Path(args.out), name=args.name, version=args.version,
        val_fraction=args.val_fraction, epochs=args.epochs, steps_per_epoch=args.steps,
        batch=args.batch, seed=args.seed, workers=args.workers, dataset_summary=summary))
    print(f"model package written to {package} ({NOT_CLINICAL})")
    return 0


def cmd_gui(args: argparse.Namespace, paths: AppPaths) -> int:
    if not _has_display():
        raise MammoDeskError("no display to open the window on; run 'main.py --help' for "
                             "the headless commands (screenshot renders without one)")
    from ui.app import run_gui

    return run_gui(paths)


def cmd_screenshot(args: argparse.Namespace, paths: AppPaths) -> int:
    if not _has_display():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ui.screenshot import render_screenshot

    cells = render_screenshot(paths, args.target, Path(args.out))
    if args.json:
        _print_json({"out": str(args.out), "platform": os.environ.get("QT_QPA_PLATFORM", ""),
                     "cells": cells})
    else:
        print(f"screenshot of {' '.join(c['label'] for c in cells)} written to {args.out}")
    return 0


# -- plumbing ----------------------------------------------------------------

def cmd_config(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.settings import Settings

    settings = Settings(paths.config)
    if args.action == "get":
        print(settings.get(args.key))
        return 0
    if args.value is None:
        raise MammoDeskError("config set needs a value (an empty string '' clears the setting)")
    if args.key.startswith("deid."):
        from sync.deid.profile import profile_from_settings

        profile_from_settings(settings.all() | {args.key: args.value})  # refuse bad values
    settings.update({args.key: args.value})
    return 0


def _date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 else value


def _configured_library(paths: AppPaths, explicit: str | None) -> AppPaths:
    """The library folder from Settings, unless --library or MAMMODESK_LIBRARY
    names one."""
    import dataclasses

    from engine.paths import LIBRARY_ENV
    from engine.settings import Settings

    if explicit or os.environ.get(LIBRARY_ENV):
        return paths
    try:
        configured = Settings(paths.config).get("library.path")
    except MammoDeskError as exc:
        print(f"{PROG}: warning: {exc}; using the default library", file=sys.stderr)
        return paths
    return dataclasses.replace(paths, library=Path(configured).expanduser()) if configured \
        else paths


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("QT_QPA_PLATFORM") == "offscreen"
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
    p.add_argument("--no-ai", action="store_true", help="do not run the AI on new studies")
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

    p = sub.add_parser("analyze", help="run the AI on a study (folder, file, ZIP or study UID)")
    p.add_argument("target", metavar="PATH|UID")
    p.add_argument("--json", action="store_true")
    p.add_argument("--sr", metavar="OUT.dcm", help="write a Mammography CAD SR")
    p.add_argument("--pdf", metavar="OUT.pdf", help="write a PDF report")
    p.add_argument("--model", metavar="PACKAGE", help="package folder (default: the active one)")
    p.add_argument("--backend", default="auto", choices=["auto", "tensorflow", "onnxruntime"])
    p.set_defaults(handler=cmd_analyze)

    p = sub.add_parser("evaluate", help="evaluate a model package on a labelled dataset")
    p.add_argument("data", metavar="DATASET")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--model", metavar="PACKAGE", help="package folder (default: the active one)")
    p.add_argument("--kind", default="auto",
                   choices=["auto", "phantom", "cbis-ddsm", "vindr-mammo", "rsna-2023"])
    p.add_argument("--backend", default="auto", choices=["auto", "tensorflow", "onnxruntime"])
    p.add_argument("--resamples", type=_positive, default=2000, help="bootstrap resamples")
    p.add_argument("--update-package", action="store_true",
                   help="store the results and a regenerated model card in --model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("train", help="train a model package from a labelled dataset")
    p.add_argument("data", metavar="DATASET", nargs="+",
                   help="phantom labels.csv, or a CBIS-DDSM, VinDr-Mammo or RSNA 2023 folder; "
                        "several are trained on together")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="working folder (cache, checkpoints) and package/; re-run to resume")
    p.add_argument("--kind", default="auto",
                   choices=["auto", "phantom", "cbis-ddsm", "vindr-mammo", "rsna-2023"])
    p.add_argument("--images-from", default="folder", choices=["folder", "library"],
                   help="folder: the files the labels name; library: the imported images "
                        "with the labels' SOP Instance UIDs")
    p.add_argument("--name", default="mammodesk-phantom")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--epochs", type=_positive, default=12)
    p.add_argument("--steps", type=_positive, default=300, help="batches per epoch")
    p.add_argument("--batch", type=_positive, default=8)
    p.add_argument("--val-fraction", type=_fraction, default=0.15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=_positive, default=None,
                   help="processes preparing images (default: one per core)")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("screenshot", help="render the reading view of a study to a PNG")
    p.add_argument("target", metavar="PATH|UID", help="a study folder or a library study UID")
    p.add_argument("--out", required=True, metavar="FILE.png")
    p.add_argument("--json", action="store_true", help="also print where each cell is")
    p.set_defaults(handler=cmd_screenshot)

    from sync.deid.commands import add_parsers as add_deid_parsers

    add_deid_parsers(sub)

    from sync.commands import add_parsers as add_sync_parsers

    add_sync_parsers(sub)

    p = sub.add_parser("config", help="read or change a setting")
    p.add_argument("action", choices=["get", "set"])
    p.add_argument("key", metavar="KEY")
    p.add_argument("value", nargs="?", metavar="VALUE")
    p.set_defaults(handler=cmd_config)

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
    pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
    if verbose:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(fmt)
        root.addHandler(stream)


def _make_private(paths: AppPaths) -> None:
    """Close MammoDesk's own folders to other users (the library sees to itself)."""
    folders = [paths.config, paths.cache, paths.logs, paths.demo, paths.models]
    logs = [paths.logs / name for name in os.listdir(paths.logs)] if paths.logs.is_dir() else []
    changed = private.tighten([*folders, *logs])
    if changed:
        log.warning("%d of MammoDesk's folders and logs were readable by other users: "
                    "made private to this user", changed)


def main(argv: list[str] | None = None) -> int:
    private.restrict_umask()  # before anything is written: folders 0700, files 0600
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.home:
        # Worker processes read the same settings (decoding limits, profiles).
        os.environ[HOME_ENV] = str(Path(args.home).expanduser().absolute())
    paths = _configured_library(app_paths(args.home, args.library), args.library)
    _setup_logging(paths, args.verbose)
    _make_private(paths)
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
