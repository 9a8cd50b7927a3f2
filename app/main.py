"""Binnacle's entry point: argument parsing, then a QApplication on a qasync loop.

Qt and everything heavy are imported only after the arguments are parsed, so
``binnacle --version`` and ``--help`` answer without loading Qt, and the first window
paints before the driver or the sandbox are imported.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app import __version__


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``binnacle``."""
    parser = argparse.ArgumentParser(
        prog="binnacle", description="A desktop explorer for MongoDB clusters."
    )
    parser.add_argument("--version", action="version", version=f"Binnacle {__version__}")
    parser.add_argument("uri", nargs="?", help="a connection string to open at start")
    parser.add_argument(
        "--demo", action="store_true", help="start a local demo replica set and connect to it"
    )
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="open the window, print one line once it is shown, and exit 0 (for CI)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program; returns the process exit code."""
    args = build_parser().parse_args(argv)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Binnacle")
    app.setOrganizationName("Binnacle")
    app.setApplicationVersion(__version__)
    window = MainWindow()
    window.show()
    if args.smoke_test:
        def report() -> None:
            print(f"binnacle smoke test: window shown ({window.windowTitle()})", flush=True)
            window.close()
            app.quit()

        QTimer.singleShot(0, report)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
