"""The planted-PHI corpus through ``anonymize_folder``: nothing planted survives."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from pydicom.datadict import dictionary_VR
from pydicom.sequence import Sequence

from sync.deid.deidentify import Deidentifier
from sync.deid.folder import anonymize_folder
from sync.deid.keys import SiteKeys
from sync.deid.profile import OPTIONS, SafePrivate, profile_named
from tests.support.deid_corpus import Corpus, build_corpus, burned_text_left, find_markers

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI

KEYS = SiteKeys(secret=b"k" * 32, map_key=b"m" * 32)
RULES = {int(r["tag"], 16): r for r in json.loads(
    (Path(__file__).resolve().parents[2] / "resources/deid/annex_e_2024b.json")
    .read_text())["rules"] if r["tag"][:2].isdigit() and "x" not in r["tag"]}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    """Two synthetic women, a current and a prior study each: 16 small files."""
    return build_corpus(tmp_path_factory.mktemp("planted"), patients=2, seed=11)


def _left(out: Path, corpus: Corpus) -> set[str]:
    found: set[str] = set()
    for path in out.rglob("*"):
        if path.is_file():
            found |= find_markers(path.read_bytes(), corpus.markers)
            found |= find_markers(path.relative_to(out).as_posix().encode(), corpus.markers)
    return found


def test_basic_profile_leaves_no_marker_anywhere(corpus, tmp_path):
    out = tmp_path / "out"
    summary = anonymize_folder(corpus.dicom_dir, out, profile=profile_named("basic"), keys=KEYS,
                               verify=True, workers=1)
    assert not summary.blocked and not summary.failed and not summary.quarantined
    assert len(summary.written) == len(corpus.files)
    assert _left(out, corpus) == set()


def test_burned_in_text_is_blanked(corpus, tmp_path):
    deid = Deidentifier(profile_named("sync"), KEYS)
    for source in corpus.files:
        box = corpus.burned_boxes[source]
        assert burned_text_left(source, box)
        ds = pydicom.dcmread(source)
        assert deid.run(ds).status == "clean"
        assert ds.BurnedInAnnotation == "NO"
        target = tmp_path / "out.dcm"
        ds.save_as(target, enforce_file_format=True)
        assert not burned_text_left(target, box), source.name


def test_sync_profile_keeps_only_what_its_options_retain(corpus, tmp_path):
    out = tmp_path / "out"
    profile = profile_named("sync")
    summary = anonymize_folder(corpus.dicom_dir, out, profile=profile, keys=KEYS, workers=2)
    assert len(summary.written) == len(corpus.files), summary.blocked
    columns = {OPTIONS[o] for o in profile.options}
    for marker in _left(out, corpus):
        tag = corpus.tags_of_marker.get(marker)
        assert tag is not None, f"a private/overlay/nested marker survived: {marker}"
        kept_by = {c for c, action in RULES[tag]["options"].items() if action == "K"}
        if dictionary_VR(tag) == "TM":
            # Dates move by whole days, so times of day stay as they were.
            kept_by |= {c for c, action in RULES[tag]["options"].items()
                        if c == "rtnLongModifDatesOpt"}
        assert kept_by & columns, f"{corpus.markers[marker]} survived without an option"


def test_a_leak_through_an_allowlisted_private_element_is_blocked(corpus, tmp_path):
    ds = pydicom.dcmread(corpus.files[0])
    patient_id = str(ds.PatientID)
    block = ds.private_block(0x0041, "SITE NOTES 1", create=True)
    inner = pydicom.Dataset()
    inner.add_new(0x00410010, "LO", "SITE NOTES 1")
    inner.add_new(0x00411001, "LO", f"see {patient_id}")
    middle = pydicom.Dataset()
    middle.AnatomicRegionSequence = Sequence([inner])  # kept, so cleaned inside
    block.add_new(0x02, "SQ", Sequence([middle]))
    allow = [SafePrivate("SITE NOTES 1", 0x0041, 0x02), SafePrivate("SITE NOTES 1", 0x0041, 0x01)]
    profile = profile_named("sync", options=["retain-safe-private"], safe_private=allow)
    outcome = Deidentifier(profile, KEYS).run(ds)
    assert outcome.status == "blocked"
    assert "(0041,1002)[0] > (0008,2218)[0] > (0041,1001)" in outcome.reason
    assert "patient identifier" in outcome.reason
    assert patient_id not in outcome.reason
