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
from app.connect.keychain import COPYING, REMOVING, KeychainRunner
from app.connect.secrets import UriSecrets, join_secrets

PLACEHOLDER = "<password>"


class FavoritesPanel(QWidget):
    chosen = Signal(str)
    read_only_chosen = Signal(bool)  # emitted just before ``chosen``
    keychain_failed = Signal(str)  # a secret-store call failed (the message says why)

    def __init__(self, store: FavoritesStore, runner: KeychainRunner | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        # Without a runner from the dialog: the store is called directly (no pool).
        self.runner = runner or KeychainRunner(store.secrets, None, self)
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
    def uri_for(self, favorite_id: str, found: UriSecrets | None) -> str:
        """The URI to load for a favorite (secrets joined, or a password placeholder)."""
        uri, needs_password = self.store.uri_with(favorite_id, found)
        if needs_password:
            uri = join_secrets(uri, UriSecrets(password=PLACEHOLDER))
        return uri

    def choose(self, favorite_id: str) -> None:
        """Load a favorite; its secret is read through the runner (off the GUI thread
        for a keychain), and a newer choice drops an older read's late result."""
        favorite = self.store.mark_used(favorite_id)
        self.read_only_chosen.emit(favorite.read_only)
        self.runner.read(
            favorite_id,
            on_result=lambda found: self._load(favorite_id, found),
            on_failure=lambda message: self._read_failed(favorite_id, message),
            on_cancel=lambda: self._load(favorite_id, None),  # ask for the password
        )

    def _load(self, favorite_id: str, found: UriSecrets | None) -> None:
        if any(f.id == favorite_id for f in self.store.favorites):  # not deleted meanwhile
            self.chosen.emit(self.uri_for(favorite_id, found))

    def _read_failed(self, favorite_id: str, message: str) -> None:
        self.keychain_failed.emit(f"Could not read the saved password: {message}")
        self._load(favorite_id, None)

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
                menu.addAction("Duplicate", lambda: self.duplicate(key))
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
            self.delete(favorite_id)

    def duplicate(self, favorite_id: str) -> None:
        """Copy a favorite now; its secret is copied through the runner."""
        copies: list[str] = []
        self._run(lambda: copies.append(self.store.duplicate(favorite_id, copy_secret=False).id))
        for copy_id in copies:
            self.runner.run(COPYING, self.store.copy_secret, favorite_id, copy_id,
                            on_failure=self._secret_call_failed)

    def delete(self, favorite_id: str) -> None:
        """Remove a favorite now; its secret is removed through the runner."""
        self._run(lambda: self.store.delete(favorite_id, forget_secret=False))
        if not any(f.id == favorite_id for f in self.store.favorites):
            self.runner.run(REMOVING, self.store.secrets.delete, favorite_id,
                            on_failure=self._secret_call_failed)

    def _secret_call_failed(self, message: str) -> None:
        self.keychain_failed.emit(f"The keychain call failed: {message}")
