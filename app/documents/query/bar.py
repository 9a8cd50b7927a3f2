"""The query bar: filter, project, sort, collation, skip, limit, maxTimeMS and hint, each
typed in shell syntax and checked as the user types.

A field that does not parse shows its error in place (``line 2, column 5: expected ...``)
and Find stays disabled until every field parses. Find (or Enter, as in Compass; Ctrl+Enter too) emits
``findRequested(QuerySpec)``; Shift+Enter inserts a line break; while a query runs the button becomes Cancel
(``cancelRequested``). Reset clears the fields; Explain emits ``explainRequested``. With
a ``QueryStore`` the bar records every query it runs and offers the last ones again, and
saves named favourite queries ("★ Save…") offered in their own list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.documents.query.history import QUERY_FIELDS, QueryStore
from app.shell_syntax.parser import ShellSyntaxError, parse_query_field

_DOCUMENT_FIELDS = ("filter", "project", "sort", "collation", "hint")
_PLACEHOLDERS = {
    "filter": "{ field: 'value' }",
    "project": "{ field: 1 }",
    "sort": "{ field: -1 }",
    "collation": "{ locale: 'simple' }",
    "hint": "{ field: 1 } or 'index_name'",
    "skip": "0",
    "limit": "0",
    "maxTimeMS": "60000",
}


@dataclass(frozen=True)
class QuerySpec:
    """A parsed query, ready for ``find``; ``texts`` keeps what the user typed."""

    filter: dict[str, Any]
    projection: dict[str, Any] | None = None
    sort: list[tuple[str, Any]] | None = None
    collation: dict[str, Any] | None = None
    skip: int = 0
    limit: int = 0
    max_time_ms: int | None = None
    hint: Any = None
    texts: dict[str, str] = field(default_factory=dict)

    def find_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Collection.find`` / ``find_raw_batches``."""
        kwargs: dict[str, Any] = {"filter": self.filter}
        if self.projection:
            kwargs["projection"] = self.projection
        if self.sort:
            kwargs["sort"] = self.sort
        if self.collation:
            kwargs["collation"] = self.collation
        if self.skip:
            kwargs["skip"] = self.skip
        if self.limit:
            kwargs["limit"] = self.limit
        if self.max_time_ms:
            kwargs["max_time_ms"] = self.max_time_ms
        if self.hint is not None:
            kwargs["hint"] = list(self.hint.items()) if isinstance(self.hint, dict) else self.hint
        return kwargs


def build_spec(texts: Mapping[str, str]) -> tuple[QuerySpec | None, dict[str, ShellSyntaxError]]:
    """Parse every field; returns the spec (None if any field is wrong) and the errors."""
    values: dict[str, Any] = {}
    errors: dict[str, ShellSyntaxError] = {}
    for name in QUERY_FIELDS:
        kind = "project" if name == "project" else name
        try:
            values[name] = parse_query_field(texts.get(name, ""), kind)
        except ShellSyntaxError as exc:
            errors[name] = exc
    if errors:
        return None, errors
    sort = values["sort"]
    spec = QuerySpec(
        filter=values["filter"],
        projection=values["project"] or None,
        sort=list(sort.items()) if sort else None,
        collation=values["collation"] or None,
        skip=values["skip"],
        limit=values["limit"],
        max_time_ms=values["maxTimeMS"] or None,
        hint=values["hint"],
        texts={name: texts.get(name, "") for name in QUERY_FIELDS if texts.get(name, "").strip()},
    )
    return spec, {}


class _FieldEdit(QPlainTextEdit):
    """A short multi-line editor: pasted mongosh text keeps its lines (and comments).
    Enter (or Ctrl+Enter) submits, as Compass's query bar does; Shift+Enter inserts a
    line break."""

    submitted = Signal()

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"query-{name}")
        self.setPlaceholderText(_PLACEHOLDERS[name])
        self.setTabChangesFocus(True)
        lines = 3 if name in ("filter", "project") else 1
        self.setFixedHeight(self.fontMetrics().lineSpacing() * lines + 12)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if QApplication.activePopupWidget() is not None:
                # The completion popup is open: Enter picks the completion (the popup's
                # completer handles the ignored key), it does not run the query.
                event.ignore()
                return
            event.accept()
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                # QPlainTextEdit would insert a line separator (U+2028) for Shift+Enter;
                # a plain line break keeps the text parseable and pasteable.
                self.insertPlainText("\n")
            else:
                self.submitted.emit()
            return
        super().keyPressEvent(event)


class QueryBar(QWidget):
    findRequested = Signal(object)  # QuerySpec
    explainRequested = Signal(object)  # QuerySpec
    cancelRequested = Signal()
    resetRequested = Signal()
    # A field no longer parses, or a query was asked for: results, errors and the counter
    # of the previous query no longer describe what the bar shows.
    staleResults = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        store: QueryStore | None = None,
        history_key: str | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._history_key = history_key
        self._running = False
        self._spec: QuerySpec | None = None
        self.edits: dict[str, _FieldEdit] = {}
        self.error_labels: dict[str, QLabel] = {}

        form = QFormLayout()
        for name in QUERY_FIELDS:
            edit = _FieldEdit(name, self)
            edit.textChanged.connect(self.validate)
            edit.submitted.connect(self.run_query)
            label = QLabel(self)
            label.setObjectName(f"query-{name}-error")
            label.setStyleSheet("color: #c62828;")
            label.setWordWrap(True)
            label.hide()
            column = QVBoxLayout()
            column.setSpacing(2)
            column.addWidget(edit)
            column.addWidget(label)
            form.addRow(name, column)
            self.edits[name] = edit
            self.error_labels[name] = label

        self._form = form
        # Compass-like: only the filter shows until the user opens the options.
        self.options_button = QPushButton("Options", self)
        self.options_button.setObjectName("query-options")
        self.options_button.setCheckable(True)
        self.options_button.toggled.connect(self.set_options_visible)

        self.history_box = QComboBox(self)
        self.history_box.setObjectName("query-history")
        self.history_box.setPlaceholderText("Recent queries")
        self.history_box.activated.connect(self._apply_history)
        self.favorites_box = QComboBox(self)
        self.favorites_box.setObjectName("query-favorites")
        self.favorites_box.setPlaceholderText("Favourite queries")
        self.favorites_box.activated.connect(self._apply_favorite)
        self.save_button = QPushButton("★ Save…", self)
        self.save_button.setObjectName("query-save-favorite")
        self.save_button.setToolTip("Save this query as a named favourite")
        self.save_button.clicked.connect(self.ask_favorite_name)
        self.find_button = QPushButton("Find", self)
        self.find_button.setDefault(True)
        self.find_button.clicked.connect(self._find_or_cancel)
        self.explain_button = QPushButton("Explain", self)
        self.explain_button.clicked.connect(self._explain)
        self.reset_button = QPushButton("Reset", self)
        self.reset_button.clicked.connect(self.reset)
        buttons = QHBoxLayout()
        buttons.addWidget(self.history_box, 1)
        buttons.addWidget(self.favorites_box, 1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.options_button)
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.explain_button)
        buttons.addWidget(self.find_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        self._refresh_history()
        self.validate()
        self.set_options_visible(False)

    def set_options_visible(self, visible: bool) -> None:
        """Show or hide every field but the filter (a field with text stays shown)."""
        for row, name in enumerate(QUERY_FIELDS):
            if name != "filter":
                shown = visible or bool(self.edits[name].toPlainText().strip())
                self._form.setRowVisible(row, shown)
        if self.options_button.isChecked() != visible:
            self.options_button.setChecked(visible)

    # -- state --------------------------------------------------------------------
    def texts(self) -> dict[str, str]:
        return {name: edit.toPlainText() for name, edit in self.edits.items()}

    def set_texts(self, texts: Mapping[str, str]) -> None:
        for name, edit in self.edits.items():
            edit.setPlainText(texts.get(name, ""))
        self.set_options_visible(self.options_button.isChecked())

    @property
    def spec(self) -> QuerySpec | None:
        """The parsed query, or None while a field has an error."""
        return self._spec

    def validate(self) -> bool:
        spec, errors = build_spec(self.texts())
        self._spec = spec
        for name, label in self.error_labels.items():
            error = errors.get(name)
            label.setVisible(error is not None)
            label.setText(str(error) if error else "")
            self.edits[name].setProperty("invalid", error is not None)
            self.edits[name].setToolTip(str(error) if error else "")
        self.find_button.setEnabled(self._running or spec is not None)
        self.explain_button.setEnabled(spec is not None and not self._running)
        if spec is None:
            self.staleResults.emit()
        return spec is not None

    def set_running(self, running: bool) -> None:
        """While a query runs, Find turns into Cancel."""
        self._running = running
        self.find_button.setText("Cancel" if running else "Find")
        self.validate()

    # -- actions ------------------------------------------------------------------
    def run_query(self) -> bool:
        if self._running:
            return False
        self.staleResults.emit()
        if not self.validate():
            return False
        assert self._spec is not None
        if self._store is not None and self._history_key is not None:
            self._store.record(self._history_key, self._spec.texts)
            self._refresh_history()
        self.findRequested.emit(self._spec)
        return True

    def _find_or_cancel(self) -> None:
        if self._running:
            self.cancelRequested.emit()
        else:
            self.run_query()

    def _explain(self) -> None:
        if self.validate():
            self.explainRequested.emit(self._spec)

    def reset(self) -> None:
        self.set_texts({})
        self.resetRequested.emit()

    def _refresh_history(self) -> None:
        self.history_box.clear()
        if self._store is None or self._history_key is None:
            self.history_box.setEnabled(False)
            self.favorites_box.setEnabled(False)
            self.save_button.setEnabled(False)
            return
        for texts in self._store.history(self._history_key):
            summary = " ".join(f"{k}: {' '.join(v.split())}" for k, v in texts.items())
            self.history_box.addItem(summary[:120], texts)
        self.history_box.setEnabled(self.history_box.count() > 0)
        self.history_box.setCurrentIndex(-1)
        self.favorites_box.clear()
        for name, texts in self._store.favorites(self._history_key).items():
            self.favorites_box.addItem(name, texts)
        self.favorites_box.setEnabled(self.favorites_box.count() > 0)
        self.favorites_box.setCurrentIndex(-1)

    # -- favourites -----------------------------------------------------------------
    def ask_favorite_name(self) -> QInputDialog | None:
        """Ask for a name (a window-modal dialog, no nested event loop), then save."""
        if self._store is None or self._history_key is None or not self.validate():
            return None
        dialog = QInputDialog(self)
        dialog.setObjectName("favorite-name")
        dialog.setLabelText("Name of this favourite query:")
        dialog.textValueSelected.connect(self.save_favorite)
        dialog.open()
        return dialog

    def save_favorite(self, name: str) -> bool:
        if self._store is None or self._history_key is None or not self.validate():
            return False
        assert self._spec is not None
        try:
            self._store.save_favorite(self._history_key, name, self._spec.texts)
        except (ValueError, PermissionError) as exc:
            self.save_button.setToolTip(f"Not saved: {exc}")
            return False
        self._refresh_history()
        return True

    def _apply_favorite(self, row: int) -> None:
        texts = self.favorites_box.itemData(row)
        if isinstance(texts, dict):
            self.set_texts(texts)

    def _apply_history(self, row: int) -> None:
        texts = self.history_box.itemData(row)
        if isinstance(texts, dict):
            self.set_texts(texts)
