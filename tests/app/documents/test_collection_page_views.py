"""The collection page's views against the sandbox: a 15 MB document rendered in every
view while a 10 ms timer keeps ticking (the gaps are measured in benchmarks/gui_stalls.py); every model passes qtmodeltester; table column
order and widths kept per collection; drill-down; "show more"; dates in local time;
autocomplete; killOp of a find still computing; screenshots (light and dark)."""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QImage

from app.documents.collection_page import CollectionPage
from app.documents.query.completion import candidates
from app.documents.views.document_views import NestedTableModel, ViewSettings
from app.documents.views.tree_model import CHILD_PAGE, KEY_COLUMN, VALUE_COLUMN, ValueRole
from app.services.client_service import ClientService
from app.theme import apply_theme
from tests.gui_ticks import TickMeter
from tests.timing import assert_prompt

from .page_helpers import dispose, run_query, settle, settle_exact_count, spec

ROOT = QModelIndex()
OUTPUT = Path(__file__).resolve().parents[3] / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def server_process():
    """A sandbox in its own process, as a real server is: in this process its Python
    threads would hold the GIL while encoding a 15 MB reply and freeze the GUI thread
    for reasons that have nothing to do with the app."""
    process = subprocess.Popen([sys.executable, "-m", "sandbox"], stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        uri = process.stdout.readline().strip()
        assert uri.startswith("mongodb://"), uri
        yield uri
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_a_15_mb_document_renders_while_the_timer_keeps_ticking(aloop, pool, qapp,
                                                                 server_process):
    from driver import MongoClient

    with MongoClient(server_process, serverSelectionTimeoutMS=10000) as warm:
        # Builds the lazy sample collection before the measurement.
        assert warm["blobs"]["large"].find_one({"_id": 2}, projection={"sizeMB": 1})[
            "sizeMB"] == 15
    service = ClientService(server_process, pool=pool)
    aloop.run_until_complete(service.open())
    page = CollectionPage(service, "blobs", "large")
    page.resize(1100, 700)
    page.show()
    qapp.processEvents()
    # Earlier tests leave garbage behind; a full collection of it would land in the
    # measurement and say nothing about this page.
    gc.collect()
    meter = TickMeter()
    meter.start()
    try:
        run = run_query(aloop, page, filter="{ _id: 2 }")
        model = page.list_model
        settle(aloop, lambda: model.rowCount() == 1)
        first = model.index(0, 0)
        settle(aloop, lambda: "loading" not in model.index(0, VALUE_COLUMN).data())
        page.list_view.expand(first)
        settle(aloop, lambda: model.rowCount(first) == 4)
        chunks = next(model.index(r, 0, first) for r in range(4)
                      if model.index(r, KEY_COLUMN, first).data() == "chunks")
        page.list_view.expand(chunks)
        settle(aloop, lambda: model.rowCount(chunks) == CHILD_PAGE)
        page.show_view("table")
        settle(aloop, lambda: page.table_model.rowCount() == 1)
        for view in ("json", "list"):
            page.show_view(view)
            page.repaint()
        settle(aloop, lambda: meter.ticks > 20)
        assert run.error is None and len(run.batches[0]) > 15_000_000
        assert "too large to show as text" in page.json_view.toPlainText()
    finally:
        meter.stop()
        page.close_page()
        settle(aloop, lambda: not page.tasks)
        aloop.run_until_complete(service.close())
        dispose(page)
    meter.assert_responsive("a 15 MB document in every view")


def test_every_model_passes_qtmodeltester(aloop, make_page, qtmodeltester):
    page = make_page()
    run_query(aloop, page, filter="{ orderNo: { $lt: 100030 } }")
    settle(aloop, lambda: page.list_model.rowCount() == 30)
    qtmodeltester.check(page.list_model, force_py=True)
    page.show_view("table")
    settle(aloop, lambda: page.table_model.rowCount() == 30)
    qtmodeltester.check(page.table_model, force_py=True)
    items = page.table_model.index(0, page.table_model.columns.index("items"))
    nested = NestedTableModel(items.data(ValueRole), utc=True)
    qtmodeltester.check(nested, force_py=True)
    nested.deleteLater()


def test_table_keeps_column_order_and_widths_per_collection(aloop, make_page, data_dir):
    page = make_page("shop", "products")
    run_query(aloop, page)
    page.show_view("table")
    settle(aloop, lambda: page.table_model.rowCount() > 0)
    table = page.table_view
    header = table.table.horizontalHeader()
    columns = page.table_model.columns
    header.moveSection(header.visualIndex(columns.index("price")), 0)
    header.resizeSection(columns.index("name"), 321)
    table.save_layout()
    assert table.column_order()[0] == "price"
    # A new page (after a restart: the settings are read from the file again).
    again = make_page("shop", "products")
    again.table_view.settings = ViewSettings(data_dir)
    run_query(aloop, again)
    again.show_view("table")
    settle(aloop, lambda: again.table_model.rowCount() > 0)
    assert again.table_view.column_order()[0] == "price"
    names = again.table_model.columns
    assert again.table_view.table.horizontalHeader().sectionSize(names.index("name")) == 321
    # Sorting works on the loaded rows; drilling into a nested document and back.
    again.table_view.table.sortByColumn(names.index("stock"), Qt.SortOrder.AscendingOrder)
    stocks = [again.table_model.index(r, names.index("stock")).data()
              for r in range(again.table_model.rowCount())]
    assert [int(s) for s in stocks] == sorted(int(s) for s in stocks)
    again.table_view._drill(again.table_model.index(0, names.index("dimensions")))
    assert again.table_view.drilled and not again.table_view.table.isVisible()
    assert again.table_view.nested.model().columnCount() == 4
    again.table_view.back()
    assert not again.table_view.drilled


# The completion popup raises itself and grabs the keyboard, which the offscreen platform
# cannot do; it says so in two warnings that are about the test platform, not the app.
@pytest.mark.qt_log_ignore(r"This plugin does not support (raise\(\)|grabbing the keyboard)")
def test_show_more_local_dates_and_autocomplete(aloop, make_page, scratch, qtbot):
    scratch.insert_one({"_id": 1, "big": list(range(250)), "when": __import__("datetime")
                        .datetime(2024, 5, 1, 12, 0)})
    page = make_page("scratch", scratch.name)
    run_query(aloop, page)
    model = page.list_model
    first = model.index(0, 0)
    big = model.index(1, 0, first)
    assert model.rowCount(big) == CHILD_PAGE and model.has_more(big)
    assert page.list_view.show_more(big) == CHILD_PAGE
    assert model.rowCount(big) == 2 * CHILD_PAGE
    when = model.index(2, VALUE_COLUMN, first)
    assert when.data() == "2024-05-01T12:00:00.000Z"
    page.utc_box.setChecked(False)
    assert not when.data().endswith("Z")
    assert candidates("$el", []) == ["$elemMatch"]
    assert candidates("b", page.completer.fields) == ["big"]
    # Typing in the filter offers the loaded field names; choosing one inserts it.
    edit = page.query_bar.edits["filter"]
    page.activateWindow()
    edit.setFocus()
    settle(aloop, edit.hasFocus)
    qtbot.keyClicks(edit, "{ wh")
    popup = page.completer.completer.popup()
    assert popup.isVisible() and page.completer.model.stringList() == ["when"]
    page.completer.completer.activated.emit("when")
    assert edit.toPlainText() == "{ when"
    qtbot.keyClicks(edit, ": { $gt")
    assert page.completer.model.stringList() == ["$gte"]
    # Enter while the popup is open takes the completion; it does not run the query.
    assert popup.isVisible()
    with qtbot.assertNotEmitted(page.query_bar.findRequested):
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert "\n" not in edit.toPlainText()
    popup.hide()


def test_json_view_lays_out_documents_a_page_at_a_time(aloop, make_page, qapp):
    page = make_page()
    run_query(aloop, page, filter="{ status: 'shipped' }", sort="{ orderNo: 1 }")
    page.show_view("json")
    settle(aloop, lambda: page.json_view.document_count == 100)
    assert page.more_button.isEnabled()
    assert not page.more_button.isHidden()
    page.more_json()
    assert page.json_view.document_count == 200
    text = page.json_view.copy_all()
    assert text.count('"orderNo"') == 200
    assert page.json_view.copy_document(0) == qapp.clipboard().text()


def test_json_view_hides_load_more_when_every_result_is_shown(aloop, make_page):
    page = make_page()
    run_query(aloop, page, filter="{ orderNo: { $lt: 100003 } }")
    page.show_view("json")
    settle(aloop, lambda: page.json_view.document_count == 3)
    settle(aloop, lambda: not page.list_model.can_fetch_documents()
           and page.exact_count == 3)
    page._refresh_json()
    assert page.count_label.text() == "1–3 of 3"
    assert page.more_button.isHidden() and not page.more_button.isEnabled()


def test_cancel_kills_a_find_still_computing(aloop, make_page, client):
    client.admin.command({"configureFailPoint": "failCommand", "mode": {"times": 1},
                          "data": {"failCommands": ["find"], "blockConnection": True,
                                   "blockTimeMS": 4000}})
    page = make_page()
    started = time.monotonic()
    page.query(spec(filter="{}"))
    settle(aloop, lambda: time.monotonic() - started > 0.2)
    page.cancel_query()
    settle(aloop, lambda: page.killed_operations is not None)
    assert page.killed_operations == 1
    page.query(spec(filter="{ orderNo: 100001 }"))
    settle(aloop, lambda: page.run.started)
    # The next query ran without waiting out the killed find's 4 s block.
    assert page.list_model.rowCount() == 1
    assert_prompt(time.monotonic() - started, "a query after cancelling a blocked find",
                  bound=3.9)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots(aloop, make_page, qapp, scheme):
    palette, sheet = qapp.palette(), qapp.styleSheet()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    try:
        apply_theme(qapp, scheme)
        page = make_page()
        page.resize(1280, 800)
        run_query(aloop, page, filter="{ status: 'shipped' }", sort="{ orderNo: -1 }")
        settle_exact_count(aloop, page)
        page.list_view.expand(page.list_model.index(0, 0))
        for view in ("list", "table", "json"):
            page.show_view(view)
            settle(aloop, lambda: page.loaded_count() > 0)
            image: QImage = page.grab().toImage()
            path = OUTPUT / f"collection-{view}-{scheme}.png"
            assert image.save(str(path)) and path.stat().st_size > 1000
    finally:
        qapp.setPalette(palette)
        qapp.setStyleSheet(sheet)


def test_progress_text_gives_documents_bytes_rate_and_time_left():
    from app.documents.transfer.dialogs import describe_progress
    from app.documents.transfer.exporter import Progress

    exporting = Progress(documents=2_000, bytes=3 * 1024 * 1024, elapsed_s=2.0,
                         total_documents=10_000)
    assert describe_progress(exporting) == "2,000 documents, 3.0 MB, 1,000/s, 8 s left"
    importing = Progress(documents=500, bytes=1_000, elapsed_s=1.0)
    assert describe_progress(importing, "orders: ", total_bytes=4_000).endswith(
        "500/s, 3 s left")
