"""``train DATASET... --out DIR``: a model package from labelled datasets
(phantom labels.csv, CBIS-DDSM, VinDr-Mammo, RSNA 2023); re-running resumes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.errors import MammoDeskError
from engine.paths import AppPaths
from ui.cli.argtypes import DATASET_KINDS, fraction, positive
from ui.cli.exit_codes import ExitCode
from ui.cli.output import NOT_CLINICAL


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("train", help="train a model package from a labelled dataset")
    p.add_argument("data", metavar="DATASET", nargs="+",
                   help="phantom labels.csv, or a CBIS-DDSM, VinDr-Mammo or RSNA 2023 folder; "
                        "several are trained on together")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="working folder (cache, checkpoints) and package/; re-run to resume")
    p.add_argument("--kind", default="auto", choices=DATASET_KINDS)
    p.add_argument("--images-from", default="folder", choices=["folder", "library"],
                   help="folder: the files the labels name; library: the imported images "
                        "with the labels' SOP Instance UIDs")
    p.add_argument("--name", default="mammodesk-phantom")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--epochs", type=positive, default=12)
    p.add_argument("--steps", type=positive, default=300, help="batches per epoch")
    p.add_argument("--batch", type=positive, default=8)
    p.add_argument("--val-fraction", type=fraction, default=0.15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=positive, default=None,
                   help="processes preparing images (default: one per core)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.runtime import TRAINING_MODULES, require_training_extra

    require_training_extra("training", TRAINING_MODULES)  # before reading any dataset
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
    return ExitCode.OK
