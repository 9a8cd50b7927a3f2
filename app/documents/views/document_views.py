"""The collection page's list and table views, their editable models and the
per-collection view settings.

- ``EditableTreeModel`` / ``EditableTableModel``: the document models with scalar values
  marked editable (unless read-only). Edits never go into the model: ``ValueDelegate``
  parses the text the user typed (shell syntax) and hands ``(row, path, value)`` to the
  page, which writes it to the server conflict-safely and re-reads the document.
- ``DocumentListView``: the tree of documents; a context menu offers "Show more" for long
  containers (pages of ``CHILD_PAGE``) and "Show full value" for long strings.
- ``DocumentTableView``: sortable on the loaded rows, movable columns whose order and
  widths are kept per collection in ``ViewSettings``; a double-click on a nested
  document or array drills down into it (a breadcrumb leads back), on a scalar edits it.
- ``ViewSettings``: ``views.json`` (versioned, atomic writes) holding those orders and
  widths.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.documents.values.display import display_value, type_name
from app.documents.values.raw_elements import LongString, RawArray, full_value
from app.documents.views.table_model import DocumentTableModel
from app.documents.views.tree_model import VALUE_COLUMN, DocumentTreeModel, ValueRole
from app.settings import atomic_write, data_dir, load_json_document
from app.shell_syntax.format import to_shell
from app.shell_syntax.parser import ShellSyntaxError, parse
from driver.bson import RawBSONDocument

AnyIndex = QModelIndex | QPersistentModelIndex
_CONTAINERS = (RawBSONDocument, RawArray, dict, list, tuple)
SETTINGS_VERSION = 1


# --- settings ---------------------------------------------------------------------------


class ViewSettings:
    """Column order and widths of the table view, per collection (``views.json``)."""

    def __init__(self, folder: Path | None = None,
                 writer: Callable[[Path, bytes], None] = atomic_write) -> None:
        self.path = (folder or data_dir()) / "views.json"
        self._writer = writer
        loaded = load_json_document(self.path, SETTINGS_VERSION, {}, "view settings")
        document = loaded.document or {}
        self.read_only = document.get("schema_version", 1) > SETTINGS_VERSION
        tables = document.get("tables", {})
        self._tables: dict[str, dict[str, Any]] = tables if isinstance(tables, dict) else {}

    def table(self, key: str) -> dict[str, Any]:
        """``{"order": [column names], "widths": {name: pixels}}`` (empty if unknown)."""
        entry = self._tables.get(key, {})
        return {"order": list(entry.get("order", [])), "widths": dict(entry.get("widths", {}))}

    def save_table(self, key: str, order: list[str], widths: Mapping[str, int]) -> None:
        self._tables[key] = {"order": list(order), "widths": dict(widths)}
        if self.read_only:
            return  # a newer Binnacle's file: keep the change for this session only
        document = {"schema_version": SETTINGS_VERSION, "tables": self._tables}
        self._writer(self.path, json.dumps(document, indent=1, sort_keys=True).encode("utf-8"))


# --- editable models ------------------------------------------------------------------


def is_container(value: Any) -> bool:
    return isinstance(value, _CONTAINERS)


class EditableTreeModel(DocumentTreeModel):
    """The list model with scalar field values editable (the edit goes to the page)."""

    def __init__(self, parent: QObject | None = None, *, utc: bool = True) -> None:
        super().__init__(parent, utc=utc)
        self.editable = True
        # Asked before a root fetch: QTreeView asks for more rows on every layout, even
        # when the last row is far below the viewport, and would pull the whole
        # collection; the list view lets a fetch through only near the bottom.
        self.fetch_gate: Callable[[], bool] | None = None

    def canFetchMore(self, parent: AnyIndex) -> bool:  # noqa: N802 - Qt's name
        if not parent.isValid() and self.fetch_gate is not None and not self.fetch_gate():
            return False
        return super().canFetchMore(parent)

    def can_fetch_documents(self) -> bool:
        """More documents can be fetched (whatever the view's scroll position)."""
        return super().canFetchMore(QModelIndex())

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        node = self._node(index)
        if (self.editable and node is not None and node.parent is not None
                and index.column() == VALUE_COLUMN and not is_container(node.value)):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def location(self, index: AnyIndex) -> tuple[int, list[str]]:
        """(document row, field path) of a field's index; the path is empty for a document."""
        node = self._node(index)
        path: list[str] = []
        while node is not None and node.parent is not None:
            path.insert(0, node.key)
            node = node.parent
        return (node.row if node is not None else -1), path


class EditableTableModel(DocumentTableModel):
    """The table model with scalar cells editable (the edit goes to the page)."""

    def __init__(self, parent: QObject | None = None, *, utc: bool = True) -> None:
        super().__init__(parent, utc=utc)
        self.editable = True

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if self.editable and index.isValid() and not is_container(self.cell_value(index)):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def location(self, index: AnyIndex) -> tuple[int, list[str]]:
        return index.row(), [self.columns[index.column()]]


# --- editing delegate -----------------------------------------------------------------


class ValueDelegate(QStyledItemDelegate):
    """Edits a value as shell text; a valid edit calls ``commit(index, value)``."""

    rejected = Signal(str)  # why a typed value was not accepted

    def __init__(self, commit: Callable[[QModelIndex, Any], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._commit = commit

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,
                     index: AnyIndex) -> QWidget:
        editor = QLineEdit(parent)
        editor.setObjectName("value-editor")
        return editor

    def setEditorData(self, editor: QWidget, index: AnyIndex) -> None:
        assert isinstance(editor, QLineEdit)
        value = index.data(ValueRole)
        editor.setText(to_shell(value) if not isinstance(value, LongString) else "")

    def setModelData(self, editor: QWidget, model: Any, index: AnyIndex) -> None:
        assert isinstance(editor, QLineEdit)
        text = editor.text()
        try:
            value = parse(text)
        except ShellSyntaxError as exc:
            self.rejected.emit(f"Not changed: {exc}")
            return
        self._commit(QModelIndex(index) if isinstance(index, QModelIndex)
                     else index.model().index(index.row(), index.column(), index.parent()),
                     value)


# --- list view ------------------------------------------------------------------------


class DocumentListView(QTreeView):
    """The documents as an expandable tree (see the module docstring)."""

    fullValueRequested = Signal(str, str)  # title, text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("documents-list")
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.header().setStretchLastSection(False)
        self.extra_actions: list[Any] = []  # the page's document actions (edit, delete...)

    def setModel(self, model: Any) -> None:  # noqa: N802 - Qt's name
        super().setModel(model)
        if isinstance(model, EditableTreeModel):
            model.fetch_gate = self.wants_more
            self.verticalScrollBar().valueChanged.connect(self._scrolled)
        header = self.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(0, 220)

    def wants_more(self) -> bool:
        """True when the last rows are in (or near) view: time to fetch the next batch."""
        bar = self.verticalScrollBar()
        return bar.maximum() == 0 or bar.value() >= bar.maximum() - bar.pageStep()

    def _scrolled(self, _value: int) -> None:
        model = self.model()
        if model is not None and model.canFetchMore(QModelIndex()):
            model.fetchMore(QModelIndex())

    def show_more(self, index: QModelIndex) -> int:
        model = self.model()
        if isinstance(model, DocumentTreeModel):
            added = model.show_more(index.siblingAtColumn(0))
            self.expand(index.siblingAtColumn(0))
            return added
        return 0

    def full_value_text(self, index: QModelIndex) -> str:
        value = full_value(index.siblingAtColumn(VALUE_COLUMN).data(ValueRole))
        return value if isinstance(value, str) else to_shell(value, indent=2)

    def _menu(self, position: QPoint) -> None:
        index = self.indexAt(position)
        menu = QMenu(self)
        model = self.model()
        if index.isValid() and isinstance(model, DocumentTreeModel):
            first = index.siblingAtColumn(0)
            if model.has_more(first):
                menu.addAction("Show more", lambda: self.show_more(first))
            raw = index.siblingAtColumn(VALUE_COLUMN).data(ValueRole)
            if isinstance(raw, (str, LongString)) or type_name(raw) == "String":
                menu.addAction("Show full value", lambda: self.fullValueRequested.emit(
                    str(first.data()), self.full_value_text(first)))
        for action in self.extra_actions:
            menu.addAction(action)
        if not menu.isEmpty():
            menu.popup(self.viewport().mapToGlobal(position))


# --- table view -----------------------------------------------------------------------


class NestedTableModel(QAbstractTableModel):
    """A nested document (one row) or array (one row per element) drilled into."""

    def __init__(self, value: Any, utc: bool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        value = full_value(value)
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        self._rows: list[Any] = items
        columns: dict[str, None] = {}
        for item in items:
            if isinstance(item, Mapping):
                columns.update(dict.fromkeys(item))
        self._columns = list(columns) or ["value"]
        self._utc = utc

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def _value(self, index: AnyIndex) -> Any:
        item = self._rows[index.row()]
        if isinstance(item, Mapping):
            return item.get(self._columns[index.column()])
        return item

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return display_value(full_value(self._value(index)), self._utc)
        if role == ValueRole:
            return self._value(index)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._columns[section] if 0 <= section < len(self._columns) else None
        return str(section) if 0 <= section < len(self._rows) else None


class DocumentTableView(QWidget):
    """The table with its drill-down breadcrumb (see the module docstring)."""

    def __init__(self, model: EditableTableModel, settings: ViewSettings | None,
                 settings_key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.settings = settings
        self.settings_key = settings_key
        self.table = QTableView(self)
        self.table.setObjectName("documents-table")
        self.table.setModel(model)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        rows = self.table.verticalHeader()
        rows.setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        header = self.table.horizontalHeader()
        header.setSectionsMovable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.nested = QTableView(self)
        self.nested.setObjectName("documents-nested")
        self.nested.hide()
        self.nested.doubleClicked.connect(self._drill_nested)
        self.crumb = QLabel(self)
        self.back_button = QPushButton("◀ Back to documents", self)
        self.back_button.clicked.connect(self.back)
        top = QHBoxLayout()
        top.addWidget(self.back_button)
        top.addWidget(self.crumb, 1)
        self.back_button.hide()
        self.crumb.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table)
        layout.addWidget(self.nested)
        self._saved = settings.table(settings_key) if settings is not None else {}
        self._applying = False
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(400)
        self._save_timer.timeout.connect(self.save_layout)
        model.columnsInserted.connect(lambda *_: self.apply_layout())
        model.modelReset.connect(self.back)
        header.sectionMoved.connect(lambda *_: self._layout_changed())
        header.sectionResized.connect(lambda *_: self._layout_changed())
        self.table.doubleClicked.connect(self._drill)
        self._nested_model: NestedTableModel | None = None
        self._trail: list[str] = []

    # -- column layout --------------------------------------------------------------
    def apply_layout(self) -> None:
        """Put known columns in their saved order and widths."""
        order = self._saved.get("order", [])
        widths = self._saved.get("widths", {})
        columns = self.model.columns
        header = self.table.horizontalHeader()
        self._applying = True
        try:
            target = 0
            for name in order:
                if name not in columns:
                    continue
                logical = columns.index(name)
                visual = header.visualIndex(logical)
                if visual != target:
                    header.moveSection(visual, target)
                target += 1
            for name, width in widths.items():
                if name in columns:
                    header.resizeSection(columns.index(name), int(width))
        finally:
            self._applying = False

    def column_order(self) -> list[str]:
        header = self.table.horizontalHeader()
        columns = self.model.columns
        return [columns[header.logicalIndex(visual)] for visual in range(len(columns))]

    def _layout_changed(self) -> None:
        if not self._applying:
            self._save_timer.start()

    def save_layout(self) -> None:
        self._save_timer.stop()
        header = self.table.horizontalHeader()
        columns = self.model.columns
        order = self.column_order()
        widths = {**self._saved.get("widths", {}),
                  **{name: header.sectionSize(i) for i, name in enumerate(columns)}}
        # Columns of the saved order that this query did not show keep their place.
        merged = order + [name for name in self._saved.get("order", []) if name not in order]
        self._saved = {"order": merged, "widths": widths}
        if self.settings is not None:
            self.settings.save_table(self.settings_key, merged, widths)

    # -- drill down -----------------------------------------------------------------
    def _drill(self, index: QModelIndex) -> None:
        if is_container(self.model.cell_value(index)):
            value = index.data(ValueRole)
            self.drill(f"{index.row() + 1}.{self.model.columns[index.column()]}", value)

    def _drill_nested(self, index: QModelIndex) -> None:
        value = index.data(ValueRole)
        if is_container(value) and self._nested_model is not None:
            name = self._nested_model.headerData(index.column(), Qt.Orientation.Horizontal)
            self.drill(f"{index.row()}.{name}", value)

    def drill(self, label: str, value: Any) -> None:
        old = self._nested_model
        self._nested_model = NestedTableModel(value, utc=self.model._utc, parent=self)
        self.nested.setModel(self._nested_model)
        if old is not None:
            old.deleteLater()
        self._trail.append(label)
        self.crumb.setText("Documents › " + " › ".join(self._trail))
        self.table.hide()
        self.nested.show()
        self.back_button.show()
        self.crumb.show()

    @property
    def drilled(self) -> bool:
        return self._nested_model is not None

    def back(self) -> None:
        self._trail.clear()
        self.nested.hide()
        self.table.show()
        self.back_button.hide()
        self.crumb.hide()
        if self._nested_model is not None:
            self.nested.setModel(None)
            self._nested_model.deleteLater()
            self._nested_model = None
