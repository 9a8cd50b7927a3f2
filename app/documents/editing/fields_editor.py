"""Field-by-field document editing: rows of (field name, BSON type, value text).

The pure half turns rows into a document and back. Each of the types in
``FIELD_TYPES`` has one text form: numbers as digits (``NaN``/``Infinity`` for doubles),
dates as ISO-8601 in UTC, ObjectIds and UUIDs as hex, binary data as base64, and nested
documents and arrays as one line of shell/Extended JSON (read by the same parser as the
JSON tab, so ``NumberLong(…)`` or ``{"$date": …}`` inside them keep their types). A bad
row gives a message that names the row and field (``Row 3 (age): '12x' is not an
Int32 …``). A document with a top-level value none of these types can hold (a
Timestamp, a regex, binary of another subtype) cannot be shown as rows; the caller keeps
the JSON tab and says which field.

``FieldsEditor`` is the widget: a table with a name, a type list and a value editor per
row (a true/false list for Boolean, nothing to type for Null), Add / Remove buttons, and
a ``changed`` signal on every edit.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app.documents.values.display import type_name
from app.shell_syntax.format import to_shell
from app.shell_syntax.parser import ShellSyntaxError, parse, parse_iso_date
from driver.bson import UUID_SUBTYPE, Binary, Decimal128, Int64, ObjectId
from driver.bson.types import datetime_to_ms

FIELD_TYPES = (
    "String", "Int32", "Int64", "Double", "Decimal128", "Boolean", "Date", "ObjectId", "Null",
    "Object (JSON)", "Array (JSON)", "Binary (base64)", "UUID",
)  # fmt: skip
PLACEHOLDERS = {
    "Int32": "-2147483648 … 2147483647",
    "Int64": "a whole number",
    "Double": "1.5, 2e-3, NaN, Infinity",
    "Decimal128": "12.3400",
    "Date": "2024-05-01T12:30:00.000Z (UTC unless a zone is given)",
    "ObjectId": "24 hex digits",
    "Object (JSON)": "{ name: 'value', n: NumberLong(5) }",
    "Array (JSON)": "[1, 'two', { three: 3 }]",
    "Binary (base64)": "AAECAw==",
    "UUID": "123e4567-e89b-12d3-a456-426614174000",
}
Row = tuple[str, str, str]  # (field name, type, value text)


@dataclass(frozen=True)
class RowError:
    row: int  # from 1, as shown to the user
    message: str  # "Row 3 (age): '12x' is not an Int32: expected a whole number"

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DOUBLE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf,
                    "+Infinity": math.inf}  # fmt: skip
_HEX_24 = re.compile(r"[0-9a-fA-F]{24}")
_INT32_RANGE = (-(2**31), 2**31 - 1)
_INT64_RANGE = (-(2**63), 2**63 - 1)
_DATE_MS_RANGE = (-62135596800000, 253402300799999)  # years 1 to 9999


def _integer(text: str, kind: str, bounds: tuple[int, int]) -> int:
    if _INTEGER.fullmatch(text) is None:
        raise ValueError(f"{text!r} is not an {kind}: expected a whole number")
    value = int(text)
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{text} is out of the {kind} range {bounds[0]} … {bounds[1]}")
    return value


def _container(text: str, want: type, what: str) -> Any:
    try:
        value = parse(text)
    except ShellSyntaxError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(value, want):
        raise ValueError(f"expected {what}, found {type_name(value)}")
    return value


def parse_value(kind: str, text: str) -> Any:
    """The value of ``text`` as BSON type ``kind``; ``ValueError`` says what is wrong."""
    stripped = text.strip()
    if kind == "String":
        return text
    if kind == "Null":
        return None
    if kind == "Boolean":
        if stripped not in ("true", "false"):
            raise ValueError(f"{text!r} is not a Boolean: expected true or false")
        return stripped == "true"
    if not stripped:
        raise ValueError(f"a value is required for the type {kind}")
    if kind == "Int32":
        return _integer(stripped, "Int32", _INT32_RANGE)
    if kind == "Int64":
        return Int64(_integer(stripped, "Int64", _INT64_RANGE))
    if kind == "Double":
        if stripped in _SPECIAL_DOUBLES:
            return _SPECIAL_DOUBLES[stripped]
        if _DOUBLE.fullmatch(stripped) is None:
            raise ValueError(f"{text!r} is not a Double: expected a number like 1.5 or 2e-3")
        value = float(stripped)
        if math.isinf(value):
            raise ValueError(f"{stripped} is too large for a Double")
        return value
    if kind == "Decimal128":
        return Decimal128(stripped)  # its ValueError names the text
    if kind == "Date":
        moment = parse_iso_date(stripped)
        if not _DATE_MS_RANGE[0] <= datetime_to_ms(moment) <= _DATE_MS_RANGE[1]:
            raise ValueError(f"{stripped!r} is outside the years 1 to 9999")
        return moment
    if kind == "ObjectId":
        if _HEX_24.fullmatch(stripped) is None:
            raise ValueError(f"{text!r} is not an ObjectId: expected 24 hex digits")
        return ObjectId(stripped)
    if kind == "Object (JSON)":
        return _container(stripped, dict, "a document { … }")
    if kind == "Array (JSON)":
        return _container(stripped, list, "an array [ … ]")
    if kind == "Binary (base64)":
        try:
            return Binary(base64.b64decode(stripped, validate=True), 0)
        except (binascii.Error, ValueError):
            raise ValueError(f"{text!r} is not base64 (A-Z, a-z, 0-9, +, / and = padding)") from None
    if kind == "UUID":
        try:
            return Binary(uuid.UUID(stripped).bytes, UUID_SUBTYPE)
        except ValueError:
            raise ValueError(f"{text!r} is not a UUID: expected 32 hex digits, "
                             "dashes optional") from None  # fmt: skip
    raise ValueError(f"unknown type {kind!r}; expected one of {', '.join(FIELD_TYPES)}")


def _date_text(moment: datetime.datetime) -> str:
    ms = datetime_to_ms(moment)
    if not _DATE_MS_RANGE[0] <= ms <= _DATE_MS_RANGE[1]:
        raise ValueError("a date outside the years 1 to 9999")
    utc = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)
    return (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
            f"{utc.second:02d}.{ms % 1000:03d}Z")  # fmt: skip


def _double_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def describe_value(value: Any) -> tuple[str, str]:
    """(type, text) of a value for a row; ``ValueError`` if no row type can hold it."""
    if value is None:
        return "Null", ""
    if value is True or value is False:
        return "Boolean", "true" if value else "false"
    if isinstance(value, Int64):
        return "Int64", str(int(value))
    if isinstance(value, int):
        in_range = _INT32_RANGE[0] <= value <= _INT32_RANGE[1]
        return ("Int32" if in_range else "Int64"), str(int(value))
    if isinstance(value, float):
        return "Double", _double_text(value)
    if type(value) is str:
        return "String", value
    if isinstance(value, Decimal128):
        return "Decimal128", str(value)
    if isinstance(value, datetime.datetime):
        return "Date", _date_text(value)
    if isinstance(value, ObjectId):
        return "ObjectId", str(value)
    if isinstance(value, Mapping):
        return "Object (JSON)", to_shell(dict(value))
    if isinstance(value, list):
        return "Array (JSON)", to_shell(value)
    if isinstance(value, Binary) and value.subtype == UUID_SUBTYPE and len(value) == 16:
        return "UUID", str(uuid.UUID(bytes=bytes(value)))
    if (isinstance(value, Binary) and value.subtype == 0) or type(value) is bytes:
        return "Binary (base64)", base64.b64encode(bytes(value)).decode("ascii")
    raise ValueError(f"a {type_name(value)}, which has no row type")


def document_to_rows(document: Mapping[str, Any]) -> list[Row]:
    """One row per top-level field; ``ValueError`` names a field no row type can hold."""
    rows = []
    for name, value in document.items():
        try:
            kind, text = describe_value(value)
        except ValueError as exc:
            raise ValueError(f"field {name!r} is {exc}; edit it in the JSON tab") from None
        rows.append((name, kind, text))
    return rows


def rows_to_document(rows: list[Row]) -> tuple[dict[str, Any] | None, list[RowError]]:
    """The document, or None and one error per bad row (rows numbered from 1).
    Rows with neither a name nor a value are ignored (a row added but not filled in)."""
    document: dict[str, Any] = {}
    first_row: dict[str, int] = {}
    errors: list[RowError] = []
    for number, (name, kind, text) in enumerate(rows, 1):
        if not name and not text.strip():
            continue
        label = f"Row {number} ({name})" if name else f"Row {number}"

        def fail(reason: str, number: int = number, label: str = label) -> None:
            errors.append(RowError(number, f"{label}: {reason}"))

        if not name:
            fail("the field name is empty")
        elif "\x00" in name:
            fail("a field name cannot contain a NUL character")
        elif name in first_row:
            fail(f"the field name repeats row {first_row[name]}")
        else:
            first_row[name] = number
            try:
                document[name] = parse_value(kind, text)
            except ValueError as exc:
                fail(str(exc))
    return (None, errors) if errors else (document, [])


# --- the widget -------------------------------------------------------------------------

_NAME, _TYPE, _VALUE = range(3)


class FieldsEditor(QWidget):
    """Rows of name / type / value (see the module docstring)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fields-editor")
        self.table = QTableWidget(0, 3, self)
        self.table.setObjectName("fields-table")
        self.table.setHorizontalHeaderLabels(["Field", "Type", "Value"])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(_VALUE, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(_NAME, 160)
        self.table.setColumnWidth(_TYPE, 130)
        self.add_button = QPushButton("Add field", self)
        self.remove_button = QPushButton("Remove field", self)
        self.add_button.clicked.connect(lambda: self.add_row())
        self.remove_button.clicked.connect(self.remove_current_row)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    # -- rows ----------------------------------------------------------------------------
    def add_row(self, name: str = "", kind: str = "String", text: str = "") -> int:
        if kind not in FIELD_TYPES:
            raise ValueError(f"unknown type {kind!r}; expected one of {', '.join(FIELD_TYPES)}")
        row = self.table.rowCount()
        self.table.insertRow(row)
        name_edit = QLineEdit(name)
        name_edit.setPlaceholderText("field name")
        name_edit.textChanged.connect(self.changed)
        self.table.setCellWidget(row, _NAME, name_edit)
        types = QComboBox()
        types.addItems(FIELD_TYPES)
        types.setCurrentText(kind)
        types.currentTextChanged.connect(lambda new, edit=name_edit: self._retype(edit, new))
        self.table.setCellWidget(row, _TYPE, types)
        self._set_value_editor(row, kind, text)
        self.changed.emit()
        return row

    def remove_current_row(self) -> None:
        row = self.table.currentRow()
        if row < 0:
            row = self.table.rowCount() - 1
        if row >= 0:
            self.table.removeRow(row)
            self.changed.emit()

    def set_rows(self, rows: list[Row]) -> None:
        self.table.setRowCount(0)
        for name, kind, text in rows:
            self.add_row(name, kind, text)
        self.changed.emit()

    def rows(self) -> list[Row]:
        return [(self._name(row), self._kind(row), self.value_text(row))
                for row in range(self.table.rowCount())]  # fmt: skip

    def document(self) -> tuple[dict[str, Any] | None, list[RowError]]:
        """The document or the errors; bad rows' value editors are tinted."""
        document, errors = rows_to_document(self.rows())
        self.mark_rows({error.row - 1 for error in errors})
        return document, errors

    # -- cells ---------------------------------------------------------------------------
    def _name(self, row: int) -> str:
        widget = self.table.cellWidget(row, _NAME)
        return widget.text() if isinstance(widget, QLineEdit) else ""

    def _kind(self, row: int) -> str:
        widget = self.table.cellWidget(row, _TYPE)
        return widget.currentText() if isinstance(widget, QComboBox) else "String"

    def value_text(self, row: int) -> str:
        widget = self.table.cellWidget(row, _VALUE)
        if isinstance(widget, QComboBox):
            return widget.currentText()
        return widget.text() if isinstance(widget, QLineEdit) else ""

    def set_value_text(self, row: int, text: str) -> None:
        widget = self.table.cellWidget(row, _VALUE)
        if isinstance(widget, QComboBox):
            widget.setCurrentText(text)
        elif isinstance(widget, QLineEdit):
            widget.setText(text)

    def set_type(self, row: int, kind: str) -> None:
        widget = self.table.cellWidget(row, _TYPE)
        if isinstance(widget, QComboBox):
            widget.setCurrentText(kind)

    def _row_of(self, name_edit: QLineEdit) -> int:
        for row in range(self.table.rowCount()):
            if self.table.cellWidget(row, _NAME) is name_edit:
                return row
        return -1

    def _retype(self, name_edit: QLineEdit, kind: str) -> None:
        """A new type keeps the value text when it still means something (5 → Int64)."""
        row = self._row_of(name_edit)
        if row < 0:
            return
        self._set_value_editor(row, kind, self.value_text(row))
        self.changed.emit()

    def _set_value_editor(self, row: int, kind: str, text: str) -> None:
        if kind == "Boolean":
            choice = QComboBox()
            choice.addItems(["true", "false"])
            choice.setCurrentText("false" if text.strip() == "false" else "true")
            choice.currentTextChanged.connect(self.changed)
            self.table.setCellWidget(row, _VALUE, choice)
            return
        edit = QLineEdit("" if kind == "Null" else text)
        edit.setEnabled(kind != "Null")
        edit.setPlaceholderText("null" if kind == "Null" else PLACEHOLDERS.get(kind, ""))
        edit.textChanged.connect(self.changed)
        self.table.setCellWidget(row, _VALUE, edit)

    def mark_rows(self, bad_rows: set[int]) -> None:
        """Tint the value editors of the rows (0-based) that did not validate."""
        for row in range(self.table.rowCount()):
            widget = self.table.cellWidget(row, _VALUE)
            if widget is not None:
                widget.setStyleSheet("background: #ffcdd2;" if row in bad_rows else "")
