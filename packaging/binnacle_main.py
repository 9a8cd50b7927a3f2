"""The script PyInstaller freezes: starts Binnacle exactly as the ``binnacle`` command does.

Kept apart from ``app/main.py`` so the bundle has a plain script entry point while the
installed package keeps its ``app.main:main`` console script.
"""

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())
