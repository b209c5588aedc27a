"""The reference cloud (packaging/cloud/local-cloud) for tests: start, stop, inspect.

Inspection goes to Orthanc's own REST API on its loopback port (no TLS, no
authentication), so it sees what the server really stored, duplicates
included, whatever the DICOMweb layer reports.  Model packages are published
in the cloud's TUF model repository with packaging/cloud/model-repo.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "cloud" / "local-cloud"
MODEL_REPO = ROOT / "packaging" / "cloud" / "model-repo"
SHIPPED_MODEL = ROOT / "resources" / "models" / "mammodesk-phantom"
PACKAGES = "orthanc orthanc-dicomweb nginx-light curl openssl"
SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"
TIMEOUT_S = 30


def missing_software() -> str | None:
    """A one-line reason when the servers cannot run here, else None."""
    path = os.pathsep.join([os.environ.get("PATH", ""), SBIN_PATH])
    absent = [name for name in ("Orthanc", "nginx", "openssl", "curl")
              if shutil.which(name, path=path) is None]
    if absent:
        return (f"{', '.join(absent)} not installed: the local cloud needs the Debian "
                f"packages {PACKAGES} (tests/run-all.sh installs them)")
    return None


def _script(command: str, directory: Path, timeout: float = 120) -> str:
    # This Python: it has python-tuf, which the model repository needs.
    done = subprocess.run([sys.executable, str(SCRIPT), command, str(directory)],
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"local-cloud {command} {directory} failed "
                           f"(exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


@dataclass
class LocalCloud:
    url: str
    ca: str
    user: str
    password: str
    https_port: int
    orthanc_port: int
    orthanc_url: str
    models_url: str
    models_root: str
    models_repo: str
    directory: Path

    @classmethod
    def start(cls, directory: Path | str) -> LocalCloud:
        directory = Path(directory)
        doc = json.loads(_script("start", directory))
        return cls(url=doc["url"], ca=doc["ca"], user=doc["user"], password=doc["password"],
                   https_port=int(doc["https_port"]), orthanc_port=int(doc["orthanc_port"]),
                   orthanc_url=doc["orthanc_url"], models_url=doc["models_url"],
                   models_root=doc["models_root"], models_repo=doc["models_repo"],
                   directory=directory)

    # -- servers
    def stop(self) -> None:
        _script("stop", self.directory)

    def stop_orthanc(self) -> None:
        _script("stop-orthanc", self.directory)

    def start_orthanc(self) -> None:
        _script("start-orthanc", self.directory)

    @property
    def auth(self) -> tuple[str, str]:
        return (self.user, self.password)

    def nginx_listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.https_port), timeout=5).close()
        except OSError:
            return False
        return True

    def orthanc_answers(self) -> bool:
        try:
            return self._get("/system").ok
        except requests.RequestException:
            return False

    # -- what Orthanc stored (REST API on loopback, plain HTTP)
    def _rest(self, method: str, path: str, **kwargs) -> requests.Response:
        # A new connection each time: Orthanc closes a kept-alive connection
        # on its own (after 1 s idle, or at once when asked to), and a pooled
        # connection it has just closed fails with "Remote end closed
        # connection without response".  No proxy from the environment either.
        with requests.Session() as session:
            session.trust_env = False
            return session.request(method, self.orthanc_url + path, timeout=TIMEOUT_S,
                                   **kwargs)

    def _get(self, path: str, **kwargs) -> requests.Response:
        return self._rest("GET", path, **kwargs)

    def _instances(self) -> list[dict]:
        answer = self._get("/instances", params={"expand": ""})
        answer.raise_for_status()
        return answer.json()

    def instance_uids(self) -> list[str]:
        """SOP Instance UID of every stored instance, duplicates kept."""
        return [i["MainDicomTags"]["SOPInstanceUID"] for i in self._instances()]

    def instance_files(self) -> Iterator[bytes]:
        """The stored DICOM file of every instance."""
        answer = self._get("/instances")
        answer.raise_for_status()
        for orthanc_id in answer.json():
            data = self._get(f"/instances/{orthanc_id}/file")
            data.raise_for_status()
            yield data.content

    def count(self) -> int:
        answer = self._get("/statistics")
        answer.raise_for_status()
        return int(answer.json()["CountInstances"])

    def delete_all(self) -> None:
        """Remove every patient (and with them every study, series, instance)."""
        answer = self._get("/patients")
        answer.raise_for_status()
        for patient in answer.json():
            gone = self._rest("DELETE", f"/patients/{patient}")
            if gone.status_code != 404:  # someone else removed it meanwhile
                gone.raise_for_status()

    def ensure_running(self) -> None:
        """Start whatever part of the cloud is down (idempotent); keep this object current."""
        fresh = LocalCloud.start(self.directory)
        self.url, self.https_port = fresh.url, fresh.https_port
        self.orthanc_url, self.orthanc_port = fresh.orthanc_url, fresh.orthanc_port
        self.password = fresh.password
        self.models_url = fresh.models_url

    # -- the model repository
    def publish_model(self, package: Path, channel: str = "stable") -> dict:
        """`model-repo add` into the cloud's repository; its JSON answer."""
        done = subprocess.run([sys.executable, str(MODEL_REPO), "add", self.models_repo,
                               str(package), "--channel", channel], capture_output=True,
                              text=True, timeout=TIMEOUT_S * 4, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"model-repo add {package} failed (exit {done.returncode}): "
                               f"{done.stderr.strip()}")
        return json.loads(done.stdout)


def shipped_model_copy(folder: Path, version: str, padding_bytes: int = 0) -> Path:
    """The shipped model package copied to ``folder`` as ``version``; with
    ``padding_bytes`` of random data in an extra listed file, evaluation/padding.bin."""
    from engine.ai.package_manifest import write_manifest

    shutil.copytree(SHIPPED_MODEL, folder)
    if padding_bytes:
        with open(folder / "evaluation" / "padding.bin", "wb") as out:
            left = padding_bytes
            while left:
                block = os.urandom(min(left, 1 << 20))
                out.write(block)
                left -= len(block)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["version"] = version
    write_manifest(folder, manifest)
    return folder
