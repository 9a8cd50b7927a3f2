"""``binnacle --demo``: a sandbox replica set with the sample data, and a Sandbox menu.

The sandbox runs in-process: ``SandboxCluster`` serves its three members on 127.0.0.1
from its own background thread. Starting it (and importing it: PyMongo's ``bson`` and
``mongomock``) happens on a worker thread, so the window paints first. It is stopped
when the program exits.

The Sandbox menu lets a user disturb the cluster and watch the app react: step down the
primary, kill or restart a member, add latency; the Cluster tab (opened at start) shows
each action on its timeline and the cluster's reaction. Each control blocks until the sandbox
applied it, so it runs on the worker pool, never on the GUI thread. The member
submenus are filled when they are about to show: which members exist, which are alive and
their added latency come from a snapshot refreshed (off the GUI thread) after every
action; their roles come from the demo connection's ``ClusterHealth``, the state the
Cluster tab shows, so a member is called primary only once the election made it one (a
snapshot taken straight after a stepdown predates the election). Dead members say "down".

``--demo --smoke-test`` waits for the tree to list the demo's databases, prints one line
and exits 0, or prints why not and exits 1 within ``SMOKE_TEST_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu

if TYPE_CHECKING:
    from app.explorer.tree_model import Connection
    from app.window import MainWindow

DEMO_LABEL = "Demo replica set"
DEMO_MEMBERS = 3
LATENCY_STEP_MS = 200
# A short election, so a "step down" in the Sandbox menu shows its new primary within
# a second, as the health view promises (a real set takes a few seconds).
DEMO_ELECTION_DELAY_S = 0.4
DEMO_HEARTBEAT_MS = 500
FOLLOW_UP_POLLS_MS = (500, 1000, 2000)  # status polls after a Sandbox action
SMOKE_TEST_TIMEOUT_S = 25.0  # leaves time to print and exit within 30 s


class DemoCluster:
    """The demo's sandbox replica set. Every method blocks: call it on a worker."""

    def __init__(self, members: int = DEMO_MEMBERS) -> None:
        self._members = members
        self._cluster: Any = None
        self._lock = threading.Lock()

    def start(self) -> str:
        """Start the replica set with the sample data; returns its connection string."""
        from sandbox.cluster import SandboxCluster  # heavy (bson, mongomock): lazily

        with self._lock:
            if self._cluster is None:
                cluster = SandboxCluster(kind="replset", members=self._members, seed=True,
                                         election_delay=DEMO_ELECTION_DELAY_S)
                cluster.start()
                self._cluster = cluster
            return str(self._cluster.uri)

    def stop(self) -> None:
        with self._lock:
            cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.close()

    @property
    def running(self) -> bool:
        return self._cluster is not None

    def _require(self) -> Any:
        cluster = self._cluster
        if cluster is None:
            raise RuntimeError("the demo cluster is not running")
        return cluster

    def members(self) -> list[Any]:
        """Snapshots (``MemberInfo``: ``index``, ``address``, ``role``, ``alive``...)."""
        return list(self._require().members)

    def step_down(self) -> str:
        cluster = self._require()
        primary = cluster.primary
        if primary is None:
            raise RuntimeError("there is no primary to step down right now")
        cluster.step_down()
        return f"Stepped down the primary {primary.address}; an election follows"

    def kill(self, index: int) -> str:
        cluster = self._require()
        cluster.kill(index)
        return f"Killed member {cluster.members[index].address}"

    def restart(self, index: int) -> str:
        cluster = self._require()
        cluster.restart(index)
        return f"Restarted member {cluster.members[index].address}"

    def add_latency(self, index: int, ms: float = LATENCY_STEP_MS) -> str:
        cluster = self._require()
        member = cluster.members[index]
        cluster.set_latency(index, member.latency_ms + ms)
        return f"Member {member.address} now answers {member.latency_ms + ms:.0f} ms late"

    def clear_latency(self) -> str:
        cluster = self._require()
        for member in cluster.members:
            cluster.set_latency(member.index, 0)
        return "Latency removed from every member"


class SandboxMenu(QMenu):
    """The "Sandbox" menu of demo mode."""

    def __init__(self, window: MainWindow, demo: DemoCluster) -> None:
        super().__init__("&Sandbox", window)
        self.window_ = window
        self.demo = demo
        self.members: list[Any] = []  # the last snapshot, refreshed off the GUI thread
        self.step_down_action = QAction("Step down &primary", self)
        self.step_down_action.triggered.connect(lambda: self.run(demo.step_down))
        self.addAction(self.step_down_action)
        self.kill_menu = self.addMenu("&Kill member")
        self.restart_menu = self.addMenu("&Restart member")
        self.latency_menu = self.addMenu(f"Add &latency (+{LATENCY_STEP_MS} ms)")
        self.clear_latency_action = QAction("&Clear latency", self)
        self.clear_latency_action.triggered.connect(lambda: self.run(demo.clear_latency))
        self.addAction(self.clear_latency_action)
        # Filled as they open (the roles are the Cluster tab's, as of now), not when
        # an action finishes (the election it starts has not ended then).
        self.aboutToShow.connect(self._fill_member_menus)
        for submenu in (self.kill_menu, self.restart_menu, self.latency_menu):
            submenu.aboutToShow.connect(
                lambda shown=submenu: self._fill_member_menus(only=shown))
        self._fill_member_menus()

    def member_role(self, member: Any) -> str:
        """The member's role in words: "down" when dead, else the Cluster tab's role
        (the sandbox's own when the health view has not seen the member yet)."""
        from app.cluster.health_state import Role, parse_address

        if not member.alive:
            return "down"
        connection = self.window_.demo_connection
        health = self.window_.cluster_health(connection) if connection is not None else None
        seen = health.state.members.get(parse_address(member.address)) if health else None
        if seen is None or seen.role == Role.UNKNOWN:
            return str(member.role).lower()
        if seen.role == Role.UNREACHABLE:
            return "starting"  # alive again, not yet checked by the driver
        return str(seen.role)

    def _fill_member_menus(self, only: QMenu | None = None) -> None:
        for menu, wanted, method in (
            (self.kill_menu, True, self.demo.kill),
            (self.restart_menu, False, self.demo.restart),
            (self.latency_menu, True, self.demo.add_latency),
        ):
            if only is not None and menu is not only:
                continue
            menu.clear()
            for member in self.members:
                text = f"{member.address} ({self.member_role(member)}"
                text += f", +{member.latency_ms:.0f} ms)" if member.latency_ms else ")"
                act = menu.addAction(text)
                act.setEnabled(member.alive is wanted)
                act.triggered.connect(
                    lambda _=False, m=method, i=member.index: self.run(lambda: m(i)))
            if not self.members:
                menu.addAction("(no members yet)").setEnabled(False)

    def run(self, control: Callable[[], str]) -> asyncio.Future[Any] | None:
        """Run a sandbox control on a worker; report it in the status bar."""
        return self.window_.spawn(lambda: self._run(control))

    async def _run(self, control: Callable[[], str]) -> str:
        pool = self.window_.worker_pool()
        try:
            message = await pool.submit(control)
        except Exception as exc:  # noqa: BLE001 - reported to the user
            message = f"Sandbox: {exc}"
        self.window_.statusBar().showMessage(message, 10000)
        self._show_in_cluster_view(message)
        await self.refresh_members()
        return message

    def _show_in_cluster_view(self, message: str) -> None:
        """Put the action on the demo connection's timeline and ask the set for its
        status now: the Cluster tab shows the action and its effect (a stepdown's new
        primary) without waiting for the next heartbeat or status poll."""
        connection = self.window_.demo_connection
        health = self.window_.cluster_health(connection) if connection is not None else None
        if health is None:
            return
        health.state.add_event(time.time(), "sandbox", message)
        health.poll_status()
        # The cluster reacts over the next second or two (an election, a member coming
        # back): ask again then rather than at the next 3 s poll. The timers belong to
        # ``health``, so they are dropped with it if the connection closes first.
        for delay_ms in FOLLOW_UP_POLLS_MS:
            QTimer.singleShot(delay_ms, health, health.poll_status)

    async def refresh_members(self) -> None:
        try:
            self.members = await self.window_.worker_pool().submit(self.demo.members)
        except RuntimeError:
            self.members = []
        self._fill_member_menus()


async def start_demo(window: MainWindow, demo: DemoCluster | None = None) -> Connection:
    """Start the sandbox off the GUI thread, add the Sandbox menu, connect, load the tree."""
    demo = demo or DemoCluster()
    window.demo = demo
    window.statusBar().showMessage("Starting the demo replica set…")
    uri = await window.worker_pool().submit(demo.start)
    menu = SandboxMenu(window, demo)
    window.sandbox_menu = menu
    window.menuBar().addMenu(menu)
    window.spawn(menu.refresh_members)
    # Heartbeats every half second (the minimum) so the Sandbox menu's disturbances
    # show in the Cluster tab at once; a real deployment keeps the default 10 s.
    separator = "&" if "?" in uri else "/?" if uri.count("/") == 2 else "?"
    connection = await window.open_connection(
        f"{uri}{separator}heartbeatFrequencyMS={DEMO_HEARTBEAT_MS}", DEMO_LABEL)
    window.demo_connection = connection
    if connection.node.error is None:
        window.show_cluster(connection)  # the replica set, at a glance, from the start
    return connection


def run_smoke_test(window: MainWindow, app: QApplication) -> None:
    """``--demo --smoke-test``: exit 0 once the demo tree lists databases, else 1."""

    def finish(code: int, line: str) -> None:
        print(line, file=sys.stdout if code == 0 else sys.stderr, flush=True)
        window.close()
        app.exit(code)

    watchdog = QTimer(window)
    watchdog.setSingleShot(True)
    watchdog.timeout.connect(lambda: finish(
        1, f"binnacle smoke test failed: the demo tree was not shown within "
           f"{SMOKE_TEST_TIMEOUT_S:.0f} s"))
    watchdog.start(int(SMOKE_TEST_TIMEOUT_S * 1000))

    async def check() -> None:
        try:
            connection = await start_demo(window)
        except Exception as exc:  # noqa: BLE001 - the smoke test reports any failure
            watchdog.stop()
            finish(1, f"binnacle smoke test failed: could not start the demo: {exc}")
            return
        watchdog.stop()
        databases = [node.name for node in connection.node.children]
        if connection.node.error or not databases:
            finish(1, "binnacle smoke test failed: "
                      f"{connection.node.error or 'the demo tree shows no databases'}")
        else:
            finish(0, f"binnacle smoke test: demo tree shows {len(databases)} databases "
                      f"({', '.join(databases)})")

    window.spawn(check)
