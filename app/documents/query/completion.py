"""Autocomplete in the query bar: field names from the documents already loaded and the
query operators (``$gt``, ``$in``, ``$elemMatch``...).

``field_paths(documents)`` collects dotted paths (``items.sku``) from raw documents,
reading one level at a time with ``ElementIndex`` (no whole-document decode) and going
three levels deep at most. ``candidates(prefix, fields)`` is the pure matching function;
``QueryCompleter`` attaches a popup to the query bar's text fields: it opens as the user
types a word (letters, digits, ``_``, ``.``, ``$``) and replaces that word with the choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QObject, QStringListModel, Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QCompleter, QPlainTextEdit

from app.documents.values.raw_elements import ElementIndex, RawArray
from driver.bson import RawBSONDocument

QUERY_OPERATORS = (
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$and", "$or", "$nor", "$not",
    "$exists", "$type", "$regex", "$options", "$expr", "$mod", "$text", "$search", "$where",
    "$all", "$elemMatch", "$size", "$geoWithin", "$geoIntersects", "$near", "$nearSphere",
    "$jsonSchema", "$bitsAllSet", "$bitsAnySet", "$bitsAllClear", "$bitsAnyClear", "$comment",
)  # fmt: skip
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.$")
MAX_DEPTH = 3
MAX_DOCUMENTS = 200  # documents sampled for field names


def field_paths(documents: Iterable[Any], limit: int = MAX_DOCUMENTS) -> list[str]:
    """Dotted field paths of the first ``limit`` documents, in first-seen order."""
    seen: dict[str, None] = {}
    for number, document in enumerate(documents):
        if number >= limit:
            break
        raw = document.raw if isinstance(document, RawBSONDocument) else document
        if isinstance(raw, (bytes, bytearray)):
            _walk(ElementIndex.scan(bytes(raw)), "", 1, seen)
    return list(seen)


def _walk(index: ElementIndex, prefix: str, depth: int, seen: dict[str, None]) -> None:
    for row in range(len(index)):
        path = prefix + index.key(row)
        seen.setdefault(path, None)
        if depth >= MAX_DEPTH:
            continue
        kind = index.data[index.starts[row]]
        if kind == 3:  # embedded document: one level further
            value = index.value(row)
            _walk(ElementIndex.scan(value.raw), path + ".", depth + 1, seen)
        elif kind == 4:  # array: the fields of its first embedded document
            array = index.value(row)
            assert isinstance(array, RawArray)
            items = ElementIndex.scan(array.data, array.start, array.stop)
            if len(items) and items.data[items.starts[0]] == 3:
                _walk(ElementIndex.scan(items.value(0).raw), path + ".", depth + 1, seen)


def candidates(prefix: str, fields: Iterable[str]) -> list[str]:
    """What to offer for ``prefix``: operators for ``$...``, else fields starting with it
    (case-insensitive), shortest first."""
    if not prefix:
        return []
    pool = QUERY_OPERATORS if prefix.startswith("$") else tuple(fields)
    lowered = prefix.lower()
    found = [name for name in pool if name.lower().startswith(lowered) and name != prefix]
    return sorted(found, key=lambda name: (len(name), name))


def word_before_cursor(text: str, position: int) -> str:
    start = position
    while start > 0 and text[start - 1] in _WORD_CHARS:
        start -= 1
    return text[start:position]


class QueryCompleter(QObject):
    """Completion popups for a set of ``QPlainTextEdit`` fields."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.fields: list[str] = []
        self.model = QStringListModel(self)
        self.completer = QCompleter(self.model, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.activated[str].connect(self.insert)  # type: ignore[index]
        self._edit: QPlainTextEdit | None = None
        self._inserting = False

    def set_fields(self, fields: Iterable[str]) -> None:
        self.fields = list(fields)

    def attach(self, edit: QPlainTextEdit) -> None:
        edit.textChanged.connect(lambda: self._text_changed(edit))

    def _text_changed(self, edit: QPlainTextEdit) -> None:
        if self._inserting or not edit.hasFocus():
            return
        cursor = edit.textCursor()
        prefix = word_before_cursor(edit.toPlainText(), cursor.position())
        offers = candidates(prefix, self.fields)
        popup = self.completer.popup()
        if not offers:
            if popup is not None:
                popup.hide()
            return
        self._edit = edit
        self.completer.setWidget(edit)
        self.model.setStringList(offers)
        self.completer.setCompletionPrefix("")
        rect = edit.cursorRect()
        rect.setWidth(240)
        self.completer.complete(rect)

    def insert(self, choice: str) -> None:
        edit = self._edit
        if edit is None:
            return
        cursor = edit.textCursor()
        prefix = word_before_cursor(edit.toPlainText(), cursor.position())
        cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor,
                            len(prefix))
        self._inserting = True
        try:
            cursor.insertText(choice)
            edit.setTextCursor(cursor)
        finally:
            self._inserting = False
