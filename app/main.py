"""Binnacle's entry point: argument parsing, then a QApplication on a qasync loop.

Qt and everything heavy are imported only after the arguments are parsed, so
``binnacle --version`` and ``--help`` answer without loading Qt, and the first window
paints before the driver or the sandbox are imported.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from app import __version__

if TYPE_CHECKING:  # only for annotations: keeps --version and --help free of Qt
    import asyncio

    from app.services.worker import WorkerPool
    from app.window import MainWindow


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
        help="open the window (with --demo: and the demo tree), print one line once it is "
        "shown, and exit 0; exit 1 with the reason on failure (for CI)",
    )
    # For benchmarks/app_start.py: print "first-paint <epoch s>" (and, with --demo,
    # "demo-tree <epoch s>") and exit once what is measured has happened.
    parser.add_argument("--report-timings", action="store_true", help=argparse.SUPPRESS)
    return parser


def _set_window_icon(app: object) -> None:
    """The application icon from resources/ (the same path from source and in the bundle);
    PNGs, so QtSvg is not loaded at start-up."""
    from pathlib import Path

    from PySide6.QtGui import QIcon

    icons = Path(__file__).resolve().parent.parent / "resources" / "icons" / "hicolor"
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256):
        path = icons / f"{size}x{size}" / "apps" / "io.github.binnacle.Binnacle.png"
        if path.is_file():
            icon.addFile(str(path))
    app.setWindowIcon(icon)  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program; returns the process exit code."""
    args = build_parser().parse_args(argv)

    # Before Qt: a rotating, redacting log file in the platform's log folder.
    from app.logs import setup_logging

    setup_logging()

    import asyncio

    import qasync
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.theme import apply_theme, follow_system
    from app.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Binnacle")
    app.setOrganizationName("Binnacle")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("io.github.binnacle.Binnacle")
    _set_window_icon(app)
    apply_theme(app, "system")
    follow_system(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow()
    if args.report_timings:
        _report_first_paint(window, quit_after=not args.demo)
    window.show()

    from app.services.worker import WorkerPool

    pool = WorkerPool(max_workers=4)
    window.pool = pool
    # After the first paint: load favorites on a worker (file I/O stays off the GUI
    # thread) and tell the user about anything that was kept aside. With nothing to
    # open (no URI, no --demo), the connection dialog follows.
    ask = not (args.uri or args.demo or args.smoke_test or args.report_timings)
    QTimer.singleShot(0, lambda: _load_favorites(loop, pool, window, ask_for_connection=ask))
    if args.demo and args.smoke_test:
        from app.demo import run_smoke_test

        QTimer.singleShot(0, lambda: run_smoke_test(window, app))
    elif args.demo:
        QTimer.singleShot(0, lambda: _start_demo(window, report=args.report_timings))
    elif args.smoke_test:
        def report() -> None:
            print(f"binnacle smoke test: window shown ({window.windowTitle()})", flush=True)
            window.close()
            app.quit()

        QTimer.singleShot(0, report)
    if args.uri and not args.demo:
        uri = args.uri
        QTimer.singleShot(0, lambda: window.spawn(lambda: window.open_connection(uri)))
    try:
        with loop:
            code = loop.run_forever()
            # Quit can come before background tasks finish: cancel them while the
            # loop still exists, so none is destroyed pending; then close the clients.
            tasks = [t for t in window.pending_tasks if not t.done()]
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(_shutdown(window))
    finally:
        if window.demo is not None:
            window.demo.stop()  # the sandbox's sockets and thread end with the program
        pool.shutdown(wait=False)
        if window.file_writer is not None:
            window.file_writer.close()  # the last favorites change reaches the disk
    return int(code or 0)


async def _shutdown(window: MainWindow) -> None:
    import asyncio

    try:
        await asyncio.wait_for(window.shutdown(), timeout=5)
    except TimeoutError:
        pass  # a client that will not close in 5 s must not hold the exit up


def _start_demo(window: MainWindow, *, report: bool) -> None:
    from app.demo import start_demo

    async def run() -> None:
        connection = await start_demo(window)
        if report:
            import time

            count = len(connection.node.children)
            print(f"demo-tree {time.time():.6f} {count}", flush=True)
            window.close()
            from PySide6.QtWidgets import QApplication

            QApplication.exit(0 if count else 1)

    window.spawn(run)


def _report_first_paint(window: MainWindow, *, quit_after: bool) -> None:
    """Print the wall-clock time just after the window's first paint has finished."""
    import time

    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    class FirstPaint(QObject):
        done = False

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if not self.done and event.type() == QEvent.Type.Paint:
                self.done = True
                # Stamped on the next turn of the loop: after this whole paint and the
                # flush to the (offscreen) screen are finished.
                QTimer.singleShot(0, stamp)
            return False

    def stamp() -> None:
        print(f"first-paint {time.time():.6f}", flush=True)
        if quit_after:
            window.close()
            QApplication.exit(0)

    watcher = FirstPaint(window)
    window.installEventFilter(watcher)


def _load_favorites(
    loop: asyncio.AbstractEventLoop, pool: WorkerPool, window: MainWindow, *,
    ask_for_connection: bool = False,
) -> None:
    import asyncio

    from PySide6.QtWidgets import QApplication

    from app.connect.favorites import FavoritesStore
    from app.connect.secrets import default_secret_store
    from app.settings import Preferences, QueuedWriter
    from app.theme import apply_theme

    writer = QueuedWriter()
    window.file_writer = writer

    def read_files() -> tuple[Preferences, FavoritesStore]:
        # Worker thread: the keychain probe and both files (never on the GUI thread).
        return Preferences(), FavoritesStore(secret_store=default_secret_store(), writer=writer)

    async def load() -> None:
        try:
            preferences, store = await pool.submit(read_files)
            if preferences.theme != "system":
                app = QApplication.instance()
                if isinstance(app, QApplication):
                    apply_theme(app, preferences.theme)
            window.favorites = store
            window.tell_user([*preferences.notices, *store.notices])
        finally:
            if ask_for_connection:  # with the favorites, if they loaded
                window.open_connect_dialog()

    window.pending_tasks.add(asyncio.ensure_future(load(), loop=loop))


if __name__ == "__main__":
    raise SystemExit(main())
