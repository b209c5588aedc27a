"""Fixtures for tests against real servers started on loopback."""

from __future__ import annotations

import pytest

from tests.cloud import LocalCloud, missing_software


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
