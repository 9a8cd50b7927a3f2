"""QueryBar: errors shown in place with line and column, Find disabled until every field
parses, Ctrl+Enter, Cancel while running, history recorded and offered again."""

from __future__ import annotations

import datetime

from PySide6.QtCore import Qt

from app.documents.query.bar import QueryBar, build_spec
from app.documents.query.history import QueryStore
from driver.bson import ObjectId


def test_errors_show_in_place_and_find_waits(qtbot):
    bar = QueryBar()
    qtbot.addWidget(bar)
    bar.show()
    assert bar.find_button.isEnabled()  # empty query: find everything
    bar.edits["filter"].setPlainText("{\n  status: 'A',\n  qty: { $lt 30 }\n}")
    label = bar.error_labels["filter"]
    assert not bar.find_button.isEnabled() and label.isVisible()
    assert label.text().startswith("line 3, column 14: expected ':'")
    with qtbot.assertNotEmitted(bar.findRequested):
        qtbot.keyClick(bar.edits["filter"], Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    bar.edits["filter"].setPlainText("{ status: 'A', qty: { $lt: 30 } } // fixed")
    assert bar.find_button.isEnabled() and not label.isVisible()
    bar.edits["limit"].setPlainText("-5")
    assert not bar.find_button.isEnabled() and "whole number" in bar.error_labels["limit"].text()
    bar.edits["limit"].setPlainText("20")
    with qtbot.waitSignal(bar.findRequested) as found:
        qtbot.keyClick(bar.edits["filter"], Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    spec = found.args[0]
    assert spec.filter == {"status": "A", "qty": {"$lt": 30}} and spec.limit == 20


def test_running_query_can_be_cancelled(qtbot):
    bar = QueryBar()
    qtbot.addWidget(bar)
    bar.set_running(True)
    assert bar.find_button.text() == "Cancel" and bar.find_button.isEnabled()
    assert not bar.run_query()  # no second query while one runs
    with qtbot.waitSignal(bar.cancelRequested):
        bar.find_button.click()
    bar.set_running(False)
    assert bar.find_button.text() == "Find"
    with qtbot.waitSignal(bar.resetRequested):
        bar.edits["sort"].setPlainText("{a: -1}")
        bar.reset_button.click()
    assert bar.texts()["sort"] == ""


def test_history_is_recorded_and_offered(qtbot, tmp_path):
    store = QueryStore(tmp_path)
    bar = QueryBar(store=store, history_key="fav/db.c")
    qtbot.addWidget(bar)
    assert not bar.history_box.isEnabled()
    bar.set_texts({"filter": "{a: 1}", "sort": "{a: -1}"})
    assert bar.run_query()
    bar.set_texts({"filter": "{b: 2}"})
    assert bar.run_query()
    assert bar.history_box.count() == 2 and bar.history_box.itemText(0).startswith("filter: {b: 2}")
    bar.history_box.activated.emit(1)
    assert bar.texts()["filter"] == "{a: 1}" and bar.texts()["sort"] == "{a: -1}"


def test_spec_to_find_arguments():
    oid = "5f1b2c3d4e5f6a7b8c9d0e1f"
    spec, errors = build_spec(
        {
            "filter": f"{{_id: ObjectId('{oid}'), at: {{$gte: ISODate('2024-01-01')}}}}",
            "project": "{name: 1, _id: 0}",
            "sort": "{name: 1, at: -1}",
            "collation": "{locale: 'fr'}",
            "skip": "5",
            "limit": "10",
            "maxTimeMS": "1000",
            "hint": "{name: 1}",
        }
    )
    assert errors == {} and spec is not None
    assert spec.find_kwargs() == {
        "filter": {"_id": ObjectId(oid), "at": {"$gte": datetime.datetime(2024, 1, 1)}},
        "projection": {"name": 1, "_id": 0},
        "sort": [("name", 1), ("at", -1)],
        "collation": {"locale": "fr"},
        "skip": 5,
        "limit": 10,
        "max_time_ms": 1000,
        "hint": [("name", 1)],
    }
    empty, _ = build_spec({})
    assert empty is not None and empty.find_kwargs() == {"filter": {}}


def test_favourite_queries_are_saved_by_name_and_applied(qtbot, tmp_path):
    store = QueryStore(tmp_path)
    bar = QueryBar(store=store, history_key="c1/shop.orders")
    qtbot.addWidget(bar)
    bar.set_texts({"filter": "{ status: 'paid' } // paid ones", "limit": "5"})
    dialog = bar.ask_favorite_name()
    dialog.setTextValue("paid orders")
    dialog.accept()
    assert QueryStore(tmp_path).favorites("c1/shop.orders") == {
        "paid orders": {"filter": "{ status: 'paid' } // paid ones", "limit": "5"}}
    assert bar.favorites_box.count() == 1
    bar.set_texts({})
    bar.favorites_box.activated.emit(0)
    assert bar.texts()["filter"] == "{ status: 'paid' } // paid ones"
    assert not bar.save_favorite("  ")  # a name is required
    dialog.deleteLater()


def test_enter_runs_the_query_and_shift_enter_breaks_the_line(qtbot):
    bar = QueryBar()
    qtbot.addWidget(bar)
    bar.show()
    edit = bar.edits["filter"]
    edit.setPlainText("{ a: 1 }")
    edit.moveCursor(edit.textCursor().MoveOperation.End)
    with qtbot.waitSignal(bar.findRequested) as found:
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert found.args[0].filter == {"a": 1}
    assert edit.toPlainText() == "{ a: 1 }"  # no line break added
    with qtbot.waitSignal(bar.findRequested):
        qtbot.keyClick(edit, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    with qtbot.assertNotEmitted(bar.findRequested):
        qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert edit.toPlainText() == "{ a: 1 }\n"
    with qtbot.waitSignal(bar.findRequested):  # Ctrl+Enter still runs
        qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def test_an_unparseable_filter_or_a_new_attempt_marks_results_stale(qtbot):
    bar = QueryBar()
    qtbot.addWidget(bar)
    with qtbot.waitSignal(bar.staleResults):
        bar.edits["filter"].setPlainText("{ a: ")
    with qtbot.waitSignal(bar.staleResults), qtbot.assertNotEmitted(bar.findRequested):
        qtbot.keyClick(bar.edits["filter"], Qt.Key.Key_Return)
