"""``DocumentTableModel``: the table view's model, one row per document, one column per
top-level field seen so far (the union, in first-seen order).

Fed exactly like ``DocumentTreeModel`` (``reset`` / ``append_batch`` / ``finish`` /
``fail``, ``canFetchMore`` / ``fetchMore`` with one request in flight). A new batch's
field names are read with ``ElementIndex`` (element headers only, no values decoded);
a cell's value is decoded when the view asks for it. Nested documents and arrays show a
short description; ``ValueRole`` gives the value itself so the view can drill down.

``sort(column, order)`` sorts the loaded rows the way MongoDB orders mixed BSON types
(MinKey < null < numbers < strings < objects < arrays < binary < ObjectId < booleans <
dates < timestamps < regexes < MaxKey); a missing field sorts as null. Rows that arrive
later are merged into the order.
"""

from __future__ import annotations

import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from app.documents.values.display import display_value, type_name
from app.documents.values.raw_elements import ElementIndex, LongString, RawArray, full_value
from app.documents.views.batch_feed import FedRows
from driver.bson import (
    Binary,
    DatetimeMS,
    Decimal128,
    MaxKey,
    MinKey,
    ObjectId,
    RawBSONDocument,
    Regex,
    Timestamp,
)
from driver.bson.types import datetime_to_ms

AnyIndex = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()
ValueRole = Qt.ItemDataRole.UserRole + 2
RawDocumentRole = Qt.ItemDataRole.UserRole + 1
_MISSING = object()
ROW_CHUNK = 1000  # documents handed to the view per fetchMore when a batch is bigger
_ITEM_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


class _Row:
    """One document: its bytes and, once a cell was shown, its field positions."""

    __slots__ = ("document", "index", "positions")

    def __init__(self, document: RawBSONDocument, index: ElementIndex) -> None:
        self.document = document
        self.index = index
        self.positions: dict[str, int] | None = None

    def get(self, field: str) -> Any:
        positions = self.positions
        if positions is None:
            positions = {self.index.key(row): row for row in range(len(self.index))}
            self.positions = positions
        row = positions.get(field)
        return _MISSING if row is None else self.index.value(row)


class DocumentTableModel(FedRows, QAbstractTableModel):
    fetchFailed = Signal(str)
    exhausted = Signal()

    def __init__(self, parent: QObject | None = None, *, utc: bool = True) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._columns: list[str] = []
        self._known: set[str] = set()
        self._init_feed()
        self._utc = utc
        self._sort: tuple[int, Qt.SortOrder] | None = None

    # -- feeding ------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def _clear_rows(self) -> None:
        self._rows = []
        self._columns = []
        self._known = set()

    def _release_rows(self) -> None:
        rows = []
        new_columns: list[str] = []
        for raw in self._pending.take(ROW_CHUNK):
            index = ElementIndex.scan(raw)
            for position in range(len(index)):
                name = index.key(position)
                if name not in self._known:
                    self._known.add(name)
                    new_columns.append(name)
            rows.append(_Row(RawBSONDocument(raw), index))
        if new_columns:
            first = len(self._columns)
            self.beginInsertColumns(_ROOT, first, first + len(new_columns) - 1)
            self._columns.extend(new_columns)
            self.endInsertColumns()
        if rows:
            first = len(self._rows)
            self.beginInsertRows(_ROOT, first, first + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
            if self._sort is not None:
                self.sort(*self._sort)

    def cell_value(self, index: AnyIndex) -> Any:
        """A cell's value as stored: documents and arrays stay raw, long strings lazy
        (cheap: ``ValueRole`` decodes a 15 MB array into a list). None when missing."""
        if not index.isValid():
            return None
        value = self._rows[index.row()].get(self._columns[index.column()])
        return None if value is _MISSING else value

    def replace_document(self, row: int, raw: bytes) -> None:
        """Show a new version of the document at ``row`` (after an edit)."""
        index = ElementIndex.scan(raw)
        new_columns = []
        for position in range(len(index)):
            name = index.key(position)
            if name not in self._known:
                self._known.add(name)
                new_columns.append(name)
        if new_columns:
            first = len(self._columns)
            self.beginInsertColumns(_ROOT, first, first + len(new_columns) - 1)
            self._columns.extend(new_columns)
            self.endInsertColumns()
        self._rows[row] = _Row(RawBSONDocument(raw), index)
        if self._columns:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self._columns) - 1))

    def remove_document(self, row: int) -> None:
        """Take the document at ``row`` out (it was deleted)."""
        self.beginRemoveRows(_ROOT, row, row)
        del self._rows[row]
        self.endRemoveRows()

    def canFetchMore(self, parent: AnyIndex) -> bool:
        return self._root_can_fetch_more(parent)

    def fetchMore(self, parent: AnyIndex) -> None:
        if not parent.isValid():
            self._fetch_more_at_root()

    def set_utc(self, utc: bool) -> None:
        if utc != self._utc and self._rows and self._columns:
            self._utc = utc
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(self._columns) - 1)
            )
        self._utc = utc

    # -- table --------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == RawDocumentRole:
            return row.document
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, ValueRole):
            return None
        value = row.get(self._columns[index.column()])
        if role == ValueRole:
            return None if value is _MISSING else full_value(value)
        if value is _MISSING:
            return "" if role == Qt.ItemDataRole.DisplayRole else "field missing"
        if role == Qt.ItemDataRole.ToolTipRole:
            return type_name(value)
        return display_value(value, self._utc)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._columns[section] if 0 <= section < len(self._columns) else None
        return str(section + 1) if 0 <= section < len(self._rows) else None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _ITEM_FLAGS

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self._columns):
            return
        self._sort = (column, order)
        field = self._columns[column]
        self.layoutAboutToBeChanged.emit()
        old_rows = self._rows
        persistent = self.persistentIndexList()
        self._rows = sorted(
            old_rows,
            key=lambda row: bson_sort_key(row.get(field)),
            reverse=order == Qt.SortOrder.DescendingOrder,
        )
        new_position = {id(row): number for number, row in enumerate(self._rows)}
        for old_index in persistent:
            moved = new_position[id(old_rows[old_index.row()])]
            self.changePersistentIndex(old_index, self.index(moved, old_index.column()))
        self.layoutChanged.emit()


# MongoDB's comparison order of BSON types ("Comparison/Sort Order" in the manual).
def bson_sort_key(value: Any) -> tuple[int, Any]:
    """A key that orders mixed BSON values as MongoDB does (missing counts as null)."""
    if value is _MISSING or value is None:
        return (1, 0)
    if isinstance(value, MinKey):
        return (0, 0)
    if isinstance(value, MaxKey):
        return (13, 0)
    if value is True or value is False:
        return (8, int(value))
    if isinstance(value, (int, float)):
        return (2, float(value)) if value == value else (2, float("-inf"))
    if isinstance(value, Decimal128):
        try:
            return (2, float(value.to_decimal()))
        except (ValueError, ArithmeticError):
            return (2, float("-inf"))
    if isinstance(value, LongString):
        return (3, value.preview(200))
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, RawBSONDocument):
        return (4, value.raw)
    if isinstance(value, RawArray):
        return (5, value.raw)
    if isinstance(value, (bytes, Binary)):
        return (6, (len(value), getattr(value, "subtype", 0), bytes(value)))
    if isinstance(value, ObjectId):
        return (7, value.binary)
    if isinstance(value, datetime.datetime):
        return (9, datetime_to_ms(value))
    if isinstance(value, DatetimeMS):
        return (9, int(value))
    if isinstance(value, Timestamp):
        return (10, (value.time, value.inc))
    if isinstance(value, Regex):
        return (11, (value.pattern, value.flags))
    return (12, repr(value))
