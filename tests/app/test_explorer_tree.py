"""The explorer tree end to end: our driver against a real sandbox replica set (no fakes).

The tree lists the sample databases and collections lazily, marks views and time-series
collections, fills document, size and index counts from dbStats/collStats in the
background, drops stale results on refresh, creates and drops databases and collections,
and passes Qt's model tester while it loads.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from PySide6.QtCore import Qt

from app.explorer.tree_model import (
    ConnectionTreeModel,
    KindRole,
    NameRole,
    StatsRole,
    TypeRole,
    format_size,
)
from app.services.client_service import ClientService
from sandbox.cluster import SandboxCluster
from tests.app.test_e2e_window import dispose

SAMPLE_DATABASES = {"admin", "blobs", "catalog", "config", "iot", "local", "shop"}


@pytest.fixture(scope="module")
def cluster():
    with SandboxCluster(kind="replset", members=3, seed=True) as running:
        yield running


@pytest.fixture
def model_and_service(aloop, pool, cluster, qtbot):
    model = ConnectionTreeModel()
    service = ClientService(cluster.uri + "&serverSelectionTimeoutMS=5000", pool=pool)
    connection = model.add_connection("sandbox", service)
    yield model, connection
    model.cancel_all()
    aloop.run_until_complete(model.settle())
    aloop.run_until_complete(service.close())
    dispose(model)


def names(model, parent):
    return [model.index(row, 0, parent).data(NameRole) for row in range(model.rowCount(parent))]


def test_tree_lists_databases_and_collections_with_counts(aloop, model_and_service):
    model, connection = model_and_service
    inserted_on: set[int] = set()
    model.rowsInserted.connect(lambda *_: inserted_on.add(threading.get_ident()))
    root = model.index_of(connection.node)
    assert model.hasChildren(root) and model.canFetchMore(root)
    model.fetchMore(root)  # what a view does on expand
    assert not model.canFetchMore(root)  # one request in flight, not two
    aloop.run_until_complete(model.load(root))
    assert set(names(model, root)) == SAMPLE_DATABASES
    shop = model.index_of(model.find(connection, "shop"))
    aloop.run_until_complete(model.load(shop))
    aloop.run_until_complete(model.settle())
    assert names(model, shop) == ["customers", "deliveredOrders", "orders", "products"]
    rows = {model.index(r, 0, shop).data(NameRole): r for r in range(model.rowCount(shop))}
    view = model.index(rows["deliveredOrders"], 0, shop)
    assert view.data(TypeRole) == "view" and view.data() == "deliveredOrders (view)"
    orders = model.index(rows["orders"], 0, shop)
    assert orders.data(KindRole) == "collection"
    assert orders.data(StatsRole)["documents"] == 5000
    assert model.index(rows["orders"], 1, shop).data() == "5,000"
    assert model.index(rows["orders"], 3, shop).data() == "2"  # _id_ and customerId_1
    assert model.index(rows["customers"], 1, shop).data() == "2,000"
    assert model.index(rows["orders"], 2, shop).data().endswith("MB")
    # Database rows: dbStats objects, indexes and data size.
    assert shop.siblingAtColumn(1).data() == "7,500"
    assert shop.siblingAtColumn(3).data() == "5"
    # One measure (uncompressed data size) for both: a database holds at least as much
    # as any of its collections.
    assert model.headerData(2, Qt.Orientation.Horizontal) == "Data size"
    shop_size = shop.data(StatsRole)["size"]
    sizes = [model.index(r, 0, shop).data(StatsRole)["size"] for r in rows.values()]
    assert shop_size is not None and shop_size >= max(s for s in sizes if s is not None)
    assert shop_size == sum(s for s in sizes if s is not None)
    iot = model.index_of(model.find(connection, "iot"))
    aloop.run_until_complete(model.load(iot))
    readings = model.index(0, 0, iot)
    assert readings.data(TypeRole) == "timeseries" and readings.data() == "readings (time series)"
    assert model.rowCount(model.index(0, 0, iot)) == 0 and not model.hasChildren(readings)
    assert inserted_on == {threading.get_ident()}  # rows change on the GUI thread only


def test_stale_results_are_dropped_on_refresh(aloop, model_and_service):
    model, connection = model_and_service
    first = model.refresh(connection.node)
    second = model.refresh(connection.node)  # supersedes the first before it returns
    aloop.run_until_complete(asyncio.gather(first, second))
    # Only one set of rows: the first result arrived stale and was dropped.
    root = model.index_of(connection.node)
    assert sorted(names(model, root)) == sorted(SAMPLE_DATABASES)


def test_model_passes_qt_model_tester_while_loading(aloop, model_and_service, qtmodeltester,
                                                    request):
    from pytestqt.modeltest import ModelTester

    model, connection = model_and_service
    # check() once: from then on the tester watches every insert, remove and change.
    qtmodeltester.check(model, force_py=True)
    root = model.index_of(connection.node)
    aloop.run_until_complete(model.load(root))
    for row in range(model.rowCount(root)):
        model.fetchMore(model.index(row, 0, root))
    aloop.run_until_complete(model.settle())
    model.refresh(connection.node)
    aloop.run_until_complete(model.settle())
    assert set(names(model, root)) == SAMPLE_DATABASES
    # A second tester walks the whole loaded tree (databases and collections).
    aloop.run_until_complete(model.load(model.index_of(model.find(connection, "shop"))))
    ModelTester(request.config).check(model, force_py=True)


def test_create_and_drop_collection_and_database(aloop, model_and_service, qtbot):
    from app.explorer.panel import ExplorerPanel

    model, connection = model_and_service
    panel = ExplorerPanel(model)
    aloop.run_until_complete(model.load(connection.node))

    assert aloop.run_until_complete(panel.run_create(connection, "scratch_e2e", "notes"))
    scratch = model.find(connection, "scratch_e2e")
    assert scratch is not None
    aloop.run_until_complete(model.load(scratch))
    assert [c.name for c in scratch.children] == ["notes"]
    assert aloop.run_until_complete(panel.run_create(connection, "scratch_e2e", "more"))
    assert [c.name for c in scratch.children] == ["more", "notes"]

    panel.select(model.find(connection, "scratch_e2e", "more"))
    dialog = panel.drop_selected()
    assert dialog is not None and not dialog.ok_button.isEnabled()
    dialog.name_edit.setText("mor")
    assert not dialog.ok_button.isEnabled()
    dialog.name_edit.setText("more")
    assert dialog.ok_button.isEnabled()
    dialog.ok_button.click()
    aloop.run_until_complete(asyncio.gather(*panel.tasks))
    assert [c.name for c in model.find(connection, "scratch_e2e").children] == ["notes"]

    assert aloop.run_until_complete(panel.run_drop(model.find(connection, "scratch_e2e")))
    assert model.find(connection, "scratch_e2e") is None
    assert "scratch_e2e" not in names(model, model.index_of(connection.node))
    dispose(panel)


def test_failed_listing_is_shown_on_the_row(aloop, pool, qtbot):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = ClientService(f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=300",
                            pool=pool)
    model = ConnectionTreeModel()
    connection = model.add_connection("nowhere", service)
    with qtbot.waitSignal(model.load_failed, timeout=5000) as signal:
        model.fetchMore(model.index_of(connection.node))
        aloop.run_until_complete(model.settle())
    assert signal.args[0] is connection
    assert "No server could be reached" in signal.args[1]
    index = model.index_of(connection.node)
    assert not model.canFetchMore(index)  # no retry loop: refresh retries
    assert "No server could be reached" in index.data()
    assert index.data(Qt.ItemDataRole.ForegroundRole) is not None
    aloop.run_until_complete(service.close())
    dispose(model)


def test_format_size():
    assert format_size(0) == "0 B"
    assert format_size(8192) == "8.0 KB"
    assert format_size(1966672) == "1.9 MB"
