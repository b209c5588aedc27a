"""Generate the de-identification rule table, resources/deid/annex_e_2024b.json.

The table is DICOM PS3.15 Annex E Table E.1-1 (edition 2024b): one rule per row
with its Basic Profile action and its option columns, plus what is needed to
resolve the compound actions (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) by the attribute's
Type in the IOD at hand.

Inputs:

- the reference folder (default: ``shared/reference/dicom-standard`` beside the
  repository), JSON transcriptions of the 2024b standard by innolitics/dicom-standard
  (MIT): ``confidentiality_profile_attributes.json`` (Table E.1-1),
  ``sops.json`` (SOP Class UID -> IOD), ``ciods.json`` and ``ciod_to_modules.json``
  (IOD -> modules) and ``modules.json`` (module ids, for the cross-check);
- the reference folder has no per-module attribute Types, so those come from
  highdicom 0.28.2 (MIT), whose bundled ``_standard/module_attribute_map.json``
  transcribes the module attribute tables of the 2024 standard with the same module
  ids (Type and enclosing sequences per attribute).  Its snapshot is slightly later
  than 2024b (a few newer IODs and modules); only the modules that the 2024b
  reference assigns to its IODs are read.

Anything that cannot be resolved (an IOD without a SOP class, a module without
attribute Types, a keyword without a tag) is reported on stderr.  The output is
deterministic: running the script twice gives identical bytes.

Usage: python packaging/make_deid_table.py [--reference DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from pydicom.datadict import tag_for_keyword

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "dicom-standard"
# The table is written into the source tree, which wheels are built from; an
# installed MammoDesk reads its own copy through importlib.resources
# (engine/resources.py), so this path is the checkout's on purpose.
DEFAULT_OUT = ROOT / "resources" / "deid" / "annex_e_2024b.json"

EDITION = "2024b"
HIGHDICOM_VERSION = "0.28.2"
SOURCE = (
    "DICOM PS3.15 Annex E Table E.1-1 (2024b), from innolitics/dicom-standard "
    "(confidentiality_profile_attributes.json, sops.json, ciods.json, "
    "ciod_to_modules.json); attribute Types from highdicom 0.28.2 "
    "(_standard/module_attribute_map.json)"
)

# CID 7050 De-identification Method (coding scheme DCM), keyed by the option column
# of Table E.1-1; "basic" and "cleanPixelData" have no column of their own.
OPTIONS: dict[str, tuple[str, str]] = {
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "cleanPixelData": ("113101", "Clean Pixel Data Option"),
    "cleanGraphOpt": ("113103", "Clean Graphics Option"),
    "cleanStructContOpt": ("113104", "Clean Structured Content Option"),
    "cleanDescOpt": ("113105", "Clean Descriptors Option"),
    "rtnLongFullDatesOpt": (
        "113106",
        "Retain Longitudinal Temporal Information Full Dates Option",
    ),
    "rtnLongModifDatesOpt": (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    "rtnPatCharsOpt": ("113108", "Retain Patient Characteristics Option"),
    "rtnDevIdOpt": ("113109", "Retain Device Identity Option"),
    "rtnUIDsOpt": ("113110", "Retain UIDs Option"),
    "rtnSafePrivOpt": ("113111", "Retain Safe Private Option"),
    "rtnInstIdOpt": ("113112", "Retain Institution Identity Option"),
}
OPTION_COLUMNS = frozenset(OPTIONS) - {"basic", "cleanPixelData"}
SIMPLE_ACTIONS = frozenset({"D", "Z", "X", "K", "C", "U"})
COMPOUND_ACTIONS = frozenset({"X/Z", "X/D", "Z/D", "X/Z/D", "X/Z/U*"})
# Strictest first: the Type kept for an attribute is the lowest rank found.
TYPE_RANK = {"1": 0, "1C": 1, "2": 2, "2C": 3, "3": 4}
ROW_KEYS = frozenset({"tag", "name", "basicProfile", "id", "stdCompIOD"})


def warn(message: str) -> None:
    print(f"make_deid_table: {message}", file=sys.stderr)


def rule_tag(text: str) -> str:
    """Table tag "(0008,0050)" -> "00080050"; wildcards -> "50xxxxxx", "private"."""
    if "GGGG" in text.upper():
        return "private"
    body = text.strip().strip("()").replace(",", "")
    if len(body) != 8 or any(c not in "0123456789ABCDEFabcdefXx" for c in body):
        raise ValueError(f"unexpected tag in Table E.1-1: {text!r}")
    return body.upper().replace("X", "x")


def read_rules(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    rules = []
    for row in rows:
        unknown = set(row) - ROW_KEYS - OPTION_COLUMNS
        if unknown:
            raise ValueError(f"unknown column(s) {sorted(unknown)} in row {row['tag']}")
        basic = row["basicProfile"]
        if basic not in SIMPLE_ACTIONS | COMPOUND_ACTIONS:
            raise ValueError(f"unknown basic action {basic!r} in row {row['tag']}")
        options = {key: row[key] for key in sorted(OPTION_COLUMNS) if key in row}
        if set(options.values()) - {"K", "C"}:
            raise ValueError(f"unexpected option action in row {row['tag']}: {options}")
        rules.append(
            {"tag": rule_tag(row["tag"]), "name": row["name"], "basic": basic, "options": options}
        )
    tags = [rule["tag"] for rule in rules]
    if len(set(tags)) != len(tags):
        raise ValueError("Table E.1-1 has duplicate tags")
    return rules


def highdicom_module_attributes() -> dict[str, list[dict[str, Any]]]:
    version = metadata.version("highdicom")
    if version != HIGHDICOM_VERSION:
        warn(f"highdicom {version} installed; the shipped table was made with {HIGHDICOM_VERSION}")
    source = resources.files("highdicom") / "_standard" / "module_attribute_map.json"
    return json.loads(source.read_text(encoding="utf-8"))


def attribute_types(
    modules: Iterable[str],
    module_attributes: dict[str, list[dict[str, Any]]],
    wanted: set[int],
    missing_keywords: set[str],
) -> dict[str, str]:
    """Strictest Type per tag path, over the given modules, for the wanted tags."""
    types: dict[str, str] = {}
    for module in modules:
        for attribute in module_attributes[module]:
            kind = attribute["type"]
            keywords = [*attribute["path"], attribute["keyword"]]
            tags = [tag_for_keyword(keyword) for keyword in keywords]
            if None in tags:
                missing_keywords.update(k for k, t in zip(keywords, tags, strict=True) if t is None)
                continue
            if tags[-1] not in wanted or kind not in TYPE_RANK:
                continue
            path = "/".join(f"{tag:08X}" for tag in tags)
            if path not in types or TYPE_RANK[kind] < TYPE_RANK[types[path]]:
                types[path] = kind
    return types


def build(reference: Path) -> dict[str, Any]:
    def load(name: str) -> Any:
        return json.loads((reference / name).read_text(encoding="utf-8"))

    rules = read_rules(load("confidentiality_profile_attributes.json"))
    compound = {
        int(rule["tag"], 16)
        for rule in rules
        if rule["basic"] in COMPOUND_ACTIONS and "x" not in rule["tag"] and rule["tag"] != "private"
    }

    ciods = load("ciods.json")
    iod_by_name = {ciod["name"]: ciod["id"] for ciod in ciods}
    sop_classes: dict[str, str] = {}
    for sop in load("sops.json"):
        if sop["ciod"] in iod_by_name:
            sop_classes[sop["id"]] = iod_by_name[sop["ciod"]]
        else:
            warn(f"SOP class {sop['id']} ({sop['name']}): IOD {sop['ciod']!r} not found")

    module_ids = {module["id"] for module in load("modules.json")}
    module_attributes = highdicom_module_attributes()
    iod_modules: dict[str, list[str]] = {ciod["id"]: [] for ciod in ciods}
    for link in load("ciod_to_modules.json"):
        iod, module = link["ciodId"], link["moduleId"]
        if iod not in iod_modules:
            warn(f"module {module} belongs to unknown IOD {iod}")
        elif module not in module_ids:
            warn(f"IOD {iod}: module {module} not in modules.json")
        elif module not in module_attributes:
            warn(f"IOD {iod}: module {module} has no attribute Types in highdicom; skipped")
        else:
            iod_modules[iod].append(module)

    for iod in sorted(set(iod_modules) - set(sop_classes.values())):
        warn(f"IOD {iod} has no SOP class in sops.json (kept, but unreachable)")

    missing_keywords: set[str] = set()
    iods = {}
    for iod, modules in iod_modules.items():
        types = attribute_types(modules, module_attributes, compound, missing_keywords)
        if types:
            iods[iod] = types
    if missing_keywords:
        warn("keywords without a pydicom tag (skipped): " + ", ".join(sorted(missing_keywords)))

    return {
        "edition": EDITION,
        "source": SOURCE,
        "options": {key: {"code": c, "meaning": m} for key, (c, m) in OPTIONS.items()},
        "rules": rules,
        "iods": iods,
        "sop_classes": sop_classes,
    }


def render(table: dict[str, Any]) -> str:
    return json.dumps(table, sort_keys=True, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reference",
        type=Path,
        default=DEFAULT_REFERENCE,
        help="folder of the innolitics/dicom-standard JSON tables",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSON file")
    args = parser.parse_args(argv)
    text = render(build(args.reference))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
