"""The local case library: SQLite index plus DICOM files, crash-safe import."""

from engine.library.importer import ImportReport, Rejected, import_paths
from engine.library.listing import StudySummary, list_studies
from engine.library.schema import SCHEMA_VERSION
from engine.library.store import Library

__all__ = [
    "SCHEMA_VERSION",
    "ImportReport",
    "Library",
    "Rejected",
    "StudySummary",
    "import_paths",
    "list_studies",
]
