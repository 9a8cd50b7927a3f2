"""``DocumentTreeModel``: the list view's model over raw BSON batches from a cursor.

Top-level rows are documents kept as ``RawBSONDocument`` (their bytes); nothing is decoded
until ``data()`` or an expansion needs it, so memory follows what was fetched. Nested
fields are children, one level at a time: a row's children exist only once it is
expanded (or asked for its row count), and containers with many entries show them in
pages of ``CHILD_PAGE`` (``has_more``/``show_more`` on that row: the "show more" link).

More documents: ``canFetchMore(root)`` / ``fetchMore(root)`` ask the injected batch
source for the next batch (``source.fetch_next()``, which maps to ``getMore``); only one
request is in flight at a time. The source later calls ``append_batch(generation, raw)``
on the GUI thread, then ``finish(generation)`` when the cursor is exhausted or
``fail(generation, message)``. ``reset(generation, source)`` starts a new query; batches
and decodes that belong to an older generation are dropped. A batch bigger than
``ROW_CHUNK`` documents reaches the view a chunk per ``fetchMore`` (Qt's views walk every
row they hold on each layout, so 100,000 rows at once would cost seconds).

Large containers (over ``LARGE_DOCUMENT_BYTES``) are scanned incrementally, a few
milliseconds per event-loop turn, one level only (``raw_elements``); until then their row
shows "loading" and has no children, so a 15 MB document never blocks the GUI thread. Columns: key, value (type-aware text), type.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Generator
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from app.documents.values.display import (
    LARGE_DOCUMENT_BYTES,
    display_value,
    document_summary,
    human_size,
    type_name,
)
from app.documents.values.raw_elements import ElementIndex, RawArray, full_value, raw_size
from app.documents.views.batch_feed import FedRows
from driver.bson import RawBSONDocument

CHILD_PAGE = 100
ROW_CHUNK = 1000  # documents handed to the view per fetchMore when a batch is bigger
_ITEM_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_SCAN_CHUNK = 2000  # elements scanned between deadline checks
_SLICE_S = 0.008  # GUI-thread time given to scans per event-loop turn
KEY_COLUMN, VALUE_COLUMN, TYPE_COLUMN = 0, 1, 2
_HEADERS = ("Key", "Value", "Type")
RawDocumentRole = Qt.ItemDataRole.UserRole + 1  # the row's RawBSONDocument (top level)
ValueRole = Qt.ItemDataRole.UserRole + 2  # the Python value of a field

AnyIndex = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


def _is_container(value: Any) -> bool:
    return isinstance(value, (RawBSONDocument, RawArray, dict, list, tuple))


class _PythonEntries:
    """Entries of an already decoded dict or list (same interface as ``ElementIndex``)."""

    __slots__ = ("keys", "values")

    def __init__(self, value: Any) -> None:
        if isinstance(value, (list, tuple)):
            self.keys: list[str] | None = None
            self.values = list(value)
        else:
            self.keys = list(value)
            self.values = [value[key] for key in self.keys]

    def __len__(self) -> int:
        return len(self.values)

    def key(self, row: int) -> str:
        return self.keys[row] if self.keys is not None else str(row)

    def value(self, row: int) -> Any:
        return self.values[row]

    def head(self, count: int) -> dict[str, Any]:
        return {self.key(row): self.values[row] for row in range(min(count, len(self)))}


Entries = ElementIndex | _PythonEntries


class _Node:
    """One row: a document (parent None) or a field inside one."""

    __slots__ = ("parent", "row", "key", "value", "children", "entries", "state")

    def __init__(self, parent: _Node | None, row: int, key: str, value: Any) -> None:
        self.parent = parent
        self.row = row
        self.key = key
        self.value = value
        self.children: list[_Node] | None = None
        # The container's entries once scanned: one level, decoded row by row on demand.
        self.entries: Entries | None = None
        self.state = "raw"  # raw -> decoding -> ready

    def needs_background_decode(self) -> bool:
        value = self.value
        return (
            self.state == "raw"
            and isinstance(value, (RawBSONDocument, RawArray))
            and raw_size(value) > LARGE_DOCUMENT_BYTES
        )

    def size(self) -> int:
        return len(self.entries) if self.entries is not None else 0


def _entries_of(value: Any) -> Entries:
    """One level of a container: scanned from its bytes, or an already decoded value."""
    if isinstance(value, (RawBSONDocument, RawArray)):
        return ElementIndex.for_value(value)
    return _PythonEntries(value)


class DocumentTreeModel(FedRows, QAbstractItemModel):
    """Tree of documents and their fields over raw batches (see the module docstring)."""

    fetchFailed = Signal(str)
    exhausted = Signal()

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        utc: bool = True,
    ) -> None:
        super().__init__(parent)
        self._documents: list[_Node] = []
        self._init_feed()
        self._utc = utc
        # Scans of large containers, run a few milliseconds per event-loop turn.
        self._scans: deque[tuple[int, _Node, Generator[None, None, ElementIndex]]] = deque()
        self._pump = QTimer(self)
        self._pump.setInterval(0)
        self._pump.timeout.connect(self._run_scans)

    # -- feeding ------------------------------------------------------------------
    def _clear_rows(self) -> None:
        self._documents = []
        self._scans.clear()

    def _release_rows(self) -> None:
        documents = self._pending.take(ROW_CHUNK)
        if documents:
            first = len(self._documents)
            self.beginInsertRows(QModelIndex(), first, first + len(documents) - 1)
            self._documents.extend(
                _Node(None, first + offset, str(first + offset + 1), RawBSONDocument(raw))
                for offset, raw in enumerate(documents)
            )
            self.endInsertRows()

    def set_utc(self, utc: bool) -> None:
        """Show dates in UTC (True) or local time; repaints the value column."""
        if utc != self._utc:
            self._utc = utc
            self._repaint_all()

    def close(self) -> None:
        """Drop pending scans (the model stays usable)."""
        self._scans.clear()
        self._pump.stop()

    def raw_document(self, row: int) -> RawBSONDocument:
        return self._documents[row].value  # type: ignore[no-any-return]

    # -- rows changed by the page's own writes ---------------------------------------
    def _drop_scans_under(self, node: _Node) -> None:
        """Forget pending scans of ``node`` and of fields inside it (they are replaced)."""

        def inside(candidate: _Node | None) -> bool:
            while candidate is not None:
                if candidate is node:
                    return True
                candidate = candidate.parent
            return False

        self._scans = deque(scan for scan in self._scans if not inside(scan[1]))

    def replace_document(self, row: int, raw: bytes) -> None:
        """Show a new version of the document at ``row`` (the server's, after an edit);
        an expanded row stays expanded with the new fields."""
        node = self._documents[row]
        index = self.createIndex(row, 0, node)
        self._drop_scans_under(node)
        shown = node.children is not None
        if node.children:
            self.beginRemoveRows(index, 0, len(node.children) - 1)
            node.children = []
            self.endRemoveRows()
        node.value = RawBSONDocument(raw)
        node.entries = None
        node.state = "raw"
        if not shown:
            node.children = None
        elif node.needs_background_decode():
            node.children = []
            self._start_decode(node)
        else:
            node.entries = _entries_of(node.value)
            node.state = "ready"
            node.children = []
            count = min(CHILD_PAGE, node.size())
            if count:
                self.beginInsertRows(index, 0, count - 1)
                self._extend_children(node)
                self.endInsertRows()
        self.dataChanged.emit(index, index.siblingAtColumn(TYPE_COLUMN))

    def remove_document(self, row: int) -> None:
        """Take the document at ``row`` out (it was deleted); later rows move up."""
        self._drop_scans_under(self._documents[row])
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._documents[row]
        for number in range(row, len(self._documents)):
            later = self._documents[number]
            later.row = number
            later.key = str(number + 1)
        self.endRemoveRows()
        if row < len(self._documents):
            self.dataChanged.emit(self.index(row, KEY_COLUMN),
                                  self.index(len(self._documents) - 1, KEY_COLUMN))

    # -- structure ----------------------------------------------------------------
    def _node(self, index: AnyIndex) -> _Node | None:
        if not index.isValid():
            return None
        return index.internalPointer()  # type: ignore[no-any-return]

    def index(self, row: int, column: int, parent: AnyIndex = _ROOT) -> QModelIndex:
        if column < 0 or column >= len(_HEADERS) or row < 0:
            return QModelIndex()
        node = self._node(parent)
        if node is None:
            siblings = self._documents
        else:
            if parent.column() != 0:
                return QModelIndex()
            self._ensure_children(node)
            if node.children is None:
                return QModelIndex()
            siblings = node.children
        if row >= len(siblings):
            return QModelIndex()
        return self.createIndex(row, column, siblings[row])

    def parent(self, index: AnyIndex = _ROOT) -> QModelIndex:  # type: ignore[override]
        node = self._node(index)
        if node is None or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.parent.row, 0, node.parent)

    def rowCount(self, parent: AnyIndex = _ROOT) -> int:
        node = self._node(parent)
        if node is None:
            return len(self._documents) if not parent.isValid() else 0
        if parent.column() != 0:
            return 0
        self._ensure_children(node)
        return len(node.children) if node.children is not None else 0

    def columnCount(self, parent: AnyIndex = _ROOT) -> int:
        return len(_HEADERS)

    def hasChildren(self, parent: AnyIndex = _ROOT) -> bool:
        node = self._node(parent)
        if node is None:
            return not parent.isValid() and bool(self._documents)
        if parent.column() != 0 or not _is_container(node.value):
            return False
        if node.children is not None:
            return bool(node.children) or node.size() > 0
        if isinstance(node.value, (RawBSONDocument, RawArray)):
            return raw_size(node.value) > 5
        return len(node.value) > 0

    def canFetchMore(self, parent: AnyIndex) -> bool:
        node = self._node(parent)
        if node is None:
            return self._root_can_fetch_more(parent)
        # Only the scan of a large container is fetched by the views; further pages of a
        # long container come when the user asks (``show_more``), not on every layout.
        return node.needs_background_decode()

    def fetchMore(self, parent: AnyIndex) -> None:
        node = self._node(parent)
        if node is None:
            if not parent.isValid():
                self._fetch_more_at_root()
            return
        if node.needs_background_decode():
            self._start_decode(node)

    def has_more(self, parent: AnyIndex) -> bool:
        """True when ``parent`` has entries beyond the pages shown so far."""
        node = self._node(parent)
        return node is not None and node.children is not None and len(node.children) < node.size()

    def show_more(self, parent: AnyIndex) -> int:
        """Show the next ``CHILD_PAGE`` entries of ``parent``; returns how many were added."""
        node = self._node(parent)
        if node is None or not self.has_more(parent):
            return 0
        assert node.children is not None
        before = len(node.children)
        self._add_page(node, parent)
        return len(node.children) - before

    # -- children -----------------------------------------------------------------
    def _ensure_children(self, node: _Node) -> None:
        """Create a small container's first page of children on first use (no signals:
        to the views they have always been there)."""
        if node.children is None and _is_container(node.value):
            if not node.needs_background_decode() and node.state != "decoding":
                self._materialize(node)

    def _materialize(self, node: _Node) -> None:
        node.entries = _entries_of(node.value)
        node.state = "ready"
        node.children = []
        self._extend_children(node)

    def _extend_children(self, node: _Node) -> None:
        assert node.children is not None and node.entries is not None
        entries = node.entries
        start = len(node.children)
        stop = min(start + CHILD_PAGE, len(entries))
        node.children.extend(
            _Node(node, row, entries.key(row), entries.value(row)) for row in range(start, stop)
        )

    def _add_page(self, node: _Node, parent: AnyIndex) -> None:
        assert node.children is not None
        start = len(node.children)
        stop = min(start + CHILD_PAGE, node.size())
        parent_index = self.index(parent.row(), 0, parent.parent())
        self.beginInsertRows(parent_index, start, stop - 1)
        self._extend_children(node)
        self.endInsertRows()

    def _start_decode(self, node: _Node) -> None:
        node.state = "decoding"
        steps = ElementIndex.steps_for_value(node.value, _SCAN_CHUNK)
        self._scans.append((self._feed.generation, node, steps))
        if not self._pump.isActive():
            self._pump.start()

    def _run_scans(self) -> None:
        """Advance the pending scans for at most ``_SLICE_S``, then yield to the event loop.

        Why not a thread: with PySide every call from Qt into Python (each ``data()`` of a
        repaint) must take the GIL, and a busy Python thread makes each wait up to the
        interpreter's switch interval, which adds up to freezes of 100 ms and more."""
        deadline = time.perf_counter() + _SLICE_S
        while self._scans and time.perf_counter() < deadline:
            generation, node, steps = self._scans[0]
            try:
                next(steps)
                continue
            except StopIteration as done:
                outcome: Any = done.value
            except Exception as exc:  # malformed BSON is shown on the row
                outcome = exc
            self._scans.popleft()
            self._on_decoded((generation, node, outcome))
        if not self._scans:
            self._pump.stop()

    def _on_decoded(self, message: tuple[int, _Node, Any]) -> None:
        generation, node, entries = message
        if generation != self._feed.generation:
            return  # a new query replaced this document meanwhile
        index = self._index_of(node)
        if index is None:
            return
        if isinstance(entries, Exception):
            node.state = "ready"
            node.entries = _PythonEntries([])
            node.children = []
            node.key = f"{node.key} (unreadable: {entries})"
            self.dataChanged.emit(index, index.siblingAtColumn(TYPE_COLUMN))
            return
        node.entries = entries
        node.state = "ready"
        node.children = []
        count = min(CHILD_PAGE, node.size())
        if count:
            self.beginInsertRows(index, 0, count - 1)
            self._extend_children(node)
            self.endInsertRows()
        self.dataChanged.emit(index, index.siblingAtColumn(TYPE_COLUMN))

    def _index_of(self, node: _Node) -> QModelIndex | None:
        if node.parent is None:
            if node.row >= len(self._documents) or self._documents[node.row] is not node:
                return None
        return self.createIndex(node.row, 0, node)

    # -- data ---------------------------------------------------------------------
    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self._node(index)
        if node is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == KEY_COLUMN:
                return node.key
            if column == VALUE_COLUMN:
                return self._value_text(node)
            if column == TYPE_COLUMN:
                return type_name(node.value)
        elif role == Qt.ItemDataRole.ToolTipRole and column == VALUE_COLUMN:
            if isinstance(node.value, (RawBSONDocument, RawArray)):
                return human_size(raw_size(node.value))
            return None
        elif role == RawDocumentRole and node.parent is None:
            return node.value
        elif role == ValueRole:
            return full_value(node.value)
        return None

    def _value_text(self, node: _Node) -> str:
        value = node.value
        if node.needs_background_decode() and node.parent is None:
            self._start_decode(node)  # a visible document needs its summary
        if node.state == "decoding":
            return f"{{ loading… {human_size(raw_size(value))} }}"
        if node.parent is None:
            if node.entries is not None and node.children is not None:
                # Summarise from the decoded children: the entries would decode again.
                head = {child.key: child.value for child in node.children[:20]}
                return document_summary(head, self._utc)
            return document_summary(value, self._utc)
        return display_value(value, self._utc)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(_HEADERS)
        ):
            return _HEADERS[section]
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _ITEM_FLAGS

    def _repaint_all(self) -> None:
        if self._documents:
            top = self.index(0, VALUE_COLUMN)
            bottom = self.index(len(self._documents) - 1, VALUE_COLUMN)
            self.dataChanged.emit(top, bottom, [Qt.ItemDataRole.DisplayRole])
        for node in self._documents:
            if node.children:
                first = self.createIndex(0, VALUE_COLUMN, node.children[0])
                last = self.createIndex(len(node.children) - 1, VALUE_COLUMN, node.children[-1])
                self.dataChanged.emit(first, last, [Qt.ItemDataRole.DisplayRole])
