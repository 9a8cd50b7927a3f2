"""The sidebar tree: connections → databases → collections, loaded lazily.

Each top-level row is one open connection (a ``ClientService``), drawn with its own
colour. Children are fetched only when the view asks (``canFetchMore``/``fetchMore``):
the fetch runs on the worker pool through the service and the rows are inserted when
the awaited result comes back on the GUI thread. Sizes, document counts and index
counts come from ``dbStats``/``collStats`` in the background, after the names are shown,
and fill in their cells with ``dataChanged``.

Stale results are dropped: every node carries a generation number, bumped by a refresh
or a removal; a result is applied only if its node still has the generation the request
started with.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont

from app.services.worker import start_task

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()

NameRole = Qt.ItemDataRole.UserRole + 1  # the raw name, without markers
KindRole = Qt.ItemDataRole.UserRole + 2  # "connection", "database", "collection"
TypeRole = Qt.ItemDataRole.UserRole + 3  # collections: "collection", "view", "timeseries"
StatsRole = Qt.ItemDataRole.UserRole + 4  # the stats dict (may be empty)

# "Data size": the uncompressed size of the documents (dbStats ``dataSize``, collStats
# ``size``) for databases and collections alike, so a database is never shown smaller
# than one of its own collections (storage sizes are compressed, and include indexes).
COLUMNS = ("Name", "Documents", "Data size", "Indexes")
TYPE_MARKERS = {"view": " (view)", "timeseries": " (time series)"}

# Distinct, readable on light and dark backgrounds; connections take them in turn.
CONNECTION_COLORS = ("#2f6fd0", "#2e9d5b", "#c2562d", "#8b4fc9", "#b8860b", "#c23b7a",
                     "#1f9aa8", "#6b7280")


@dataclass(eq=False)
class Node:
    """One row of the tree. Plain data; only the model (GUI thread) touches it."""

    kind: str  # "connection", "database", "collection"
    name: str
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    loaded: bool = False  # children fetched (only for connections and databases)
    loading: bool = False
    generation: int = 0
    detached: bool = False  # removed from the tree: late results for it are dropped
    collection_type: str = ""  # for collections: "collection", "view", "timeseries"
    size: float | None = None
    documents: int | None = None
    indexes: int | None = None
    error: str | None = None
    connection: Connection | None = None  # set on connection nodes

    def row(self) -> int:
        siblings = self.parent.children if self.parent is not None else []
        for position, sibling in enumerate(siblings):
            if sibling is self:
                return position
        return -1

    def root_connection(self) -> Connection:
        node: Node | None = self
        while node is not None and node.connection is None:
            node = node.parent
        assert node is not None and node.connection is not None
        return node.connection

    def detach(self) -> None:
        self.detached = True
        self.generation += 1
        for child in self.children:
            child.detach()


@dataclass(eq=False)
class Connection:
    """An open connection as the tree sees it."""

    ident: int
    label: str
    service: Any  # app.services.client_service.ClientService
    color: str
    node: Node = field(init=False)


class ConnectionTreeModel(QAbstractItemModel):
    """The sidebar's model. All methods run on the GUI thread."""

    databases_loaded = Signal(object)  # Connection: its databases are in the tree
    collections_loaded = Signal(object)  # Node: a database's collections are in the tree
    load_failed = Signal(object, str)  # (Connection, message in plain words)
    stats_loaded = Signal(object)  # Node whose counts just arrived

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._root = Node("root", "")
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Future[Any]] = set()

    # -- connections ----------------------------------------------------------------
    def add_connection(self, label: str, service: Any, color: str | None = None) -> Connection:
        """Add an open (or opening) connection as a new top-level row."""
        ident = next(self._ids)
        color = color or CONNECTION_COLORS[(ident - 1) % len(CONNECTION_COLORS)]
        connection = Connection(ident, label, service, color)
        node = Node("connection", label, parent=self._root, connection=connection)
        connection.node = node
        row = len(self._root.children)
        self.beginInsertRows(_ROOT, row, row)
        self._root.children.append(node)
        self.endInsertRows()
        return connection

    def remove_connection(self, connection: Connection) -> None:
        """Take the connection's row out; the caller closes its service."""
        row = connection.node.row()
        if row < 0:
            return
        self.beginRemoveRows(_ROOT, row, row)
        del self._root.children[row]
        self.endRemoveRows()
        connection.node.detach()

    @property
    def connections(self) -> list[Connection]:
        return [node.connection for node in self._root.children if node.connection is not None]

    def index_of(self, node: Node, column: int = 0) -> QModelIndex:
        if node is self._root or node.parent is None or node.detached:
            return QModelIndex()
        return self.createIndex(node.row(), column, node)

    def node(self, index: Index) -> Node | None:
        if not index.isValid():
            return None
        node = index.internalPointer()
        return node if isinstance(node, Node) else None

    def find(self, connection: Connection, database: str, collection: str | None = None
             ) -> Node | None:
        """The node for ``database`` (or ``database.collection``) if it is loaded."""
        for db in connection.node.children:
            if db.name == database:
                if collection is None:
                    return db
                return next((c for c in db.children if c.name == collection), None)
        return None

    # -- structure ------------------------------------------------------------------
    def index(self, row: int, column: int, parent: Index = _ROOT) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        parent_node = self.node(parent) or self._root
        return self.createIndex(row, column, parent_node.children[row])

    def parent(self, index: Index | None = None) -> Any:
        if index is None:  # QObject.parent()
            return super().parent()
        node = self.node(index)
        if node is None or node.parent is None or node.parent is self._root:
            return QModelIndex()
        return self.createIndex(node.parent.row(), 0, node.parent)

    def rowCount(self, parent: Index = _ROOT) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        node = self.node(parent) or self._root
        return len(node.children)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return len(COLUMNS)

    def hasChildren(self, parent: Index = _ROOT) -> bool:
        if parent.isValid() and parent.column() != 0:
            return False
        node = self.node(parent) or self._root
        if node.kind == "collection":
            return False
        if node.kind == "root" or node.loaded or node.error:
            return bool(node.children)
        return True  # not fetched yet: show an expander, fetch on expand

    def canFetchMore(self, parent: Index) -> bool:
        node = self.node(parent)
        if node is None or node.kind == "collection" or parent.column() != 0:
            return False
        return not (node.loaded or node.loading or node.error)

    def fetchMore(self, parent: Index) -> None:
        node = self.node(parent)
        if node is not None and self.canFetchMore(parent):
            self._start_fetch(node)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(COLUMNS)):
            return COLUMNS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # -- data -----------------------------------------------------------------------
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self.node(index)
        if node is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(node, column)
        if role == NameRole:
            return node.name
        if role == KindRole:
            return node.kind
        if role == TypeRole:
            return node.collection_type or None
        if role == StatsRole:
            return {"documents": node.documents, "size": node.size, "indexes": node.indexes}
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(node)
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if column == 0 and role == Qt.ItemDataRole.DecorationRole and node.connection:
            return QColor(node.connection.color)
        if column == 0 and role == Qt.ItemDataRole.ForegroundRole and node.error:
            return QColor("#c62828")
        if column == 0 and role == Qt.ItemDataRole.FontRole:
            if node.kind == "connection" or node.collection_type == "view":
                font = QFont()
                font.setBold(node.kind == "connection")
                font.setItalic(node.collection_type == "view")
                return font
        return None

    def _display(self, node: Node, column: int) -> str:
        if column == 0:
            text = node.name + TYPE_MARKERS.get(node.collection_type, "")
            if node.loading and not node.children:
                text += " — loading…"
            elif node.error:
                text += f" — {node.error.splitlines()[0][:80]}"
            return text
        if column == 1:
            return f"{node.documents:,}" if node.documents is not None else ""
        if column == 2:
            return format_size(node.size) if node.size is not None else ""
        if column == 3:
            return f"{node.indexes:,}" if node.indexes is not None else ""
        return ""

    def _tooltip(self, node: Node) -> str:
        if node.error:
            return node.error
        kind = {"view": "View", "timeseries": "Time-series collection"}.get(
            node.collection_type, node.kind.capitalize())
        return f"{kind} {node.name}"

    # -- loading ----------------------------------------------------------------------
    def _spawn(self, make: Callable[[], Coroutine[Any, Any, Any]]) -> asyncio.Future[Any] | None:
        return start_task(make, self._tasks)

    def _start_fetch(self, node: Node) -> asyncio.Future[Any] | None:
        lister = self._list_databases if node.kind == "connection" else self._list_collections
        generation = node.generation
        task = self._spawn(lambda: self._fetch(node, generation, lister))
        if task is not None:
            node.loading = True
            node.error = None
            self._changed(node)
        return task

    async def _list_databases(self, node: Node) -> list[Node]:
        service = node.root_connection().service
        if not service.is_open:
            await service.open()
        entries = await service.list_databases()
        nodes = []
        for entry in sorted(entries, key=lambda e: str(e.get("name", ""))):
            # No size yet: listDatabases gives ``sizeOnDisk`` (storage, compressed), not
            # the data size the column shows; dbStats fills it in a moment later.
            nodes.append(Node("database", str(entry["name"]), parent=node))
        return nodes

    async def _list_collections(self, node: Node) -> list[Node]:
        entries = await node.root_connection().service.list_collections(node.name)
        nodes = []
        for entry in sorted(entries, key=lambda e: str(e.get("name", ""))):
            collection = Node("collection", str(entry["name"]), parent=node, loaded=True)
            collection.collection_type = str(entry.get("type") or "collection")
            nodes.append(collection)
        return nodes

    async def _fetch(self, node: Node, generation: int,
                     lister: Callable[[Node], Coroutine[Any, Any, list[Node]]]) -> None:
        try:
            children = await lister(node)
        except asyncio.CancelledError:
            if node.generation == generation and not node.detached:
                node.loading = False
                self._changed(node)
            raise
        except Exception as exc:  # noqa: BLE001 - shown to the user in words
            if node.generation != generation or node.detached:
                return  # stale: a refresh or a close already replaced this request
            node.loading = False
            node.error = describe_error(exc)
            self._changed(node)
            self.load_failed.emit(node.root_connection(), node.error)
            return
        if node.generation != generation or node.detached:
            return  # stale result: dropped
        node.loading = False
        node.loaded = True
        parent = self.index_of(node)
        if children:
            self.beginInsertRows(parent, 0, len(children) - 1)
            node.children = children
            self.endInsertRows()
        self._changed(node)
        if node.kind == "connection":
            assert node.connection is not None
            self.databases_loaded.emit(node.connection)
            for db in children:
                self._spawn(functools.partial(self._fetch_stats, db, db.generation))
        else:
            self.collections_loaded.emit(node)
            for collection in children:
                if collection.collection_type != "view":  # collStats refuses views
                    self._spawn(functools.partial(self._fetch_stats, collection,
                                                  collection.generation))

    async def _fetch_stats(self, node: Node, generation: int) -> None:
        service = node.root_connection().service
        try:
            if node.kind == "database":
                stats = await service.db_stats(node.name)
            else:
                assert node.parent is not None
                stats = await service.coll_stats(node.parent.name, node.name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - counts are optional; the tooltip says why
            log.debug("stats for %s failed: %s", node.name, exc)
            return
        if node.generation != generation or node.detached:
            return
        if node.kind == "database":
            node.documents = _int_or_none(stats.get("objects"))
            node.indexes = _int_or_none(stats.get("indexes"))
            size = stats.get("dataSize")
            node.size = float(size) if isinstance(size, (int, float)) else None
        else:
            node.documents = _int_or_none(stats.get("count"))
            node.indexes = _int_or_none(stats.get("nindexes"))
            size = stats.get("size")
            node.size = float(size) if isinstance(size, (int, float)) else None
        self._changed(node, first=1)
        self.stats_loaded.emit(node)

    def _changed(self, node: Node, first: int = 0) -> None:
        if node.kind == "root" or node.detached:
            return
        self.dataChanged.emit(self.index_of(node, first), self.index_of(node, len(COLUMNS) - 1))

    # -- awaitable helpers (tests, the smoke test, actions) -------------------------
    async def load(self, index_or_node: Index | Node) -> Node:
        """Fetch the node's children (if not yet) and wait for them; returns the node."""
        node = index_or_node if isinstance(index_or_node, Node) else self.node(index_or_node)
        if node is None:
            raise ValueError("load() needs a connection or database row")
        while not node.loaded:
            if node.detached:
                raise RuntimeError(f"{node.name} was closed while loading")
            if node.error:
                raise RuntimeError(node.error)
            if not node.loading and self._start_fetch(node) is None:
                raise RuntimeError("no event loop to load with")
            await self._wait_idle(node)
        return node

    async def _wait_idle(self, node: Node) -> None:
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        elif node.loading:  # loading but no task of ours: should not happen; avoid spinning
            raise RuntimeError(f"{node.name} is loading without a request")

    async def settle(self) -> None:
        """Wait until every fetch and stats request in flight has finished."""
        while pending := [t for t in self._tasks if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    def refresh(self, index_or_node: Index | Node) -> asyncio.Future[Any] | None:
        """Reload a connection's databases or a database's collections (children dropped)."""
        node = index_or_node if isinstance(index_or_node, Node) else self.node(index_or_node)
        if node is None:
            return None
        if node.kind == "collection":  # refresh a collection: refresh its database
            assert node.parent is not None
            node = node.parent
        node.generation += 1  # results of requests in flight are now stale
        if node.children:
            self.beginRemoveRows(self.index_of(node), 0, len(node.children) - 1)
            old, node.children = node.children, []
            self.endRemoveRows()
            for child in old:
                child.detach()
        node.loaded = node.loading = False
        node.error = None
        node.documents = node.indexes = None
        return self._start_fetch(node)

    def cancel_all(self) -> None:
        """Cancel every request in flight (window closing)."""
        for task in list(self._tasks):
            task.cancel()

    @property
    def pending_tasks(self) -> set[asyncio.Future[Any]]:
        return set(self._tasks)


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) else None


def format_size(size: float) -> str:
    """Bytes in a short human form: ``0 B``, ``8.0 KB``, ``1.9 MB``."""
    units = ("B", "KB", "MB", "GB", "TB")
    value = float(size)
    for unit in units:
        if abs(value) < 1024 or unit == units[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def describe_error(exc: BaseException) -> str:
    """A failure in words a user can act on (never the password: the driver redacts)."""
    name = type(exc).__name__
    text = str(exc) or name
    code = getattr(exc, "code", None)
    if code in (11, 18) or (name == "OperationFailure" and "auth" in text.lower()):
        return f"Authentication failed: check the user name, password and auth database ({text})"
    if name == "ServerSelectionTimeoutError":
        return f"No server could be reached in time: {text}"
    if name in ("AutoReconnect", "NetworkTimeout", "ConnectionFailure"):
        return f"The connection failed: {text}"
    if code == 13:
        return f"Not authorized: {text}"
    return f"{name}: {text}" if name not in text else text
