"""The cluster views mounted in the main window, end to end (our driver, real sandbox
sockets, no fakes): the demo opens on its Cluster tab, a Sandbox-menu stepdown shows its
new primary there, the Performance tab polls serverStatus only while visible (counted
from the connection's own command events), a failed connection offers "Diagnose…" and
the doctor names the failing step, closing a connection stops its health polling and
leaves no thread, and a read-only favorite opens a read-only connection."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import shiboken6
from PySide6.QtWidgets import QMessageBox

from app.cluster.health_state import Role
from app.connect.favorites import FavoritesStore
from app.demo import DemoCluster, start_demo
from app.theme import apply_theme
from app.window import ConnectionOverview, MainWindow
from sandbox.cluster import SandboxCluster
from tests.app.cluster.conftest import screenshot, wait_until
from tests.app.test_e2e_window import closed_port, dispose


@pytest.fixture
def window(aloop, pool, qtbot, data_dir):
    win = MainWindow()
    win.pool = pool
    win.resize(1400, 900)
    win.show()
    yield win
    aloop.run_until_complete(win.shutdown())
    aloop.run_until_complete(asyncio.sleep(0.05))  # cancelled polls finish on the loop
    dispose(win)


@pytest.fixture
def demo_window(aloop, window):
    demo = DemoCluster()
    connection = aloop.run_until_complete(start_demo(window, demo))
    yield window, connection
    aloop.run_until_complete(window.shutdown())
    demo.stop()


@pytest.fixture(scope="module")
def standalone():
    with SandboxCluster(kind="standalone", seed=True) as cluster:
        yield cluster


@pytest.fixture
def restore_theme(qapp):
    palette, sheet = qapp.palette(), qapp.styleSheet()
    yield qapp
    qapp.setPalette(palette)
    qapp.setStyleSheet(sheet)


def _primary(health) -> tuple[str, int] | None:
    primaries = [m.address for m in health.state.ordered_members() if m.role == Role.PRIMARY]
    return primaries[0] if len(primaries) == 1 else None


def test_demo_opens_on_the_cluster_tab_and_shows_a_stepdown(aloop, demo_window, qtbot,
                                                            restore_theme):
    window, connection = demo_window
    overview = window.pages.currentWidget()
    assert isinstance(overview, ConnectionOverview) and overview.connection is connection
    assert overview.currentWidget() is overview.health_view
    assert overview.tabText(0) == "Cluster" and overview.tabText(1) == "Performance"
    health = window.cluster_health(connection)
    assert health is overview.health and health.started  # shown, so polling

    async def scenario() -> float:
        await wait_until(lambda: overview.health_view.member_model.rowCount() == 3
                         and _primary(health) is not None, 5, "3 members and a primary")
        old = _primary(health)
        window.sandbox_menu.step_down_action.trigger()
        started = time.monotonic()
        await wait_until(lambda: _primary(health) not in (None, old), 2.0,
                         "the new primary in the Cluster tab")
        elapsed = time.monotonic() - started
        await wait_until(lambda: "Stepped down the primary" in
                         overview.health_view.timeline_text(), 5, "the action on the timeline")
        # The follow-up status polls bring every member's state in line with its role.
        await wait_until(lambda: all(m.state.lower() == m.role for m in
                                     health.state.ordered_members()), 5, "states settled")
        for scheme in ("light", "dark"):
            apply_theme(restore_theme, scheme)
            await asyncio.sleep(0.05)  # one repaint in the new palette
            screenshot(window, f"demo-cluster-tab-{scheme}")
        return elapsed

    elapsed = aloop.run_until_complete(scenario())
    print(f"\nstepdown to new primary in the view: {elapsed * 1000:.0f} ms")
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))


def test_performance_tab_polls_only_while_visible(aloop, window, standalone):
    connection = aloop.run_until_complete(window.open_connection(standalone.uri))
    bridge = window.connection_bridges[connection.ident]
    polls: list[float] = []
    bridge.command_event.connect(
        lambda kind, event: kind == "started" and event.command_name == "serverStatus"
        and polls.append(time.monotonic()))
    overview = window.show_cluster(connection)
    assert overview is not None and overview.currentWidget() is overview.health_view
    overview.performance._timer.setInterval(200)  # a faster rate than the 1 s default

    async def scenario() -> None:
        await asyncio.sleep(0.5)
        assert polls == []  # the Performance tab was never shown
        window.performance_action.trigger()
        assert overview.currentWidget() is overview.performance
        await wait_until(lambda: len(polls) >= 3, 5, "three serverStatus polls")
        overview.show_cluster()  # hides the Performance tab
        await asyncio.sleep(0.3)  # a poll already in flight may still land
        frozen = len(polls)
        await asyncio.sleep(0.8)
        assert len(polls) == frozen and not overview.performance.polling
        overview.show_performance()
        await wait_until(lambda: len(polls) > frozen, 5, "polling again")

    aloop.run_until_complete(scenario())


def test_failed_connection_offers_diagnose_and_the_doctor_names_the_step(
        aloop, window, standalone):
    port = closed_port()
    uri = f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=800"
    connection = aloop.run_until_complete(window.open_connection(uri))
    assert connection.node.error is not None
    box = window.failure_box
    assert box is not None and box.isVisible()
    diagnose = next(b for b in box.buttons() if b.text() == "Diagnose…")

    async def scenario():
        diagnose.click()
        doctor = window.doctor
        assert doctor is not None and window.pages.currentWidget() is doctor
        await wait_until(lambda: doctor.report is not None, 10, "the doctor's report")
        return doctor

    doctor = aloop.run_until_complete(scenario())
    assert doctor.failed_step_name() == f"TCP connect 127.0.0.1:{port}"
    assert "Connection doctor: failed at TCP connect" in window.statusBar().currentMessage()
    # "Retry" opens a new connection with the URI the doctor suggests.
    doctor.retry_requested.emit(standalone.uri)
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    retried = window.tree_model.connections[-1]
    assert retried.service.uri == standalone.uri and retried.node.error is None
    doctor.cancel()


def test_help_menu_doctor_uses_the_current_connection(aloop, window, standalone):
    connection = aloop.run_until_complete(window.open_connection(standalone.uri))
    window.explorer.select(connection.node)
    window.doctor_action.trigger()
    assert window.doctor is not None and window.doctor.current_uri() == standalone.uri
    assert not window.doctor.running  # opened for the user to check, not run yet


def test_closing_a_connection_stops_health_polling_and_leaves_no_thread(aloop, window,
                                                                         standalone):
    before = set(threading.enumerate())
    connection = aloop.run_until_complete(window.open_connection(standalone.uri))
    window.cluster_action.trigger()
    overview = window.overview(connection)
    health = window.cluster_health(connection)
    assert overview is not None and health is not None and health.started
    polls: list[str] = []
    window.connection_bridges[connection.ident].command_event.connect(
        lambda kind, event: polls.append(event.command_name))
    aloop.run_until_complete(window.close_connection(connection))
    # Stopped, then deleted (on the GUI thread): its timers went with it.
    assert not shiboken6.isValid(health) and window.overview(connection) is None
    assert window.cluster_healths == {} and window.connection_bridges == {}

    def new_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate()
                if t not in before and t.is_alive() and not t.name.startswith("test-worker")]

    aloop.run_until_complete(wait_until(lambda: not new_threads(), 5,
                                        "the connection's threads to end"))
    polled = len(polls)
    aloop.run_until_complete(asyncio.sleep(0.5))
    assert len(polls) == polled  # nothing polls a closed connection


def test_read_only_favorite_opens_a_read_only_connection(aloop, window, standalone, qtbot):
    from app.connect.dialog import ConnectionDialog

    store = FavoritesStore()
    favorite = store.save_favorite("Prod (careful)", standalone.uri, read_only=True)
    assert FavoritesStore().get(favorite.id).read_only  # saved in the file
    window.favorites = store
    window.open_connect_dialog()
    dialog = window.findChild(ConnectionDialog)
    assert dialog is not None and not dialog.read_only
    dialog.favorites_panel.choose(favorite.id)
    assert dialog.read_only_check.isChecked()

    async def connect_and_wait():
        settled = asyncio.get_running_loop().create_future()
        window.tree_model.databases_loaded.connect(
            lambda c: settled.done() or settled.set_result(c))
        window.tree_model.load_failed.connect(
            lambda c, message: settled.done() or settled.set_exception(AssertionError(message)))
        dialog.connect_button.click()
        return await settled

    connection = aloop.run_until_complete(connect_and_wait())
    assert connection.ident in window.read_only_connections
    window.explorer.select(connection.node)
    explorer = window.explorer
    assert not explorer.create_database_action.isEnabled()
    assert not explorer.create_collection_action.isEnabled()
    assert not explorer.drop_action.isEnabled()
    page = window.open_collection(connection, "shop", "orders")
    assert page.read_only and not any(a.isEnabled() for a in page.write_actions)
    window.set_read_only(connection, False)
    assert explorer.drop_action.isEnabled() and not page.read_only
    aloop.run_until_complete(window.tree_model.settle())
    box = window.failure_box
    assert box is None or not isinstance(box, QMessageBox) or not box.isVisible()


def test_collection_opens_while_the_overview_tab_is_open(aloop, window, standalone):
    # Regression: looking for an already-open page read ``.db`` of the overview tab.
    connection = aloop.run_until_complete(window.open_connection(standalone.uri))
    overview = window.show_cluster(connection)
    assert isinstance(overview, ConnectionOverview)
    page = window.open_collection(connection, "shop", "orders")
    assert page is not None and (page.db, page.collection) == ("shop", "orders")
    assert window.pages.count() == 2 and window.pages.currentWidget() is page
    # Activating it again shows the same tab instead of a second one.
    assert window.open_collection(connection, "shop", "orders") is page
    assert window.pages.count() == 2


@pytest.mark.parametrize("size", [(640, 420), (1400, 900)])
def test_cluster_tab_is_readable_small_and_large(aloop, demo_window, size, restore_theme):
    """Screenshots of the Cluster tab; at 640×420 the member names, RTT figures, the
    diagram's nodes and the table's last column all fit."""
    window, connection = demo_window
    apply_theme(restore_theme, "light")
    window.resize(*size)
    overview = window.pages.currentWidget()
    view = overview.health_view
    health = window.cluster_health(connection)

    async def scenario() -> None:
        await wait_until(lambda: view.member_model.rowCount() == 3
                         and _primary(health) is not None
                         and all(m.rtt_ms is not None for m in health.state.ordered_members()),
                         5, "3 members with RTTs and a primary")
        await asyncio.sleep(0.1)  # layouts settle at the new size

    aloop.run_until_complete(scenario())
    screenshot(window, f"cluster-tab-{size[0]}x{size[1]}")
    # Sparklines: each member's name ends before its RTT figure starts.
    for name, rtt, *_ in view.sparklines._rows.values():
        assert name.geometry().right() < rtt.geometry().left(), (name.text(), rtt.text())
        assert name.width() >= name.sizeHint().width()
    # Diagram: every node (and its label's centre) lies inside the widget.
    diagram = view.diagram
    for centre in diagram.node_positions.values():
        assert 0 < centre.x() < diagram.width() and 0 < centre.y() < diagram.height() - 30
    # Health table: the last column ends inside the viewport (not clipped).
    header = view.table.horizontalHeader()
    last = header.count() - 1
    assert header.sectionViewportPosition(last) + header.sectionSize(last) <= \
        view.table.viewport().width() or view.table.horizontalScrollBar().maximum() > 0


def test_opening_pages_keeps_the_sidebar_width(aloop, window, standalone):
    connection = aloop.run_until_complete(window.open_connection(standalone.uri, "Standalone"))
    aloop.run_until_complete(window.tree_model.load(window.tree_model.find(connection, "shop")))
    sidebar = window.splitter.sizes()[0]
    view = window.explorer.view
    # The name column fits its longest shown name ("customers", "Standalone").
    assert view.columnWidth(0) >= view.sizeHintForColumn(0)
    window.show_cluster(connection)
    assert window.splitter.sizes()[0] == sidebar
    page = window.open_collection(connection, "shop", "customers")
    assert window.splitter.sizes()[0] == sidebar and window.pages.isVisible()
    window.open_collection(connection, "shop", "orders")
    assert window.splitter.sizes()[0] == sidebar
    for number in reversed(range(window.pages.count())):
        window.close_page(window.pages.widget(number))
    assert window.welcome.isVisible() and window.splitter.sizes()[0] == sidebar
    del page
