"""Keyed pseudonyms: stable on one site, unrelated across sites, valid DICOM."""

from __future__ import annotations

import uuid

from pydicom.valuerep import validate_value

from sync.deid.pseudonyms import Pseudonymizer, shift_date, shift_datetime

SITE_A = b"a" * 32
SITE_B = b"b" * 32
ORIGINAL = "1.2.826.0.1.3680043.9.7433.1.42"


def test_uid_is_a_2_25_uuid_that_fits_dicom():
    uid = Pseudonymizer(SITE_A).uid(ORIGINAL)
    assert uid.startswith("2.25.")
    assert len(uid) <= 64
    as_uuid = uuid.UUID(int=int(uid[5:]))
    assert as_uuid.version == 8
    assert as_uuid.variant == uuid.RFC_4122
    assert not validate_value("UI", uid, validation_mode=2)  # raises when invalid


def test_same_input_same_site_same_uid_other_site_other_uid():
    a1, a2, b = Pseudonymizer(SITE_A), Pseudonymizer(SITE_A), Pseudonymizer(SITE_B)
    assert a1.uid(ORIGINAL) == a2.uid(ORIGINAL)
    assert a1.uid(ORIGINAL) != b.uid(ORIGINAL)
    assert a1.uid(ORIGINAL) != a1.uid(ORIGINAL + "1")
    # Padding as stored in a file does not change the pseudonym.
    assert a1.uid(ORIGINAL + "\0") == a1.uid(ORIGINAL)


def test_patient_pseudonyms_and_date_shift_are_per_patient():
    p = Pseudonymizer(SITE_A)
    jane, john = p.patient_key("PID-0001"), p.patient_key("PID-0002")
    assert p.patient_id(jane) == Pseudonymizer(SITE_A).patient_id(jane)
    assert p.patient_id(jane) != p.patient_id(john)
    assert p.patient_id(jane) != Pseudonymizer(SITE_B).patient_id(jane)
    assert p.patient_id(jane) in p.patient_name(jane)
    assert 1 <= p.date_shift_days(jane) <= 3650
    shifts = {p.date_shift_days(p.patient_key(f"PID-{i:04d}")) for i in range(50)}
    assert len(shifts) > 40  # spread out, not a constant
    # The same ID from another issuer is another patient.
    assert p.patient_id(p.patient_key("PID-0001", "HOSP-A")) != p.patient_id(jane)


def test_date_shift_keeps_intervals_and_times():
    assert shift_date("20240301", 1) == "20240229"
    assert shift_date("20240301", 366) == "20230301"
    assert shift_date("2024", 5) is None  # a partial date is not shifted (caller removes it)
    assert shift_datetime("20240301101500.25+0100", 1) == "20240229101500.25+0100"
