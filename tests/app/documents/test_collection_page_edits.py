"""Editing on the collection page against the sandbox: in-place edits in the list and
the table (with an explicit type change), a concurrent edit shown as a conflict, insert
through the JSON editor with a positioned error, clone, delete with confirmation, bulk
delete and update previews, and read-only mode disabling every write path."""

from __future__ import annotations

import datetime

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemDelegate, QDialogButtonBox, QLineEdit, QMessageBox

from app.documents.editing.editor import ConflictDialog, DocumentEditor
from app.documents.views.tree_model import KEY_COLUMN, VALUE_COLUMN, ValueRole

from .page_helpers import run_query, settle, spec

ROOT = QModelIndex()


def seed(collection, count=6):
    collection.insert_many([
        {"_id": n, "name": f"p{n}", "age": 20 + n, "address": {"city": "Oslo"},
         "joined": datetime.datetime(2024, 1, 1 + n)} for n in range(count)])


def field_index(model, row, key, view_column=VALUE_COLUMN):
    document = model.index(row, 0)
    for child in range(model.rowCount(document)):
        if model.index(child, KEY_COLUMN, document).data() == key:
            return model.index(child, view_column, document)
    raise AssertionError(f"no field {key}")


def type_in_place(view, index, text):
    """Open the view's editor on ``index``, type ``text`` and commit it, as a user would."""
    view.setCurrentIndex(index)
    view.edit(index)
    editor = view.findChild(QLineEdit, "value-editor")
    assert editor is not None, "no in-place editor opened"
    editor.setText(text)
    view.commitData(editor)
    view.closeEditor(editor, QAbstractItemDelegate.EndEditHint.NoHint)


def wait_write(aloop, page, before):
    """Wait until a write finished (and the page showed its outcome)."""
    settle(aloop, lambda: page.writes > before and page.run.started and not page.tasks)


def test_edit_in_place_in_the_list_round_trips(aloop, make_page, scratch, qtmodeltester):
    seed(scratch)
    page = make_page("scratch", scratch.name)
    run_query(aloop, page, sort="{ _id: 1 }")
    generation = page.generation
    model = page.list_model
    index = field_index(model, 2, "name")
    assert index.flags() & Qt.ItemFlag.ItemIsEditable
    before = page.writes
    type_in_place(page.list_view, index, "'Bea'")
    wait_write(aloop, page, before)
    assert scratch.find_one({"_id": 2})["name"] == "Bea"
    assert model.raw_document(2)["name"] == "Bea"  # the page read it back
    # A nested field, by its dotted path.
    document = model.index(2, 0)
    page.list_view.expand(document)
    address = field_index(model, 2, "address", 0)
    city = model.index(0, VALUE_COLUMN, address)
    before = page.writes
    type_in_place(page.list_view, city, "'Bergen'")
    wait_write(aloop, page, before)
    assert scratch.find_one({"_id": 2})["address"] == {"city": "Bergen"}
    # Shown in place: no new query, the row stays expanded, the model stays consistent.
    assert page.generation == generation and page.list_view.isExpanded(document)
    assert model.index(0, VALUE_COLUMN, field_index(model, 2, "address", 0)).data() == \
        '"Bergen"'
    qtmodeltester.check(model, force_py=True)
    # The table, fed only now from the query's kept batches, shows the new version too.
    page.show_view("table")
    settle(aloop, lambda: page.table_model.rowCount() == 6)
    city = page.table_model.columns.index("address")
    assert dict(page.table_model.index(2, city).data(ValueRole)) == {"city": "Bergen"}


def test_table_edit_with_an_explicit_type_change(aloop, make_page, scratch):
    seed(scratch)
    page = make_page("scratch", scratch.name)
    run_query(aloop, page, sort="{ _id: 1 }")
    page.show_view("table")
    settle(aloop, lambda: page.table_model.rowCount() == 6)
    table = page.table_view.table
    age = page.table_model.columns.index("age")
    index = page.table_model.index(1, age)
    type_in_place(table, index, "'twenty-one'")  # Int32 -> String: asks first
    box = page.dialog
    assert isinstance(box, QMessageBox) and "from Int32 to String" in box.text()
    before = page.writes
    box.button(QMessageBox.StandardButton.Yes).click()
    wait_write(aloop, page, before)
    assert scratch.find_one({"_id": 1})["age"] == "twenty-one"
    assert page.table_model.index(1, age).data() == '"twenty-one"'  # shown in place
    # A date stays a date when edited as a date: no question asked.
    joined = page.table_model.columns.index("joined")
    page.show_view("table")
    settle(aloop, lambda: page.table_model.rowCount() == 6)
    before = page.writes
    type_in_place(table, page.table_model.index(1, joined), 'ISODate("2030-05-06T07:08:09Z")')
    wait_write(aloop, page, before)
    assert scratch.find_one({"_id": 1})["joined"] == datetime.datetime(2030, 5, 6, 7, 8, 9)


def test_concurrent_edit_is_detected_and_shown(aloop, make_page, scratch):
    seed(scratch)
    page = make_page("scratch", scratch.name)
    run_query(aloop, page, sort="{ _id: 1 }")
    index = field_index(page.list_model, 3, "name")
    messages: list[str] = []
    page.writeFinished.connect(messages.append)
    scratch.update_one({"_id": 3}, {"$set": {"name": "changed elsewhere"}})  # meanwhile
    type_in_place(page.list_view, index, "'mine'")
    settle(aloop, lambda: isinstance(page.dialog, ConflictDialog))
    # The status bar says what happened, not just "conflict".
    assert messages[-1] == ("The document changed on the server since you opened it; "
                            "choose a version")
    dialog = page.dialog
    assert "changed elsewhere" in dialog.theirs_text.toPlainText()
    assert '"mine"' in dialog.mine_text.toPlainText()
    assert scratch.find_one({"_id": 3})["name"] == "changed elsewhere"  # not overwritten
    before = page.writes
    dialog.keep_button.click()  # the user keeps their version
    wait_write(aloop, page, before)
    assert scratch.find_one({"_id": 3})["name"] == "mine"


def test_insert_through_the_json_editor_and_clone(aloop, make_page, scratch):
    seed(scratch, 2)
    page = make_page("scratch", scratch.name)
    run_query(aloop, page)
    editor = page.insert_document()
    assert isinstance(editor, DocumentEditor)
    editor.text.setPlainText("{ _id: 10,\n  name: 'new',, }")
    assert not editor.save_button.isEnabled()
    assert editor.status.text().startswith("line 2, column 15")
    editor.text.setPlainText("{ _id: 10, name: 'new', when: ISODate('2024-02-03'), "
                             "n: NumberLong(5) }")
    assert editor.save_button.isEnabled()
    before = page.writes
    editor.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    wait_write(aloop, page, before)
    inserted = scratch.find_one({"_id": 10})
    assert inserted["when"] == datetime.datetime(2024, 2, 3) and inserted["n"] == 5
    # Clone the first document: same fields, a new _id from the server's side.
    page.list_view.setCurrentIndex(page.list_model.index(0, 0))
    clone = page.clone_selected()
    assert "_id" not in clone.document and clone.document["name"] == "p0"
    before = page.writes
    clone.accept()
    wait_write(aloop, page, before)
    assert scratch.count_documents({"name": "p0"}) == 2


def test_delete_asks_for_confirmation(aloop, make_page, scratch):
    seed(scratch, 3)
    page = make_page("scratch", scratch.name)
    run_query(aloop, page, sort="{ _id: 1 }")
    page.list_view.setCurrentIndex(page.list_model.index(1, 0))
    box = page.delete_selected()
    assert "_id 1" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert scratch.count_documents({}) == 3
    box = page.delete_selected()
    before = page.writes
    box.button(QMessageBox.StandardButton.Yes).click()
    wait_write(aloop, page, before)
    assert scratch.find_one({"_id": 1}) is None and page.list_model.rowCount() == 2
    assert [page.list_model.raw_document(r)["_id"] for r in range(2)] == [0, 2]
    assert page.list_model.index(1, KEY_COLUMN).data() == "2"  # renumbered


def test_bulk_delete_and_update_preview_the_match_count(aloop, make_page, scratch):
    seed(scratch, 10)
    page = make_page("scratch", scratch.name)
    run_query(aloop, page, filter="{ age: { $gte: 25 } }")
    dialog = page.bulk("delete")
    assert not dialog.apply_button.isEnabled()  # until the preview arrived
    settle(aloop, lambda: dialog.count is not None)
    assert dialog.count == 5 and len(dialog.sample) == 3
    assert "5 documents will be deleted" in dialog.count_label.text()
    before = page.writes
    dialog.apply_button.click()
    wait_write(aloop, page, before)
    assert scratch.count_documents({}) == 5
    update = page.bulk("update")
    settle(aloop, lambda: update.count is not None)
    assert update.count == 0 and not update.apply_button.isEnabled()
    page.query(spec(filter="{ age: { $lt: 22 } }"))
    settle(aloop, lambda: page.run.started)
    update = page.bulk("update")
    update.update_text.setPlainText("{ $set: { 'address.city': 'Lyon' } }")
    settle(aloop, lambda: update.count is not None)
    assert update.count == 2 and "// after" in update.sample_text.toPlainText()
    assert "Lyon" in update.sample_text.toPlainText()
    before = page.writes
    update.apply_button.click()
    wait_write(aloop, page, before)
    assert scratch.count_documents({"address.city": "Lyon"}) == 2


def test_read_only_mode_disables_every_write(aloop, make_page, scratch):
    seed(scratch, 3)
    page = make_page("scratch", scratch.name, read_only=True)
    run_query(aloop, page, sort="{ _id: 1 }")
    for name in ("insert", "edit", "clone", "delete", "update_many", "delete_many", "import"):
        assert not page.actions_by_name[name].isEnabled(), name
    assert page.actions_by_name["export"].isEnabled()
    index = field_index(page.list_model, 0, "name")
    assert not index.flags() & Qt.ItemFlag.ItemIsEditable
    page.show_view("table")
    settle(aloop, lambda: page.table_model.rowCount() == 3)
    assert not page.table_model.index(0, 1).flags() & Qt.ItemFlag.ItemIsEditable
    page.show_view("list")
    page.list_view.setCurrentIndex(page.list_model.index(0, 0))
    assert page.insert_document() is None and page.delete_selected() is None
    assert page.bulk("delete") is None and page.import_file() is None
    page.edit_value(page.list_model, index, "x")  # even called directly
    page.save_edit({"_id": 0, "name": "p0"}, {"_id": 0, "name": "x"})
    assert "read-only" in page.message.text()
    settle(aloop, lambda: not page.tasks)
    assert scratch.find_one({"_id": 0})["name"] == "p0"
