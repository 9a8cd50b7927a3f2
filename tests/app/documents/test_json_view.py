"""JsonView: relaxed Extended JSON from raw bytes, highlighted, copy one / copy all."""

from __future__ import annotations

import json

from PySide6.QtGui import QGuiApplication, QTextCursor

from app.documents.views.json_view import MAX_SHOWN_BYTES, JsonView, pretty_json
from driver.bson import RawBSONDocument, encode, json_util

from .samples import every_type


def test_shows_and_copies_documents(qtbot):
    view = JsonView()
    qtbot.addWidget(view)
    documents = [RawBSONDocument(encode(d)) for d in every_type()]
    big = RawBSONDocument(encode({"_id": "big", "blob": "x" * (MAX_SHOWN_BYTES + 10)}))
    view.set_documents([*documents, big])
    text = view.toPlainText()
    assert '"$oid"' in text and '"$numberDecimal": "1234.5600"' in text
    assert "too large to show as text" in text and "x" * 100 not in text
    cursor = view.textCursor()
    cursor.movePosition(QTextCursor.MoveOperation.End)
    view.setTextCursor(cursor)
    assert view.document_at_cursor() == 3
    copied = view.copy_document(1)
    assert json.loads(copied) == {"_id": "string id", "only_here": True}
    assert QGuiApplication.clipboard().text() == copied
    everything = view.copy_all()
    restored = json_util.loads(everything)
    assert [encode(d) for d in restored[:1]] == [
        encode(json_util.loads(json_util.dumps(every_type()[0])))
    ]
    assert len(restored) == 4 and restored[3]["blob"] == "x" * (MAX_SHOWN_BYTES + 10)


def test_pretty_json_of_dict_and_bytes_agree():
    document = every_type()[0]
    assert pretty_json(document) == pretty_json(encode(document))
    assert pretty_json(document).startswith('{\n  "_id": 1,')
