"""Fitting and writing a package's domain check (engine/ai/domain).

Two ways in, one fit (engine.ai.domain.fit.fit_domain_check):

- `domain_check_from_validation`: at training time, from the Keras model's
  features on the validation part, split by exam into fit / threshold /
  check thirds;
- ``python -m engine.ai.training.domain_export PACKAGE --work DIR``: for an
  existing package (the shipped one), adds the feature outputs to its ONNX
  file, renders three phantom cohorts from seeds the training never used,
  fits the check on the first, sets thresholds on the second, measures the
  third, writes ``domain_check.json``, the model card section and the
  manifest.  ``--validation FILE`` (from engine.ai.domain.validate) only
  adds the measured out-of-distribution table to the check and the card.
"""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.ai.domain.acquisition import acquisition_stats
from engine.ai.domain.check import FILE
from engine.ai.domain.fit import ViewSample, fit_domain_check
from engine.ai.domain.report import card_section, with_section
from engine.ai.package import ModelPackage, write_manifest
from engine.ai.package_manifest import MODEL_CARD, load_manifest

if TYPE_CHECKING:
    import keras

LAYER = "gap: global average pool of the stride-32 backbone features of each view"
SEEDS = (2001, 2002, 2003)  # training used 1001-1003, the held-out evaluation 9001
STUDIES = (120, 120, 120)


def _split_samples(samples: list[ViewSample]) -> tuple[list, list, list]:
    studies = sorted({s.study for s in samples})
    part = {st: k % 3 for k, st in enumerate(studies)}
    groups: tuple[list, list, list] = ([], [], [])
    for s in samples:
        groups[part[s.study]].append(s)
    return groups


def domain_check_from_validation(
    model: keras.Model, arrays: dict, pairs: list[tuple[int, int]], exam_ids: Sequence[str]
) -> dict[str, Any]:
    """The check from the breast model's features on validation pairs (indices into
    ``arrays``); ``exam_ids[i]`` is the exam of pair i."""
    import tensorflow as tf

    from engine.ai.network import with_features

    fn = tf.function(lambda a, b: with_features(model)({"cc": a, "mlo": b}, training=False))
    samples = []
    for k in range(0, len(pairs), 4):
        chunk = pairs[k : k + 4]
        cc = np.stack([arrays[c]["image"] for c, _ in chunk])
        mlo = np.stack([arrays[m]["image"] for _, m in chunk])
        out = fn(cc, mlo)
        for j, (c, m) in enumerate(chunk):
            for idx, pos in ((c, "CC"), (m, "MLO")):
                feats = np.asarray(out[f"features_{pos.lower()}"][j], dtype=np.float64)
                stats = acquisition_stats(arrays[idx]["image"][..., 0])
                samples.append(ViewSample(exam_ids[k + j], pos, feats, stats))
    fit, calib, check = _split_samples(samples)
    groups = {
        "fit": "validation exams 1, 4, 7, ...",
        "threshold": "validation exams 2, 5, 8, ...",
        "check": "validation exams 3, 6, 9, ...",
    }
    return fit_domain_check(fit, calib, check, layer=LAYER, groups=groups)


def write_domain_check(root: Path, check: dict[str, Any]) -> None:
    """domain_check.json and the card section into an unfinished package folder."""
    (root / FILE).write_text(json.dumps(check, indent=1) + "\n")
    card = root / MODEL_CARD
    card.write_text(with_section(card.read_text(), card_section(check)))


def _cohort_samples(pkg: ModelPackage, seed: int, n: int, work: Path) -> list[ViewSample]:
    from engine.ai.domain.cohort import run_jobs
    from engine.ai.domain.inputs import Job
    from engine.ai.runtime import load_runtime

    cache = work / f"samples-{seed}-{n}.pkl"
    if cache.exists():  # a re-run with the same work folder reuses the rendered cohort
        with open(cache, "rb") as fh:
            return pickle.load(fh)
    runtime = load_runtime(pkg, "onnxruntime")
    samples: list[ViewSample] = []
    jobs = [Job("phantom", seed, i) for i in range(n)]
    for k, outcome in enumerate(run_jobs(runtime, jobs, work), start=1):
        samples += outcome.samples
        print(f"\rseed {seed}: {k}/{n} studies", end="\n" if k == n else "", file=sys.stderr)
    work.mkdir(parents=True, exist_ok=True)
    with open(cache, "wb") as fh:
        pickle.dump(samples, fh)
    return samples


def fit_package(root: Path, work: Path, seeds=SEEDS, studies=STUDIES) -> dict[str, Any]:
    """Add feature outputs and a fitted domain check to the package in ``root``."""
    from engine.ai.training.onnx_features import add_feature_outputs

    manifest = load_manifest(root)
    onnx = manifest["entry"].get("onnx")
    if not onnx:
        raise SystemExit("the package has no ONNX file to add feature outputs to")
    add_feature_outputs(root / onnx)
    pkg = ModelPackage(root, manifest)  # hashes are rewritten below
    parts = [_cohort_samples(pkg, s, n, work) for s, n in zip(seeds, studies, strict=True)]
    groups = {
        name: f"{n} phantom studies, seed {s}"
        for name, s, n in zip(("fit", "threshold", "check"), seeds, studies, strict=True)
    }
    check = fit_domain_check(*parts, layer=LAYER, groups=groups)
    write_domain_check(root, check)
    manifest["entry"]["domain_check"] = FILE
    write_manifest(root, manifest)
    return check


def add_validation(root: Path, validation: Path, note: str | None = None) -> dict[str, Any]:
    """Put the measured table from engine.ai.domain.validate (and a note on how
    the thresholds were chosen) into the check and card."""
    check = json.loads((root / FILE).read_text())
    check["validation"]["outside"] = json.loads(validation.read_text())["rows"]
    if note:
        check["validation"]["note"] = note
    write_domain_check(root, check)
    write_manifest(root, load_manifest(root))
    return check


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.ai.training.domain_export")
    ap.add_argument("package", type=Path)
    ap.add_argument("--work", type=Path, help="scratch folder for rendered studies")
    ap.add_argument("--validation", type=Path, help="validation.json to add to the card")
    ap.add_argument("--note", help="with --validation: how the thresholds were chosen")
    args = ap.parse_args(argv)
    if args.validation:
        check = add_validation(args.package, args.validation, args.note)
    else:
        work = args.work or args.package.with_name(args.package.name + ".work")
        try:
            check = fit_package(args.package, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(check["validation"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
