"""Opening a library study for reading: hung from what import indexed."""

from __future__ import annotations

import pydicom
import pytest

from engine.display.hanging import hang, hang_image
from engine.errors import MammoDeskError
from engine.library import import_paths
from engine.library.reads import Read, save_draft
from engine.library.worklist import worklist
from engine.reading.open_study import open_folder_study, open_library_study


@pytest.fixture
def imported(library, small_cohort):
    import_paths(library, small_cohort.files)
    return library


def _with_prior(library) -> str:
    return next(r.study_uid for r in worklist(library) if r.has_prior)


def test_a_study_opens_from_the_index_without_reading_a_header(imported, monkeypatch):
    uid = _with_prior(imported)

    def no_reading(*_a, **_k):
        raise AssertionError("a header was read")

    monkeypatch.setattr(pydicom, "dcmread", no_reading)
    study = open_library_study(imported, uid)
    assert sorted(i.label for i in study.images) == ["LCC", "LMLO", "RCC", "RMLO"]
    assert len(study.prior) == 4 and study.unreadable == []
    cells = hang(study.images, "2x2", study.prior).cells()
    assert [c.label for c in cells] == ["RCC", "LCC", "RMLO", "LMLO"]
    assert all(c.placement is not None and c.placement.image.key in study.files for c in cells)


def test_the_index_gives_the_same_hanging_facts_as_the_headers(imported, small_cohort):
    uid = _with_prior(imported)
    indexed = {i.key: i for i in open_library_study(imported, uid).images}
    from_headers = [hang_image(pydicom.dcmread(f, stop_before_pixels=True))
                    for f in small_cohort.files]
    from_headers = {i.key: i for i in from_headers if i.key in indexed}
    assert from_headers == indexed


def test_rows_imported_before_the_index_held_hanging_facts_are_read_from_headers(imported):
    uid = _with_prior(imported)
    expected = sorted(open_library_study(imported, uid).images, key=lambda i: i.key)
    imported.conn.execute("UPDATE instances SET patient_orientation = NULL, "
                          "acquisition_order = NULL")
    assert sorted(open_library_study(imported, uid).images, key=lambda i: i.key) == expected


def test_the_study_carries_its_read_and_a_title_without_a_name(imported):
    uid = _with_prior(imported)
    save_draft(imported, uid, "Dr A", Read(birads={"R": "1", "L": "1"}))
    study = open_library_study(imported, uid)
    assert study.read is not None and study.read.read.birads == {"R": "1", "L": "1"}
    row = next(r for r in worklist(imported) if r.study_uid == uid)
    assert study.title.startswith(row.patient_id) and "-" in study.title
    assert row.patient_name not in study.title


def test_an_unknown_study_is_one_line(imported):
    with pytest.raises(MammoDeskError, match="no longer in the library"):
        open_library_study(imported, "1.2.3")


def test_a_folder_opens_from_its_headers(small_cohort):
    folder = small_cohort.files[0].parent
    study = open_folder_study(folder)
    assert not study.in_library and study.images


def test_the_study_before_the_prior_opens_as_prior_2(imported, tmp_path):
    from engine.library.catalog import earlier_studies
    from tests.support.priors import older_copy

    uid = _with_prior(imported)
    first = open_library_study(imported, uid)
    assert first.prior2 == [] and first.priors == [first.prior]
    prior_uid = earlier_studies(imported, uid)[0]
    prior_files = [f.path for f in study_files_of(imported, prior_uid)]
    import_paths(imported, older_copy(prior_files, tmp_path / "older"))
    study = open_library_study(imported, uid)
    earlier = earlier_studies(imported, uid)
    assert len(earlier) == 2 and earlier[0] == prior_uid
    assert sorted(i.label for i in study.prior2) == ["LCC", "LMLO", "RCC", "RMLO"]
    assert study.priors == [study.prior, study.prior2]
    assert int(study.prior2_date[:4]) == int(study.prior_date[:4]) - 1
    assert study.study_date(2) == study.prior2_date and study.study_date(1) == study.prior_date
    assert all(i.key in study.files for i in study.prior2)
    # The prior itself sees only the older study as its prior.
    assert open_library_study(imported, prior_uid).prior2 == []


def study_files_of(library, uid):
    from engine.library.catalog import study_images

    return [i.file for i in study_images(library, uid)]
