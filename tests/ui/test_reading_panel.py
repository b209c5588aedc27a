"""The read form: 5th-edition choices, structured findings, and Sign's checks and confirmation."""

from __future__ import annotations

import pytest

from engine.library.reads import Finding, Read, StoredRead
from ui import reading_panel
from ui.reading_panel import ReadingPanel


@pytest.fixture
def panel(qtbot):
    p = ReadingPanel()
    qtbot.addWidget(p)
    return p


@pytest.fixture
def dialogs(monkeypatch):
    """What Sign would show: the warnings and confirmations, answered yes."""
    shown: list[tuple[str, str]] = []

    def warn(_parent, title, text):
        shown.append((title, text))

    def confirm(_parent, title, text):
        shown.append((title, text))
        return True

    monkeypatch.setattr(reading_panel, "warn", warn)
    monkeypatch.setattr(reading_panel, "confirm", confirm)
    return shown


def _set(box, value):
    box.setCurrentIndex(box.findData(value))


def test_offers_the_subdivided_categories_and_the_recommendations(panel):
    offered = [panel.birads["R"].itemData(i) for i in range(panel.birads["R"].count())]
    assert offered == [None, "0", "1", "2", "3", "4A", "4B", "4C", "5", "6"]
    recs = [panel.recommendation.itemData(i) for i in range(panel.recommendation.count())]
    assert recs[1:] == ["routine", "short-interval", "recall", "biopsy", "excision",
                        "known-cancer"]


def test_a_structured_finding_is_added_and_read_back(panel):
    panel.finding_side.setCurrentText("L")
    panel.finding_kind.setCurrentText("mass")
    panel.finding_words.setText("Irregular spiculated")
    panel.finding_size.setValue(12)
    _set(panel.finding_clock, "10:30")
    _set(panel.finding_depth, "posterior")
    panel.finding_nipple.setValue(40)
    panel._add_finding()
    (f,) = panel.read().findings
    assert f == Finding("L", "mass", size_mm=12.0, descriptors=["irregular", "spiculated"],
                        clock="10:30", depth="posterior", nipple_mm=40.0)
    assert panel.findings.item(0).text().startswith("left mass, irregular, spiculated, 12 mm")
    panel.place_point("1.2.3.4", 120, 340.5)
    panel.finding_side.setCurrentText("R")
    panel._add_finding()
    assert panel.read().findings[1].point == {"sop_uid": "1.2.3.4", "x": 120.0, "y": 340.5}
    assert panel.read().findings[1].problems() == []
    del panel._findings[1]
    panel.finding_words.setText("fine-pleomorphic")  # a calcification word, not a mass's
    panel._add_finding()
    assert len(panel.read().findings) == 1 and "not a BI-RADS descriptor" in panel.state.text()


def test_sign_shows_every_problem_and_does_not_sign(panel, qtbot, dialogs):
    _set(panel.birads["R"], "4A")
    with qtbot.assertNotEmitted(panel.sign_requested):
        panel.sign.click()
    ((title, text),) = dialogs
    assert title == "Cannot sign yet"
    lines = text.splitlines()
    assert "no BI-RADS assessment for the left breast" in lines
    assert "no management recommendation" in lines
    assert "BI-RADS 4A for the right breast needs at least one finding on that side" in lines


def test_sign_confirms_a_summary_then_signs(panel, qtbot, dialogs):
    for side in ("R", "L"):
        _set(panel.birads[side], "1")
        _set(panel.density[side], "b")
    _set(panel.recommendation, "routine")
    with qtbot.waitSignal(panel.sign_requested, timeout=1000):
        panel.sign.click()
    ((title, text),) = dialogs
    assert title == "Sign the read?"
    assert "Overall assessment: BI-RADS 1 - negative" in text
    assert "Recommendation: routine screening mammography" in text and "Findings: 0" in text


def test_a_legacy_category_is_shown_but_not_offered(panel):
    legacy = Read.from_json('{"birads": {"R": 4, "L": 1}, "density": {"R": "b", "L": "b"}}')
    stored = StoredRead(1, "1.2.3", "Dr A", "2024-01-01T00:00:00+00:00",
                        "2024-01-01T00:10:00+00:00", None, legacy, "")
    panel.show_read(stored, [])
    assert panel.birads["R"].currentData() == "4" and panel.locked
    panel.show_read(None, [])
    assert panel.birads["R"].findData("4") < 0


def test_reading_time_adds_up_while_the_read_is_open(panel):
    draft = Read(reading_time_s=30.0)
    panel.show_read(StoredRead(1, "1.2.3", "Dr A", "2024", None, None, draft, ""), [])
    assert panel.read().reading_time_s >= 30.0
