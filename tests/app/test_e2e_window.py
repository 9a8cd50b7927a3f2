"""The main window end to end: our driver against real sandbox clusters (no fakes).

Connect and see the sample databases and collections with counts; a wrong password
shows the authentication error; several connections at once, each with its own colour,
closing one closes its client; the status bar shows the topology and primary from the
SDAM events; the log panel shows command events, redacted; "Test connection" against a
closed port fails within its timeout while the event loop keeps ticking.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import time

import pytest
from PySide6.QtCore import QTimer

from app.explorer.tree_model import NameRole
from app.window import MainWindow, connection_label
from sandbox.cluster import SandboxCluster
from tests.gui_ticks import assert_ticks_responsive
from tests.timing import assert_prompt

PASSWORD = "s3cret-Pa55"


def dispose(*objects) -> None:
    """Delete Qt objects now, on the GUI thread.

    A parentless widget is owned by its Python wrapper; left to the garbage collector,
    which may run on any thread (a worker's allocation can trigger it), the C++ object
    would be destroyed off the GUI thread ("Timers cannot be stopped from another
    thread", and crashes). ``qtbot.addWidget`` only posts ``deleteLater``, which nothing
    processes between tests, so these tests delete their own widgets.
    """
    import shiboken6
    from PySide6.QtCore import QCoreApplication, QEvent

    for obj in objects:
        if shiboken6.isValid(obj):
            if hasattr(obj, "close"):
                obj.close()
            obj.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def own():
    """``own(widget)``: the widget is deleted on the GUI thread after the test."""
    objects: list = []
    yield objects.append
    dispose(*objects)


@pytest.fixture(scope="module")
def secured():
    with SandboxCluster(kind="replset", members=3, seed=True, users={"ann": PASSWORD}) as running:
        yield running


@pytest.fixture
def window(aloop, pool, qtbot, data_dir):
    win = MainWindow()
    win.pool = pool
    win.show()
    yield win
    aloop.run_until_complete(win.shutdown())
    dispose(win)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connect_shows_databases_collections_counts_topology_and_log(aloop, window, secured,
                                                                     qtbot):
    model = window.tree_model
    connection = aloop.run_until_complete(window.open_connection(secured.uri))
    root = model.index_of(connection.node)
    assert window.explorer.view.isExpanded(root)
    databases = {model.index(r, 0, root).data(NameRole) for r in range(model.rowCount(root))}
    assert {"shop", "iot", "catalog", "blobs"} <= databases
    shop = model.find(connection, "shop")
    aloop.run_until_complete(model.load(shop))
    aloop.run_until_complete(model.settle())
    counts = {c.name: c.documents for c in shop.children}
    assert counts == {"customers": 2000, "deliveredOrders": None, "orders": 5000,
                      "products": 500}
    # The label names the hosts, never the credentials.
    assert PASSWORD not in connection.label and "ann" not in connection.label
    assert connection.label == connection_label(secured.uri)
    qtbot.waitUntil(lambda: window.topology_label.text() == "ReplicaSetWithPrimary",
                    timeout=5000)
    assert window.primary_label.text() == f"Primary: {secured.primary.address}"
    log = window.log_panel.toPlainText()
    assert "listDatabases" in log and "collStats" in log
    assert PASSWORD not in log  # saslStart/saslContinue payloads never reach the panel


def test_wrong_password_shows_the_authentication_error(aloop, window, secured):
    wrong = secured.uri.replace(PASSWORD, "not-the-password")
    connection = aloop.run_until_complete(window.open_connection(wrong))
    assert connection.node.error is not None
    assert connection.node.error.startswith("Authentication failed")
    row_text = window.tree_model.index_of(connection.node).data()
    assert "Authentication failed" in row_text
    assert "Authentication failed" in window.statusBar().currentMessage()
    assert "not-the-password" not in row_text + window.statusBar().currentMessage()


def test_several_connections_each_coloured_closing_one_closes_its_client(aloop, window,
                                                                         secured):
    first = aloop.run_until_complete(window.open_connection(secured.uri, "first"))
    second = aloop.run_until_complete(window.open_connection(secured.uri, "second"))
    assert first.color != second.color
    assert [c.label for c in window.tree_model.connections] == ["first", "second"]
    assert first.service.is_open and second.service.is_open
    window.explorer.select(first.node)
    window.explorer.close_connection_action.trigger()
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    assert not first.service.is_open and second.service.is_open
    assert [c.label for c in window.tree_model.connections] == ["second"]


def test_test_connection_to_a_closed_port_keeps_the_loop_running(aloop, qtbot, pool, own):
    from app.connect.dialog import ConnectionDialog

    timeout_ms = 1500
    dialog = ConnectionDialog(
        f"mongodb://127.0.0.1:{closed_port()}/?serverSelectionTimeoutMS={timeout_ms}", pool=pool)
    own(dialog)
    dialog.show()
    ticks: list[float] = []
    timer = QTimer(dialog)
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))

    gc.collect()  # a full collection now, not as a pause in the middle of the measurement

    async def attempt() -> float:
        timer.start()
        started = time.monotonic()
        task = dialog.start_test()
        assert task is not None
        await task
        elapsed = time.monotonic() - started
        timer.stop()
        return elapsed

    elapsed = aloop.run_until_complete(attempt())
    assert "Failed at step 'connect'" in dialog.test_result.text()
    assert_prompt(elapsed, "a connection test with serverSelectionTimeoutMS=1500")
    assert_ticks_responsive(ticks, "connection test against a closed port", min_ticks=3)
    dialog.close()


def test_connect_dialog_opens_the_chosen_connection_in_the_tree(aloop, window, secured, qtbot):
    from app.connect.dialog import ConnectionDialog
    from app.main import _load_favorites

    # Started with no URI and no --demo: the dialog follows the favorites' loading.
    _load_favorites(aloop, window.worker_pool(), window, ask_for_connection=True)
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    dialog = window.findChild(ConnectionDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.load_uri(secured.uri)
    assert dialog.connect_button.isEnabled()

    async def connect_and_wait():
        # Settled either way (listed, or failed within serverSelectionTimeoutMS), so no
        # wait_for timer is needed: a pending qasync timer would outlive the test's loop.
        settled = asyncio.get_running_loop().create_future()
        window.tree_model.databases_loaded.connect(
            lambda c: settled.done() or settled.set_result(c))
        window.tree_model.load_failed.connect(
            lambda c, message: settled.done() or settled.set_exception(AssertionError(message)))
        dialog.connect_button.click()
        return await settled

    connection = aloop.run_until_complete(connect_and_wait())
    assert window.tree_model.connections == [connection]
    assert "shop" in {node.name for node in connection.node.children}
    assert window.file_writer.close(5)
