"""The set-up and the timed runs of tests/benchmarks/update_speed.py: a padded
model package published in the reference cloud's model repository, fetched
as ``models check`` fetches it, and downloaded with curl."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.cloud import SHIPPED_MODEL, LocalCloud, missing_software, shipped_model_copy

CHANNEL = "stable"


class UpdateBench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.cloud: LocalCloud | None = None
        self.target = ""  # the target path, CHANNEL/NAME-VERSION.tar
        self.target_length = 0
        self.target_sha256 = ""
        self.name = ""
        self.version = ""

    def set_up(self, padding_bytes: int) -> None:
        reason = missing_software()
        if reason:
            raise RuntimeError(reason)
        self.cloud = LocalCloud.start(self.work / "cloud")
        shipped = json.loads((SHIPPED_MODEL / "manifest.json").read_text(encoding="utf-8"))
        major, minor, patch = (int(n) for n in str(shipped["version"]).split("."))
        package = shipped_model_copy(self.work / "package", f"{major}.{minor}.{patch + 1}",
                                     padding_bytes)
        doc = self.cloud.publish_model(package, CHANNEL)
        shutil.rmtree(package)
        self.target, self.target_length = doc["target"], int(doc["length"])
        self.target_sha256, self.name, self.version = doc["sha256"], doc["name"], doc["version"]

    def close(self) -> None:
        if self.cloud is not None:
            self.cloud.stop()
            self.cloud = None

    def _cloud(self) -> LocalCloud:
        if self.cloud is None:
            raise RuntimeError("the cloud is not running")
        return self.cloud

    # -- one fetch, as `models check` does it
    def fetch_run(self, run: int) -> dict[str, float]:
        """Seconds for the metadata, the download, the unpack and verify, and in all."""
        from engine.paths import AppPaths
        from sync.model_updates.client import fetch_candidate, model_config
        from sync.model_updates.repo import newest_target, open_updater

        cloud = self._cloud()
        home = self.work / f"fetch-{run}"
        shutil.rmtree(home, ignore_errors=True)
        paths = AppPaths(library=home / "library", config=home / "config",
                         cache=home / "cache", logs=home / "logs", demo=home / "demo",
                         models=home / "models")
        config = model_config(paths, {"models.url": cloud.models_url,
                                      "models.root": cloud.models_root,
                                      "models.channel": CHANNEL, "cloud.ca_bundle": cloud.ca})
        base: dict[str, Any] = {"url": cloud.models_url, "channel": CHANNEL}
        timings: dict[str, float] = {"download_s": 0.0}
        t0 = time.perf_counter()
        updater = open_updater(config)
        found = newest_target(updater, config.cache, CHANNEL, self.name, None)
        t1 = time.perf_counter()
        if found is None:
            raise RuntimeError(f"the repository lists no {self.name} in {CHANNEL}")
        info, keyids = found
        if info.path != self.target:
            raise RuntimeError(f"the newest target is {info.path}, not {self.target}")
        download = updater.download_target

        def timed_download(*args: Any, **kwargs: Any) -> str:
            start = time.perf_counter()
            try:
                return download(*args, **kwargs)
            finally:
                timings["download_s"] += time.perf_counter() - start

        updater.download_target = timed_download  # type: ignore[method-assign]
        pkg = fetch_candidate(updater, info, keyids, paths.models, base)
        t2 = time.perf_counter()
        if (pkg.name, pkg.version) != (self.name, self.version):
            raise RuntimeError(f"fetched {pkg.name} {pkg.version}, not {self.version}")
        shutil.rmtree(home, ignore_errors=True)
        return {"metadata_s": t1 - t0, "download_s": timings["download_s"],
                "unpack_verify_s": t2 - t1 - timings["download_s"], "total_s": t2 - t0}

    # -- the baseline
    def curl_run(self) -> float:
        """Seconds for curl to download the same target file from the same nginx."""
        cloud = self._cloud()
        channel, filename = self.target.split("/", 1)
        url = f"{cloud.models_url}targets/{channel}/{self.target_sha256}.{filename}"
        out = self.work / "curl.tar"
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        cmd = ["curl", "-q", "-sS", "--fail", "--noproxy", "*", "--cacert", cloud.ca,
               "-o", str(out), url]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"curl failed (exit {done.returncode}): {done.stderr.strip()}")
        data = out.read_bytes()
        out.unlink()
        if len(data) != self.target_length or (
                hashlib.sha256(data).hexdigest() != self.target_sha256):
            raise RuntimeError("curl downloaded other bytes than the published target")
        return seconds
