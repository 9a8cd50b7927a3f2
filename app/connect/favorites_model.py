"""``FavoritesModel``: the favorites store as a two-level Qt tree (folders → favorites),
with drag and drop of favorites between folders, and a proxy for search and sort.

Rows: first the folders (sorted), then top-level favorites; a folder's children are its
favorites. ``internalId`` is 0 for top-level items and ``folder row + 1`` for children,
so no Python object has to stay alive behind a ``QModelIndex``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor

from app.connect.favorites import COLORS, Favorite, FavoritesStore

MIME_TYPE = "application/x-binnacle-favorite-ids"
IdRole = Qt.ItemDataRole.UserRole + 1
KindRole = Qt.ItemDataRole.UserRole + 2  # "folder" or "favorite"
SearchRole = Qt.ItemDataRole.UserRole + 3  # name and hosts, for the filter
LastUsedRole = Qt.ItemDataRole.UserRole + 4

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


class FavoritesModel(QAbstractItemModel):
    def __init__(self, store: FavoritesStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._folders: list[str] = []
        self._children: dict[str, list[Favorite]] = {}
        self._rebuild()

    # -- structure ------------------------------------------------------------------
    def _rebuild(self) -> None:
        self._folders = sorted(self.store.folders, key=str.casefold)
        self._children = {name: [] for name in ["", *self._folders]}
        for favorite in self.store.favorites:
            self._children.get(favorite.folder, self._children[""]).append(favorite)

    def reload(self) -> None:
        """Call after changing the store."""
        self.beginResetModel()
        self._rebuild()
        self.endResetModel()

    def _item(self, index: Index) -> tuple[str, Any]:
        """("folder", name) or ("favorite", Favorite) for a valid index."""
        if index.internalId() == 0:
            row = index.row()
            if row < len(self._folders):
                return "folder", self._folders[row]
            return "favorite", self._children[""][row - len(self._folders)]
        folder = self._folders[index.internalId() - 1]
        return "favorite", self._children[folder][index.row()]

    def index(self, row: int, column: int, parent: Index = _ROOT) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0)
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, index: Index | None = None) -> Any:
        if index is None:  # QObject.parent()
            return super().parent()
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent: Index = _ROOT) -> int:
        if not parent.isValid():
            return len(self._folders) + len(self._children[""])
        if parent.column() != 0 or parent.internalId() != 0:
            return 0
        kind, value = self._item(parent)
        return len(self._children[value]) if kind == "folder" else 0

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 1

    def hasChildren(self, parent: Index = _ROOT) -> bool:
        return self.rowCount(parent) > 0

    # -- data -----------------------------------------------------------------------
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        kind, value = self._item(index)
        if role == KindRole:
            return kind
        if kind == "folder":
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole, SearchRole):
                return value
            if role == IdRole:
                return value
            return None
        favorite: Favorite = value
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return favorite.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{favorite.name}\n{favorite.hosts}"
        if role == Qt.ItemDataRole.DecorationRole and favorite.color:
            return QColor(COLORS[favorite.color])
        if role == IdRole:
            return favorite.id
        if role == SearchRole:
            return f"{favorite.name} {favorite.hosts}"
        if role == LastUsedRole:
            return favorite.last_used or 0.0
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole or not str(value).strip():
            return False
        kind, item = self._item(index)
        if kind == "folder":
            self.store.rename_folder(item, str(value))
            self.reload()  # a renamed folder may sort elsewhere
            return True
        self.store.rename(item.id, str(value))
        self._rebuild()
        self.dataChanged.emit(index, index)
        return True

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        kind, _ = self._item(index)
        if kind == "folder":
            return base | Qt.ItemFlag.ItemIsDropEnabled
        return base | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemNeverHasChildren

    # -- drag and drop --------------------------------------------------------------
    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [MIME_TYPE]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:  # type: ignore[override]
        mime = QMimeData()
        ids = [self.data(i, IdRole) for i in indexes if self.data(i, KindRole) == "favorite"]
        mime.setData(MIME_TYPE, "\n".join(ids).encode())
        return mime

    def canDropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                        parent: Index) -> bool:
        if not data.hasFormat(MIME_TYPE):
            return False
        return not parent.isValid() or self.data(parent, KindRole) == "folder"

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                     parent: Index) -> bool:
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        ids = [x for x in bytes(data.data(MIME_TYPE).data()).decode().split("\n") if x]
        folder = self.data(parent, IdRole) if parent.isValid() else ""
        self.store.move_to_folder(ids, folder)
        self.reload()
        # We moved the items ourselves: returning False stops the view from also
        # removing the source rows (which no longer exist).
        return False


class FavoritesFilterModel(QSortFilterProxyModel):
    """Search by name or host (folders stay while a child matches) and sort."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterRole(SearchRole)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setRecursiveFilteringEnabled(True)
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def sort_by(self, key: str) -> None:
        """``"name"`` or ``"last_used"`` (newest first)."""
        if key == "name":
            self.setSortRole(Qt.ItemDataRole.DisplayRole)
            self.sort(0, Qt.SortOrder.AscendingOrder)
        elif key == "last_used":
            self.setSortRole(LastUsedRole)
            self.sort(0, Qt.SortOrder.DescendingOrder)
        else:
            raise ValueError(f"sort key must be 'name' or 'last_used', not {key!r}")

    def lessThan(self, left: Index, right: Index) -> bool:
        # Folders first, whatever the sort.
        left_kind, right_kind = left.data(KindRole), right.data(KindRole)
        if left_kind != right_kind:
            ascending = self.sortOrder() == Qt.SortOrder.AscendingOrder
            return bool((left_kind == "folder") == ascending)
        return bool(super().lessThan(left, right))
