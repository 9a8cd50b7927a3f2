"""The main window: a sidebar for connections and a central area for their pages.

The sidebar is the explorer tree (``app.explorer``): several connections at once, each
with its own colour, each with its own ``ClientService`` and ``EventBridge``. Closing a
connection closes its client. The status bar shows the topology type and the primary of
the selected connection (from its bridge's SDAM events); the log panel lists command
monitoring events of every connection, redacted.

Each connection also gets a ``ClusterHealth`` made right after its bridge, so the health
timeline starts at connect. Activating the connection's row (or View → Cluster health)
opens its overview page: a "Cluster" tab (topology diagram, sparklines, timeline) and a
"Performance" tab (serverStatus charts, current operations); both poll only while shown
and are stopped before the connection's client closes. A connection that fails offers
"Diagnose…", which runs the connection doctor on its URI; Help → Connection doctor… opens
it for the current (or a typed) URI. View → Theme switches between System, Light and
Dark and remembers the choice in the preferences (``settings.json``).

The sidebar and the right-hand stack (welcome text or page tabs) share one splitter whose
sizes are set once: opening or closing pages never moves the sidebar.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

from app import __version__
from app.explorer.panel import ExplorerPanel
from app.explorer.tree_model import Connection, ConnectionTreeModel

if TYPE_CHECKING:
    from app.cluster.doctor_view import DoctorView
    from app.cluster.health_model import ClusterHealth
    from app.services.worker import WorkerPool

LOG_PANEL_MAX_LINES = 5000
CLUSTER_HEALTH_SHORTCUT = "Ctrl+Shift+H"
PERFORMANCE_SHORTCUT = "Ctrl+Shift+P"
DOCTOR_SHORTCUT = "Ctrl+Shift+D"
SIDEBAR_WIDTH = 360  # the explorer's width at start; the user's drag is kept after that


class ConnectionOverview(QTabWidget):
    """One connection's overview page: its "Cluster" and "Performance" tabs.

    Only the current tab is shown, so only it polls (both views start polling when shown
    and stop when hidden); ``close_page`` stops both before the page goes away.
    """

    def __init__(self, connection: Connection, health: ClusterHealth,
                 parent: QWidget | None = None) -> None:
        from app.cluster.common import ServiceClusterSource
        from app.cluster.health_view import HealthView
        from app.cluster.performance import PerformanceView

        super().__init__(parent)
        self.setObjectName("connectionOverview")
        self.setDocumentMode(True)
        self.connection = connection
        self.service = connection.service  # how the window finds a connection's pages
        self.health = health
        self.health_view = HealthView(health)
        self.performance = PerformanceView(ServiceClusterSource(connection.service))
        self.addTab(self.health_view, "Cluster")
        self.addTab(self.performance, "Performance")

    def show_cluster(self) -> None:
        self.setCurrentWidget(self.health_view)

    def show_performance(self) -> None:
        self.setCurrentWidget(self.performance)

    def close_page(self) -> None:
        self.performance.shutdown()
        self.health.stop()


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
        self.demo_connection: Connection | None = None  # the demo replica set's row
        self._topologies: dict[int, tuple[str, str | None]] = {}
        self.cluster_healths: dict[int, ClusterHealth] = {}  # by Connection.ident
        self.connection_bridges: dict[int, Any] = {}  # EventBridge by Connection.ident
        self.doctor: DoctorView | None = None
        self.failure_box: QMessageBox | None = None  # the last "could not open" notice
        self.resize(1200, 780)
        splitter = self.splitter = QSplitter(self)
        self.tree_model = ConnectionTreeModel(self)
        self.explorer = ExplorerPanel(self.tree_model, splitter)
        self.sidebar = self.explorer
        self.explorer.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.explorer.close_requested.connect(self._close_requested)
        self.explorer.view.selectionModel().currentChanged.connect(
            lambda *_: self._selection_changed())
        self.tree_model.load_failed.connect(self._load_failed)
        # The right-hand part is one stack (welcome text or page tabs): the splitter
        # always has the same two widgets, so opening a page never moves the sidebar.
        self.central = QStackedWidget(splitter)
        self.welcome = QLabel(
            f"Binnacle {__version__}\nA desktop explorer for MongoDB clusters", self.central
        )
        self.welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # Collection pages, one tab each, opened by activating a collection in the tree.
        self.pages = QTabWidget(self.central)
        self.pages.setObjectName("collectionPages")
        self.pages.setTabsClosable(True)
        self.pages.setDocumentMode(True)
        self.pages.tabCloseRequested.connect(lambda number: self.close_page(
            self.pages.widget(number)))
        self.central.addWidget(self.welcome)
        self.central.addWidget(self.pages)
        self.central.setCurrentWidget(self.welcome)
        self.read_only_connections: set[int] = set()  # Connection.ident of read-only ones
        self._query_store: Any = None
        self._view_settings: Any = None
        self.explorer.view.activated.connect(self._tree_activated)
        # Set once (opening a page no longer touches them): a window resize goes mostly
        # to the pages; the sidebar keeps the width the user dragged it to.
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([SIDEBAR_WIDTH, 1200 - SIDEBAR_WIDTH])
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
        view_menu.addSeparator()
        self.cluster_action = QAction("&Cluster health", self)
        self.cluster_action.setShortcut(QKeySequence(CLUSTER_HEALTH_SHORTCUT))
        self.cluster_action.triggered.connect(lambda: self.show_cluster())
        view_menu.addAction(self.cluster_action)
        self.performance_action = QAction("&Performance", self)
        self.performance_action.setShortcut(QKeySequence(PERFORMANCE_SHORTCUT))
        self.performance_action.triggered.connect(lambda: self.show_cluster(performance=True))
        view_menu.addAction(self.performance_action)
        view_menu.addSeparator()
        self.theme_menu = view_menu.addMenu("&Theme")
        self.theme_group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for preference, text in (("system", "&System"), ("light", "&Light"),
                                 ("dark", "&Dark")):
            theme_action = QAction(text, self.theme_group)
            theme_action.setCheckable(True)
            theme_action.triggered.connect(
                lambda _=False, chosen=preference: self.set_theme(chosen))
            self.theme_menu.addAction(theme_action)
            self.theme_actions[preference] = theme_action
        self.theme_menu.aboutToShow.connect(self._check_current_theme)
        self._check_current_theme()
        self.preferences: Any = None  # app.settings.Preferences, loaded on first change
        database_menu = self.menuBar().addMenu("&Database")
        for act in (self.explorer.create_database_action,
                    self.explorer.create_collection_action, self.explorer.drop_action):
            database_menu.addAction(act)
        help_menu = self.menuBar().addMenu("&Help")
        self.doctor_action = QAction("Connection &doctor…", self)
        self.doctor_action.setShortcut(QKeySequence(DOCTOR_SHORTCUT))
        self.doctor_action.triggered.connect(self._doctor_for_current)
        help_menu.addAction(self.doctor_action)

        self.topology_label = QLabel("Not connected")
        self.primary_label = QLabel("")
        self.statusBar().addPermanentWidget(self.primary_label)
        self.statusBar().addPermanentWidget(self.topology_label)

    def open_connect_dialog(self) -> None:
        """Show the connection dialog (imported on first use: it loads driver.connection_string.uri)."""
        from app.connect.dialog import ConnectionDialog

        dialog = ConnectionDialog(parent=self, favorites=self.favorites)
        dialog.accepted.connect(lambda: self._connection_chosen(dialog.uri(), dialog.read_only))
        dialog.open()

    def _connection_chosen(self, uri: str, read_only: bool = False) -> None:
        # The dialog already remembered it in the recents. Opened from a timer, so the
        # coroutine is made only once the event loop is running it.
        QTimer.singleShot(0, self, lambda: self.spawn(
            lambda: self.open_connection(uri, read_only=read_only)))

    # -- theme ------------------------------------------------------------------------
    def _check_current_theme(self) -> None:
        from app.theme import current_preference

        app = QApplication.instance()
        if isinstance(app, QApplication):
            self.theme_actions[current_preference(app)].setChecked(True)

    def set_theme(self, preference: str) -> asyncio.Future[Any] | None:
        """View > Theme: apply ``preference`` now and remember it in the preferences
        (read and written on a worker: the GUI thread never waits on a file)."""
        from app.theme import apply_theme

        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, preference)
        self.theme_actions[preference].setChecked(True)
        return self.spawn(lambda: self._save_theme(preference))

    async def _save_theme(self, preference: str) -> None:
        from app.settings import Preferences

        def save() -> Any:
            preferences = self.preferences or Preferences()
            preferences.theme = preference
            preferences.save()
            return preferences

        try:
            self.preferences = await self.worker_pool().submit(save)
        except OSError as exc:
            self.statusBar().showMessage(f"The theme was not saved: {exc}", 10000)

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
        from app.cluster.common import ServiceClusterSource
        from app.cluster.health_model import ClusterHealth
        from app.services.bridge import EventBridge
        from app.services.client_service import ClientService

        bridge = EventBridge(self)
        kwargs: dict[str, Any] = {"pool": self.worker_pool(), "bridge": bridge}
        if self.client_factory is not None:
            kwargs["client_factory"] = self.client_factory
        service = ClientService(uri, **kwargs)
        # Listening from now on: the timeline starts at connect, whether or not (and
        # however late) the Cluster tab is opened.
        health = ClusterHealth(bridge, ServiceClusterSource(service), self)
        connection = self.tree_model.add_connection(label or connection_label(uri), service,
                                                    color)
        self.cluster_healths[connection.ident] = health
        self.connection_bridges[connection.ident] = bridge
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
        elif node is not None and node.kind == "connection":
            self.show_cluster(node.root_connection())

    def _show_page(self, page: QWidget, title: str, tooltip: str) -> None:
        number = self.pages.indexOf(page)
        if number < 0:
            number = self.pages.addTab(page, title)
            self.pages.setTabToolTip(number, tooltip)
        self.pages.setCurrentIndex(number)
        self._show_central(pages=True)

    def _show_central(self, *, pages: bool) -> None:
        """Show the page tabs or the welcome text in the right-hand part (one stack, so
        the splitter's sizes, and the sidebar's width, stay as they are)."""
        self.central.setCurrentWidget(self.pages if pages else self.welcome)

    def current_connection(self) -> Connection | None:
        """The selected connection, else the newest one (None when there is none)."""
        connection = self.explorer.selected_connection()
        if connection is None and self.tree_model.connections:
            connection = self.tree_model.connections[-1]
        return connection

    def overview(self, connection: Connection) -> ConnectionOverview | None:
        """The connection's overview page, if open."""
        for number in range(self.pages.count()):
            page = self.pages.widget(number)
            if isinstance(page, ConnectionOverview) and page.connection is connection:
                return page
        return None

    def show_cluster(self, connection: Connection | None = None, *,
                     performance: bool = False) -> ConnectionOverview | None:
        """Open (or bring forward) the connection's overview on its Cluster tab (or its
        Performance tab); the current connection when none is given."""
        connection = connection or self.current_connection()
        if connection is None or connection.ident not in self.cluster_healths:
            self.statusBar().showMessage("Connect to a cluster first", 5000)
            return None
        page = self.overview(connection)
        if page is None:
            page = ConnectionOverview(connection, self.cluster_healths[connection.ident],
                                      self.pages)
        if performance:
            page.show_performance()
        else:
            page.show_cluster()
        self._show_page(page, connection.label, f"{connection.label}: cluster overview")
        return page

    def cluster_health(self, connection: Connection) -> ClusterHealth | None:
        return self.cluster_healths.get(connection.ident)

    # -- the connection doctor --------------------------------------------------------
    def open_doctor(self, uri: str = "", *, run: bool = False) -> DoctorView:
        """Show the connection doctor (one page, reused) for ``uri``; ``run`` starts it."""
        from app.cluster.doctor_view import DoctorView

        if self.doctor is None:
            self.doctor = DoctorView(self.worker_pool(), uri, self.pages)
            self.doctor.setObjectName("connectionDoctor")
            self.doctor.retry_requested.connect(self._doctor_retry)
            self.doctor.finished.connect(self._doctor_finished)
        elif uri:
            self.doctor.set_uri(uri)
        self._show_page(self.doctor, "Connection doctor",
                        "Diagnose a connection string step by step")
        if run and self.doctor.current_uri():
            self.doctor.start()
        return self.doctor

    def _doctor_for_current(self) -> None:
        connection = self.current_connection()
        self.open_doctor(connection.service.uri if connection is not None else "")

    def _doctor_retry(self, uri: str) -> None:
        self.spawn(lambda: self.open_connection(uri))

    def _doctor_finished(self, report: Any) -> None:
        failed = report.failed_step
        self.statusBar().showMessage(
            "Connection doctor: every step passed" if failed is None
            else f"Connection doctor: failed at {failed.name}", 15000)

    def open_collection(self, connection: Connection, db: str, collection: str) -> Any:
        """Show the page of ``db.collection`` (a new tab, or the one already open)."""
        from app.documents.collection_page import CollectionPage
        from app.documents.query.history import QueryStore
        from app.documents.views.document_views import ViewSettings
        from app.settings import atomic_write

        for number in range(self.pages.count()):
            page: Any = self.pages.widget(number)
            # Other tabs (a connection's overview, the doctor) have no db/collection.
            if (isinstance(page, CollectionPage) and page.service is connection.service
                    and page.db == db and page.collection == collection):
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
        self._show_central(pages=True)
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
                if hasattr(open_page, "set_read_only"):
                    open_page.set_read_only(read_only)
        self._selection_changed()

    def close_page(self, page: Any) -> None:
        number = self.pages.indexOf(page)
        if number < 0:
            return
        if self.doctor is not None and page is self.doctor:
            self.doctor.cancel()
            self.doctor = None
        else:
            page.close_page()
        self.pages.removeTab(number)
        page.deleteLater()
        if self.pages.count() == 0:
            self._show_central(pages=False)

    async def close_connection(self, connection: Connection) -> None:
        """Remove the connection's row and close its client (monitors, pools)."""
        for number in reversed(range(self.pages.count())):
            page = self.pages.widget(number)
            if getattr(page, "service", None) is connection.service:
                self.close_page(page)
        self._stop_health(connection)
        self.tree_model.remove_connection(connection)
        self.read_only_connections.discard(connection.ident)
        self._topologies.pop(connection.ident, None)
        self._show_current_topology()
        await connection.service.close()
        self.statusBar().showMessage(f"Closed {connection.label}", 5000)

    def _stop_health(self, connection: Connection) -> None:
        """Stop the connection's health polling (before its client closes)."""
        if self.demo_connection is connection:
            self.demo_connection = None
        self.connection_bridges.pop(connection.ident, None)
        health = self.cluster_healths.pop(connection.ident, None)
        if health is not None:
            health.stop()
            health.deleteLater()

    async def shutdown(self) -> None:
        """Close every connection (main awaits this after the loop stops)."""
        self.tree_model.cancel_all()
        for number in reversed(range(self.pages.count())):
            self.close_page(self.pages.widget(number))
        for connection in self.tree_model.connections:
            self._stop_health(connection)
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
            self._offer_diagnosis(connection, message)

    def _offer_diagnosis(self, connection: Connection, message: str) -> None:
        """"Could not open": OK, or "Diagnose…" (the connection doctor on its URI)."""
        uri = connection.service.uri
        box = QMessageBox(QMessageBox.Icon.Warning, "Binnacle",
                          f"Could not open {connection.label}.\n\n{message}",
                          QMessageBox.StandardButton.Ok, self)
        diagnose = box.addButton("Diagnose…", QMessageBox.ButtonRole.ActionRole)
        box.setDefaultButton(QMessageBox.StandardButton.Ok)

        def clicked(button: QAbstractButton) -> None:
            if button is diagnose:
                self.open_doctor(uri, run=True)

        box.buttonClicked.connect(clicked)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.destroyed.connect(lambda *_: setattr(self, "failure_box", None)
                              if self.failure_box is box else None)
        self.failure_box = box
        box.open()

    def _selection_changed(self) -> None:
        self._show_current_topology()
        # A read-only connection (a favorite's setting) offers no write in the tree.
        connection = self.explorer.selected_connection()
        writable = connection is None or connection.ident not in self.read_only_connections
        for act in (self.explorer.create_database_action,
                    self.explorer.create_collection_action, self.explorer.drop_action):
            act.setEnabled(writable)

    def _show_current_topology(self) -> None:
        connection = self.current_connection()
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
