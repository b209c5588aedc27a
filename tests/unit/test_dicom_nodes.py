"""DICOM nodes as settings: ``dicom.nodes.NAME`` = ``AET@host:port``, checked
when set, listed by ``config list``, and the workstation's own AE title."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.dicom.nodes import Node, configured_nodes, find_node, parse_node
from engine.errors import MammoDeskError
from engine.settings import Settings


@pytest.mark.parametrize(("value", "node"), [
    ("PACS@pacs.hospital:104", Node("p", "PACS", "pacs.hospital", 104)),
    ("ORTHANC@127.0.0.1:4242", Node("p", "ORTHANC", "127.0.0.1", 4242)),
    ("MG UNIT 2@[::1]:11112", Node("p", "MG UNIT 2", "::1", 11112)),
    (" PACS@h:1 ", Node("p", "PACS", "h", 1)),
])
def test_nodes_parse(value: str, node: Node) -> None:
    assert parse_node("p", value) == node


@pytest.mark.parametrize("value", [
    "PACS@host", "host:104", "@host:104", "PACS@:104", "PACS@host:0", "PACS@host:65536",
    "PACS@host:1x", "A" * 17 + "@host:104", "BACK\\SLASH@host:104", "PACS@ho st:104",
    "TAB\t@host:104", "PACS@host:١٠٤",
])
def test_malformed_nodes_are_refused_with_the_form(value: str) -> None:
    with pytest.raises(MammoDeskError) as caught:
        parse_node("p", value)
    assert "\n" not in str(caught.value) and "dicom.nodes.p" in str(caught.value)


def test_nodes_are_settings_checked_when_set_and_listed(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    settings.update({"dicom.nodes.pacs": "PACS@pacs.hospital:104",
                     "dicom.nodes.mg-room-2": "MG2@10.0.0.7:11112"})
    with pytest.raises(MammoDeskError, match="AET@host:port"):
        settings.update({"dicom.nodes.bad": "nonsense"})
    with pytest.raises(MammoDeskError, match="unknown setting"):
        settings.update({"dicom.nodes.a/b": "PACS@h:1"})
    assert set(configured_nodes(settings.all())) == {"pacs", "mg-room-2"}
    listed = {s.key: s.value for s in settings.listing()}
    assert listed["dicom.nodes.pacs"] == "PACS@pacs.hospital:104"
    assert settings.effective("dicom.ae_title").value == "MAMMODESK"
    assert settings.get("dicom.nodes.pacs") == "PACS@pacs.hospital:104"
    settings.update({"dicom.nodes.pacs": ""})  # '' removes it
    assert set(configured_nodes(settings.all())) == {"mg-room-2"}
    assert find_node(settings.all(), "mg-room-2").port == 11112
    with pytest.raises(MammoDeskError, match="no DICOM node named 'pacs'"):
        find_node(settings.all(), "pacs")


def test_our_ae_title_is_checked(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    settings.update({"dicom.ae_title": "READROOM1  "})
    assert settings.get("dicom.ae_title") == "READROOM1"
    for bad in ("SEVENTEEN_CHARS_X", "BAD\\AE"):
        with pytest.raises(MammoDeskError, match="AE title"):
            settings.update({"dicom.ae_title": bad})
