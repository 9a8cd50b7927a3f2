"""PyInstaller runtime hook: runs in the bundle before ``binnacle_main``.

qasync picks its Qt binding by trying PyQt5, PyQt6 and PySide2 before PySide6 unless
``QT_API`` names one; saying so up front skips three failed imports at every start.
"""

import os

os.environ.setdefault("QT_API", "pyside6")
