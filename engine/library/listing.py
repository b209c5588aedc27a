"""Read-side views of the library: study summaries for the worklist and CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from engine.library.store import Library

# Screening views first, in the order a reader hangs them.
VIEW_ORDER = ["RCC", "LCC", "RMLO", "LMLO"]
MAMMOGRAPHY = "MG"


@dataclass(frozen=True)
class StudySummary:
    study_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    study_description: str
    accession_number: str
    modalities: list[str]
    series: int
    instances: int
    views: list[str]
    ai_scope: str            # "mammography" or a reason the AI won't look at it

    @property
    def in_ai_scope(self) -> bool:
        return self.ai_scope == "mammography"

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["in_ai_scope"] = self.in_ai_scope
        return data


def hanging_order(label: str) -> tuple[int, str]:
    """Sort key: the four screening views in reading order, then the rest."""
    return (VIEW_ORDER.index(label) if label in VIEW_ORDER else len(VIEW_ORDER), label)


def ai_scope(modalities: set[str], mg_for_presentation: int, mg_total: int) -> str:
    if MAMMOGRAPHY not in modalities:
        shown = ", ".join(sorted(m for m in modalities if m)) or "unknown"
        return f"outside the AI's scope: modality {shown}, not mammography"
    if mg_total and not mg_for_presentation:
        return "outside the AI's scope: For Processing images only"
    return "mammography"


def list_studies(library: Library, study_uid: str | None = None) -> list[StudySummary]:
    """All studies (or one), newest study date first.  Two queries, whatever the size."""
    where, params = ("WHERE study_uid = ?", [study_uid]) if study_uid else ("", [])
    studies = library.conn.execute(
        f"""
        SELECT study_uid, patient_id, patient_name, study_date, study_description,
               accession_number
        FROM studies {where}
        ORDER BY study_date DESC, study_time DESC, study_uid
        """, params).fetchall()
    per_study: dict[str, list[tuple[str, str, str, str | None]]] = {}
    for uid, series_uid, modality, label, intent in library.conn.execute(
            "SELECT study_uid, series_uid, modality, view_label, presentation_intent "
            f"FROM instances {where}", params):
        per_study.setdefault(uid, []).append((series_uid, modality, label, intent))
    summaries = []
    for uid, pid, name, date, desc, accession in studies:
        instances = per_study.get(uid, [])
        modalities = {m for _, m, _, _ in instances}
        mg = [(label, intent) for _, m, label, intent in instances if m == MAMMOGRAPHY]
        for_presentation = [label for label, intent in mg if intent != "FOR PROCESSING"]
        summaries.append(StudySummary(
            study_uid=uid, patient_id=pid, patient_name=name, study_date=date,
            study_description=desc, accession_number=accession,
            modalities=sorted(m for m in modalities if m),
            series=len({series for series, _, _, _ in instances}),
            instances=len(instances),
            views=sorted(set(for_presentation), key=hanging_order),
            ai_scope=ai_scope(modalities, len(for_presentation), len(mg))))
    return summaries


def shown_name(value: str) -> str:
    """A DICOM person name (PN) as people read it: "Family, Given Middle".

    Only the first component group counts (the others repeat the name in
    other scripts); the prefix goes before the given names, the suffix after.
    """
    group = (value or "").split("=")[0]
    parts = [" ".join(p.split()) for p in group.split("^")] + [""] * 5
    family, given, middle, prefix, suffix = parts[:5]
    first = " ".join(p for p in (prefix, given, middle, suffix) if p)
    return ", ".join(p for p in (family, first) if p)


def patient_birth_date(library: Library, study_uid: str) -> str:
    """The birth date (DA) the study's images gave, "" when none did."""
    row = library.conn.execute(
        "SELECT patient_birth_date FROM studies WHERE study_uid = ?", (study_uid,)).fetchone()
    return str(row[0] or "").strip() if row else ""


@dataclass(frozen=True)
class InstanceSummary:
    sop_uid: str
    view_label: str
    view_source: str | None
    laterality_source: str | None
    rows: int | None
    columns: int | None
    transfer_syntax_uid: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def list_instances(library: Library, study_uid: str) -> list[InstanceSummary]:
    """A study's images, screening views first in reading order."""
    rows = library.conn.execute(
        "SELECT sop_uid, view_label, view_source, laterality_source, rows, columns, "
        "transfer_syntax_uid FROM instances WHERE study_uid = ?", (study_uid,)).fetchall()
    return sorted((InstanceSummary(*row) for row in rows),
                  key=lambda i: (hanging_order(i.view_label), i.sop_uid))
