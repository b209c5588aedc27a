"""The de-identification rule table (PS3.15 Annex E Table E.1-1, 2024b) and its resolver."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from pydicom.sr.codedict import codes

from sync.deid.table import BASIC, DEFAULT_PATH, OPTION_KEYS, load_table

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference" / "dicom-standard"
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(), reason="the DICOM standard reference tables are not beside the checkout"
)

MAMMO = "1.2.840.10008.5.1.4.1.1.1.2"  # Digital Mammography X-Ray Image - For Presentation
MAMMO_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
MAMMO_CAD_SR = "1.2.840.10008.5.1.4.1.1.88.50"
GSPS = "1.2.840.10008.5.1.4.1.1.11.1"  # Grayscale Softcopy Presentation State
UNKNOWN_SOP = "1.2.826.0.1.3680043.99.1"

PATIENT_ID = 0x00100020
OTHER_PATIENT_IDS_SEQUENCE = 0x00101002
CONTENT_DATE = 0x00080023
INSTITUTION_NAME = 0x00080080
REFERENCED_PPS_SEQUENCE = 0x00081111
REFERENCED_SERIES_SEQUENCE = 0x00081115
REFERENCED_IMAGE_SEQUENCE = 0x00081140
ACQUISITION_CONTEXT_SEQUENCE = 0x00400555
STUDY_DATE = 0x00080020
PATIENTS_AGE = 0x00101010
DEVICE_SERIAL_NUMBER = 0x00181000
STATION_NAME = 0x00081010
STATION_AE_TITLE = 0x00080055


@pytest.fixture(scope="module")
def table():
    return load_table()


def _reference_rows() -> list[dict]:
    text = (REFERENCE / "confidentiality_profile_attributes.json").read_text(encoding="utf-8")
    return json.loads(text)


def _row_key(tag: str) -> str:
    if "GGGG" in tag:
        return "private"
    return tag.strip("()").replace(",", "").upper().replace("X", "x")


@needs_reference
def test_every_reference_row_is_in_the_table_with_the_same_actions(table):
    rows = _reference_rows()
    rules = table.rules()
    assert len(rows) == len(rules) == 621
    for row, rule in zip(rows, rules, strict=True):
        assert rule.tag == _row_key(row["tag"])
        assert rule.name == row["name"]
        assert rule.basic == row["basicProfile"]
        assert dict(rule.options) == {key: row[key] for key in OPTION_KEYS if key in row}


def test_the_shipped_table_is_edition_2024b_with_cid_7050_codes(table):
    assert table.edition == "2024b"
    assert DEFAULT_PATH.name == "annex_e_2024b.json"
    keys = {
        BASIC: codes.DCM.BasicApplicationConfidentialityProfile,
        "cleanPixelData": codes.DCM.CleanPixelDataOption,
        "cleanGraphOpt": codes.DCM.CleanGraphicsOption,
        "cleanStructContOpt": codes.DCM.CleanStructuredContentOption,
        "cleanDescOpt": codes.DCM.CleanDescriptorsOption,
        "rtnLongFullDatesOpt": codes.DCM.RetainLongitudinalTemporalInformationFullDatesOption,
        "rtnLongModifDatesOpt": codes.DCM.RetainLongitudinalTemporalInformationModifiedDatesOption,
        "rtnPatCharsOpt": codes.DCM.RetainPatientCharacteristicsOption,
        "rtnDevIdOpt": codes.DCM.RetainDeviceIdentityOption,
        "rtnUIDsOpt": codes.DCM.RetainUidsOption,
        "rtnSafePrivOpt": codes.DCM.RetainSafePrivateOption,
        "rtnInstIdOpt": codes.DCM.RetainInstitutionIdentityOption,
    }
    assert set(OPTION_KEYS) | {BASIC, "cleanPixelData"} == set(keys)
    for key, code in keys.items():
        assert table.option_code(key) == (code.value, code.meaning)


@needs_reference
@pytest.mark.slow
def test_regenerating_gives_the_shipped_bytes(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_deid_table", ROOT / "packaging" / "make_deid_table.py"
    )
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    out = tmp_path / "table.json"
    assert generator.main(["--reference", str(REFERENCE), "--out", str(out)]) == 0
    assert out.read_bytes() == DEFAULT_PATH.read_bytes()


def test_the_table_is_small_and_covers_the_mammography_sop_classes():
    assert DEFAULT_PATH.stat().st_size < 3_000_000
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    for uid in (MAMMO, MAMMO_PROCESSING):
        assert data["sop_classes"][uid] == "digital-mammography-x-ray-image"
    assert data["sop_classes"][MAMMO_CAD_SR] == "mammography-cad-sr"
    # The Basic Directory IOD (DICOMDIR) has no attribute with a compound action.
    assert set(data["sop_classes"].values()) - set(data["iods"]) == {"basic-directory"}


@pytest.mark.parametrize(
    ("tag", "name"),
    [
        (0x50002500, "Curve Data"),
        (0x501E0010, "Curve Data"),
        (0x60023000, "Overlay Data"),
        (0x60004000, "Overlay Comments"),
        (0x00091001, "Private Attributes"),
        (0x00090010, "Private Attributes"),  # a private creator
        (0x7FE10010, "Private Attributes"),
        (0xFFFF0001, "Private Attributes"),  # odd but illegal: still private
    ],
)
def test_wildcard_rows(table, tag, name):
    rule = table.rule(tag)
    assert rule is not None and rule.name == name
    assert table.action(tag, options=(), sop_class_uid=MAMMO) == "X"
    assert (
        table.action(tag, options=("cleanGraphOpt", "rtnSafePrivOpt"), sop_class_uid=MAMMO) == "C"
    )


def test_attributes_outside_the_table_have_no_rule(table):
    assert table.rule(0x00280010) is None  # Rows
    assert table.rule(0x60000010) is None  # Overlay Rows: only 60xx,3000 and 60xx,4000 are rows
    assert table.action(0x00280010, options=OPTION_KEYS, sop_class_uid=MAMMO) is None


def test_private_attributes_are_cleaned_only_with_retain_safe_private(table):
    private = 0x00091001
    assert table.action(private, options=("rtnSafePrivOpt",), sop_class_uid=MAMMO) == "C"
    assert table.action(private, options=("cleanGraphOpt",), sop_class_uid=MAMMO) == "X"


@pytest.mark.parametrize(
    ("sop_class", "path", "tag", "kind", "action"),
    [
        # Z/D, Type 2 in the Patient module.
        (MAMMO, (), PATIENT_ID, "2", "Z"),
        (MAMMO_PROCESSING, (), PATIENT_ID, "2", "Z"),
        # Z/D, Type 1 inside Other Patient IDs Sequence.
        (MAMMO, (OTHER_PATIENT_IDS_SEQUENCE,), PATIENT_ID, "1", "D"),
        # Z/D, Type 2C in the General Image module; Type 1 in SR Document General.
        (MAMMO, (), CONTENT_DATE, "2C", "Z"),
        (MAMMO_CAD_SR, (), CONTENT_DATE, "1", "D"),
        # X/Z/D, Type 1C in the DX Series module; Type 2 in SR Document General.
        (MAMMO, (), REFERENCED_PPS_SEQUENCE, "1C", "D"),
        (MAMMO_CAD_SR, (), REFERENCED_PPS_SEQUENCE, "2", "Z"),
        # X/Z/D, Type 3 in the General Equipment module.
        (MAMMO, (), INSTITUTION_NAME, "3", "X"),
        # X/Z, Type 2 in the Acquisition Context module.
        (MAMMO, (), ACQUISITION_CONTEXT_SEQUENCE, "2", "Z"),
        # X/Z/U*: Type 3 in the General Image module; Type 1 inside the Referenced Series
        # Sequence of the Presentation State Relationship module; absent at top level there.
        (MAMMO, (), REFERENCED_IMAGE_SEQUENCE, "3", "X"),
        (GSPS, (REFERENCED_SERIES_SEQUENCE,), REFERENCED_IMAGE_SEQUENCE, "1", "U"),
        (GSPS, (), REFERENCED_IMAGE_SEQUENCE, None, "X"),
    ],
)
def test_compound_actions_follow_the_type_in_the_iod(table, sop_class, path, tag, kind, action):
    assert table.attribute_type(sop_class, path, tag) == kind
    assert table.action(tag, options=(), sop_class_uid=sop_class, path=path) == action


@pytest.mark.parametrize(
    ("tag", "action"),
    [
        (PATIENT_ID, "Z"),  # Z/D: never removed
        (CONTENT_DATE, "Z"),  # Z/D
        (INSTITUTION_NAME, "X"),  # X/Z/D
        (REFERENCED_PPS_SEQUENCE, "X"),  # X/Z/D
        (REFERENCED_IMAGE_SEQUENCE, "X"),  # X/Z/U*
        (ACQUISITION_CONTEXT_SEQUENCE, "X"),  # X/Z
    ],
)
def test_an_unknown_sop_class_gets_the_most_removing_choice(table, tag, action):
    assert table.attribute_type(UNKNOWN_SOP, (), tag) is None
    assert table.action(tag, options=(), sop_class_uid=UNKNOWN_SOP) == action


@pytest.mark.parametrize(
    ("tag", "options", "action"),
    [
        (STUDY_DATE, (), "Z"),
        (STUDY_DATE, ("rtnLongModifDatesOpt",), "C"),
        (STUDY_DATE, ("rtnLongFullDatesOpt",), "K"),
        (STUDY_DATE, ("rtnLongFullDatesOpt", "rtnLongModifDatesOpt"), "C"),  # clean wins
        (STUDY_DATE, ("cleanDescOpt",), "Z"),  # an option without a column for the row
        (PATIENTS_AGE, (), "X"),
        (PATIENTS_AGE, ("rtnPatCharsOpt",), "K"),
        (DEVICE_SERIAL_NUMBER, ("rtnDevIdOpt",), "K"),
        (STATION_NAME, ("rtnDevIdOpt",), "K"),
        (STATION_AE_TITLE, ("rtnDevIdOpt",), "C"),
        (INSTITUTION_NAME, ("rtnInstIdOpt",), "K"),
        (REFERENCED_IMAGE_SEQUENCE, ("rtnUIDsOpt",), "K"),
        (CONTENT_DATE, ("rtnLongFullDatesOpt", BASIC, "cleanPixelData"), "K"),
    ],
)
def test_options_override_the_basic_profile(table, tag, options, action):
    assert table.action(tag, options=options, sop_class_uid=MAMMO) == action


def test_an_unknown_option_is_an_error(table):
    with pytest.raises(ValueError, match="rtnEverythingOpt"):
        table.action(STUDY_DATE, options=("rtnEverythingOpt",), sop_class_uid=MAMMO)
    with pytest.raises(KeyError):
        table.option_code("rtnEverythingOpt")


def test_load_table_is_cached():
    assert load_table() is load_table()
    assert load_table(DEFAULT_PATH) is load_table()
