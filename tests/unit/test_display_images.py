"""Images for the viewer: pyramid levels, the memory cache, the disk cache."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from engine.dicom.pixels import decode_pixels
from engine.display.disk_cache import DiskCache
from engine.display.image_cache import ImageCache
from engine.display.images import load_view
from engine.display.study_images import ImageFile, job_full, job_open, open_cached
from engine.library import import_paths
from engine.library.catalog import study_files


def test_load_reduced_then_full_builds_the_pyramid(small_cohort):
    path = small_cohort.files[0]
    view = load_view(path, 2)
    assert set(view.levels) == {2} and view.full is None
    assert view.hang.laterality in ("R", "L") and view.presets
    full = decode_pixels(pydicom.dcmread(path))
    assert view.levels[2].shape == tuple(-(-n // 4) for n in full.shape)
    uid = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
    for k, arr in job_full(ImageFile(uid, path, None), None).items():  # sent back, no cache
        view.add_level(k, arr)
    assert np.array_equal(view.full, full)
    assert {0, 1, 2} <= set(view.levels)
    assert view.level_for(1.0) == 0 and view.level_for(0.5) == 1 and view.level_for(0.3) == 1
    assert view.level_for(0.25) == 2 and view.level_for(4.0) == 0


def test_memory_cache_evicts_least_recent_but_never_pinned(small_cohort):
    views = [load_view(p, 1) for p in small_cohort.files[:4]]
    size = views[0].nbytes
    cache = ImageCache(max_bytes=int(size * 2.5))
    cache.pin([views[0].key])
    for v in views:
        cache.put(v)
    assert views[0].key in cache  # pinned, though oldest
    assert views[1].key not in cache and views[3].key in cache
    assert cache.nbytes <= cache.max_bytes + size
    cache.pin([])
    cache.put(views[1])
    assert views[0].key not in cache


def test_disk_cache_serves_a_library_study_without_decoding(library, small_cohort, tmp_path,
                                                            monkeypatch):
    import_paths(library, small_cohort.files[:4])
    study = library.conn.execute("SELECT study_uid FROM studies").fetchone()[0]
    items = [ImageFile(f.sop_uid, f.path, f.sha256)
             for f in study_files(library, study, images_only=True)]
    disk = DiskCache(tmp_path / "display")
    assert open_cached(items[0], disk) is None
    first = job_open(items[0], 2)
    assert job_full(items[0], str(disk.root)) is None  # stored, not sent back
    full = decode_pixels(pydicom.dcmread(items[0].path))
    assert disk.size() > full.nbytes

    import engine.display.study_images as si

    def no_decode(*_a, **_k):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(si, "load_view", no_decode)
    again = open_cached(items[0], disk)
    assert np.array_equal(again.full, full) and {0, 1} <= set(again.levels)
    assert again.hang == first.hang and again.key == items[0].key


def test_disk_cache_is_bounded_and_drops_damaged_entries(tmp_path):
    disk = DiskCache(tmp_path / "c", max_bytes=3 * 80_000)
    arr = np.zeros((200, 200), np.uint16)  # 80 kB
    keys = [f"{i:064x}" for i in range(5)]
    for k in keys:
        disk.store(k, {0: arr})
    assert disk.size() <= 3 * 80_128
    assert disk.load(keys[0]) is None and disk.load(keys[-1]) is not None
    (disk.root / keys[-1][:2] / keys[-1] / "0.npy").write_bytes(b"garbage")
    assert disk.load(keys[-1]) is None
    with pytest.raises(ValueError):
        disk.load("../../etc")
