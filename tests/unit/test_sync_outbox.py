"""The outbox: what a signed read queues, and how queued objects are prepared."""

from __future__ import annotations

import io

import pydicom
import pytest

from engine.ai.store import save_result
from engine.library import import_paths, outbox
from engine.library.reads import Finding, Read, save_draft, sign
from engine.library.worklist import SENT, SIGNED, SYNC_FAILED, worklist
from sync.deid.deidentify import Deidentifier
from sync.deid.keys import create_site_secret
from sync.deid.profile import profile_from_settings
from sync.deid.reid_map import ReidMap
from sync.stage import Stager
from tests.support.sr import make_result


@pytest.fixture
def keys(plaintext_keyring):
    return create_site_secret()


@pytest.fixture
def signed(library, small_cohort):
    """A library whose first study has an AI result and a signed read."""
    import_paths(library, small_cohort.files)
    uid = worklist(library)[0].study_uid
    headers = [pydicom.dcmread(library.file_path(rel), stop_before_pixels=True) for (rel,) in
               library.conn.execute("SELECT rel_path FROM instances WHERE study_uid = ?", (uid,))]
    save_result(library, make_result(headers))
    read = Read(birads={"R": "1", "L": "4A"}, density={"R": "c", "L": "c"},
                findings=[Finding("L", "mass")], recommendation="biopsy",
                impression="Mrs Example should come back; biopsy left.")
    save_draft(library, uid, "Dr Reader", read)
    sign(library, uid, "Dr Reader", queue=False)  # the tests queue it themselves
    return library, uid


def _kinds(library, uid):
    return sorted(k for (k,) in library.conn.execute(
        "SELECT kind FROM outbox_items WHERE study_uid = ?", (uid,)))


def test_a_signed_read_queues_images_cad_sr_and_assessment_once(signed):
    library, uid = signed
    assert outbox.enqueue(library, [uid], "signed") == 6
    assert _kinds(library, uid) == ["assessment_sr", "cad_sr"] + ["image"] * 4
    assert outbox.enqueue(library, [uid], "signed") == 0  # nothing new: nothing added
    assert next(r for r in worklist(library) if r.study_uid == uid).status == SIGNED


def test_unknown_study_is_refused_in_one_line(library):
    with pytest.raises(Exception, match=r"no study 1\.2\.3 in the library"):
        outbox.enqueue(library, ["1.2.3"], "manual")


def test_prepared_objects_are_deidentified_and_named_by_pseudonyms(signed, keys, tmp_path):
    library, uid = signed
    outbox.enqueue(library, [uid], "signed")
    patient = library.conn.execute("SELECT patient_id, patient_name FROM studies WHERE "
                                   "study_uid = ?", (uid,)).fetchone()
    stager = Stager(library, tmp_path / "outbox", Deidentifier(profile_from_settings({}), keys),
                    ReidMap(library, keys.map_key))
    (box, _), = outbox.open_studies(library)
    stager.prepare(outbox.items(library, box))
    items = outbox.items(library, box)
    assert {i.state for i in items} == {outbox.DEIDENTIFIED}, [i.last_error for i in items]
    out_study = {i.out_study_uid for i in items}
    assert len(out_study) == 1 and uid not in out_study  # one pseudonymous study
    sops = {i.out_sop_uid for i in items}
    files = sorted((tmp_path / "outbox").rglob("*.dcm"))
    assert {f.stem for f in files} == sops and len(files) == 6
    for path in files:
        data = path.read_bytes()
        for secret in (uid, patient[0], str(patient[1]).split("^")[0], "Mrs Example",
                       "Dr Reader"):
            assert secret.encode() not in data, path.name
        ds = pydicom.dcmread(io.BytesIO(data))
        assert ds.PatientIdentityRemoved == "YES" and ds.StudyInstanceUID in out_study
    reports = [pydicom.dcmread(f) for f in files]
    sr = [d for d in reports if d.Modality == "SR"]
    assert len(sr) == 2
    images = {d.SOPInstanceUID for d in reports if d.Modality == "MG"}
    cad = next(d for d in sr if d.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.50")
    referenced = {ref.ReferencedSOPInstanceUID for s in
                  cad.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
                  for ref in s.ReferencedSOPSequence}
    assert referenced == images  # the report points at the de-identified images


def test_preparing_again_gives_the_same_uids(signed, keys, tmp_path):
    library, uid = signed
    outbox.enqueue(library, [uid], "signed")
    deid = Deidentifier(profile_from_settings({}), keys)
    (box, _), = outbox.open_studies(library)
    Stager(library, tmp_path / "a", deid).prepare(outbox.items(library, box))
    first = {i.source: i.out_sop_uid for i in outbox.items(library, box)}
    outbox.set_state(library, [i.id for i in outbox.items(library, box)], outbox.QUEUED)
    Stager(library, tmp_path / "b", deid).prepare(outbox.items(library, box))
    assert {i.source: i.out_sop_uid for i in outbox.items(library, box)} == first


def test_crash_mid_upload_recovers_and_study_state_follows(signed):
    library, uid = signed
    outbox.enqueue(library, [uid], "signed")
    (box, _), = outbox.open_studies(library)
    items = outbox.items(library, box)
    outbox.set_state(library, [i.id for i in items], outbox.UPLOADING)
    assert outbox.recover(library) == 6
    assert {i.state for i in outbox.items(library, box)} == {outbox.DEIDENTIFIED}
    outbox.set_state(library, [i.id for i in items], outbox.CONFIRMED)
    assert outbox.settle_study(library, box) == outbox.StudyState.CONFIRMED
    assert next(r for r in worklist(library) if r.study_uid == uid).status == SENT
    assert outbox.open_studies(library) == []
    # Confirmed objects are not queued again; a failed one is, after `sync retry`.
    assert outbox.enqueue(library, [uid], "manual") == 0
    outbox.set_state(library, [items[0].id], outbox.FAILED, error="refused (0xC000)")
    assert outbox.settle_study(library, box) == outbox.StudyState.FAILED
    assert next(r for r in worklist(library) if r.study_uid == uid).status == SYNC_FAILED
    assert outbox.retry_failed(library) == 1
    assert len(outbox.open_studies(library)) == 1


def test_auto_enqueue_takes_every_study_never_queued(signed):
    library, uid = signed
    outbox.enqueue(library, [uid], "signed")
    total = library.conn.execute("SELECT COUNT(*) FROM studies").fetchone()[0]
    outbox.enqueue_unsent(library)
    queued = {u for (u,) in library.conn.execute("SELECT DISTINCT study_uid FROM outbox")}
    assert len(queued) == total
    assert outbox.enqueue_unsent(library) == 0


def test_a_full_disk_while_staging_stops_with_one_line_and_loses_nothing(signed, keys, tmp_path,
                                                                          monkeypatch):
    import errno

    from sync import stage
    from sync.errors import SyncError

    library, uid = signed
    outbox.enqueue(library, [uid], "signed")
    (box, _), = outbox.open_studies(library)

    def full(data, target):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(stage, "write_atomically", full)
    stager = Stager(library, tmp_path / "outbox", Deidentifier(profile_from_settings({}), keys))
    with pytest.raises(SyncError, match="No space left on device") as info:
        stager.prepare(outbox.items(library, box))
    assert "\n" not in str(info.value)
    assert {i.state for i in outbox.items(library, box)} == {outbox.QUEUED}
    monkeypatch.undo()
    stager.prepare(outbox.items(library, box))  # room again: it goes on
    assert {i.state for i in outbox.items(library, box)} == {outbox.DEIDENTIFIED}


@pytest.mark.slow
def test_compressed_images_are_prepared_by_workers_with_the_same_result(library, keys,
                                                                         tmp_path):
    from engine.phantom import generate_cohort

    cohort = generate_cohort(tmp_path / "j2k", 1, seed=8, size="small", jpeg2000=True)
    import_paths(library, cohort.files)
    uid = worklist(library)[0].study_uid
    outbox.enqueue(library, [uid], "manual")
    (box, _), = outbox.open_studies(library)
    deid = Deidentifier(profile_from_settings({}), keys)
    serial = Stager(library, tmp_path / "serial", deid, workers=1)
    serial.prepare(outbox.items(library, box))
    first = {i.id: i.staged for i in outbox.items(library, box)}
    outbox.set_state(library, [i.id for i in outbox.items(library, box)], outbox.QUEUED)
    pooled = Stager(library, tmp_path / "pooled", deid, keys=keys, workers=2)
    try:
        pooled.prepare(outbox.items(library, box))
    finally:
        pooled.close()
    assert pooled.pool is not None
    items = outbox.items(library, box)
    assert {i.state for i in items} == {outbox.DEIDENTIFIED} and len(items) == 4
    assert {i.id: i.staged for i in items} == first
    for item in items:
        a = (tmp_path / "serial" / item.staged).read_bytes()
        assert a == (tmp_path / "pooled" / item.staged).read_bytes()
        assert pydicom.dcmread(io.BytesIO(a)).file_meta.TransferSyntaxUID.is_compressed
