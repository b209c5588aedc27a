"""The Store Instances Response of STOW-RS, read per instance.

Every instance sent ends up stored, failed (for good), worth sending again,
or unknown (not named in the answer: the caller asks QIDO-RS).  Answers come
as DICOM JSON or, from servers that ignore Accept, as the Native DICOM Model
in XML; some carry no Content-Type at all, so bodies are recognised by
content.  See sync/dicomweb.py for what each server answers.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

REFERENCED_SOP_INSTANCE_UID = "00081155"
WARNING_REASON = "00081196"
FAILURE_REASON = "00081197"
FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_SEQUENCE = "00081199"


@dataclass
class StowOutcome:
    """What became of each instance of one STOW-RS request (SOP Instance UIDs)."""

    status: int
    stored: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)  # UID -> one-line reason, for good
    retry: set[str] = field(default_factory=set)  # the server may take it later
    unknown: set[str] = field(default_factory=set)  # not named in the answer: ask QIDO
    warnings: dict[str, str] = field(default_factory=dict)  # stored, with a Warning Reason


# -- status codes of single instances ------------------------------------------

_DUPLICATE_CODES = {0x0111, 0xB00E}
_NAMES = {
    0x0110: "processing failure",
    0x0111: "duplicate SOP instance",
    0x0120: "missing attribute",
    0x0121: "missing attribute value",
    0x0122: "SOP class not supported",
    0x0124: "refused: not authorised",
    0xB000: "coercion of data elements",
    0xB006: "elements discarded",
    0xB007: "data set does not match SOP class",
    0xB00E: "instance already exists",
    0xB00F: "instance is still being stored",
    0xC122: "transfer syntax not supported",
}


def _describe(code: int | None) -> str:
    if code is None:
        return "failure (no reason given)"
    if code in _NAMES:
        name = _NAMES[code]
    elif 0xA770 <= code <= 0xA77F:
        name = "refused by the archive's policy"
    elif 0xA700 <= code <= 0xA7FF:
        name = "refused: out of resources"
    elif 0xA900 <= code <= 0xA9FF:
        name = "data set does not match SOP class"
    elif 0xC000 <= code <= 0xCFFF:
        name = "cannot understand"
    elif 0xB000 <= code <= 0xBFFF:
        name = "warning"
    else:
        name = "failure"
    return f"0x{code:04X} {name}"


def _classify(code: int | None, http_status: int) -> str:
    """'stored', 'retry' or 'failed' for a FailedSOPSequence item."""
    if code in _DUPLICATE_CODES:
        return "stored"
    if code == 0xB00F:
        return "retry"
    if code is not None and 0xA700 <= code <= 0xA7FF and not 0xA770 <= code <= 0xA77F:
        return "retry"
    if code == 0x0110 and http_status != 409:
        return "retry"
    return "failed"


def _code(value: Any) -> int | None:
    """A US value from DICOM JSON (number) or XML/lenient JSON (string).

    Four-character strings are read as hex (``"A700"``, ``"0110"``: an old
    Orthanc plugin wrote its codes that way); other strings as decimal.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            if text.startswith("0x"):
                return int(text, 16)
            if len(text) == 4:
                return int(text, 16)
            return int(text)
        except ValueError:
            return None
    return None


# -- Store Instances Response (DICOM JSON, or PS3.19 Native DICOM Model XML) -----

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _number(node: ET.Element) -> int:
    try:
        return int(node.get("number", "0"))
    except ValueError:
        return 0


def _xml_dataset(node: ET.Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in node:
        if _local(attr.tag) != "DicomAttribute":
            continue
        tag = (attr.get("tag") or "").upper()
        vr = attr.get("vr") or ""
        items = sorted((c for c in attr if _local(c.tag) == "Item"), key=_number)
        if vr == "SQ" or items:
            value: list[Any] = [_xml_dataset(item) for item in items]
        else:
            values = sorted((c for c in attr if _local(c.tag) == "Value"), key=_number)
            value = [(c.text or "").strip() for c in values]
        entry: dict[str, Any] = {"vr": vr}
        if value:
            entry["Value"] = value
        out[tag] = entry
    return out


def parse_dataset(body: bytes) -> dict[str, Any] | None:
    """The dataset in a response body, whatever its Content-Type says; None if none."""
    text = body.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    if text[:1] in (b"{", b"["):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if isinstance(data, list):
            data = data[0] if data else None
        if not isinstance(data, dict):
            return None
        return {str(k).upper(): v for k, v in data.items()}
    if text[:1] == b"<":
        if b"<!DOCTYPE" in text:  # no entity tricks from a server
            return None
        try:
            root = ET.fromstring(text)
        except ET.ParseError:
            return None
        if _local(root.tag) != "NativeDicomModel":
            return None
        return _xml_dataset(root)
    return None


def _items(dataset: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    element = dataset.get(tag)
    value = element.get("Value") if isinstance(element, dict) else None
    if not isinstance(value, list):
        return []
    return [{str(k).upper(): v for k, v in item.items()} for item in value
            if isinstance(item, dict)]


def first(item: dict[str, Any], tag: str) -> Any:
    element = item.get(tag)
    value = element.get("Value") if isinstance(element, dict) else None
    if isinstance(value, list) and value:
        return value[0]
    return None


def _uid(item: dict[str, Any]) -> str | None:
    uid = first(item, REFERENCED_SOP_INSTANCE_UID)
    return uid.strip().rstrip("\0") if isinstance(uid, str) else None


def outcome(status: int, sent: Sequence[str], dataset: dict[str, Any] | None,
             unlisted: str | None) -> StowOutcome:
    """Sort the ``sent`` UIDs by the response; those it does not name go to
    ``failed`` with reason ``unlisted`` when given, else to ``unknown``."""
    wanted = set(sent)
    out = StowOutcome(status)
    if dataset is not None:
        for item in _items(dataset, REFERENCED_SOP_SEQUENCE):
            uid = _uid(item)
            if uid in wanted:
                out.stored.add(uid)
                warning = first(item, WARNING_REASON)
                if warning is not None:
                    out.warnings[uid] = _describe(_code(warning))
        for item in _items(dataset, FAILED_SOP_SEQUENCE):
            uid = _uid(item)
            if uid not in wanted:
                continue
            code = _code(first(item, FAILURE_REASON))
            kind = _classify(code, status)
            if kind == "stored":
                out.stored.add(uid)
            elif kind == "retry":
                out.retry.add(uid)
            else:
                out.failed[uid] = _describe(code)
    # One verdict per instance: stored beats failed beats retry.
    for uid in out.stored:
        out.failed.pop(uid, None)
    out.retry -= out.stored | out.failed.keys()
    for uid in wanted - out.stored - out.retry - out.failed.keys():
        if unlisted is None:
            out.unknown.add(uid)
        else:
            out.failed[uid] = unlisted
    return out


# -- HTTP -----------------------------------------------------------------------
