"""Test-wide settings: offscreen Qt for every test (pytest-qt's widgets need no screen)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
