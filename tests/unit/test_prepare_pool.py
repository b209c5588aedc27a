"""A study's views prepared side by side in worker processes give exactly
what preparing them here gives, refusals and decode failures included, and
a worker that dies costs one analysis, not the next."""

from __future__ import annotations

import copy
import os

import numpy as np
import pydicom
import pytest

from engine.ai import prepare_pool
from engine.ai.preprocess import InputSpec, NotApplicable, Prepared
from engine.errors import MammoDeskError
from engine.phantom import generate_cohort

SPEC = InputSpec()


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> list[pydicom.Dataset]:
    cohort = generate_cohort(tmp_path_factory.mktemp("pool"), 1, seed=3, size="small",
                             jpeg2000=True)
    return [pydicom.dcmread(p) for p in sorted(cohort.files)]


@pytest.fixture
def workers():
    prepare_pool.start(2)
    yield
    prepare_pool.shutdown()


def pid_of(ds: pydicom.Dataset, spec: InputSpec) -> int:
    return os.getpid()  # which process prepared the view


def die(ds: pydicom.Dataset, spec: InputSpec) -> None:
    os._exit(3)  # a decoder crashing in native code takes its process with it


@pytest.mark.slow
def test_worker_processes_prepare_exactly_what_this_process_does(views, workers, monkeypatch):
    monkeypatch.setattr(prepare_pool, "LARGE_PIXELS", 0)  # these small views go to the workers
    refused = copy.deepcopy(views[0])
    refused.Modality = "CT"
    broken = copy.deepcopy(views[1])
    broken.PixelData = broken.PixelData[:200]  # a codestream cut short
    batch = [*views, refused, broken]
    here = [prepare_pool.prepare_one(ds, SPEC) for ds in batch]
    assert os.getpid() not in prepare_pool.map_views(pid_of, batch, SPEC, workers=2)
    there = prepare_pool.prepare_views(batch, SPEC, workers=2)
    for a, b in zip(here[:4], there[:4], strict=True):
        assert isinstance(a, Prepared) and isinstance(b, Prepared)
        assert a.geometry == b.geometry and np.array_equal(a.image, b.image)
    assert isinstance(there[4], NotApplicable) and str(there[4]) == str(here[4])
    assert isinstance(there[5], MammoDeskError) and str(there[5]) == str(here[5])


@pytest.mark.slow
def test_a_worker_that_dies_fails_that_analysis_only(views, workers, monkeypatch):
    monkeypatch.setattr(prepare_pool, "LARGE_PIXELS", 0)
    with pytest.raises(Exception) as crash:
        prepare_pool.map_views(die, views, SPEC, workers=2)
    assert type(crash.value).__name__ == "BrokenProcessPool"
    assert prepare_pool.worker_pids() == []  # forgotten, not reused
    again = prepare_pool.map_views(prepare_pool.prepare_one, views, SPEC, workers=2)  # new ones
    assert all(isinstance(o, Prepared) for o in again)


@pytest.mark.slow
def test_small_or_uncompressed_studies_stay_in_this_process(views, workers):
    """Copying their pixels to a worker would cost more than it saves, even
    with the workers running (832 x 1024 JPEG 2000 here)."""
    assert set(prepare_pool.map_views(pid_of, views, SPEC, workers=2)) == {os.getpid()}
    outcomes = prepare_pool.prepare_views(views, SPEC, workers=2)
    assert all(isinstance(o, Prepared) for o in outcomes)
