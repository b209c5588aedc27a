"""Cloud sync as the radiologist sees it: sign a read, watch it leave."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.library import Library, import_paths, outbox
from ui.sync_status import status_text


def test_status_line_says_what_sync_is_doing():
    idle = {"objects": {s: 0 for s in outbox.STATES}, "phase": "idle"}
    assert status_text(idle, False, False, "") == "offline: no cloud configured"
    assert status_text(idle, True, False, "") == "sync: all sent"
    busy = {"objects": {**idle["objects"], "deidentified": 3, "failed": 1},
            "phase": "uploading", "rate_bps": 2.5e6, "eta_s": 75}
    assert status_text(busy, True, False, "") == ("sync: 3 waiting, 2.5 MB/s, ETA 1 min 15 s, "
                                                  "1 failed")
    assert status_text(busy | {"phase": "offline"}, True, False, "").startswith("sync offline")
    assert status_text(busy, True, True, "") == "sync paused: 3 waiting, 1 failed"
    assert status_text(busy, True, False, "the cloud refused the credentials") == \
        "sync stopped: the cloud refused the credentials"


@pytest.fixture
def window(qtbot, ctx, small_cohort, cloud, monkeypatch, tmp_path, plaintext_keyring):
    from sync.credentials import store_password
    from sync.deid.keys import create_site_secret

    create_site_secret()
    store_password(cloud.user, cloud.password)
    ctx.settings.update({"cloud.url": cloud.url, "cloud.ca_bundle": cloud.ca,
                         "cloud.user": cloud.user, "reader.name": "Dr Synthetic"})
    with Library(ctx.paths.library) as lib:
        import_paths(lib, small_cohort.files[:4])
    from ui.main_window import MainWindow

    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.refresh_worklist()
    qtbot.waitUntil(lambda: w.worklist.model.rowCount() == 1, timeout=10000)
    yield w
    w.sync.stop()


@pytest.mark.slow
def test_signing_sends_the_study_and_the_status_bar_follows(qtbot, window, cloud, monkeypatch):
    import ui.reading_panel

    monkeypatch.setattr(ui.reading_panel, "confirm", lambda *_args: True)  # the summary: yes
    window.sync.start()
    qtbot.waitUntil(lambda: window.sync_label.text() == "sync: all sent", timeout=20000)
    window.open_study(window.worklist.model.rows[0].study_uid)
    panel = window.reading.reading
    qtbot.waitUntil(lambda: window.reading.study is not None, timeout=10000)
    for side in ("R", "L"):
        panel.birads[side].setCurrentIndex(panel.birads[side].findData("1"))
        panel.density[side].setCurrentIndex(panel.density[side].findData("a"))
    panel.recommendation.setCurrentIndex(panel.recommendation.findData("routine"))
    qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: panel.locked, timeout=10000)
    # Four images and the assessment SR reach the server, then the status says so.
    qtbot.waitUntil(lambda: cloud.count() == 5, timeout=60000)
    qtbot.waitUntil(lambda: window.sync_label.text() == "sync: all sent", timeout=20000)
    window.refresh_worklist()
    qtbot.waitUntil(lambda: window.worklist.model.rows[0].status == "sent", timeout=10000)
    # Pausing is remembered and shown.
    window.toggle_sync_pause()
    qtbot.waitUntil(lambda: window.sync_label.text().startswith("sync paused"), timeout=10000)
    assert window.ctx.settings.get("sync.paused") == "yes"
