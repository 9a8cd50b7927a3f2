"""The JSON view: the loaded documents as relaxed Extended JSON, syntax-highlighted.

Text is produced from the raw bytes by ``json_writer`` (no decoding into Python
documents) and re-indented by the json module; a document larger than
``MAX_SHOWN_BYTES`` is not laid out as text (a 15 MB text block would freeze the editor)
but announced with its size, and "copy document" still copies it whole. "Copy all"
copies every loaded document as a JSON array.
"""

from __future__ import annotations

import json
import re
from typing import Any

from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from app.documents.values.display import human_size
from app.documents.values.json_writer import document_to_json

MAX_SHOWN_BYTES = 256 * 1024


def pretty_json(document: Any, mode: str = "relaxed") -> str:
    """Indented Extended JSON of one document (raw bytes, ``RawBSONDocument`` or dict)."""
    return json.dumps(json.loads(document_to_json(document, mode)), indent=2, ensure_ascii=False)


class JsonHighlighter(QSyntaxHighlighter):
    """Colours keys, strings, numbers, literals and Extended JSON type wrappers."""

    _RULES = (
        (re.compile(r'"(?:[^"\\]|\\.)*"(?=\s*:)'), "#1565c0"),  # keys
        (re.compile(r'(?<=:\s)"(?:[^"\\]|\\.)*"|(?<=\[)"(?:[^"\\]|\\.)*"'), "#2e7d32"),
        (re.compile(r"-?\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b"), "#ad1457"),
        (re.compile(r"\b(?:true|false|null)\b"), "#6a1b9a"),
        (re.compile(r'"\$(?:oid|date|numberLong|numberDecimal|numberDouble|numberInt|binary|'
                    r'timestamp|regularExpression|minKey|maxKey|code|symbol|undefined)"'),
         "#ef6c00"),
    )  # fmt: skip

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self._formats = []
        for pattern, color in self._RULES:
            text_format = QTextCharFormat()
            text_format.setForeground(QColor(color))
            self._formats.append((pattern, text_format))

    def highlightBlock(self, text: str) -> None:
        for pattern, text_format in self._formats:
            for match in pattern.finditer(text):
                self.setFormat(match.start(), match.end() - match.start(), text_format)


class JsonView(QPlainTextEdit):
    """Read-only JSON text of a list of documents (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setObjectName("documents-json")
        self._documents: list[Any] = []
        self._starts: list[int] = []  # first text block of each document
        self.highlighter = JsonHighlighter(self.document())

    @property
    def document_count(self) -> int:
        """How many documents the text holds."""
        return len(self._documents)

    def set_documents(self, documents: list[Any]) -> None:
        self._documents = list(documents)
        parts: list[str] = []
        self._starts = []
        line = 0
        for number, document in enumerate(self._documents, 1):
            self._starts.append(line)
            size = (
                len(getattr(document, "raw", b""))
                if not isinstance(document, bytes)
                else len(document)
            )
            if size > MAX_SHOWN_BYTES:
                text = f"// document {number}: {human_size(size)}, too large to show as text; copy it instead"
            else:
                text = pretty_json(document)
            parts.append(text)
            line += text.count("\n") + 1
        self.setPlainText("\n".join(parts))

    def document_at_cursor(self) -> int | None:
        """Index of the document under the text cursor."""
        if not self._starts:
            return None
        block = self.textCursor().blockNumber()
        index = 0
        for number, start in enumerate(self._starts):
            if start <= block:
                index = number
        return index

    def copy_document(self, index: int | None = None) -> str:
        """Copy one document (the one under the cursor by default) to the clipboard."""
        index = self.document_at_cursor() if index is None else index
        if index is None:
            return ""
        text = pretty_json(self._documents[index])
        QGuiApplication.clipboard().setText(text)
        return text

    def copy_all(self) -> str:
        """Copy every loaded document as one JSON array."""
        text = "[" + ",\n".join(document_to_json(d) for d in self._documents) + "]"
        QGuiApplication.clipboard().setText(text)
        return text
