"""The audit window over a small library of signed reads and outcomes: its
figures are the engine's audit, a value outside its acceptable range is
marked, the period changes the figures, the plots have a bar per reader, and
Export PDF writes a PDF."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QDate

from engine.ai.service import current_package
from engine.library import Library, import_paths
from engine.library.ai_results import add_result
from engine.library.outcomes import add_outcomes, audit_data, make_outcome
from engine.library.reads import Finding, Read, sign
from engine.notices import NOT_FOR_CLINICAL_USE
from engine.reading.audit import audit
from engine.reading.audit_benchmarks import operating_point
from engine.reporting.audit_pdf import ROWS
from tests.support.dicom_factory import mg_dataset

TODAY = dt.date.today()
Kind = tuple[dict[str, str], str, list[Finding]]  # BI-RADS, recommendation, findings
NEGATIVE: Kind = ({"R": "1", "L": "1"}, "routine", [])
RECALL: Kind = ({"R": "0", "L": "1"}, "recall", [])
BIOPSY: Kind = ({"R": "4B", "L": "1"}, "biopsy", [Finding("R", "mass", descriptors=["oval"])])
# name: (days before today, reader, read, reading time s, AI exam score or None)
EXAMS = {
    "A1": (300, "Dr A", BIOPSY, 60, 80.0),
    "A2": (250, "Dr A", RECALL, 40, 10.0),
    "A3": (200, "Dr A", NEGATIVE, 30, 50.0),
    "A4": (100, "Dr A", NEGATIVE, 20, None),
    "B1": (280, "Dr B", RECALL, 90, 70.0),
    "B2": (150, "Dr B", NEGATIVE, 25, 5.0),
    "B3": (50, "Dr B", NEGATIVE, 35, 15.0),
    "B4": (20, "Dr B", NEGATIVE, None, 1.0),
    "A0": (500, "Dr A", RECALL, 50, 90.0),  # before the default period
}
# name: (days after the exam, side, result, histology, size mm)
OUTCOMES = {
    "A1": (10, "R", "malignant", "invasive ductal carcinoma", "8"),
    "A2": (15, "R", "benign", "fibroadenoma", None),
    "B1": (20, "R", "malignant", "DCIS", None),
    "A0": (12, "R", "malignant", "invasive lobular carcinoma", "22"),
}


def uid(name: str) -> str:
    return f"1.2.826.0.1.3680043.10.4321.{sum(ord(c) * 31 ** i for i, c in enumerate(name))}"


def day(name: str) -> dt.date:
    return TODAY - dt.timedelta(days=EXAMS[name][0])


@pytest.fixture
def cohort(ctx, tmp_path):
    """The library, and the AI model (name, version) and operating point the window uses."""
    package = current_package(ctx.paths.models)
    model = (package.name, package.version)
    folder = tmp_path / "dicom"
    folder.mkdir()
    for n, name in enumerate(EXAMS):
        mg_dataset(StudyInstanceUID=uid(name), PatientID=f"SYN-AUD-{n}",
                   StudyDate=day(name).strftime("%Y%m%d")).save_as(
            folder / f"{name}.dcm", enforce_file_format=True)
    with Library(ctx.paths.library) as lib:
        assert not import_paths(lib, [folder]).rejected
        for name, (_days, reader, (birads, recommendation, findings), seconds, score) in \
                EXAMS.items():
            sign(lib, uid(name), reader, Read(
                birads=dict(birads), density={"R": "b", "L": "b"}, findings=list(findings),
                recommendation=recommendation, reading_time_s=seconds))
            if score is not None:
                add_result(lib, uid(name), model, "2025-01-01T10:00:00+00:00",
                           {"exam_score": score, "category": None})
        add_outcomes(lib, [
            make_outcome(uid(name), side, result,
                         (day(name) + dt.timedelta(days=after)).isoformat(), histology, size)
            for name, (after, side, result, histology, size) in OUTCOMES.items()])
    return model, operating_point(package.manifest.get("operating_points", {}))


def engine_audit(ctx, cohort, start, end, reader=None):
    model, point = cohort
    with Library(ctx.paths.library) as lib:
        data = audit_data(lib, model)
    return audit(data, start=start, end=end, reader=reader, point=point, model=model)


def expected(value, kind):
    """A figure as a person expects to read it, written out independently of the window."""
    if value is None:
        return "—"
    return {"f": f"{100 * value:.1f}%", "r": f"{value:.1f}", "s": f"{value:.1f}"}.get(
        kind, str(value))


def column(w, name):
    heads = [w.table.horizontalHeaderItem(c).text() for c in range(w.table.columnCount())]
    return heads.index(name)


def shown(w, row_key, col_name):
    row = [k for k, _, _ in ROWS].index(row_key)
    return w.table.item(row, column(w, col_name))


def bar_labels(axes):
    return [t.get_text() for t in axes.get_xticklabels()]


def opened(qtbot, ctx):
    from ui.audit_window import open_audit_window

    w = open_audit_window(ctx)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.report is not None and bool(w.figure.axes), timeout=20000)
    return w


def test_the_table_shows_the_engines_figures_for_the_site_and_each_reader(qtbot, ctx, cohort):
    w = opened(qtbot, ctx)
    start, end = TODAY.replace(year=TODAY.year - 1) if not (
        TODAY.month == 2 and TODAY.day == 29) else TODAY - dt.timedelta(days=366), TODAY
    assert w.period() == (start, end)
    report = engine_audit(ctx, cohort, start, end)
    assert report.site.measures.exams == 8 and report.site.measures.cancers == 2
    for group, measures in (("Site", report.site.measures),
                            ("Dr A", report.readers["Dr A"].measures),
                            ("Dr B", report.readers["Dr B"].measures),
                            ("Site: AI (standalone)", report.site.ai.measures)):
        for key, _label, kind in ROWS:
            text = shown(w, key, group).text()
            assert text.split("  (outside")[0] == expected(getattr(measures, key), kind), (
                group, key, text)
    assert w.notice.text() == f"AI output: {NOT_FOR_CLINICAL_USE}" and w.notice.isVisible()
    assert shown(w, "recall_rate", "BCSC 2017").text() == "11.6%"
    assert shown(w, "recall_rate", "Acceptable range").text() == "3-20%"
    # PPV2 is the reader's: the AI recommends no biopsy.
    assert shown(w, "ppv2", "Dr A: AI (standalone)").text() == "—"


def test_a_value_outside_its_acceptable_range_is_marked_in_colour_and_words(qtbot, ctx, cohort):
    w = opened(qtbot, ctx)
    # Dr A recalled 2 of 4 exams: 50%, above any acceptable recall rate.
    marked = shown(w, "recall_rate", "Dr A")
    assert marked.text() == "50.0%  (outside 3-20%)"
    assert marked.background().color() != shown(w, "exams", "Dr A").background().color()
    # Site PPV1 (2 cancers in 3 recalls) is acceptable: no mark.
    fine = shown(w, "ppv1", "Site")
    assert fine.text() == "66.7%" and fine.background().style().name == "NoBrush"
    verdict = w.table.item(len(ROWS) + 1, column(w, "Dr A"))
    assert verdict.text() == "not met"


def test_changing_the_period_changes_the_figures(qtbot, ctx, cohort):
    w = opened(qtbot, ctx)
    assert shown(w, "exams", "Site").text() == "8"
    older = day("A0") - dt.timedelta(days=1)
    w.start.setDate(QDate(older.year, older.month, older.day))
    assert shown(w, "exams", "Site").text() == "9"
    qtbot.waitUntil(lambda: w.figure.axes[0].containers[0][0].get_height() == pytest.approx(
        100 * 3 / 5), timeout=5000)  # Dr A's recall bar: now 3 of 5
    assert shown(w, "cancers", "Dr A").text() == "2"
    report = engine_audit(ctx, cohort, older, TODAY)
    assert shown(w, "cancer_detection_rate_per_1000", "Site").text().split("  (")[0] == \
        expected(report.site.measures.cancer_detection_rate_per_1000, "r")
    w.end.setDate(QDate(older.year, older.month, older.day).addDays(-1))
    assert w.error.text() == "The period's first date is after its last date."


def test_choosing_a_reader_shows_the_site_and_that_reader(qtbot, ctx, cohort):
    w = opened(qtbot, ctx)
    assert [w.reader.itemText(i) for i in range(w.reader.count())] == [
        "All readers", "Dr A", "Dr B"]
    w.reader.setCurrentText("Dr B")
    heads = [w.table.horizontalHeaderItem(c).text() for c in range(w.table.columnCount())]
    assert "Dr B" in heads and "Dr A" not in heads and "Site" in heads
    qtbot.waitUntil(lambda: bar_labels(w.figure.axes[0]) == ["Dr B", "Site"], timeout=5000)


def test_the_plots_have_a_bar_per_reader_with_benchmark_and_band(qtbot, ctx, cohort):
    w = opened(qtbot, ctx)
    report = engine_audit(ctx, cohort, *w.period())
    assert len(w.figure.axes) == 6
    assert all(bar_labels(axes) == ["Dr A", "Dr B", "Site"] for axes in w.figure.axes)
    recall, ppv1 = w.figure.axes[0], w.figure.axes[2]
    [bars] = recall.containers
    assert [b.get_height() for b in bars] == pytest.approx(
        [100 * report.readers[n].measures.recall_rate for n in ("Dr A", "Dr B")]
        + [100 * report.site.measures.recall_rate])
    assert [b.get_height() for b in ppv1.containers[0]] == pytest.approx(
        [100 * g.measures.ppv1 for g in (report.readers["Dr A"], report.readers["Dr B"],
                                         report.site)])
    # The BCSC benchmark as a line, the acceptable range (3-20%) as a shaded band.
    [bench] = [ln for ln in recall.get_lines() if ln.get_label() == "BCSC 2017"]
    assert bench.get_ydata()[0] == pytest.approx(11.6)
    [band] = [p for p in recall.patches if p.get_label().startswith("acceptable")]
    corners = band.get_path().transformed(band.get_patch_transform()).vertices[:, 1]
    assert (min(corners), max(corners)) == pytest.approx((3.0, 20.0))


def test_export_pdf_writes_a_pdf(qtbot, ctx, cohort, tmp_path, monkeypatch):
    import ui.audit_window as module

    out = tmp_path / "out" / "audit.pdf"
    out.parent.mkdir()
    monkeypatch.setattr(module, "ask_save_path", lambda _parent: out)
    w = opened(qtbot, ctx)
    w.export_button.click()
    qtbot.waitUntil(lambda: "written" in w.about.text(), timeout=30000)
    assert out.read_bytes().startswith(b"%PDF")


def test_export_to_a_folder_that_is_gone_says_so_in_one_line(qtbot, ctx, cohort, tmp_path,
                                                            monkeypatch):
    import ui.audit_window as module

    monkeypatch.setattr(module, "ask_save_path", lambda _parent: tmp_path / "gone" / "a.pdf")
    w = opened(qtbot, ctx)
    w.export_button.click()
    qtbot.waitUntil(lambda: w.error.text() != "", timeout=30000)
    assert w.error.text().startswith("cannot write the audit:")
    assert "\n" not in w.error.text()


def test_an_empty_library_shows_dashes(qtbot, ctx):
    w = opened(qtbot, ctx)
    assert shown(w, "exams", "Site").text() == "0"
    assert shown(w, "recall_rate", "Site").text() == "—"


def test_double_reading_counts_each_study_once_for_the_site(qtbot, ctx, tmp_path):
    folder = tmp_path / "double"
    folder.mkdir()
    for n, name in enumerate(("D1", "D2")):
        mg_dataset(StudyInstanceUID=uid(name), PatientID=f"SYN-DBL-{n}",
                   StudyDate=(TODAY - dt.timedelta(days=30 + n)).strftime("%Y%m%d")).save_as(
            folder / f"{name}.dcm", enforce_file_format=True)

    def read(kind: Kind) -> Read:
        birads, recommendation, findings = kind
        return Read(birads=dict(birads), density={"R": "b", "L": "b"},
                    findings=list(findings), recommendation=recommendation)

    with Library(ctx.paths.library) as lib:
        assert not import_paths(lib, [folder]).rejected
        for name, first, second in (("D1", RECALL, NEGATIVE), ("D2", NEGATIVE, NEGATIVE)):
            sign(lib, uid(name), "Dr A", read(first), double=True)
            sign(lib, uid(name), "Dr B", read(second), double=True)
    w = opened(qtbot, ctx)
    # D1 waits for arbitration: in each reader's figures, not yet in the site's.
    assert shown(w, "exams", "Site").text() == "1"
    assert shown(w, "exams", "Dr A").text() == shown(w, "exams", "Dr B").text() == "2"
    assert "2 exam(s) read twice; 1 disagreement(s) on recall" in w.about.text()
    assert "Screening exams only" in w.about.text()
