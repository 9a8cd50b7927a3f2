"""Regression: PySide6 6.12.0 on Python 3.11 dropped a reference to ``None`` on each
void Qt call and aborted after ~5,000. Our pin (<6.12 on 3.11) must keep 20,000 safe."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel


def test_twenty_thousand_void_calls_keep_none_alive(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    timer = QTimer()
    before = sys.getrefcount(None)
    for i in range(20_000):
        label.setText(str(i))  # void call
        timer.start(1000)  # void call
        timer.stop()
    after = sys.getrefcount(None)
    assert label.text() == "19999"
    # Immortal None (3.12+) has a huge fixed count; on 3.11 the count must not fall
    # by one per call (a leak of 60,000 would be visible as a large drop).
    assert after >= before - 100
