"""The sidebar panel: the connection tree view and its actions.

Actions follow the platform's keys where Qt has a standard one (``Refresh``,
``Delete``, ``Close``); each works on the selected row. Creating and dropping ask first
(a drop needs the name typed), then run through the connection's ``ClientService``
and refresh the affected branch. Failures are reported through ``message``, never
raised into Qt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHeaderView, QMenu, QTreeView, QVBoxLayout, QWidget

from app.explorer.dialogs import ConfirmDropDialog, CreateDialog
from app.explorer.tree_model import Connection, ConnectionTreeModel, Node, describe_error
from app.services.worker import start_task


class ExplorerPanel(QWidget):
    """The tree of open connections with refresh / create / drop / close actions."""

    message = Signal(str)  # a line for the status bar (success or failure, in words)
    close_requested = Signal(object)  # Connection the user wants closed

    def __init__(self, model: ConnectionTreeModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.tasks: set[asyncio.Future[Any]] = set()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.view = QTreeView(self)
        self.view.setObjectName("connectionTree")
        self.view.setModel(model)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        header = self.view.header()
        # The name column is as wide as its longest name ("Demo replica set", not
        # "Demo r…"), measured when rows arrive rather than on every repaint; the last
        # column takes what is left.
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        for column in range(1, model.columnCount()):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        for loaded in (model.databases_loaded, model.collections_loaded):
            loaded.connect(lambda *_: self.fit_name_column())
        model.rowsInserted.connect(lambda *_: self.fit_name_column())
        self.view.expanded.connect(lambda *_: self.fit_name_column())
        layout.addWidget(self.view)

        def action(text: str, slot: Callable[[], Any], key: Any = None) -> QAction:
            act = QAction(text, self)
            if key is not None:
                act.setShortcut(QKeySequence(key))
                # The shortcut works while the tree (or a child) has focus; the window
                # adds the same actions to its menus for discoverability.
                act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.refresh_action = action("&Refresh", self.refresh_selected,
                                     QKeySequence.StandardKey.Refresh)
        self.create_database_action = action("Create &database…", self.create_database)
        self.create_collection_action = action("Create co&llection…", self.create_collection,
                                               "Ctrl+Shift+N")
        self.drop_action = action("&Drop…", self.drop_selected, QKeySequence.StandardKey.Delete)
        self.close_connection_action = action("&Close connection", self.close_selected,
                                              QKeySequence.StandardKey.Close)

    # -- selection ------------------------------------------------------------------
    def selected_node(self) -> Node | None:
        index = self.view.currentIndex()
        return self.model.node(index.siblingAtColumn(0)) if index.isValid() else None

    def selected_connection(self) -> Connection | None:
        node = self.selected_node()
        if node is None:
            connections = self.model.connections
            return connections[-1] if len(connections) == 1 else None
        return node.root_connection()

    def select(self, node: Node) -> None:
        self.view.setCurrentIndex(self.model.index_of(node))

    def _spawn(self, make: Callable[[], Coroutine[Any, Any, Any]]) -> asyncio.Future[Any] | None:
        return start_task(make, self.tasks)

    # -- actions --------------------------------------------------------------------
    def refresh_selected(self) -> None:
        node = self.selected_node()
        if node is None and self.model.connections:
            node = self.model.connections[-1].node
        if node is not None:
            self.model.refresh(node)

    def close_selected(self) -> None:
        connection = self.selected_connection()
        if connection is not None:
            self.close_requested.emit(connection)

    # The dialogs are opened window-modal with open(), not exec(): a nested event loop
    # inside the qasync loop would hold up every awaiting task until it closed.
    def create_database(self) -> CreateDialog | None:
        connection = self.selected_connection()
        if connection is None:
            self.message.emit("Select a connection first.")
            return None
        dialog = CreateDialog(parent=self)
        dialog.accepted.connect(
            lambda: self._spawn(lambda: self.run_create(connection, *dialog.names())))
        dialog.open()
        return dialog

    def create_collection(self) -> CreateDialog | None:
        node = self.selected_node()
        if node is None or node.kind == "connection":
            return self.create_database()
        database = node if node.kind == "database" else node.parent
        assert database is not None
        connection = node.root_connection()
        dialog = CreateDialog(database=database.name, parent=self)
        dialog.accepted.connect(
            lambda: self._spawn(lambda: self.run_create(connection, *dialog.names())))
        dialog.open()
        return dialog

    def drop_selected(self) -> ConfirmDropDialog | None:
        node = self.selected_node()
        if node is None or node.kind == "connection":
            return None
        if node.kind == "database":
            dialog = ConfirmDropDialog("database", node.name, parent=self)
        else:
            assert node.parent is not None
            dialog = ConfirmDropDialog("collection", node.name,
                                       detail=f"(in database {node.parent.name})", parent=self)
        dialog.accepted.connect(lambda: self._spawn(lambda: self.run_drop(node)))
        dialog.open()
        return dialog

    # -- the work (awaitable; the dialogs above only ask) ---------------------------
    async def run_create(self, connection: Connection, database: str, collection: str) -> bool:
        try:
            await connection.service.create_collection(database, collection)
        except Exception as exc:  # noqa: BLE001 - reported in words
            self.message.emit(f"Could not create {database}.{collection}: {describe_error(exc)}")
            return False
        self.message.emit(f"Created {database}.{collection}")
        target = self.model.find(connection, database) or connection.node
        await _await_refresh(self.model, target)
        return True

    async def run_drop(self, node: Node) -> bool:
        connection = node.root_connection()
        what = node.name if node.kind == "database" else f"{node.parent.name}.{node.name}" \
            if node.parent else node.name
        try:
            if node.kind == "database":
                await connection.service.drop_database(node.name)
            else:
                assert node.parent is not None
                await connection.service.drop_collection(node.parent.name, node.name)
        except Exception as exc:  # noqa: BLE001 - reported in words
            self.message.emit(f"Could not drop {what}: {describe_error(exc)}")
            return False
        self.message.emit(f"Dropped {what}")
        parent = node.parent if node.kind == "collection" else connection.node
        if parent is not None and not parent.detached:
            await _await_refresh(self.model, parent)
        return True

    # -- context menu ---------------------------------------------------------------
    def _context_menu(self, position: QPoint) -> None:
        index = self.view.indexAt(position)
        if index.isValid():
            self.view.setCurrentIndex(index)
        node = self.selected_node()
        menu = QMenu(self)
        menu.addAction(self.refresh_action)
        if node is not None:
            menu.addAction(self.create_database_action)
            if node.kind != "connection":
                menu.addAction(self.create_collection_action)
                self.drop_action.setText(f"&Drop {node.kind} {node.name}…")
                menu.addAction(self.drop_action)
            menu.addSeparator()
            menu.addAction(self.close_connection_action)
        menu.popup(self.view.viewport().mapToGlobal(position))

    def expand_connection(self, connection: Connection) -> None:
        self.view.expand(self.model.index_of(connection.node))
        self.fit_name_column()

    def fit_name_column(self) -> None:
        """Widen (or narrow) the name column to its longest shown name."""
        self.view.resizeColumnToContents(0)

    def current_index(self) -> QModelIndex:
        return self.view.currentIndex()


async def _await_refresh(model: ConnectionTreeModel, node: Node) -> None:
    task = model.refresh(node)
    if task is not None:
        await asyncio.gather(task, return_exceptions=True)
