"""PySide6 defects that abort a long session are kept out.

PySide6 6.12.0's Signal.emit drops a reference to the bool it returns, so a
few thousand emits abort the process ("deallocating True or False"); the
dependency excludes it.  Queued signals delivered to a method across threads
lose references to None (measured with 6.11), so background results reach
the GUI thread through a queue instead (ui/operations.py)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

from ui.operations import Operations


class _Emitter(QObject):
    fired = Signal(int, object)


def test_emitting_a_signal_keeps_the_references_it_returns(qtbot):
    emitter = _Emitter()
    emitter.fired.connect(lambda _i, _o: None)
    before = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(2000):
        emitter.fired.emit(i, None)
    assert (sys.getrefcount(True), sys.getrefcount(False)) == before


def test_background_results_reach_the_gui_thread_in_order_of_completion(qtbot):
    ops = Operations(2)
    got: list[object] = []
    for i in range(200):
        ops.run(lambda i=i: None if i % 2 else i, got.append)
    qtbot.waitUntil(lambda: len(got) == 200, timeout=10000)
    assert sorted(x for x in got if x is not None) == list(range(0, 200, 2))
    assert got.count(None) == 100
    ops.close()
