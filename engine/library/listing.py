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
    """All studies (or one), newest study date first."""
    where, params = ("WHERE s.study_uid = ?", [study_uid]) if study_uid else ("", [])
    rows = library.conn.execute(
        f"""
        SELECT s.study_uid, s.patient_id, s.patient_name, s.study_date,
               s.study_description, s.accession_number,
               COUNT(DISTINCT i.series_uid), COUNT(i.sop_uid)
        FROM studies s LEFT JOIN instances i ON i.study_uid = s.study_uid
        {where}
        GROUP BY s.study_uid
        ORDER BY s.study_date DESC, s.study_time DESC, s.study_uid
        """, params).fetchall()
    summaries = []
    for uid, pid, name, date, desc, accession, n_series, n_inst in rows:
        instances = library.conn.execute(
            "SELECT modality, view_label, presentation_intent FROM instances "
            "WHERE study_uid = ?", (uid,)).fetchall()
        modalities = {m for m, _, _ in instances}
        mg = [(label, intent) for m, label, intent in instances if m == MAMMOGRAPHY]
        for_presentation = [label for label, intent in mg if intent != "FOR PROCESSING"]
        views = sorted(set(for_presentation), key=hanging_order)
        summaries.append(StudySummary(
            study_uid=uid, patient_id=pid, patient_name=name, study_date=date,
            study_description=desc, accession_number=accession,
            modalities=sorted(m for m in modalities if m), series=n_series,
            instances=n_inst, views=views,
            ai_scope=ai_scope(modalities, len(for_presentation), len(mg))))
    return summaries
