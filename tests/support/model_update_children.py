"""Stand-ins for the model update cycle, run by the window's check process
(sync.model_updates.child) in tests: spawned processes import them by name
(``TARGET_PREFIX + "function"``), so they live here, not in a test module.
Each takes (paths, settings, progress) like cycle.check_and_accept and
leaves what it saw in ``seen_file(paths)``; none touches the network."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from engine.paths import AppPaths

TARGET_PREFIX = f"{__name__}:"
WAIT_S = 30.0


def seen_file(paths: AppPaths) -> Path:
    return paths.cache / "check-seen.json"


def release_file(paths: AppPaths) -> Path:
    """Where a test lets a held check go on."""
    return paths.cache / "check-release"


def hold_file(paths: AppPaths) -> Path:
    """While this exists, ``fetch_and_accept`` waits for the release file."""
    return paths.cache / "check-hold"


def _saw(paths: AppPaths, settings: dict[str, str]) -> None:
    paths.cache.mkdir(parents=True, exist_ok=True)
    seen_file(paths).write_text(json.dumps({"pid": os.getpid(),
                                            "channel": settings.get("models.channel")}))


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released the check")
        time.sleep(0.02)


def outcome(reason: str, candidate: str | None = None) -> dict[str, object]:
    return {"active": "1.0.0", "candidate": candidate, "accepted": True if candidate else None,
            "reason": reason, "report": None, "activated": False}


def progress_then_answer(paths, settings, progress):
    _saw(paths, settings)
    progress("fetching the update", 1, 3)
    progress("acceptance set", 3, 12)
    return outcome(f"no update on channel {settings.get('models.channel')}")


def offline(paths, settings, progress):
    from sync.model_updates.errors import ModelRepoOffline

    _saw(paths, settings)
    raise ModelRepoOffline("the model repository cannot be reached: connection refused")


def bug(paths, settings, progress):
    raise ValueError("a bug\nover two lines")


def crash(paths, settings, progress):
    _saw(paths, settings)
    progress("acceptance set", 1, 12)
    time.sleep(0.2)  # the progress gets out first
    os._exit(3)  # like a segmentation fault in a model library: no answer


def held(paths, settings, progress):
    _saw(paths, settings)
    progress("acceptance set", 0, 12)
    _wait_for(release_file(paths))
    return outcome("released")


def fetch_and_accept(paths, settings, progress):
    """A candidate demo 1.2.0 arrives and is accepted (its report kept)."""
    from engine.ai import activation
    from engine.ai.package import read_package
    from tests.support.model_packages import make_package

    _saw(paths, settings)
    progress("acceptance set", 3, 12)
    if hold_file(paths).exists():
        _wait_for(release_file(paths))
    made = make_package(paths.cache / "made-1.2.0", version="1.2.0")
    folder = paths.models / activation.CANDIDATES / "demo-1.2.0"
    shutil.copytree(made, folder)
    pkg = read_package(folder)
    activation.store_report(paths.models, {
        "format": "mammodesk-acceptance-report", "made": "2026-01-02T03:04:05Z",
        "candidate": {"name": "demo", "version": "1.2.0",
                      "manifest_sha256": activation.manifest_digest(pkg)},
        "active": {"name": "demo", "version": "1.0.0"}, "accepted": True,
        "reason": "every check passed", "checks": [], "sets": {}, "seconds": 1.0,
        "notice": "synthetic-trained model, not for clinical use"})
    return outcome("demo 1.2.0 fetched and accepted", "1.2.0")
