"""Generic DICOM SR content items (PS3.3 C.17.3): code, container, text,
numeric, date/time, by-reference and spatial-coordinate items."""

from __future__ import annotations

from collections.abc import Iterable

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.sr.coding import Code
from pydicom.valuerep import format_number_as_ds


def code(c: Code) -> Dataset:
    """A Code Sequence item (PS3.3 Table 8.8-1a); the scheme version only when the code has one."""
    item = Dataset()
    item.CodeValue = c.value
    item.CodingSchemeDesignator = c.scheme_designator
    if c.scheme_version:
        item.CodingSchemeVersion = c.scheme_version
    item.CodeMeaning = c.meaning
    return item


def content_item(rel: str, vt: str, name: Code | None, kids: Iterable[Dataset] = ()) -> Dataset:
    item = Dataset()
    item.RelationshipType = rel
    item.ValueType = vt
    if name is not None:
        item.ConceptNameCodeSequence = Sequence([code(name)])
    if vt == "CONTAINER":
        item.ContinuityOfContent = "SEPARATE"
    kids = list(kids)
    if kids:
        item.ContentSequence = Sequence(kids)
    return item


def code_item(rel: str, name: Code, value: Code, kids: Iterable[Dataset] = ()) -> Dataset:
    item = content_item(rel, "CODE", name, kids)
    item.ConceptCodeSequence = Sequence([code(value)])
    return item


def text(rel: str, name: Code, value: str) -> Dataset:
    item = content_item(rel, "TEXT", name)
    item.TextValue = value
    return item


def num(rel: str, name: Code, value: float, unit: Code) -> Dataset:
    item = content_item(rel, name=name, vt="NUM")
    measured = Dataset()
    measured.NumericValue = format_number_as_ds(float(value))
    measured.MeasurementUnitsCodeSequence = Sequence([code(unit)])
    item.MeasuredValueSequence = Sequence([measured])
    return item


def stamp(rel: str, vt: str, name: Code, value: str) -> Dataset:
    item = content_item(rel, vt, name)
    setattr(item, "Date" if vt == "DATE" else "Time", value)
    return item


def ref(rel: str, ident: list[int]) -> Dataset:
    item = Dataset()
    item.RelationshipType = rel
    item.ReferencedContentItemIdentifier = ident
    return item


def scoord(name: Code, kind: str, points: list[float], ident: list[int]) -> Dataset:
    item = content_item("HAS PROPERTIES", "SCOORD", name, [ref("SELECTED FROM", ident)])
    item.GraphicType = kind
    item.GraphicData = [float(p) for p in points]
    return item
