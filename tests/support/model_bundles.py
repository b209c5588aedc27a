"""Model repositories and USB bundles for tests: packed packages, the
repository library from packaging/cloud, and a bundle whose timestamp has
expired (validly signed with the repository's own key)."""

from __future__ import annotations

import importlib
import io
import sys
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tuf.api.metadata import Metadata
from tuf.api.serialization.json import JSONSerializer

from tests.support.cli import ROOT
from tests.support.model_packages import make_package

sys.path.insert(0, str(ROOT / "packaging" / "cloud"))
repo_lib = importlib.import_module("model_repo_lib")


def packed(tmp: Path, name: str, version: str) -> bytes:
    """A model package NAME-VERSION as the tar the repository serves."""
    folder = make_package(tmp / "src" / f"{name}-{version}", name, version)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(folder, arcname=folder.name)
    return buf.getvalue()


def expire_timestamp(repo: Path, bundle: Path, late: timedelta) -> None:
    """Re-sign the bundle's timestamp.json so that it expired ``late`` ago, as a
    bundle left in a drawer would have."""
    path = bundle / "metadata" / "timestamp.json"
    md = Metadata.from_file(str(path))
    md.signed.expires = datetime.now(UTC).replace(microsecond=0) - late
    repo_lib.Repo.load(repo).sign("timestamp", md)
    path.write_bytes(md.to_bytes(JSONSerializer()))
