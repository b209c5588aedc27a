"""De-identification speed and leakage: MammoDesk against dicognito and deid.

Builds one planted-PHI corpus (tests/support/deid_corpus.py: small phantoms, every
Table E.1-1 attribute, private data, overlay and burned-in text carrying
unique markers), warms the page cache, then for each tool anonymizes every
file into a fresh folder, ``--repeats`` times, and reports the median speed.
The output of each tool's last run is searched for surviving markers (any
planted marker found anywhere in the bytes of any output file) and for
burned-in text still visible in the planted boxes.

    .venv/bin/python tests/benchmarks/deid_speed.py [--patients 4] [--repeats 3]

The last lines are JSON, one per figure.  MammoDesk runs the Basic profile
with fresh random site keys; dicognito runs its ``Anonymizer`` (one per run,
shared by all files, as its documentation asks); deid runs
``replace_identifiers`` with its default recipe.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR

from tests.support.deid_corpus import Corpus, build_corpus, burned_text_left, find_markers

Runner = Callable[[Corpus, Path], list[Path]]


def run_mammodesk(corpus: Corpus, out_dir: Path) -> list[Path]:
    """MammoDesk's folder anonymizer, Basic profile; returns the files it wrote."""
    try:
        from sync.deid.folder import anonymize_folder
        from sync.deid.keys import SiteKeys
        from sync.deid.profile import profile_named
    except ImportError as exc:
        raise RuntimeError(f"MammoDesk de-identification API not importable: {exc}") from exc
    assert corpus.dicom_dir is not None
    keys = SiteKeys(secret=os.urandom(32), map_key=os.urandom(32))
    summary = anonymize_folder(corpus.dicom_dir, out_dir, profile=profile_named("basic"),
                               keys=keys)
    print(f"  mammodesk: {len(summary.written)} written, {len(summary.quarantined)} "
          f"quarantined, {len(summary.blocked)} blocked", file=sys.stderr)
    written = [p for p in (_as_path(item) for item in summary.written) if p is not None]
    if len(written) != len(summary.written):  # entries of unknown shape: take the folder
        return [p for p in out_dir.rglob("*") if p.is_file()]
    return [p if p.is_absolute() else out_dir / p for p in written]


def _as_path(item: object) -> Path | None:
    """A written-file entry as a path: a path itself, a tuple ending in one, or an object
    with a conventional attribute."""
    if isinstance(item, (str, os.PathLike)):
        return Path(item)
    if isinstance(item, tuple) and item:
        return _as_path(item[-1])
    for name in ("output", "out_path", "dest", "destination", "target", "path"):
        if hasattr(item, name):
            return _as_path(getattr(item, name))
    return None


def run_dicognito(corpus: Corpus, out_dir: Path) -> list[Path]:
    """dicognito's Anonymizer over every file, written under the same relative path."""
    from dicognito.anonymizer import Anonymizer

    assert corpus.dicom_dir is not None
    anonymizer = Anonymizer()
    written = []
    for src in corpus.files:
        dst = out_dir / src.relative_to(corpus.dicom_dir)
        dst.parent.mkdir(parents=True, exist_ok=True)
        with pydicom.dcmread(src) as ds:
            anonymizer.anonymize(ds)
            ds.save_as(dst)
        written.append(dst)
    return written


def run_deid(corpus: Corpus, out_dir: Path) -> list[Path]:
    """deid's replace_identifiers, default recipe, one call per study folder (deid names
    its output after the input's base name, which repeats across studies)."""
    from deid.config import DeidRecipe
    from deid.dicom import replace_identifiers

    assert corpus.dicom_dir is not None
    recipe = DeidRecipe()  # the default recipe (deid.dicom), parsed once
    folders: dict[Path, list[str]] = {}
    for src in corpus.files:
        folders.setdefault(src.parent, []).append(str(src))
    written = []
    for folder, files in folders.items():
        target = out_dir / folder.relative_to(corpus.dicom_dir)
        target.mkdir(parents=True, exist_ok=True)
        replace_identifiers(files, deid=recipe, save=True, output_folder=str(target),
                            overwrite=True)
        written += [target / Path(f).name for f in files]
    return [p for p in written if p.is_file()]


def markers_left(corpus: Corpus, outputs: list[Path]) -> set[str]:
    """Planted markers found anywhere in the bytes of the output files."""
    found: set[str] = set()
    for path in outputs:
        found |= find_markers(path.read_bytes(), corpus.markers)
    return found


def _middle_row(path: Path) -> np.ndarray | None:
    try:
        pixels = pydicom.dcmread(path).pixel_array
    except Exception:  # no decodable pixels: nothing burned in can show
        return None
    return pixels[pixels.shape[0] // 2].astype(np.float64) if pixels.ndim == 2 else None


def burned_in_left(corpus: Corpus, outputs: list[Path]) -> tuple[int, int]:
    """(files whose burned-in box still shows text, files whose pixels do not decode).

    Each output is matched to its source by the nearest middle pixel row (the
    boxes sit in corners, away from it), as tools rename files freely."""
    sources = {p: _middle_row(p) for p in corpus.files}
    shown = undecodable = 0
    for path in outputs:
        row = _middle_row(path)
        if row is None:
            undecodable += 1
            continue
        same = [(float(np.abs(r - row).mean()), p) for p, r in sources.items()
                if r is not None and r.shape == row.shape]
        if same and burned_text_left(path, corpus.burned_boxes[min(same)[1]]):
            shown += 1
    return shown, undecodable


def measure(name: str, runner: Runner, corpus: Corpus, work: Path,
            repeats: int) -> dict[str, object]:
    """Median files/s and MB/s over ``repeats`` runs, then leakage of the last output."""
    seconds, outputs = [], []
    for i in range(repeats):
        out_dir = work / f"{name}-{i}"
        out_dir.mkdir()
        t0 = time.perf_counter()
        outputs = runner(corpus, out_dir)
        seconds.append(time.perf_counter() - t0)
        print(f"  {name} run {i}: {len(corpus.files) / seconds[-1]:.1f} files/s, "
              f"{len(outputs)} files out", file=sys.stderr)
        if i < repeats - 1:
            shutil.rmtree(out_dir)
    median = statistics.median(seconds)
    left = markers_left(corpus, outputs)
    shown, undecodable = burned_in_left(corpus, outputs)
    result = {"files_per_s": len(corpus.files) / median,
              "mb_per_s": corpus.total_bytes / 1e6 / median,
              "files_out": len(outputs), "markers_left": len(left),
              "burned_in_left": shown, "undecodable": undecodable}
    kinds: dict[str, int] = {}
    for marker in left:
        kind = _kind(corpus, marker)
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"{name}: {result['files_per_s']:.1f} files/s, {result['mb_per_s']:.1f} MB/s, "
          f"{len(left)} of {len(corpus.markers)} markers left, {result['burned_in_left']} of "
          f"{len(outputs)} files with burned-in text ({undecodable} undecodable)",
          file=sys.stderr)
    if kinds:
        top = sorted(kinds.items(), key=lambda kv: -kv[1])
        print("  left by kind: " + ", ".join(f"{k} {v}" for k, v in top), file=sys.stderr)
    return result


def _kind(corpus: Corpus, marker: str) -> str:
    """What a marker was planted in: a Table E.1-1 VR, "SQ item", or a non-table place."""
    tag, place = corpus.tags_of_marker.get(marker), corpus.markers[marker][0]
    if tag is None:
        return place.split(" (")[0]
    return "SQ item" if place.endswith(" item") else dictionary_VR(tag)


def _line(metric: str, value: object, **extra: object) -> str:
    return json.dumps({"bench": "deid_speed", "metric": metric, "value": value, **extra})


def _ratio_line(metric: str, ours: dict | None, base: dict, key: str, tool: str) -> str:
    value = round(float(ours[key]), 2) if ours else None
    baseline = round(float(base[key]), 2)
    ratio = round(value / baseline, 3) if value is not None and baseline else None
    return _line(metric, value, baseline=baseline, ratio=ratio, baseline_tool=tool,
                 unit="MB/s" if key == "mb_per_s" else "files/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("MESSAGELEVEL", "ERROR")  # deid logs every element otherwise
    logging.getLogger("dicognito").setLevel(logging.WARNING)
    # dicognito probes keywords pydicom does not know; each probe warns once.
    warnings.filterwarnings("ignore", category=UserWarning, module="pydicom")
    work = Path(tempfile.mkdtemp(prefix="mammodesk-deid-bench-"))
    failed = None
    try:
        t0 = time.perf_counter()
        corpus = build_corpus(work / "corpus", patients=args.patients)
        print(f"corpus: {len(corpus.files)} files, {corpus.total_bytes / 1e6:.1f} MB, "
              f"{len(corpus.markers)} markers, built in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        for path in corpus.files:  # warm the page cache for every contender
            path.read_bytes()
        results: dict[str, dict | None] = {}
        for name, runner in (("mammodesk", run_mammodesk), ("dicognito", run_dicognito),
                             ("deid", run_deid)):
            try:
                results[name] = measure(name, runner, corpus, work, args.repeats)
            except RuntimeError as exc:
                failed = f"{name}: {exc}"
                print(f"FAILED {failed}", file=sys.stderr)
                results[name] = None
        ours, dcg, deid = results["mammodesk"], results["dicognito"], results["deid"]
        assert dcg is not None and deid is not None
        lines = [_ratio_line("files_per_s", ours, dcg, "files_per_s", "dicognito"),
                 _ratio_line("files_per_s_deid", ours, deid, "files_per_s", "deid"),
                 _ratio_line("mb_per_s", ours, dcg, "mb_per_s", "dicognito")]
        for key in ("markers_left", "burned_in_left"):
            for tool, res in results.items():
                metric = key if tool == "mammodesk" else f"{key}_{tool}"
                extra: dict[str, object] = {"of": len(corpus.markers)}
                if key == "burned_in_left":
                    extra = {"of": res["files_out"] if res else None,
                             "undecodable": res["undecodable"] if res else None}
                lines.append(_line(metric, res[key] if res else None, tool=tool, **extra))
        if failed:
            lines.append(_line("error", None, message=failed))
        print("\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
