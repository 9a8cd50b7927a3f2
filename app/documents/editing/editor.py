"""Dialogs that change documents: the shell-syntax document editor (insert, clone,
edit), the conflict chooser, and the bulk update / delete preview.

``DocumentEditor`` checks the text as the user types: a syntax error is shown with its
line and column and the cursor can jump to it; Save stays disabled until the text is a
document. Its second tab edits the same document field by field (``fields_editor``):
switching tabs converts the document both ways, and refuses with a message when it
cannot (a syntax error, a bad row, a field no row type can hold). When editing, changed types are listed ("placed: Date → String") so a type
change is never silent. ``ConflictDialog`` shows the user's version and the server's side
by side and returns the choice: keep mine (overwrite), take theirs, or cancel.
``BulkDialog`` shows how many documents the current filter matches and a sample before
and (for ``$set``/``$unset`` updates) after, then asks for confirmation.
All dialogs are opened with ``open()`` (window-modal, no nested event loop).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.documents.editing.edit import diff_documents
from app.documents.editing.fields_editor import FieldsEditor, document_to_rows
from app.documents.values.display import type_name
from app.shell_syntax.format import to_shell
from app.shell_syntax.parser import ShellSyntaxError, parse, parse_document, parse_pipeline

_MISSING = object()
JSON_TAB, FIELDS_TAB = 0, 1


def _lookup(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def type_changes(original: Mapping[str, Any], edited: Mapping[str, Any]) -> list[str]:
    """``"path: Old → New"`` for each changed field whose BSON type changed."""
    changes = diff_documents(original, edited)
    found = []
    for path in changes.set:
        before = changes.originals.get(path, _MISSING)
        if before is _MISSING:
            continue
        old, new = type_name(before), type_name(_lookup(edited, path))
        if old != new:
            found.append(f"{path}: {old} → {new}")
    return found


class DocumentEditor(QDialog):
    """Edit one document as shell text (see the module docstring)."""

    def __init__(self, title: str, document: Mapping[str, Any] | None = None,
                 parent: QWidget | None = None, *, original: Mapping[str, Any] | None = None
                 ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("document-editor")
        self.resize(620, 520)
        self.original = original
        self.text = QPlainTextEdit(self)
        self.text.setObjectName("document-editor-text")
        self.text.setPlaceholderText("{ name: 'value', when: ISODate('2024-01-01') }")
        self.fields = FieldsEditor(self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("document-editor-tabs")
        self.tabs.addTab(self.text, "JSON")
        self.tabs.addTab(self.fields, "Fields")
        self.status = QLabel(self)
        self.status.setObjectName("document-editor-status")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.document: dict[str, Any] | None = None
        self.error: ShellSyntaxError | None = None
        self.text.textChanged.connect(self.validate)
        self.fields.changed.connect(self.validate)
        self.tabs.currentChanged.connect(self._switch_tab)
        self.text.setPlainText(to_shell(dict(document), indent=2) if document else "{\n  \n}")
        self.validate()

    @property
    def save_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Save)

    def show_fields(self) -> bool:
        """Switch to the fields tab (False, with the reason shown, if it cannot)."""
        self.tabs.setCurrentIndex(FIELDS_TAB)
        return self.tabs.currentIndex() == FIELDS_TAB

    def show_json(self) -> bool:
        """Switch to the JSON tab (False, with the bad rows shown, if it cannot)."""
        self.tabs.setCurrentIndex(JSON_TAB)
        return self.tabs.currentIndex() == JSON_TAB

    def _switch_tab(self, index: int) -> None:
        """Carry the document over to the tab just shown, or go back with the reason."""
        if index == FIELDS_TAB:
            try:
                rows = document_to_rows(parse_document(self.text.toPlainText()))
            except ValueError as exc:  # ShellSyntaxError is a ValueError too
                self._stay(JSON_TAB, f"Cannot show this document as fields: {exc}")
                return
            self.fields.blockSignals(True)
            self.fields.set_rows(rows)
            if not rows:
                self.fields.add_row()
            self.fields.blockSignals(False)
        else:
            document, errors = self.fields.document()
            if document is None:
                self._stay(FIELDS_TAB, "Fix these rows first:\n"
                           + "\n".join(error.message for error in errors))
                return
            self.text.blockSignals(True)
            self.text.setPlainText(to_shell(document, indent=2) if document else "{\n  \n}")
            self.text.blockSignals(False)
        self.validate()

    def _stay(self, index: int, message: str) -> None:
        self.tabs.blockSignals(True)
        self.tabs.setCurrentIndex(index)
        self.tabs.blockSignals(False)
        self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.status.setText(message)
        self.status.setStyleSheet("color: #c62828;")

    def _show_valid(self) -> None:
        notes = type_changes(self.original, self.document or {}) if self.original else []
        self.status.setStyleSheet("")
        self.status.setText("Type changes: " + "; ".join(notes) if notes else "Valid document")

    def validate(self) -> bool:
        self.error = None
        self.document = None
        if self.tabs.currentIndex() == FIELDS_TAB:
            self.document, errors = self.fields.document()
            if errors:
                self._show_error("\n".join(error.message for error in errors))
            else:
                self._show_valid()
            self.save_button.setEnabled(self.document is not None)
            return self.document is not None
        try:
            self.document = parse_document(self.text.toPlainText(), allow_empty=False)
        except ShellSyntaxError as exc:
            self.error = exc
        selections = []
        if self.error is not None:
            self._show_error(str(self.error))
            mark = QTextEdit.ExtraSelection()
            cursor = QTextCursor(self.text.document())
            cursor.setPosition(min(self.error.offset, len(self.text.toPlainText())))
            cursor.movePosition(QTextCursor.MoveOperation.NextCharacter,
                                QTextCursor.MoveMode.KeepAnchor)
            mark.cursor = cursor
            underline = QTextCharFormat()
            underline.setBackground(QColor("#ffcdd2"))
            mark.format = underline
            selections.append(mark)
        else:
            self._show_valid()
        self.text.setExtraSelections(selections)
        self.save_button.setEnabled(self.document is not None)
        return self.document is not None


class ConflictDialog(QDialog):
    """Someone changed the document meanwhile: show both versions, let the user choose."""

    KEEP_MINE, TAKE_THEIRS = "mine", "theirs"

    def __init__(self, mine: Mapping[str, Any], theirs: Mapping[str, Any] | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("The document was changed by someone else")
        self.setObjectName("conflict-dialog")
        self.resize(900, 500)
        self.choice: str | None = None
        self.mine_text = QPlainTextEdit(to_shell(dict(mine), indent=2), self)
        self.mine_text.setReadOnly(True)
        self.theirs_text = QPlainTextEdit(
            to_shell(dict(theirs), indent=2) if theirs is not None
            else "// The document was deleted on the server.", self)
        self.theirs_text.setReadOnly(True)
        panes = QHBoxLayout()
        for title, widget in (("Your version", self.mine_text),
                              ("Current version on the server", self.theirs_text)):
            column = QVBoxLayout()
            column.addWidget(QLabel(f"<b>{title}</b>", self))
            column.addWidget(widget)
            panes.addLayout(column)
        self.keep_button = QPushButton("Keep mine (overwrite)", self)
        self.take_button = QPushButton("Take theirs", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.keep_button.clicked.connect(lambda: self._choose(self.KEEP_MINE))
        self.take_button.clicked.connect(lambda: self._choose(self.TAKE_THEIRS))
        self.cancel_button.clicked.connect(self.reject)
        if theirs is None:
            self.keep_button.setText("Insert mine again")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.keep_button, self.take_button, self.cancel_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(
            "Your change was not written: the fields you changed no longer have the values "
            "you started from.", self))
        layout.addLayout(panes, 1)
        layout.addLayout(buttons)

    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.accept()


def preview_update(document: Mapping[str, Any], update: Any) -> dict[str, Any] | None:
    """``document`` after a ``$set``/``$unset`` update, or None for other updates."""
    if not isinstance(update, Mapping) or not set(update) <= {"$set", "$unset"}:
        return None
    result: dict[str, Any] = _deep_copy(dict(document))
    for path, value in dict(update.get("$set", {})).items():
        target, key = _parent_of(result, path, create=True)
        if target is not None:
            target[key] = value
    for path in dict(update.get("$unset", {})):
        target, key = _parent_of(result, path, create=False)
        if target is not None:
            target.pop(key, None)
    return result


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _parent_of(document: dict[str, Any], path: str, create: bool) -> tuple[Any, str]:
    parts = path.split(".")
    node: Any = document
    for part in parts[:-1]:
        if not isinstance(node, dict):
            return None, ""
        if part not in node:
            if not create:
                return None, ""
            node[part] = {}
        node = node[part]
    return (node, parts[-1]) if isinstance(node, dict) else (None, "")


class BulkDialog(QDialog):
    """Bulk update or delete by the current filter, with a preview (see module docstring).

    The page fills ``set_preview(count, sample)`` once the count and sample arrive;
    Apply stays disabled until then (and, for updates, until the update parses)."""

    def __init__(self, kind: str, filter_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if kind not in ("update", "delete"):
            raise ValueError(f"kind must be 'update' or 'delete', not {kind!r}")
        self.kind = kind
        self.setObjectName(f"bulk-{kind}-dialog")
        self.setWindowTitle("Update many documents" if kind == "update"
                            else "Delete many documents")
        self.resize(720, 560)
        self.count: int | None = None
        self.sample: list[dict[str, Any]] = []
        self.update: Any = None
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Filter: <code>{filter_text or '{}'}</code>", self))
        self.update_text = QPlainTextEdit(self)
        self.update_text.setObjectName("bulk-update-text")
        self.update_text.setPlaceholderText("{ $set: { status: 'archived' } }  or a pipeline [...]")
        self.update_error = QLabel(self)
        self.update_error.setStyleSheet("color: #c62828;")
        if kind == "update":
            layout.addWidget(QLabel("Update:", self))
            layout.addWidget(self.update_text)
            layout.addWidget(self.update_error)
        else:
            self.update_text.hide()
            self.update_error.hide()
        self.count_label = QLabel("Counting matching documents…", self)
        self.count_label.setObjectName("bulk-count")
        layout.addWidget(self.count_label)
        self.sample_text = QPlainTextEdit(self)
        self.sample_text.setReadOnly(True)
        self.sample_text.setObjectName("bulk-sample")
        layout.addWidget(self.sample_text, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.apply_button = self.buttons.addButton(
            "Update" if kind == "update" else "Delete",
            QDialogButtonBox.ButtonRole.AcceptRole)
        self.apply_button.setObjectName("bulk-apply")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.update_text.textChanged.connect(self._refresh)
        self._refresh()

    def set_preview(self, count: int, sample: list[dict[str, Any]]) -> None:
        self.count = count
        self.sample = sample
        self._refresh()

    def set_failed(self, message: str) -> None:
        self.count_label.setText(f"Could not count the matching documents: {message}")

    def _refresh(self) -> None:
        ok = True
        if self.kind == "update":
            self.update = None
            text = self.update_text.toPlainText()
            try:
                value = parse(text) if text.strip() else None
                if isinstance(value, list):
                    value = parse_pipeline(text)
                if value is None or not isinstance(value, (dict, list)):
                    raise ShellSyntaxError("type an update document or a pipeline", 1, 1, 0)
                if isinstance(value, dict) and not all(k.startswith("$") for k in value):
                    raise ShellSyntaxError("an update needs operators like $set", 1, 1, 0)
                self.update = value
                self.update_error.setText("")
            except ShellSyntaxError as exc:
                self.update_error.setText(str(exc))
                ok = False
        if self.count is not None:
            verb = "updated" if self.kind == "update" else "deleted"
            self.count_label.setText(f"{self.count:,} document{'s' if self.count != 1 else ''}"
                                     f" will be {verb}.")
            parts = []
            for document in self.sample:
                parts.append("// before\n" + to_shell(document, indent=2)
                             if self.kind == "update" else to_shell(document, indent=2))
                after = preview_update(document, self.update) if self.update else None
                if after is not None:
                    parts.append("// after\n" + to_shell(after, indent=2))
            self.sample_text.setPlainText("\n".join(parts) or "// no document matches")
        self.apply_button.setEnabled(ok and bool(self.count))
