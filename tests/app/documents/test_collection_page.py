"""The collection page end to end: our driver against the seeded sandbox (no fakes).

Find with a filter, paging over 10k documents without duplicate requests, stale batches
dropped by a new query, counts, explain, cancel; edits in place (list and table), a
concurrent edit shown as a conflict, insert through the JSON editor, delete with
confirmation, bulk delete preview, read-only mode.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex

from app.documents.collection_page import count_text
from app.documents.views.tree_model import KEY_COLUMN

from .page_helpers import run_query, settle, settle_exact_count, spec

ROOT = QModelIndex()


def test_count_text():
    assert count_text(25, 1_000_000, None) == "1–25 of ~1,000,000"
    assert count_text(25, 1_000_000, 30) == "1–25 of 30"
    assert count_text(0, 5, 0) == "No documents"


def test_an_exhausted_cursor_is_the_exact_total_even_when_the_count_fails(
        aloop, make_page, client, scratch):
    """All matches loaded: the total is known, whatever count_documents does (it was
    "1–30 of ~30", the estimate, when the count timed out on a large collection)."""
    scratch.insert_many([{"n": n} for n in range(30)])
    client.admin.command({"configureFailPoint": "failCommand", "mode": "alwaysOn",
                          "data": {"failCommands": ["aggregate"], "errorCode": 50}})
    try:
        page = make_page("scratch", scratch.name)
        run = run_query(aloop, page, filter="{ n: { $lt: 1000 } }")
        settle(aloop, lambda: run.done and page.estimated is not None and not page.tasks)
    finally:
        client.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
    assert page.exact_count == 30 and not page.count_timed_out
    assert page.count_label.text() == "1–30 of 30"


def test_the_total_counts_what_the_query_returns_after_its_skip(aloop, make_page):
    page = make_page()
    run_query(aloop, page, filter="{}", skip="100")
    assert settle_exact_count(aloop, page) == 4900  # 5,000 orders, 100 skipped
    assert page.count_label.text().endswith(" of 4,900")


def test_find_with_a_filter_shows_the_right_rows_and_counts(aloop, make_page, client):
    page = make_page()
    run = run_query(aloop, page, filter="{ status: 'paid', customerId: { $lte: 300 } }",
                    sort="{ orderNo: 1 }")
    expected = list(client["shop"]["orders"].find(
        {"status": "paid", "customerId": {"$lte": 300}}, sort=[("orderNo", 1)]))
    assert run.error is None
    settle_exact_count(aloop, page)
    model = page.list_model
    assert model.rowCount() == len(expected) > 10
    shown = [model.raw_document(row)["orderNo"] for row in range(model.rowCount())]
    assert shown == [doc["orderNo"] for doc in expected]
    assert page.count_label.text() == f"1–{len(expected)} of {len(expected)}"
    assert page.estimated == 5000
    # Types are shown per field.
    first = model.index(0, 0)
    types = {model.index(r, KEY_COLUMN, first).data(): model.index(r, 2, first).data()
             for r in range(model.rowCount(first))}
    assert types["_id"] == "ObjectId" and types["placed"] == "Date"
    assert types["total"] == "Decimal128" and types["items"] == "Array"
    # The table shows the same rows; autocomplete learnt the nested field names.
    page.show_view("table")
    settle(aloop, lambda: page.table_model.rowCount() == len(expected))
    assert "items.sku" in page.completer.fields and "shipping.method" in page.completer.fields
    assert run.requests == 2  # the find (one batch holds them all) and the end


def test_fetch_more_pages_over_10k_documents_without_duplicate_requests(
        aloop, make_page, scratch):
    scratch.insert_many([{"_id": n, "n": n % 97} for n in range(12_000)])
    page = make_page("scratch", scratch.name)
    run = run_query(aloop, page, sort="{ _id: 1 }")
    model = page.list_model
    assert model.rowCount() < 12_000  # only what the view shows was fetched
    for _ in range(100):  # scroll to the end, as a user would
        if model.rowCount() == 12_000 and run.done:
            break
        page.list_view.scrollToBottom()
        if model.canFetchMore(ROOT):
            model.fetchMore(ROOT)
            model.fetchMore(ROOT)  # a second call while one is in flight asks nothing more
        settle(aloop, lambda: not model.is_fetching)
    assert model.rowCount() == 12_000
    assert [model.raw_document(r)["_id"] for r in (0, 5_000, 11_999)] == [0, 5_000, 11_999]
    settle(aloop, lambda: run.done)
    # One request per batch and the final empty answer, none twice; the model's
    # requests were all answered from those.
    assert run.requests == 12_000 // 500 + 1 and model.requests == run.requests
    assert page.count_label.text() == "1–12,000 of 12,000"


def test_a_new_query_drops_stale_batches(aloop, make_page):
    page = make_page()
    page.query_bar.set_texts({"filter": "{ status: 'paid' }"})
    page.query_bar.run_query()
    first = page.run
    page.query(spec(filter="{ orderNo: 100007 }"))  # before the first query answered
    second = page.run
    settle(aloop, lambda: second.started)
    settle(aloop, lambda: not page.tasks)
    assert first.source.cancelled and page.list_model.generation == second.generation
    assert page.list_model.rowCount() == 1
    assert page.list_model.raw_document(0)["orderNo"] == 100007


def test_explain_and_cancel(aloop, make_page):
    page = make_page()
    page.explain(spec(filter="{ customerId: 5 }"))
    settle(aloop, lambda: page.explain_plan is not None)
    assert "queryPlanner" in page.explain_plan
    assert page.dialog is not None and page.dialog.isVisible()
    page.query_bar.set_texts({"filter": "{}"})
    page.query_bar.run_query()
    assert page.query_bar.find_button.text() == "Cancel"
    page.cancel_query()
    assert page.run.source.cancelled and page.query_bar.find_button.text() == "Find"
    settle(aloop, lambda: not page.tasks)
    assert page.list_model.rowCount() == 0


def test_window_opens_a_page_when_a_collection_is_activated(aloop, pool, cluster, data_dir):
    from app.window import MainWindow

    from .page_helpers import dispose

    window = MainWindow()
    window.pool = pool
    window.show()
    try:
        connection = aloop.run_until_complete(
            window.open_connection(cluster.uri, read_only=True))
        shop = window.tree_model.find(connection, "shop")
        aloop.run_until_complete(window.tree_model.load(shop))
        orders = window.tree_model.find(connection, "shop", "orders")
        window.explorer.view.activated.emit(window.tree_model.index_of(orders))
        page = window.pages.currentWidget()
        assert (page.db, page.collection, page.read_only) == ("shop", "orders", True)
        settle(aloop, lambda: page.run.started and page.exact_count == 5000)
        assert page.count_label.text().endswith(" of 5,000") and page.loaded_count() > 0
        # Activating it again shows the same page; writes stay off until allowed.
        window.explorer.view.activated.emit(window.tree_model.index_of(orders))
        assert window.pages.count() == 1
        window.set_read_only(connection, False)
        assert page.actions_by_name["insert"].isEnabled()
        aloop.run_until_complete(window.close_connection(connection))
        assert window.pages.count() == 0 and not window.pages.isVisible()
    finally:
        aloop.run_until_complete(window.shutdown())
        settle(aloop, lambda: not window.pending_tasks)
        dispose(window)


def test_a_parse_error_clears_the_last_server_error_and_the_counter(aloop, make_page):
    page = make_page()
    run_query(aloop, page, filter="{ $bogusOperator: 1 }")
    settle(aloop, lambda: page.run.error is not None and page.message.text() != ""
           and page.estimated is not None)
    assert page.count_label.text().startswith("0 of ")  # the failed query's counter
    page.query_bar.edits["filter"].setPlainText("{ status: ")  # does not parse
    assert page.query_bar.error_labels["filter"].text() != ""
    assert page.message.text() == "" and page.count_label.text() == ""
