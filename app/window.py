"""The main window: a sidebar for connections and a central area for their pages.

The sidebar is the explorer tree (``app.explorer``): several connections at once, each
with its own colour, each with its own ``ClientService`` and ``EventBridge``. Closing a
connection closes its client. The status bar shows the topology type and the primary of
the selected connection (from its bridge's SDAM events); the log panel lists command
monitoring events of every connection, redacted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QTabWidget,
    QWidget,
)

from app import __version__
from app.explorer.panel import ExplorerPanel
from app.explorer.tree_model import Connection, ConnectionTreeModel

if TYPE_CHECKING:
    from app.services.worker import WorkerPool

LOG_PANEL_MAX_LINES = 5000


class MainWindow(QMainWindow):
    """Binnacle's top-level window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Binnacle")
        self.favorites: Any = None  # the FavoritesStore, once loaded off the GUI thread
        self.pending_tasks: set[Any] = set()
        self.file_writer: Any = None  # app.settings.QueuedWriter, set by main
        self.pool: WorkerPool | None = None  # set by main; made on first use otherwise
        self._own_pool = False
        self.client_factory: Any = None  # None: the driver's MongoClient
        self.demo: Any = None  # app.demo.DemoCluster in --demo mode
        self.sandbox_menu: Any = None  # app.demo.SandboxMenu in --demo mode
        self._topologies: dict[int, tuple[str, str | None]] = {}
        self.resize(1200, 780)
        splitter = QSplitter(self)
        self.tree_model = ConnectionTreeModel(self)
        self.explorer = ExplorerPanel(self.tree_model, splitter)
        self.sidebar = self.explorer
        self.explorer.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.explorer.close_requested.connect(self._close_requested)
        self.explorer.view.selectionModel().currentChanged.connect(
            lambda *_: self._show_current_topology())
        self.tree_model.load_failed.connect(self._load_failed)
        self.welcome = QLabel(
            f"Binnacle {__version__}\nA desktop explorer for MongoDB clusters", splitter
        )
        self.welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # Collection pages, one tab each, opened by activating a collection in the tree.
        self.pages = QTabWidget(splitter)
        self.pages.setObjectName("collectionPages")
        self.pages.setTabsClosable(True)
        self.pages.setDocumentMode(True)
        self.pages.tabCloseRequested.connect(lambda number: self.close_page(
            self.pages.widget(number)))
        self.pages.hide()
        self.read_only_connections: set[int] = set()  # Connection.ident of read-only ones
        self._query_store: Any = None
        self._view_settings: Any = None
        self.explorer.view.activated.connect(self._tree_activated)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([480, 720])
        self.setCentralWidget(splitter)

        file_menu = self.menuBar().addMenu("&File")
        self.connect_action = QAction("&Connect…", self)
        self.connect_action.setShortcut(QKeySequence(QKeySequence.StandardKey.New))
        self.connect_action.triggered.connect(self.open_connect_dialog)
        file_menu.addAction(self.connect_action)
        file_menu.addAction(self.explorer.close_connection_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        self.log_panel = QPlainTextEdit()
        self.log_panel.setObjectName("logPanel")
        self.log_panel.setReadOnly(True)
        self.log_panel.setMaximumBlockCount(LOG_PANEL_MAX_LINES)
        self.log_panel.setPlaceholderText("Command monitoring events appear here.")
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("logDock")
        self.log_dock.setWidget(self.log_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.log_dock.hide()
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.explorer.refresh_action)
        view_menu.addAction(self.log_dock.toggleViewAction())
        database_menu = self.menuBar().addMenu("&Database")
        for act in (self.explorer.create_database_action,
                    self.explorer.create_collection_action, self.explorer.drop_action):
            database_menu.addAction(act)

        self.topology_label = QLabel("Not connected")
        self.primary_label = QLabel("")
        self.statusBar().addPermanentWidget(self.primary_label)
        self.statusBar().addPermanentWidget(self.topology_label)

    def open_connect_dialog(self) -> None:
        """Show the connection dialog (imported on first use: it loads driver.uri)."""
        from app.connect.dialog import ConnectionDialog

        dialog = ConnectionDialog(parent=self, favorites=self.favorites)
        dialog.accepted.connect(lambda: self._connection_chosen(dialog.uri()))
        dialog.open()

    def _connection_chosen(self, uri: str) -> None:
        # The dialog already remembered it in the recents. Opened from a timer, so the
        # coroutine is made only once the event loop is running it.
        QTimer.singleShot(0, self, lambda: self.spawn(lambda: self.open_connection(uri)))

    # -- connections ------------------------------------------------------------------
    def spawn(self, make: Callable[[], Coroutine[Any, Any, Any]]) -> asyncio.Future[Any] | None:
        """Run the coroutine ``make()`` on the loop; main waits for or cancels these at exit.

        None (and nothing made) when no event loop exists, e.g. a window in a test
        without one.
        """
        from app.services.worker import start_task

        return start_task(make, self.pending_tasks)

    def worker_pool(self) -> WorkerPool:
        if self.pool is None:
            from app.services.worker import WorkerPool

            self.pool, self._own_pool = WorkerPool(max_workers=4), True
        return self.pool

    async def open_connection(self, uri: str, label: str | None = None,
                              color: str | None = None, *, read_only: bool = False
                              ) -> Connection:
        """Open a connection as a new tree row and load its databases.

        Returns once the databases are listed; a failure (wrong password, no server)
        is shown on the row and in the status bar, not raised. ``read_only`` (a
        favorite's setting) disables every write path of its collection pages.
        """
        from app.services.bridge import EventBridge
        from app.services.client_service import ClientService

        bridge = EventBridge(self)
        kwargs: dict[str, Any] = {"pool": self.worker_pool(), "bridge": bridge}
        if self.client_factory is not None:
            kwargs["client_factory"] = self.client_factory
        service = ClientService(uri, **kwargs)
        connection = self.tree_model.add_connection(label or connection_label(uri), service,
                                                    color)
        if read_only:
            self.read_only_connections.add(connection.ident)
        self.attach_bridge(bridge, connection)
        self.explorer.select(connection.node)
        self.statusBar().showMessage(f"Connecting to {connection.label}…", 5000)
        try:
            await self.tree_model.load(connection.node)
        except RuntimeError:
            pass  # the row shows the error; _load_failed told the user
        else:
            self.explorer.expand_connection(connection)
            count = len(connection.node.children)
            self.statusBar().showMessage(f"Connected to {connection.label}: {count} databases",
                                         8000)
        return connection

    def _close_requested(self, connection: Connection) -> None:
        self.spawn(lambda: self.close_connection(connection))

    # -- collection pages ---------------------------------------------------------
    def _tree_activated(self, index: Any) -> None:
        node = self.tree_model.node(index.siblingAtColumn(0))
        if node is not None and node.kind == "collection" and node.parent is not None:
            self.open_collection(node.root_connection(), node.parent.name, node.name)

    def open_collection(self, connection: Connection, db: str, collection: str) -> Any:
        """Show the page of ``db.collection`` (a new tab, or the one already open)."""
        from app.documents.collection_page import CollectionPage
        from app.documents.document_views import ViewSettings
        from app.documents.history import QueryStore
        from app.settings import atomic_write

        for number in range(self.pages.count()):
            page: Any = self.pages.widget(number)
            if (getattr(page, "service", None) is connection.service and page.db == db
                    and page.collection == collection):
                self.pages.setCurrentIndex(number)
                return page
        if self._query_store is None:
            self._query_store = QueryStore()
            self._view_settings = ViewSettings(writer=self.file_writer or atomic_write)
        page = CollectionPage(
            connection.service, db, collection,
            read_only=connection.ident in self.read_only_connections,
            store=self._query_store, settings=self._view_settings,
            connection_key=connection.label, parent=self.pages)
        page.writeFinished.connect(lambda text: self.statusBar().showMessage(text, 8000))
        number = self.pages.addTab(page, f"{db}.{collection}")
        self.pages.setTabToolTip(number, f"{connection.label}: {db}.{collection}")
        self.pages.setCurrentIndex(number)
        self.welcome.hide()
        self.pages.show()
        page.query()
        return page

    def set_read_only(self, connection: Connection, read_only: bool) -> None:
        """Turn read-only mode on or off for a connection and its open pages."""
        if read_only:
            self.read_only_connections.add(connection.ident)
        else:
            self.read_only_connections.discard(connection.ident)
        for number in range(self.pages.count()):
            open_page: Any = self.pages.widget(number)
            if getattr(open_page, "service", None) is connection.service:
                open_page.set_read_only(read_only)

    def close_page(self, page: Any) -> None:
        number = self.pages.indexOf(page)
        if number < 0:
            return
        page.close_page()
        self.pages.removeTab(number)
        page.deleteLater()
        if self.pages.count() == 0:
            self.pages.hide()
            self.welcome.show()

    async def close_connection(self, connection: Connection) -> None:
        """Remove the connection's row and close its client (monitors, pools)."""
        for number in reversed(range(self.pages.count())):
            page = self.pages.widget(number)
            if getattr(page, "service", None) is connection.service:
                self.close_page(page)
        self.tree_model.remove_connection(connection)
        self._topologies.pop(connection.ident, None)
        self._show_current_topology()
        await connection.service.close()
        self.statusBar().showMessage(f"Closed {connection.label}", 5000)

    async def shutdown(self) -> None:
        """Close every connection (main awaits this after the loop stops)."""
        self.tree_model.cancel_all()
        for number in reversed(range(self.pages.count())):
            self.close_page(self.pages.widget(number))
        for connection in self.tree_model.connections:
            self.tree_model.remove_connection(connection)
            try:
                await connection.service.close()
            except Exception:  # noqa: BLE001 - closing at exit: nothing left to tell
                pass
        if self._own_pool and self.pool is not None:
            self.pool.shutdown(wait=False)

    def _load_failed(self, connection: Connection, message: str) -> None:
        self.statusBar().showMessage(f"{connection.label}: {message}", 20000)
        if connection.node.error:  # the connection itself failed (not one database)
            self.tell_user([f"Could not open {connection.label}.\n\n{message}"])

    def _show_current_topology(self) -> None:
        connection = self.explorer.selected_connection()
        if connection is None and self.tree_model.connections:
            connection = self.tree_model.connections[-1]
        summary = self._topologies.get(connection.ident) if connection else None
        if summary is None:
            self.topology_label.setText("Not connected" if connection is None else "Connecting…")
            self.primary_label.setText("")
        else:
            self.show_topology(*summary)

    # -- status bar and log -----------------------------------------------------------
    def show_topology(self, topology_type: str, primary: str | None) -> None:
        """Status bar: the topology type and the primary (``None``: no primary)."""
        self.topology_label.setText(topology_type)
        self.primary_label.setText(f"Primary: {primary}" if primary else "No primary")

    def attach_bridge(self, bridge: Any, connection: Connection | None = None) -> None:
        """Feed the status bar and log panel from an ``EventBridge`` (GUI-thread signals).

        With a ``connection``, its topology is remembered and shown while it is the
        selected one, and its log lines are prefixed with its name.
        """
        from app.services.bridge import describe_command_event, topology_summary

        def on_topology(kind: str, event: Any) -> None:
            if connection is not None:
                if kind == "description_changed":
                    self._topologies[connection.ident] = topology_summary(
                        event.new_description)
                    self._show_current_topology()
                return
            if kind == "description_changed":
                self.show_topology(*topology_summary(event.new_description))
            elif kind == "closed":
                self.topology_label.setText("Not connected")
                self.primary_label.setText("")

        def on_command(kind: str, event: Any) -> None:
            line = describe_command_event(kind, event)
            self.append_log(f"[{connection.label}] {line}" if connection is not None else line)

        bridge.topology_event.connect(on_topology)
        bridge.command_event.connect(on_command)

    def append_log(self, line: str) -> None:
        """Add one (already redacted) line to the log panel."""
        self.log_panel.appendPlainText(line)

    def tell_user(self, notices: list[str] | tuple[str, ...]) -> None:
        """Show notices from start-up (a favorites file kept aside...) without blocking."""
        if not notices:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Binnacle", "\n\n".join(notices),
                          QMessageBox.StandardButton.Ok, self)
        box.setModal(False)
        box.open()
        self.statusBar().showMessage(notices[0], 15000)


def connection_label(uri: str) -> str:
    """A short name for a connection: its hosts, never its credentials."""
    rest = uri.split("://", 1)[-1]
    hosts = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    return hosts.replace(",", ", ") or uri.split("://", 1)[0]
