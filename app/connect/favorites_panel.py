"""The favorites side panel of the connection dialog: search, sort, folders with drag and
drop, colour labels, rename/duplicate/delete, and the recent connections.

Choosing an entry emits ``chosen(uri)`` with the URI to load into the dialog: the
favorite's secrets are joined back in when the secret store has them; otherwise its
password becomes the ``<password>`` placeholder, which the dialog turns into "type the
password" (the secret is asked for at connect time). Just before it, ``read_only_chosen``
tells whether the entry opens read-only (a favorite's setting; a recent never does).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.connect.favorites import COLORS, FavoritesStore
from app.connect.favorites_model import FavoritesFilterModel, FavoritesModel, IdRole, KindRole
from app.connect.secrets import UriSecrets, join_secrets

PLACEHOLDER = "<password>"


class FavoritesPanel(QWidget):
    chosen = Signal(str)
    read_only_chosen = Signal(bool)  # emitted just before ``chosen``

    def __init__(self, store: FavoritesStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.model = FavoritesModel(store, self)
        self.proxy = FavoritesFilterModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.sort_by("name")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name or host")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search)
        self.sort = QComboBox()
        self.sort.addItems(["Name", "Last used"])
        self.sort.currentIndexChanged.connect(
            lambda i: self.proxy.sort_by("name" if i == 0 else "last_used")
        )
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.sort)
        layout.addWidget(QLabel("Favorites"))
        layout.addLayout(top)

        self.tree = QTreeView()
        self.tree.setModel(self.proxy)
        self.tree.setHeaderHidden(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.tree.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.activated.connect(self._on_activated)
        self.tree.expandAll()
        self.model.modelReset.connect(self.tree.expandAll)
        layout.addWidget(self.tree, 3)

        layout.addWidget(QLabel("Recent"))
        self.recents = QListWidget()
        self.recents.itemActivated.connect(lambda item: self._choose_recent(item))
        layout.addWidget(self.recents, 1)
        self.reload()

    # -- content --------------------------------------------------------------------
    def reload(self) -> None:
        self.model.reload()
        self.recents.clear()
        for recent in self.store.recents:
            item = QListWidgetItem(recent.name)
            item.setToolTip(recent.uri)
            item.setData(Qt.ItemDataRole.UserRole, recent.uri)
            self.recents.addItem(item)

    def _on_search(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)
        self.tree.expandAll()

    # -- choosing -------------------------------------------------------------------
    def uri_for(self, favorite_id: str) -> str:
        """The URI to load for a favorite (secrets joined, or a password placeholder)."""
        uri, needs_password = self.store.uri_with_secrets(favorite_id)
        if needs_password:
            uri = join_secrets(uri, UriSecrets(password=PLACEHOLDER))
        return uri

    def choose(self, favorite_id: str) -> None:
        favorite = self.store.mark_used(favorite_id)
        self.read_only_chosen.emit(favorite.read_only)
        self.chosen.emit(self.uri_for(favorite_id))

    def _on_activated(self, index: QModelIndex) -> None:
        if index.data(KindRole) == "favorite":
            self.choose(index.data(IdRole))

    def _choose_recent(self, item: QListWidgetItem) -> None:
        uri = item.data(Qt.ItemDataRole.UserRole)
        # Recents keep no secrets: a user name means "type the password".
        if "@" in uri.split("/", 3)[2] and "mongodb-x509" not in uri.lower():
            uri = join_secrets(uri, UriSecrets(password=PLACEHOLDER))
        self.read_only_chosen.emit(False)
        self.chosen.emit(uri)

    # -- editing --------------------------------------------------------------------
    def selected_id(self) -> tuple[str, str] | None:
        index = self.tree.currentIndex()
        if not index.isValid():
            return None
        return index.data(KindRole), index.data(IdRole)

    def _context_menu(self, point: QPoint) -> None:
        index = self.tree.indexAt(point)
        menu = QMenu(self)
        menu.addAction("New folder…", self._new_folder)
        if index.isValid():
            kind, key = index.data(KindRole), index.data(IdRole)
            menu.addAction("Rename", lambda: self.tree.edit(index))
            if kind == "favorite":
                menu.addAction("Duplicate", lambda: self._run(self.store.duplicate, key))
                read_only = QAction("Read-only (no writes)", menu)
                read_only.setCheckable(True)
                read_only.setChecked(self.store.get(key).read_only)
                read_only.toggled.connect(
                    lambda checked: self._run(self.store.set_read_only, key, checked))
                menu.addAction(read_only)
                colours = menu.addMenu("Colour")
                for name, value in COLORS.items():
                    action = QAction(name or "No colour", colours)
                    if name:
                        pixmap = QPixmap(12, 12)
                        pixmap.fill(QColor(value))
                        action.setIcon(QIcon(pixmap))
                    action.triggered.connect(
                        lambda _checked=False, c=name: self._run(self.store.set_color, key, c)
                    )
                    colours.addAction(action)
                menu.addAction("Delete", lambda: self._confirm_delete(key))
            else:
                menu.addAction("Delete folder", lambda: self._run(self.store.delete_folder, key))
        menu.popup(self.tree.viewport().mapToGlobal(point))

    def _run(self, action: Callable[..., object], *args: object) -> None:
        try:
            action(*args)
        except (KeyError, ValueError) as exc:
            QMessageBox.warning(self, "Favorites", str(exc))
        self.reload()

    def _new_folder(self) -> None:
        name, ok = QInputDialog.getText(self, "New folder", "Folder name")
        if ok and name.strip():
            self._run(self.store.add_folder, name)

    def _confirm_delete(self, favorite_id: str) -> None:
        name = self.store.get(favorite_id).name
        answer = QMessageBox.question(self, "Delete favorite", f"Delete the favorite “{name}”?")
        if answer == QMessageBox.StandardButton.Yes:
            self._run(self.store.delete, favorite_id)
