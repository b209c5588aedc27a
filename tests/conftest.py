"""Shared fixtures: a small synthetic cohort, a fresh library, a keyring, the reference cloud."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from tests.support.cloud import LocalCloud, missing_software


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory: pytest.TempPathFactory):
    """Three synthetic women at the small size, one with a prior: 16 files."""
    from engine.phantom import generate_cohort

    out = tmp_path_factory.mktemp("cohort")
    return generate_cohort(out, 3, seed=5, cancer_rate=0.5, size="small", prior_rate=0.34)


@pytest.fixture(scope="session")
def scored_cohort(tmp_path_factory: pytest.TempPathFactory):
    """The same women at the size the model was trained on (the small size's
    narrow field of view is outside its training, so the AI withholds scores
    there): for tests that need the AI to score."""
    from engine.phantom import generate_cohort

    out = tmp_path_factory.mktemp("scored")
    return generate_cohort(out, 3, seed=5, cancer_rate=0.5, size="default", prior_rate=0.34)


@pytest.fixture
def library(tmp_path: Path):
    from engine.library import Library

    with Library(tmp_path / "library") as lib:
        yield lib


@pytest.fixture
def plaintext_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A file keyring under tmp_path for this process and the CLI it starts; its data folder.

    The system keyring (Secret Service) is never touched: ``PYTHON_KEYRING_BACKEND`` reaches
    child processes, ``set_keyring`` this one.
    """
    data = tmp_path / "xdg"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    previous = keyring.core._keyring_backend  # None until first use: restored as it was
    keyring.core.set_keyring(keyring.core.load_keyring("keyrings.alt.file.PlaintextKeyring"))
    yield data
    keyring.core._keyring_backend = previous


# -- the reference cloud (nginx TLS + Orthanc DICOMweb on loopback) -------------


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory):
    """One reference cloud (nginx TLS + Orthanc DICOMweb) for the whole session."""
    reason = missing_software()
    if reason:
        pytest.fail(reason, pytrace=False)  # never a skip: CI must install them
    directory = tmp_path_factory.mktemp("cloud")
    try:
        cloud = LocalCloud.start(directory)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture
def cloud(local_cloud: LocalCloud) -> LocalCloud:
    """The session cloud, running, with nothing stored."""
    if not (local_cloud.orthanc_answers() and local_cloud.nginx_listening()):
        local_cloud.ensure_running()
    local_cloud.delete_all()
    return local_cloud
