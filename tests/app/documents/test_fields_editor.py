"""Field-by-field insert: every BSON type of the list typed as rows and inserted through
the sandbox comes back identical; bad rows block Insert with the row's message; the JSON
and fields tabs convert both ways, and refuse (saying which field) when they cannot."""

from __future__ import annotations

import datetime
import math
import uuid

import pytest
from PySide6.QtWidgets import QComboBox

from app.documents.editing.editor import FIELDS_TAB, JSON_TAB, DocumentEditor
from app.documents.editing.fields_editor import (
    FIELD_TYPES,
    describe_value,
    document_to_rows,
    parse_value,
    rows_to_document,
)
from driver.bson import Binary, Decimal128, Int64, ObjectId, Timestamp, encode

from .page_helpers import dispose, settle

UUID_TEXT = "123e4567-e89b-12d3-a456-426614174000"
# One row of every type in the list, as a user types them.
EVERY_TYPE_ROWS = [
    ("_id", "ObjectId", "65f1a2b3c4d5e6f708091a2b"),
    ("name", "String", "  café ✓ \"quoted\"  "),
    ("small", "Int32", "-2147483648"),
    ("big", "Int64", "9007199254740993"),
    ("ratio", "Double", "2.5e-3"),
    ("price", "Decimal128", "12.3400"),
    ("active", "Boolean", "false"),
    ("when", "Date", "2024-05-01T14:30:00.250+02:00"),
    ("nothing", "Null", ""),
    ("address", "Object (JSON)", "{ city: 'Oslo', zip: NumberLong(150), at: ISODate('2020-01-01') }"),
    ("tags", "Array (JSON)", '[1, "two", {"three": {"$numberDecimal": "3"}}, []]'),
    ("blob", "Binary (base64)", "AAECA/8="),
    ("key", "UUID", UUID_TEXT),
]
EXPECTED = {
    "_id": ObjectId("65f1a2b3c4d5e6f708091a2b"),
    "name": '  café ✓ "quoted"  ',
    "small": -(2**31),
    "big": Int64(9007199254740993),
    "ratio": 0.0025,
    "price": Decimal128("12.3400"),
    "active": False,
    "when": datetime.datetime(2024, 5, 1, 12, 30, 0, 250000),
    "nothing": None,
    "address": {"city": "Oslo", "zip": Int64(150), "at": datetime.datetime(2020, 1, 1)},
    "tags": [1, "two", {"three": Decimal128("3")}, []],
    "blob": Binary(b"\x00\x01\x02\x03\xff", 0),
    "key": Binary(uuid.UUID(UUID_TEXT).bytes, 4),
}


def test_rows_of_every_type_make_the_document():
    assert {kind for _, kind, _ in EVERY_TYPE_ROWS} == set(FIELD_TYPES)
    document, errors = rows_to_document(EVERY_TYPE_ROWS)
    assert errors == [] and encode(document) == encode(EXPECTED)
    # And back: the rows of the document read as the same document.
    again, errors = rows_to_document(document_to_rows(document))
    assert errors == [] and encode(again) == encode(EXPECTED)


@pytest.mark.parametrize(("kind", "text", "message"), [
    ("Int32", "12x", "'12x' is not an Int32: expected a whole number"),
    ("Int32", "2147483648", "out of the Int32 range"),
    ("Int64", "1.5", "is not an Int64"),
    ("Double", "1,5", "'1,5' is not a Double"),
    ("Double", "1e999", "too large for a Double"),
    ("Decimal128", "ten", "not a valid Decimal128"),
    ("Boolean", "yes", "expected true or false"),
    ("Date", "yesterday", "is not a date: expected ISO-8601"),
    ("ObjectId", "abc", "expected 24 hex digits"),
    ("Object (JSON)", "{ a: }", "not valid JSON: line 1, column 6"),
    ("Object (JSON)", "[1]", "expected a document { … }, found Array"),
    ("Array (JSON)", "{}", "expected an array [ … ], found Object"),
    ("Binary (base64)", "***", "is not base64"),
    ("UUID", "1234", "is not a UUID"),
    ("Int64", " ", "a value is required for the type Int64"),
])
def test_bad_values_say_what_is_wrong(kind, text, message):
    with pytest.raises(ValueError) as caught:
        parse_value(kind, text)
    assert message in str(caught.value)


def test_special_doubles_and_row_checks():
    assert math.isnan(parse_value("Double", "NaN")) and parse_value("Double", "-Infinity") < 0
    assert describe_value(float("inf")) == ("Double", "Infinity")
    assert describe_value(2**40) == ("Int64", str(2**40))
    _, errors = rows_to_document([("a", "String", "x"), ("", "Int32", "5"), ("a", "Null", ""),
                                  ("", "String", "")])  # the last row is blank: ignored
    assert [(e.row, e.message) for e in errors] == [
        (2, "Row 2: the field name is empty"), (3, "Row 3 (a): the field name repeats row 1")]
    with pytest.raises(ValueError, match="field 'ts' is a Timestamp, which has no row type"):
        document_to_rows({"ts": Timestamp(1, 2)})


def test_tabs_convert_both_ways_and_refuse_what_they_cannot(qtbot):
    editor = DocumentEditor("Insert document")
    try:
        editor.text.setPlainText("{ a: 1, nested: { b: [1, 2] }, n: NumberLong(7) }")
        assert editor.show_fields()
        assert editor.fields.rows() == [("a", "Int32", "1"),
                                        ("nested", "Object (JSON)", "{b: [1, 2]}"),
                                        ("n", "Int64", "7")]
        editor.fields.set_type(0, "Boolean")  # a true/false list, not free text
        assert isinstance(editor.fields.table.cellWidget(0, 2), QComboBox)
        editor.fields.set_type(0, "Null")  # nothing to type
        assert not editor.fields.table.cellWidget(0, 2).isEnabled()
        assert editor.document["a"] is None
        editor.fields.set_type(0, "Double")
        editor.fields.set_value_text(0, "1")
        assert editor.save_button.isEnabled() and editor.document["a"] == 1.0
        assert editor.show_json()
        assert "a: 1.0" in editor.text.toPlainText() and "n: NumberLong(\"7\")" in (
            editor.text.toPlainText())
        editor.text.setPlainText("{ t: Timestamp(5, 1) }")
        assert not editor.show_fields() and editor.tabs.currentIndex() == JSON_TAB
        assert "field 't' is a Timestamp" in editor.status.text()
        editor.text.setPlainText("{ t: ")
        assert not editor.show_fields() and "Cannot show this document" in editor.status.text()
    finally:
        dispose(editor)


def wait_write(aloop, page, before):
    settle(aloop, lambda: page.writes > before and not page.tasks)


def test_field_by_field_insert_of_every_type_round_trips(aloop, make_page, scratch):
    page = make_page("scratch", scratch.name)
    editor = page.insert_document()
    assert isinstance(editor, DocumentEditor) and editor.save_button.text() == "Insert"
    assert editor.show_fields() and editor.fields.rows() == [("", "String", "")]
    editor.fields.set_rows([])
    for name, kind, text in EVERY_TYPE_ROWS:
        row = editor.fields.add_row(name)
        editor.fields.set_type(row, kind)  # as a user would: type first, then the value
        editor.fields.set_value_text(row, text)
    assert editor.save_button.isEnabled(), editor.status.text()
    before = page.writes
    outcomes = []
    page.writeFinished.connect(outcomes.append)
    editor.save_button.click()
    wait_write(aloop, page, before)
    assert outcomes == ["Document inserted"]
    stored = scratch.find_one({"_id": EXPECTED["_id"]})
    assert encode(stored) == encode(EXPECTED)


def test_invalid_rows_block_insert_with_the_rows_message(aloop, make_page, scratch):
    page = make_page("scratch", scratch.name)
    editor = page.insert_document()
    editor.show_fields()
    fields = editor.fields
    fields.set_rows([("name", "String", "Ann"), ("age", "Int32", "12x"),
                     ("when", "Date", "2024-13-01")])
    assert not editor.save_button.isEnabled()
    status = editor.status.text()
    assert "Row 2 (age): '12x' is not an Int32: expected a whole number" in status
    assert "Row 3 (when): '2024-13-01' is not a valid date" in status
    assert "ffcdd2" in fields.table.cellWidget(1, 2).styleSheet()  # the bad row is tinted
    assert not editor.show_json() and editor.tabs.currentIndex() == FIELDS_TAB
    assert "Fix these rows first" in editor.status.text()
    fields.set_value_text(1, "12")
    fields.set_value_text(2, "2024-12-01")
    assert editor.save_button.isEnabled() and editor.document["age"] == 12
    assert fields.table.cellWidget(1, 2).styleSheet() == ""
    editor.reject()
    assert scratch.count_documents({}) == 0
