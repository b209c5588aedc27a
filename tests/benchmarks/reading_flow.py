"""The reading room's pace: from "next unread" to four views painted, and
from one hanging step to the next, in the window (offscreen, 1920 x 1080).

Studies: phantom women with a prior, 3328 x 4096 JPEG 2000 lossless by
default (--size, --no-jpeg2000), imported into a library; every study is
opened once first so its display cache exists (warm, as after import).

  next_unread_s  N pressed on an open study -> the next unread study's four
                 views painted (goal < 0.3 s).  Baseline: opening the same
                 studies by their UID (the worklist's Enter), same run.
  step_s         the arrow key to the next step of the reading sequence
                 (2x2 -> CC current vs prior -> MLO current vs prior) ->
                 every tile painted (goal < 0.1 s).  Baseline: repainting
                 the step already shown, same run.

Medians of --runs runs.  JSON lines last.

    .venv/bin/python tests/benchmarks/reading_flow.py [--runs 5] [--studies 3] [--size full]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.library import Library, import_paths
from engine.paths import app_paths
from engine.phantom import generate_cohort


def _wait(app, cond, timeout: float = 300.0) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    while not cond():
        app.processEvents()
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("the views were not painted in time")
        time.sleep(0.0005)
    return time.perf_counter() - t0


def _painted(window) -> bool:  # type: ignore[no-untyped-def]
    tiles = [t for t in window.reading.hanging.visible_tiles() if t.cell and t.cell.placement]
    return bool(tiles) and all(t.view is not None for t in tiles)


def _full(window) -> bool:  # type: ignore[no-untyped-def]
    return _painted(window) and all(t.view.full is not None
                                    for t in window.reading.hanging.visible_tiles()
                                    if t.cell and t.cell.placement)


def _opened(app, window, uid: str) -> None:  # type: ignore[no-untyped-def]
    _wait(app, lambda: window.reading.study is not None and window.reading.study.uid == uid
          and _painted(window))
    window.reading.repaint()


def _parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--studies", type=int, default=3)
    ap.add_argument("--size", default="full", choices=["small", "default", "full", "large"])
    ap.add_argument("--no-jpeg2000", action="store_true")
    return ap.parse_args()


def _window(app, paths):  # type: ignore[no-untyped-def]
    from ui.context import AppContext
    from ui.main_window import MainWindow

    ctx = AppContext(paths, ai_enabled=False)
    window = MainWindow(ctx)
    window.resize(1920, 1080)
    window.show()
    window.refresh_worklist()
    _wait(app, lambda: window.worklist.model.rowCount() > 0)
    return ctx, window


def _warm_up(app, window, uids: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Open every study to full resolution once: its display cache is made."""
    for uid in uids:
        window.open_study(uid)
        _opened(app, window, uid)
        _wait(app, lambda: _full(window))


def _next_unread(app, window, uids: list[str], runs: int) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """(N pressed, opened by UID) times, alternating so load hits both alike."""
    pressed, by_uid = [], []
    for i in range(runs):
        start = uids[i % len(uids)]
        window.open_study(start)
        _opened(app, window, start)
        t = time.perf_counter()
        window.next_unread()
        _wait(app, lambda s=start: window.reading.study is not None
              and window.reading.study.uid != s and _painted(window))
        window.reading.repaint()
        pressed.append(time.perf_counter() - t)
        target = window.reading.study.uid
        window.open_study(start)
        _opened(app, window, start)
        t = time.perf_counter()
        window.open_study(target)
        _opened(app, window, target)
        by_uid.append(time.perf_counter() - t)
    return pressed, by_uid


def _steps(app, window, uid: str, runs: int) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """(arrow key to the next step painted, repaint of the step shown) times."""
    walker, reading = window.reading.walker, window.reading
    window.open_study(uid)
    _opened(app, window, uid)
    steps, repaints = [], []
    for _ in range(runs):
        for _step in range(2):  # 2x2 -> CC vs prior -> MLO vs prior
            t = time.perf_counter()
            walker.forward()
            _wait(app, lambda: _painted(window))
            reading.repaint()
            steps.append(time.perf_counter() - t)
            t = time.perf_counter()
            reading.repaint()
            repaints.append(time.perf_counter() - t)
        walker.back()
        walker.back()
        _wait(app, lambda: _painted(window))
    return steps, repaints


def main() -> int:
    args = _parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory(prefix="mammodesk-bench-") as tmp:
        t0 = time.perf_counter()
        cohort = generate_cohort(Path(tmp) / "cohort", args.studies, seed=11, size=args.size,
                                 jpeg2000=not args.no_jpeg2000, prior_rate=1.0)
        print(f"generated {len(cohort.files)} files in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
        paths = app_paths(Path(tmp) / "home")
        with Library(paths.library) as lib:
            import_paths(lib, cohort.files)
        ctx, window = _window(app, paths)
        rows = window.worklist.model.rows
        current = [r.study_uid for r in rows if r.has_prior]
        _warm_up(app, window, [r.study_uid for r in rows])
        pressed, by_uid = _next_unread(app, window, current, args.runs)
        steps, repaints = _steps(app, window, current[0], args.runs)
        window.close()
        ctx.close()
    med = statistics.median
    out = [
        {"bench": "reading_flow", "metric": "next_unread_s", "value": round(med(pressed), 3),
         "baseline": round(med(by_uid), 3), "ratio": round(med(pressed) / med(by_uid), 3),
         "baseline_is": "opening the same studies by UID", "unit": "s", "goal": 0.3,
         "runs": len(pressed), "size": args.size, "jpeg2000": not args.no_jpeg2000},
        {"bench": "reading_flow", "metric": "step_s", "value": round(med(steps), 3),
         "baseline": round(med(repaints), 4), "ratio": round(med(steps) / med(repaints), 2),
         "baseline_is": "repainting the step shown", "unit": "s", "goal": 0.1,
         "runs": len(steps), "size": args.size, "jpeg2000": not args.no_jpeg2000},
    ]
    for row in out:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
