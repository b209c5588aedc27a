"""Closing the window's context leaves nothing of ours running: a process
that exits right after must not find a pool thread still inside Python."""

from __future__ import annotations

import threading

from engine.display.study_images import folder_files
from engine.library.reads import Read, current_read, save_draft


def _window_pool_managers() -> list[threading.Thread]:
    """Process pools' manager threads, but not the engine's analysis workers
    that earlier tests in this process may have started (the window's process
    never runs an analysis: the AI has a process of its own)."""
    from engine.ai import prepare_pool

    analysis = getattr(prepare_pool._pool, "_executor_manager_thread", None)
    return [t for t in threading.enumerate()
            if type(t).__name__ == "_ExecutorManagerThread" and t is not analysis]


def test_closing_mid_decode_stops_every_thread_and_decoder(ctx, small_cohort):
    files = folder_files([small_cohort.files[0].parent.parent])  # the whole cohort
    assert len(files) >= 8
    for f in files:
        ctx.images.request(f, (256, 256), full=True)
    ctx.close()
    for ops in (ctx.ops, ctx.decode_ops, ctx.ai_ops):
        assert ops.pool.activeThreadCount() == 0
    assert ctx.images._procs is None  # and nothing starts the decoders again
    assert not _window_pool_managers()  # no process pool is left with its manager thread


def test_closing_still_finishes_a_read_being_saved(ctx, small_cohort, library):
    from engine.library import import_paths
    from engine.library.worklist import worklist

    import_paths(library, small_cohort.files)
    uid = worklist(library)[0].study_uid
    root = library.root
    library.close()
    done = threading.Event()

    def save() -> None:
        from engine.library.store import Library

        with Library(root) as lib:
            save_draft(lib, uid, "Dr A", Read(birads={"R": "1", "L": "1"}))
        done.set()

    ctx.ops.run(save)
    ctx.close()
    assert done.is_set()
    from engine.library.store import Library

    with Library(root) as lib:
        assert current_read(lib, uid) is not None


def test_closing_while_a_request_starts_the_decoders_stops_them_too(ctx, small_cohort, monkeypatch):
    """The first request starts the worker processes (slow: they import the
    decoders); closing meanwhile must wait for them and stop them, not leave
    a pool the request finishes making after close() looked."""
    import ui.viewer.image_store as image_store

    started, made = threading.Event(), []
    real = image_store.decode_pool

    def slow_pool(workers: int = 1):
        started.set()
        threading.Event().wait(0.5)  # close() runs now
        pool = real(1)
        made.append(pool)
        return pool

    monkeypatch.setattr(image_store, "decode_pool", slow_pool)
    files = folder_files([small_cohort.files[0].parent])
    ctx.images.request(files[0], (256, 256), full=True)
    assert started.wait(10)
    ctx.close()
    assert ctx.images._procs is None
    assert len(made) == 1 and made[0]._shutdown_thread  # the pool made during close was stopped
    assert not _window_pool_managers()
