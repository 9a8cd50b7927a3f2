"""The main window: a sidebar for connections and a central area for their pages.

Later work fills the sidebar tree, the document pages and the health view; this
module keeps only layout and window-level actions.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QSplitter, QWidget

from app import __version__


class MainWindow(QMainWindow):
    """Binnacle's top-level window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Binnacle")
        self.resize(1200, 780)
        splitter = QSplitter(self)
        self.sidebar = QLabel("No connection", splitter)
        self.welcome = QLabel(
            f"Binnacle {__version__}\nA desktop explorer for MongoDB clusters", splitter
        )
        splitter.setStretchFactor(1, 3)
        self.setCentralWidget(splitter)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        quit_action.triggered.connect(self.close)
        self.menuBar().addMenu("&File").addAction(quit_action)
        self.statusBar().showMessage("Not connected")
