"""Start-up: launch -> main window shown with its event loop running
(offscreen), median of 5, against a bare QApplication with one QMainWindow
started the same way in the same run.  Goal: under 1.5 s.

    .venv/bin/python tests/benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BARE = """
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
w = QMainWindow()
w.show()
QTimer.singleShot(0, lambda: (print("window ready", flush=True), app.quit()))
app.exec()
"""


def _time(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=ROOT)
    for line in proc.stdout:  # type: ignore[union-attr]
        if "window ready" in line:
            elapsed = time.perf_counter() - t0
            break
    else:
        raise RuntimeError("the window never came up")
    proc.wait(60)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MAMMODESK_HOME": home,
               "MAMMODESK_QUIT_WHEN_READY": "1"}
        env.pop("DISPLAY", None)
        app_cmd = [sys.executable, str(ROOT / "main.py")]
        bare_cmd = [sys.executable, "-c", BARE]
        _time(app_cmd, env)  # first run creates the library; not counted
        app, bare = [], []
        for _ in range(args.runs):  # interleaved: background load hits both alike
            app.append(_time(app_cmd, env))
            bare.append(_time(bare_cmd, env))
    a, b = statistics.median(app), statistics.median(bare)
    print(json.dumps({"bench": "startup", "metric": "window_s", "value": round(a, 3),
                      "baseline": round(b, 3), "ratio": round(a / b, 3), "unit": "s",
                      "goal": 1.5, "runs": args.runs}))


if __name__ == "__main__":
    main()
