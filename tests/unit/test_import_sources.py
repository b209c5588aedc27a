"""What an import reads: only regular files, never whole when not DICOM or too large, ZIP
members as bounded streams, DICOMDIR records inside their media (synthetic people only)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom.fileset import FileSet

from engine.ai.service import datasets_from_path
from engine.dicom import limits
from engine.errors import MammoDeskError
from engine.library import Library, import_paths
from tests.support.cli import run_cli
from tests.support.dicom_factory import mg_dataset, to_bytes

GIB = 1 << 30


@pytest.fixture(autouse=True)
def default_limits():
    limits.configure(limits.Limits())
    yield
    limits.configure()


def _dicom(path: Path, patient: str = "SYN-0001", rows: int = 32) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_bytes(mg_dataset(rows=rows, PatientID=patient, StudyID="1")))
    return path


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """Where the library goes; _import opens it in its own thread (SQLite is per thread)."""
    return tmp_path / "library"


def _import(library: Path, paths: list[Path], seconds: float = 15.0, release=None):
    """import_paths in a thread: a hang fails the test instead of stalling it."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            with Library(library) as lib:
                box["report"] = import_paths(lib, paths)
        except BaseException as exc:  # handed to the test below
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        if release:
            release()  # let the stuck reader go before the library closes
        worker.join(5)
        pytest.fail(f"the import was still waiting after {seconds:.0f} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    box["seconds"] = time.monotonic() - started
    return box["report"]


def _release_fifo(path: Path):
    def release() -> None:
        with contextlib.suppress(OSError):  # nobody is waiting on it any more
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    return release


def _peak_mb(run):
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def test_a_fifo_in_a_folder_is_reported_not_waited_on(library, tmp_path):
    folder = tmp_path / "in"
    _dicom(folder / "a.dcm")
    os.mkfifo(folder / "pipe.dcm")
    os.mkfifo(folder / "pipe.zip")
    report = _import(library, [folder], release=_release_fifo(folder / "pipe.dcm"))
    assert report.imported == 1
    reasons = {Path(r.source).name: r.reason for r in report.rejected}
    assert reasons == {"pipe.dcm": "not a regular file (FIFO)",
                       "pipe.zip": "not a regular file (FIFO)"}


def test_a_fifo_named_on_the_command_line_is_reported(library, tmp_path):
    fifo = tmp_path / "DICOMDIR"
    os.mkfifo(fifo)
    report = _import(library, [fifo], release=_release_fifo(fifo))
    assert [(r.reason) for r in report.rejected] == ["not a regular file (FIFO)"]


def test_a_socket_in_a_folder_is_reported(library, tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(folder / "sock"))
        report = _import(library, [folder])
    finally:
        server.close()
    assert [r.reason for r in report.rejected] == ["not a regular file (socket)"]


def test_a_link_to_dev_zero_is_refused_without_reading(library, tmp_path):
    folder = tmp_path / "in"
    _dicom(folder / "a.dcm")
    (folder / "zero.dcm").symlink_to("/dev/zero")
    report, peak = _peak_mb(lambda: _import(library, [folder]))
    assert report.imported == 1
    assert [(Path(r.source).name, r.reason) for r in report.rejected] == [
        ("zero.dcm", "not a regular file (character device)")]
    assert peak < 50


def test_a_sparse_1gb_file_is_not_read_whole(library, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    with open(folder / "big.bin", "wb") as fh:
        fh.truncate(GIB)
    report, peak = _peak_mb(lambda: _import(library, [folder]))
    assert report.non_dicom == 1 and report.rejected == []
    assert peak < 50


def test_a_sparse_1gb_dicom_file_is_refused_by_size_before_reading(library, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    with open(folder / "big.dcm", "wb") as fh:
        fh.write(to_bytes(mg_dataset())[:132])  # preamble + DICM: it looks like DICOM
        fh.truncate(GIB)
    report, peak = _peak_mb(lambda: _import(library, [folder]))
    assert [r.reason for r in report.rejected] == [
        "file too large: 1074 MB exceeds the 512 MB limit for one file (limits.file_mb)"]
    assert peak < 50


def test_followed_links_are_listed_in_the_report(library, tmp_path):
    elsewhere = _dicom(tmp_path / "elsewhere" / "real.dcm")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "link.dcm").symlink_to(elsewhere)
    report = _import(library, [folder])
    assert report.imported == 1
    assert report.followed_links == [str(folder / "link.dcm")]
    assert report.as_dict()["followed_links"] == [str(folder / "link.dcm")]


@pytest.mark.slow
def test_the_import_command_names_the_links_it_followed(tmp_path):
    elsewhere = _dicom(tmp_path / "elsewhere" / "real.dcm")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "link.dcm").symlink_to(elsewhere)
    done = run_cli("import", "--no-ai", str(folder), home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert f"followed link: {folder / 'link.dcm'}" in done.stdout.splitlines()


def _media(tmp_path: Path) -> tuple[Path, Path]:
    """A DICOMDIR of two files of one synthetic woman; another woman's file outside it."""
    src = tmp_path / "src"
    fs = FileSet()
    for n in range(2):
        fs.add(pydicom.dcmread(_dicom(src / f"{n}.dcm", "SYN-MEDIA")))
    media = tmp_path / "media"
    fs.write(media)
    outside = _dicom(tmp_path / "other" / "secret.dcm", "SYN-OTHER")
    return media / "DICOMDIR", outside


def _point_records(dicomdir: Path, file_ids: list[list[str] | str]) -> None:
    ds = pydicom.dcmread(dicomdir)
    images = [r for r in ds.DirectoryRecordSequence if "ReferencedFileID" in r]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hostile file IDs break the CS rules on purpose
        for record, file_id in zip(images, file_ids, strict=False):
            record.ReferencedFileID = file_id
        ds.save_as(dicomdir)


def test_dicomdir_records_cannot_reach_outside_the_media(library, tmp_path):
    dicomdir, outside = _media(tmp_path)
    _point_records(dicomdir, [["..", "other", "secret.dcm"], str(outside)])
    report = _import(library, [dicomdir])
    assert report.imported == 0
    assert len(report.rejected) == 2
    assert all("outside the DICOMDIR's folder" in r.reason for r in report.rejected)
    assert not any("SYN-OTHER" in r.source + r.reason for r in report.rejected)


def test_dicomdir_record_through_a_link_leaving_the_media_is_refused(library, tmp_path):
    dicomdir, outside = _media(tmp_path)
    (dicomdir.parent / "LINK").symlink_to(outside)
    _point_records(dicomdir, [["LINK"]])
    report = _import(library, [dicomdir])
    assert report.imported == 1  # the second record is still inside
    assert [r.reason for r in report.rejected] == [
        "DICOMDIR record refused: the file it names is outside the DICOMDIR's folder"]


def test_dicomdir_record_naming_a_fifo_or_dev_zero_is_refused(library, tmp_path):
    dicomdir, _ = _media(tmp_path)
    os.mkfifo(dicomdir.parent / "PIPE")
    (dicomdir.parent / "ZERO").symlink_to("/dev/zero")
    _point_records(dicomdir, [["PIPE"], ["ZERO"]])
    report = _import(library, [dicomdir], release=_release_fifo(dicomdir.parent / "PIPE"))
    reasons = sorted(r.reason for r in report.rejected)
    assert reasons[0] == "DICOMDIR record refused: the file it names is outside the " \
                         "DICOMDIR's folder"  # /dev/zero, once the link is resolved
    assert reasons[1] == "not a regular file (FIFO)"


def _zip_of_zeros(path: Path, size: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf, \
            zf.open("IMG0001.dcm", "w", force_zip64=True) as member:
        member.write(to_bytes(mg_dataset())[:132])
        chunk = bytes(1 << 20)
        for _ in range(size >> 20):
            member.write(chunk)
    return path


def test_a_zip_member_over_the_size_ceiling_is_refused(library, tmp_path):
    limits.configure(file_mb=8)
    archive = _zip_of_zeros(tmp_path / "bomb.zip", 16 << 20)
    report, peak = _peak_mb(lambda: _import(library, [archive]))
    assert [r.reason for r in report.rejected] == [
        "ZIP member too large: 17 MB exceeds the 8 MB limit (limits.file_mb)"]
    assert peak < 8


def test_a_zip_member_over_the_ratio_ceiling_is_refused(library, tmp_path):
    archive = _zip_of_zeros(tmp_path / "bomb.zip", 64 << 20)
    report, peak = _peak_mb(lambda: _import(library, [archive]))
    assert len(report.rejected) == 1
    assert report.rejected[0].reason.startswith("ZIP member expands ")
    assert report.rejected[0].reason.endswith(
        " times: over the 100-times limit (limits.zip_ratio)")
    assert peak < 8


def test_zip_members_within_the_ceilings_import(library, tmp_path):
    archive = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.dcm", to_bytes(mg_dataset(rows=512)))
        zf.writestr("blank.txt", " " * 100_000)  # compresses ~1000x, but is small
    report = _import(library, [archive])
    assert report.imported == 1 and report.non_dicom == 1 and report.rejected == []


def test_analyze_on_a_folder_of_a_fifo_says_why_promptly(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "pipe.dcm")
    box: dict[str, BaseException] = {}

    def run() -> None:
        try:
            datasets_from_path(folder)
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(15)
    if worker.is_alive():
        _release_fifo(folder / "pipe.dcm")()
        pytest.fail("analyze was still waiting on the FIFO")
    assert isinstance(box.get("error"), MammoDeskError)
    assert "not a regular file (FIFO)" in str(box["error"])
