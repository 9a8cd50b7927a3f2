"""Small dialogs of the explorer: create a database or collection, confirm a drop.

Dropping asks the user to type the name of what is dropped: the OK button stays
disabled until the typed text matches exactly, so a slip of the mouse drops nothing.
Names are checked here only for what the server would refuse anyway, so the user
learns at once which part of the name is wrong.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

# MongoDB refuses these characters in database names (on every platform we target).
_BAD_DATABASE_CHARS = '/\\. "$'
MAX_DATABASE_NAME_BYTES = 63


def database_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a database name, or None if it can."""
    if not name:
        return "The database name is empty."
    bad = sorted({c for c in name if c in _BAD_DATABASE_CHARS or c == "\0"})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return f"A database name cannot contain {shown}."
    if len(name.encode()) > MAX_DATABASE_NAME_BYTES:
        return f"A database name is at most {MAX_DATABASE_NAME_BYTES} bytes long."
    return None


def collection_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a collection name, or None if it can."""
    if not name:
        return "The collection name is empty."
    if "$" in name:
        return "A collection name cannot contain '$'."
    if "\0" in name:
        return "A collection name cannot contain the null character."
    if name.startswith("system."):
        return "Names starting with 'system.' are reserved for the server."
    if name.startswith(".") or name.endswith("."):
        return "A collection name cannot start or end with '.'."
    return None


class CreateDialog(QDialog):
    """Asks for a new collection's name (and, for a new database, the database name:
    MongoDB creates a database with its first collection)."""

    def __init__(self, *, database: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.new_database = database is None
        self.setWindowTitle("Create database" if self.new_database else "Create collection")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.database_edit = QLineEdit(database or "")
        self.database_edit.setObjectName("databaseName")
        self.database_edit.setReadOnly(not self.new_database)
        self.collection_edit = QLineEdit()
        self.collection_edit.setObjectName("collectionName")
        form.addRow("Database", self.database_edit)
        form.addRow("Collection" if not self.new_database else "First collection",
                    self.collection_edit)
        layout.addLayout(form)
        self.problem = QLabel("")
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        layout.addWidget(self.problem)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.database_edit.textChanged.connect(self._validate)
        self.collection_edit.textChanged.connect(self._validate)
        (self.database_edit if self.new_database else self.collection_edit).setFocus()
        self._validate()

    def names(self) -> tuple[str, str]:
        return self.database_edit.text().strip(), self.collection_edit.text().strip()

    def _validate(self) -> None:
        database, collection = self.names()
        problem = database_name_problem(database) or collection_name_problem(collection)
        # An empty field is not an error yet: say nothing until the user types.
        untouched = not database or not collection
        self.problem.setText("" if untouched else problem or "")
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(problem is None)


class ConfirmDropDialog(QDialog):
    """"Type the name to drop": OK only when the typed text equals ``name``."""

    def __init__(self, kind: str, name: str, *, detail: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.expected = name
        self.setWindowTitle(f"Drop {kind}")
        layout = QVBoxLayout(self)
        warning = QLabel(
            f"Dropping the {kind} <b>{_escape(name)}</b> deletes all of its data and cannot be "
            f"undone.{(' ' + _escape(detail)) if detail else ''}<br>Type <b>{_escape(name)}</b> "
            "to confirm.")
        warning.setWordWrap(True)
        layout.addWidget(warning)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("confirmName")
        self.name_edit.setPlaceholderText(name)
        layout.addWidget(self.name_edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(f"Drop {kind}")
        self.ok_button.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.name_edit.textChanged.connect(
            lambda text: self.ok_button.setEnabled(text == self.expected))

    def accept(self) -> None:
        if self.name_edit.text() == self.expected:  # Enter in the field must not bypass
            super().accept()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
