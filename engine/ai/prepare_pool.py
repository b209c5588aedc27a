"""Decoding and preparing a study's views side by side.

The decoders (OpenJPEG through Pillow, pylibjpeg) hold Python's global lock
for the whole decode, so threads would take turns: where decoding dominates
(compressed full-size images) the views are prepared in worker processes,
one view each, as many at once as there are cores (at most four, a
screening exam's views).  The processes are started fresh (spawn: never a
fork of a process that holds model threads or Qt) when first needed, or by
`start` in a process that will analyse many studies, and kept for the
next; each receives a view's data set and returns the model's input, a few
megabytes.  Starting them costs about a second, so a small or uncompressed
study is prepared in threads here all the same (NumPy lets them overlap,
and copying its pixels to a worker would cost more than it saves).

On a single core, or when `workers` is 1, the views are prepared in this
process, one after another.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

import pydicom

from engine.ai.preprocess import InputSpec, NotApplicable, Prepared, prepare
from engine.dicom.integrity import transfer_syntax
from engine.dicom.values import header_int
from engine.errors import MammoDeskError
from engine.parent_watch import exit_with_parent, this_process

T = TypeVar("T")

MAX_WORKERS = 4
# Compressed images at least this large make the worker processes pay off
# (a 3328 x 4096 JPEG 2000 takes 0.7 s to decode even at half size).
LARGE_PIXELS = 4_000_000

# What preparing one view gave: its input, or why it has none.
Outcome = Prepared | NotApplicable | MammoDeskError

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_threads = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="ai-prepare")


def default_workers() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_WORKERS, cores or 1))


def prepare_one(ds: pydicom.Dataset, spec: InputSpec) -> Outcome:
    """One view's input with its acquisition statistics (for the domain check),
    or the exception saying why not (returned, not raised)."""
    from engine.ai.domain.acquisition import acquisition_stats

    try:
        prepared = prepare(ds, spec)
    except (NotApplicable, MammoDeskError) as exc:
        return exc
    prepared.stats = acquisition_stats(prepared.image)
    return prepared


def _warm() -> None:
    """Import the decoders in a new worker before the first image arrives."""
    import PIL.Jpeg2KImagePlugin  # noqa: F401
    import scipy.ndimage  # noqa: F401


def _running_pool(workers: int) -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            # Workers end with this process, however it ends (engine.parent_watch).
            _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=exit_with_parent, initargs=(this_process(),))
            for _ in range(workers):
                _pool.submit(_warm)
        return _pool


def start(workers: int | None = None) -> None:
    """Start the worker processes now (they take a moment to import the decoders)."""
    workers = workers or default_workers()
    if workers > 1:
        _running_pool(workers)


def worker_pids() -> list[int]:
    """The running worker processes (none before the first analysis)."""
    with _lock:
        pool = _pool
    processes = getattr(pool, "_processes", None) or {}
    return [int(pid) for pid in processes]


def shutdown() -> None:
    """Stop the worker processes (the next analysis starts new ones)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown)


def prepare_views(datasets: Sequence[pydicom.Dataset], spec: InputSpec,
                  workers: int | None = None) -> list[Outcome]:
    """Each data set's outcome, in order; the views are prepared side by side."""
    try:
        return map_views(prepare_one, datasets, spec, workers)
    except BrokenProcessPool:
        # A decoder crashed in native code: the next analysis starts new workers.
        return [MammoDeskError("the image decoder stopped") for _ in datasets]


def _decoding_dominates(datasets: Sequence[pydicom.Dataset]) -> bool:
    """Two or more large compressed images: decoding them side by side pays for
    starting the worker processes."""
    large = 0
    for ds in datasets:
        syntax = transfer_syntax(ds)
        pixels = (header_int(ds, "Rows", 0) or 0) * (header_int(ds, "Columns", 0) or 0)
        if syntax is not None and syntax.is_compressed and pixels >= LARGE_PIXELS:
            large += 1
    return large >= 2


def map_views(fn: Callable[[pydicom.Dataset, InputSpec], T], datasets: Sequence[pydicom.Dataset],
              spec: InputSpec, workers: int | None = None) -> list[T]:
    """fn(ds, spec) for each data set, in the worker processes (fn: a module-level
    function); BrokenProcessPool when a worker died, after which the pool is forgotten."""
    workers = workers or default_workers()
    if workers <= 1 or len(datasets) <= 1:
        return [fn(ds, spec) for ds in datasets]
    if not _decoding_dominates(datasets):
        return list(_threads.map(lambda ds: fn(ds, spec), datasets))
    pool = _running_pool(workers)
    try:
        futures = [pool.submit(fn, ds, spec) for ds in datasets]
        return [f.result() for f in futures]
    except BrokenProcessPool:
        shutdown()
        raise
