"""Demo mode end to end: the sandbox replica set with the sample data, the populated tree,
the Sandbox menu's controls (run off the GUI thread) and the platform's keyboard keys.

``binnacle --demo --smoke-test`` is run as a child process, as CI and the README do."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from app.demo import DEMO_LABEL, DemoCluster, start_demo
from app.explorer.dialogs import ConfirmDropDialog
from app.window import MainWindow
from tests.app.test_e2e_window import dispose

ROOT = Path(__file__).resolve().parents[2]


def test_demo_smoke_test_subprocess_exits_zero_with_the_tree():
    out = subprocess.run(
        [sys.executable, "-m", "app.main", "--demo", "--smoke-test"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip().splitlines()[-1]
    assert line.startswith("binnacle smoke test: demo tree shows 7 databases"), line
    assert "shop" in line and "iot" in line


@pytest.fixture
def demo_window(aloop, pool, qtbot, data_dir):
    window = MainWindow()
    window.pool = pool
    window.show()
    demo = DemoCluster()
    connection = aloop.run_until_complete(start_demo(window, demo))
    aloop.run_until_complete(window.sandbox_menu.refresh_members())
    yield window, connection
    aloop.run_until_complete(window.shutdown())
    dispose(window)
    demo.stop()


def test_demo_connects_and_the_sandbox_menu_controls_the_cluster(aloop, demo_window, qtbot):
    window, connection = demo_window
    assert connection.label == DEMO_LABEL
    assert {n.name for n in connection.node.children} >= {"shop", "iot", "catalog", "blobs"}
    menu = window.sandbox_menu
    assert menu.menuAction() in window.menuBar().actions()
    assert len(menu.members) == 3
    qtbot.waitUntil(lambda: window.primary_label.text().startswith("Primary: "), timeout=5000)
    old_primary = window.primary_label.text()

    # Every control runs on a worker: record which thread the sandbox call ran on.
    threads: list[int] = []
    original = window.demo.step_down
    window.demo.step_down = lambda: threads.append(threading.get_ident()) or original()
    menu.step_down_action.trigger()
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    window.demo.step_down = original
    assert threads and threads[0] != threading.get_ident()
    assert window.statusBar().currentMessage().startswith("Stepped down the primary")
    qtbot.waitUntil(lambda: window.primary_label.text() not in ("", old_primary,
                                                               "No primary"), timeout=10000)

    menu.aboutToShow.emit()
    secondary = next(m for m in menu.members if m.role.lower() == "secondary")
    kill = next(a for a in menu.kill_menu.actions() if a.text().startswith(secondary.address))
    kill.trigger()
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    assert window.statusBar().currentMessage() == f"Killed member {secondary.address}"
    assert not next(m for m in menu.members if m.index == secondary.index).alive
    restart = next(a for a in menu.restart_menu.actions()
                   if a.text().startswith(secondary.address))
    assert restart.isEnabled()
    restart.trigger()
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    assert next(m for m in menu.members if m.index == secondary.index).alive

    latency = menu.latency_menu.actions()[0]
    latency.trigger()
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    assert menu.members[0].latency_ms == 200
    menu.clear_latency_action.trigger()
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    assert all(m.latency_ms == 0 for m in menu.members)


def _press(qtbot, widget, standard_key):
    """Type the platform's key sequence for ``standard_key`` into ``widget``."""
    bindings = QKeySequence.keyBindings(standard_key)
    assert bindings, f"no key bound to {standard_key} on this platform"
    combination = bindings[0][0]
    qtbot.keyClick(widget, combination.key(), combination.keyboardModifiers())


def test_keyboard_shortcuts_follow_the_platform(aloop, demo_window, qtbot):
    window, connection = demo_window
    explorer = window.explorer
    assert window.connect_action.shortcut() == QKeySequence(QKeySequence.StandardKey.New)
    assert explorer.refresh_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Refresh)
    assert explorer.drop_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Delete)
    assert explorer.close_connection_action.shortcut() == QKeySequence(
        QKeySequence.StandardKey.Close)
    window.activateWindow()
    qtbot.waitActive(window)
    view = explorer.view
    view.setFocus(Qt.FocusReason.OtherFocusReason)

    # Refresh: the connection's databases are fetched again (a new generation).
    explorer.select(connection.node)
    generation = connection.node.generation
    _press(qtbot, view, QKeySequence.StandardKey.Refresh)
    assert connection.node.generation == generation + 1
    aloop.run_until_complete(window.tree_model.load(connection.node))

    # Delete on a collection asks for its name before dropping anything.
    shop = window.tree_model.find(connection, "shop")
    aloop.run_until_complete(window.tree_model.load(shop))
    explorer.select(window.tree_model.find(connection, "shop", "orders"))
    _press(qtbot, view, QKeySequence.StandardKey.Delete)
    dialogs = [d for d in explorer.findChildren(ConfirmDropDialog) if d.isVisible()]
    assert len(dialogs) == 1 and dialogs[0].expected == "orders"
    assert not dialogs[0].ok_button.isEnabled()
    dialogs[0].reject()
    assert window.tree_model.find(connection, "shop", "orders") is not None

    # Close: the selected connection's client is closed.
    explorer.select(connection.node)
    view.setFocus(Qt.FocusReason.OtherFocusReason)
    _press(qtbot, view, QKeySequence.StandardKey.Close)
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    assert window.tree_model.connections == [] and not connection.service.is_open


FAILING_STARTS = {
    "start fails": ("def start(self):\n    raise OSError('no free port')\n",
                    "could not start the demo: no free port"),
    "start hangs": ("import threading\n"
                    "def start(self):\n    threading.Event().wait(20)\n    return 'x'\n"
                    "demo.SMOKE_TEST_TIMEOUT_S = 1.0\n",
                    "the demo tree was not shown within 1 s"),
}


@pytest.mark.parametrize("case", sorted(FAILING_STARTS))
def test_demo_smoke_test_reports_failure_and_exits_one(case):
    patch, expected = FAILING_STARTS[case]
    script = ("import app.demo as demo\n" + patch + "demo.DemoCluster.start = start\n"
              "from app.main import main\nraise SystemExit(main(['--demo', '--smoke-test']))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert f"binnacle smoke test failed: {expected}" in out.stderr


def _labels(menu) -> dict[str, str]:
    """address → the role in the submenu's "address (role...)" label, as it opens."""
    menu.aboutToShow.emit()
    labels = {}
    for act in menu.actions():
        address, _, rest = act.text().partition(" (")
        labels[address] = rest.rstrip(")").split(",")[0]
    return labels


def test_sandbox_submenus_show_the_roles_of_the_cluster_tab(aloop, demo_window, qtbot):
    window, connection = demo_window
    menu = window.sandbox_menu
    health = window.cluster_health(connection)
    assert health is not None

    def primary() -> str | None:
        found = [m.host for m in health.state.ordered_members() if m.role == "primary"]
        return found[0] if len(found) == 1 else None

    qtbot.waitUntil(lambda: primary() is not None, timeout=5000)
    old = primary()
    menu.step_down_action.trigger()
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    qtbot.waitUntil(lambda: primary() not in (None, old), timeout=10000)
    new = primary()
    # The menus were last filled straight after the stepdown (before the election);
    # opened now, they name the new primary, as the Cluster tab does.
    labels = _labels(menu.kill_menu)
    assert labels[new] == "primary" and list(labels.values()).count("primary") == 1
    assert labels[old] == "secondary"

    # Kill the primary: Restart lists it as down, not as "secondary".
    kill = next(a for a in menu.kill_menu.actions() if a.text().startswith(new))
    kill.trigger()
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    labels = _labels(menu.restart_menu)
    assert labels[new] == "down"
    restart = next(a for a in menu.restart_menu.actions() if a.text().startswith(new))
    assert restart.isEnabled()
    assert sum(a.isEnabled() for a in menu.restart_menu.actions()) == 1
    assert _labels(menu.kill_menu)[new] == "down"  # fills that menu only
    restart.trigger()
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    assert _labels(menu.restart_menu)[new] != "down"
