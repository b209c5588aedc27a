"""The local case library: SQLite index plus DICOM files, crash-safe import."""

from engine.library.importer import ImportReport, Rejected, import_paths
from engine.library.listing import InstanceSummary, StudySummary, list_instances, list_studies
from engine.library.schema import SCHEMA_VERSION
from engine.library.store import Library

__all__ = [
    "SCHEMA_VERSION",
    "ImportReport",
    "InstanceSummary",
    "Library",
    "Rejected",
    "StudySummary",
    "import_paths",
    "list_instances",
    "list_studies",
]
