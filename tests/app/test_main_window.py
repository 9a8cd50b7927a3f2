"""The main window opens and closes cleanly; ``--version`` answers without Qt."""

from __future__ import annotations

import subprocess
import sys

from app import __version__
from app.window import MainWindow


def test_main_window_opens_and_closes(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == "Binnacle"
    assert window.close()


def test_version_flag_prints_version():
    out = subprocess.run(
        [sys.executable, "-m", "app.main", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"Binnacle {__version__}"


def test_smoke_test_flag_exits_zero():
    out = subprocess.run(
        [sys.executable, "-m", "app.main", "--smoke-test"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.returncode == 0, out.stderr
    assert "binnacle smoke test: window shown" in out.stdout
