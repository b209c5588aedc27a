"""Opening a study in the reading view (offscreen, 1920x1080, 2x2 hang).

Study: four phantom views at 3328 x 4096, JPEG 2000 lossless (--size and
--no-jpeg2000 change that).  Baseline: decoding the four original files one
after another (pydicom + pylibjpeg-openjpeg), measured in the same run.

  cold_paint_s   a folder never seen: open request -> all four views
                 painted at screen resolution (goal <= 0.6 x baseline)
  warm_paint_s   the same study from the library after its display cache
                 was made (goal < 0.3 s)
  full_res_s     cold: until every view has its full resolution
  wl_fps         window/level drag on the 2x2: frames of four repainted
                 tiles per second (goal >= 30)
  peak_rss_mb    after three studies were opened to full resolution

Medians of --runs runs.  JSON lines last.

    .venv/bin/python tests/benchmarks/open_study.py [--runs 3] [--size full]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.dicom.pixels import decode_pixels
from engine.dicom.reader import read_dataset
from engine.display.voi import drag
from engine.library import Library, import_paths
from engine.paths import app_paths
from engine.phantom import generate_cohort


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _wait(app, cond, timeout: float = 300.0) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    while not cond():
        app.processEvents()
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("the study did not open in time")
        time.sleep(0.001)
    return time.perf_counter() - t0


def _worker_peak_mb() -> float:
    """A decoding process's own peak resident memory (VmHWM: counted from
    its exec, unlike ru_maxrss, which keeps the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _shown_view(view_class, ctx, keep):  # type: ignore[no-untyped-def]
    """A full-HD reading view on screen, kept alive for the rest of the run."""
    view = view_class(ctx)
    keep.append(view)
    view.resize(1920, 1080)
    view.show()
    return view


def _started(ctx):  # type: ignore[no-untyped-def]
    """A running viewer has its decoding processes up already: start them
    before the clock does."""
    from engine.display.study_images import warm_up

    for f in [ctx.images.procs.submit(warm_up) for _ in range(2)]:
        f.result()
    return ctx


def _painted(view) -> bool:  # type: ignore[no-untyped-def]
    tiles = [t for t in view.hanging.visible_tiles() if t.cell and t.cell.placement]
    return len(tiles) == 4 and all(t.view is not None for t in tiles)


def _full(view) -> bool:  # type: ignore[no-untyped-def]
    return _painted(view) and all(t.view.full is not None for t in view.hanging.visible_tiles())


def _parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size", default="full", choices=["small", "default", "full"])
    ap.add_argument("--no-jpeg2000", action="store_true")
    return ap.parse_args()


def _serial_decode(files: list[Path], runs: int) -> list[float]:
    """Baseline: the four original files decoded one after another."""
    serial = []
    for _ in range(runs):
        t = time.perf_counter()
        for f in files:
            decode_pixels(read_dataset(f))
        serial.append(time.perf_counter() - t)
    return serial


def _cold_opens(app, context_class, view_class, load_study,  # type: ignore[no-untyped-def]
                tmp: Path, folder: Path, runs: int,
                keep: list) -> tuple[list[float], list[float]]:
    """Open the folder in a fresh viewer each run: (paint times, full-resolution times)."""
    cold, full_res = [], []
    for _ in range(runs):
        ctx = _started(context_class(app_paths(tmp / f"home-cold-{len(cold)}"),
                                     ai_enabled=False))
        view = _shown_view(view_class, ctx, keep)
        app.processEvents()
        t = time.perf_counter()
        ctx.ops.run(lambda: load_study(folder), view.show_study)
        _wait(app, lambda v=view: _painted(v))
        view.repaint()
        cold.append(time.perf_counter() - t)
        _wait(app, lambda v=view: _full(v))
        full_res.append(time.perf_counter() - t)
        ctx.close()
    return cold, full_res


def _warm_opens(app, context_class, view_class,  # type: ignore[no-untyped-def]
                paths, uid: str, runs: int, keep: list):
    """Make the study's display cache, then open it from disk in a fresh viewer each
    run: (paint times, the last context, still open, and its view)."""
    ctx = _started(context_class(paths, ai_enabled=False))
    view = _shown_view(view_class, ctx, keep)
    view.open_study(uid)  # first open makes the display cache
    _wait(app, lambda: _full(view))
    warm = []
    for _ in range(runs):
        ctx.close()  # a closed context is done for good: each run gets a new one
        ctx = _started(context_class(paths, ai_enabled=False))  # empty memory cache: disk only
        view = _shown_view(view_class, ctx, keep)
        app.processEvents()
        t = time.perf_counter()
        view.open_study(uid)
        _wait(app, lambda v=view: _painted(v))
        view.repaint()
        warm.append(time.perf_counter() - t)
    return warm, ctx, view


def _wl_fps(view) -> float:  # type: ignore[no-untyped-def]
    """Window/level drag on the 2x2 for 3 s: frames of four repainted tiles per second."""
    tiles = view.hanging.visible_tiles()
    frames, t = 0, time.perf_counter()
    while time.perf_counter() - t < 3.0:
        for tile in tiles:
            tile.window = drag(tile.window, 3, 2, 4096)
            tile.repaint()
        frames += 1
    return frames / (time.perf_counter() - t)


def _open_the_rest(app, ctx, view, uids: list[str]) -> float:  # type: ignore[no-untyped-def]
    """Open the other studies to full resolution; the decoding processes' peak (MB)."""
    for uid in uids:
        view.open_study(uid)
        _wait(app, lambda u=uid: view.study is not None and view.study.uid == u
              and _painted(view))
        _wait(app, lambda: _full(view))
    procs = ctx.images.procs
    worker_peak = max(f.result() for f in [procs.submit(_worker_peak_mb) for _ in range(6)])
    ctx.close()
    return worker_peak


def _rows(serial: list[float], cold: list[float], warm: list[float], full_res: list[float],
          fps: float, rss: float, worker_peak: float) -> list[dict]:
    base = statistics.median(serial)
    return [
        {"bench": "open_study", "metric": "cold_paint_s",
         "value": round(statistics.median(cold), 3),
         "baseline": round(base, 3), "ratio": round(statistics.median(cold) / base, 3),
         "unit": "s", "goal": "<= 0.6 x baseline"},
        {"bench": "open_study", "metric": "warm_paint_s",
         "value": round(statistics.median(warm), 3),
         "baseline": round(base, 3), "ratio": round(statistics.median(warm) / base, 3),
         "unit": "s", "goal": 0.3},
        {"bench": "open_study", "metric": "full_res_s",
         "value": round(statistics.median(full_res), 3), "baseline": round(base, 3),
         "ratio": round(statistics.median(full_res) / base, 3), "unit": "s"},
        {"bench": "open_study", "metric": "wl_fps", "value": round(fps, 1), "unit": "frames/s",
         "goal": 30},
        {"bench": "open_study", "metric": "peak_rss_mb", "value": round(rss, 1), "unit": "MB",
         "studies_cached": 3, "measured": "the viewer process",
         "decoder_process_peak_mb": round(worker_peak, 1)},
    ]


def main() -> None:
    args = _parse_args()
    from ui.app import make_app
    from ui.context import AppContext
    from ui.reading_view import ReadingView, load_folder_study

    app = make_app()
    keep: list = []  # every view, closed in order at the end
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        cohort = generate_cohort(tmp / "cohort", 3, seed=77, cancer_rate=1.0, size=args.size,
                                 prior_rate=0.0, jpeg2000=not args.no_jpeg2000)
        print(f"made 3 studies in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        folders = sorted({p.parent for p in cohort.files})
        files = sorted(folders[0].glob("*.dcm"))

        serial = _serial_decode(files, args.runs)
        cold, full_res = _cold_opens(app, AppContext, ReadingView, load_folder_study,
                                     tmp, folders[0], args.runs, keep)

        paths = app_paths(tmp / "home")
        with Library(paths.library) as lib:
            import_paths(lib, cohort.files)
            uids = [r[0] for r in lib.conn.execute("SELECT study_uid FROM studies")]
        warm, ctx, view = _warm_opens(app, AppContext, ReadingView, paths, uids[0], args.runs,
                                      keep)
        fps = _wl_fps(view)
        worker_peak = _open_the_rest(app, ctx, view, uids[1:])
        rss = _rss_mb()
        from ui.app import finish

        finish(app, *keep)

    for r in _rows(serial, cold, warm, full_res, fps, rss, worker_peak):
        r |= {"size": args.size, "jpeg2000": not args.no_jpeg2000}
        print(json.dumps(r))


if __name__ == "__main__":
    main()
