"""The health view end to end: sandbox cluster → our driver → EventBridge → ClusterHealth →
widgets. Roles, a stepdown's election, a killed and restarted member, added latency,
sharded routers; the GUI thread never stalls for 50 ms meanwhile."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

from PySide6.QtCore import Qt

from app.cluster.common import ServiceClusterSource
from app.cluster.health_model import ClusterHealth
from app.cluster.health_state import Role
from app.cluster.health_view import HealthView
from app.services.bridge import EventBridge
from app.services.client_service import ClientService
from sandbox.cluster import SandboxCluster
from tests.app.cluster.conftest import in_thread, run, screenshot, wait_until
from tests.gui_ticks import record


def _roles(view: HealthView) -> dict[int, str]:
    """Port → role as the member table shows it (what the user sees, after the repaint)."""
    model = view.member_model
    return {model.member(row).address[1]: model.data(model.index(row, 1))
            for row in range(model.rowCount())}


def _shown_elections(view: HealthView) -> int:
    model = view.timeline_model
    return sum(1 for row in range(model.rowCount())
               if model.data(model.index(row), Qt.ItemDataRole.UserRole) == "election")


def _shown_primary(view: HealthView) -> int | None:
    return next((port for port, role in _roles(view).items() if role == Role.PRIMARY), None)


def _show(qtbot, health) -> HealthView:
    view = HealthView(health)
    qtbot.addWidget(view)
    view.resize(1000, 720)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_replset_roles_stepdown_kill_restart_latency(qtbot, aloop, replset, wire, ticks):
    wired = wire(replset)
    view = _show(qtbot, wired.health)
    ports = [m.port for m in replset.members]
    ticks.start()

    async def scenario() -> dict[str, float]:
        wired.health.start()
        await wait_until(lambda: sorted(_roles(view).values()) ==
                         [Role.PRIMARY, Role.SECONDARY, Role.SECONDARY], 5, "three members")
        assert view.member_model.rowCount() == 3
        assert _roles(view)[ports[0]] == Role.PRIMARY
        await wait_until(lambda: wired.health.state.status_source == "replSetGetStatus", 5,
                         "replSetGetStatus")
        await wait_until(lambda: all(m.sync_source for m in wired.health.state.members.values()
                                     if m.role == Role.SECONDARY), 5, "sync sources")
        screenshot(view, "health-replset", ticks)

        # Step down: the sandbox elects after its election delay; we measure when the
        # view shows the new primary, from the stepdown and from the election itself.
        elected_at: list[float] = []

        def watch_election() -> None:
            replset.wait_for_primary(timeout=10)
            elected_at.append(time.monotonic())

        started = time.monotonic()
        await in_thread(replset.step_down)
        watcher = threading.Thread(target=watch_election)
        watcher.start()
        await wait_until(lambda: _shown_primary(view) not in (None, ports[0]), 3, "new primary")
        shown_at = time.monotonic()
        await in_thread(watcher.join)
        timings = {"stepdown_to_view": shown_at - started,
                   "election_to_view": shown_at - elected_at[0]}
        elections = [e for e in wired.health.state.timeline if e.kind == "election"]
        assert any(e.term == 2 for e in elections), elections
        assert "term 2" in view.timeline_text()
        assert any(view.timeline_model.data(view.timeline_model.index(r)) and
                   "election" in view.timeline_model.data(view.timeline_model.index(r))
                   for r in range(view.timeline_model.rowCount()))
        screenshot(view, "health-after-stepdown", ticks)

        # Kill a secondary: it turns unreachable, then comes back after restart.
        victim = next(port for port, role in _roles(view).items() if role == Role.SECONDARY)
        await in_thread(lambda: replset.kill(f"127.0.0.1:{victim}"))
        timings["kill_to_view"] = await wait_until(
            lambda: _roles(view)[victim] == Role.UNREACHABLE, 3, "member unreachable")
        assert wired.health.state.members[("127.0.0.1", victim)].last_error
        screenshot(view, "health-member-down", ticks)
        await in_thread(lambda: replset.restart(f"127.0.0.1:{victim}"))
        timings["restart_to_view"] = await wait_until(
            lambda: _roles(view)[victim] == Role.SECONDARY, 5, "member back")
        kinds = [e.kind for e in wired.health.state.timeline]
        assert "down" in kinds and "up" in kinds

        # Added latency shows in the RTT figures (the RTT monitor samples every 500 ms).
        slow = next(port for port, role in _roles(view).items() if role == Role.SECONDARY)
        await in_thread(lambda: replset.set_latency(f"127.0.0.1:{slow}", 120))
        member = wired.health.state.members[("127.0.0.1", slow)]
        await wait_until(lambda: (member.rtt_ms or 0) >= 100, 5, "RTT >= 100 ms")
        assert view.sparklines.rtt_sparkline(("127.0.0.1", slow)).point_count > 1
        screenshot(view, "health-latency", ticks)
        return timings

    timings = run(aloop, scenario())
    ticks.stop()
    print(f"\nhealth timings: {timings}")
    record("health view: stepdown, kill, restart", **{k: v * 1000 for k, v in timings.items()})
    ticks.assert_responsive("health view: stepdown, kill, restart, latency")


def test_stepdown_latency_repeated(qtbot, aloop, replset, wire, ticks):
    """Five stepdowns in a row: the median time until the view shows the new primary."""
    wired = wire(replset)
    view = _show(qtbot, wired.health)
    ticks.start()

    async def scenario() -> tuple[list[float], list[float]]:
        wired.health.start()
        await wait_until(lambda: _shown_primary(view) is not None, 5, "a primary")
        measured, after_election = [], []
        for _ in range(5):
            # The sandbox may re-elect the same member (all are "frozen" after recent
            # stepdowns), so count the elections the timeline shows.
            before = _shown_elections(view)
            started = time.monotonic()
            await in_thread(replset.step_down)
            elected = in_thread(lambda: (replset.wait_for_primary(5), time.monotonic())[1])
            await wait_until(lambda b=before: _shown_elections(view) > b
                             and _shown_primary(view) is not None, 3, "new primary")
            shown = time.monotonic()
            measured.append(shown - started)
            after_election.append(shown - await elected)
        return measured, after_election

    measured, after_election = run(aloop, scenario())
    ticks.stop()
    elections = [e for e in wired.health.state.timeline if e.kind == "election"]
    assert len(elections) >= 6  # the first primary and five elections
    assert view.member_model.rowCount() == 3
    print(f"\nstepdown→view (election delay 0.2 s): median {statistics.median(measured):.3f} s, "
          f"max {max(measured):.3f} s; election→view median "
          f"{statistics.median(after_election):.3f} s, max {max(after_election):.3f} s; "
          f"longest GUI tick gap {ticks.longest_gap_s * 1000:.1f} ms")
    record("health view: five stepdowns", stepdown_to_view_median=statistics.median(measured) * 1000,
           election_to_view_median=statistics.median(after_election) * 1000)
    ticks.assert_responsive("health view: five stepdowns")


def test_hidden_member_arbiter_and_lag(qtbot, aloop, pool, replset, wire):
    """A hidden member is in no host list (SDAM may drop it): it stays on the diagram from
    replSetGetStatus; an added arbiter is discovered through the primary's hello; a
    lagging secondary shows its lag from the optimes."""
    wired = wire(replset)
    view = _show(qtbot, wired.health)
    hidden_port = replset.members[2].port

    async def scenario() -> None:
        wired.health.start()
        await wait_until(lambda: len(_roles(view)) == 3, 5, "three members")
        await in_thread(lambda: replset.hide(2))
        arbiter = await in_thread(replset.add_arbiter)
        await wait_until(lambda: _roles(view).get(hidden_port) == Role.HIDDEN
                         and _roles(view).get(arbiter.port) == Role.ARBITER, 5,
                         "hidden member and arbiter")
        lagging = replset.members[1]
        await in_thread(lambda: replset.set_lag(1, 3.0))
        collection = wired.client["lag"]["writes"]
        member = wired.health.state.members[("127.0.0.1", lagging.port)]
        for _ in range(40):  # the lag shows once writes move the primary's optime on
            await pool.submit(lambda: collection.insert_one({"at": time.time()}))
            if (member.lag_s or 0) >= 2.5:
                break
            await asyncio.sleep(0.1)
        assert (member.lag_s or 0) >= 2.5, member.lag_s
        assert len(member.lag_history) > 1

    run(aloop, scenario())
    assert sorted(_roles(view).values()) == [Role.ARBITER, Role.HIDDEN, Role.PRIMARY,
                                             Role.SECONDARY]
    screenshot(view, "health-hidden-arbiter")


def test_sharded_shows_routers(qtbot, aloop, wire, ticks):
    with SandboxCluster(kind="sharded", members=2) as cluster:
        wired = wire(cluster)
        view = _show(qtbot, wired.health)
        ticks.start()

        async def scenario() -> None:
            wired.health.start()
            await wait_until(lambda: sorted(_roles(view).values()) == [Role.MONGOS, Role.MONGOS],
                             5, "two routers")
            await wait_until(lambda: wired.health.state.shards, 5, "shards from listShards")

        run(aloop, scenario())
        ticks.stop()
        assert wired.health.state.topology_type == "Sharded"
        assert len(view.diagram.node_positions) == 2
        screenshot(view, "health-sharded", ticks)
        ticks.assert_responsive("health view: sharded cluster")


def test_standalone_through_client_service(qtbot, aloop, pool):
    """The way the window mounts it: ClientService + EventBridge + ServiceClusterSource."""
    with SandboxCluster(kind="standalone") as cluster:
        bridge = EventBridge()
        service = ClientService(cluster.uri, pool=pool, bridge=bridge,
                                client_options={"heartbeatFrequencyMS": 500})
        health = ClusterHealth(bridge, ServiceClusterSource(service))
        view = _show(qtbot, health)

        async def scenario() -> None:
            await service.open()
            health.start()
            await wait_until(lambda: list(_roles(view).values()) == [Role.STANDALONE], 5,
                             "standalone")
            address = next(iter(health.state.members))
            await wait_until(lambda: len(ServiceClusterSource(service).rtt_samples(address))
                             > 0 or health.state.members[address].rtt_ms is not None, 5, "RTT")
            status = await ServiceClusterSource(service).admin_command("serverStatus")
            assert status["ok"] == 1
            screenshot(view, "health-standalone")
            health.stop()
            await service.close()

        run(aloop, scenario())
    assert view.member_model.rowCount() == 1
    assert not health.status_allowed or health.state.topology_type == "Single"


def test_demo_sandbox_actions(qtbot, aloop, pool, wire, ticks):
    """The demo's own cluster and Sandbox-menu actions (app.demo.DemoCluster, one-second
    election delay as in ``binnacle --demo``): step down, kill, restart, add latency."""
    from app.demo import DemoCluster

    demo = DemoCluster()
    demo.start()
    try:
        wired = wire(demo._require())
        view = _show(qtbot, wired.health)
        ticks.start()

        async def scenario() -> dict[str, float]:
            await wait_until(lambda: _shown_primary(view) is not None, 5, "a primary")
            old = _shown_primary(view)
            started = time.monotonic()
            await pool.submit(demo.step_down)
            elected = in_thread(lambda: (demo._require().wait_for_primary(5), time.monotonic())[1])
            await wait_until(lambda: _shown_primary(view) not in (None, old), 5, "new primary")
            shown = time.monotonic()
            figures = {"stepdown_to_view": shown - started, "election_to_view": shown - await elected}
            victim = next(m for m in demo.members() if m.role == "SECONDARY")
            await pool.submit(lambda: demo.kill(victim.index))
            await wait_until(lambda: _roles(view)[victim.port] == Role.UNREACHABLE, 5, "down")
            await pool.submit(lambda: demo.restart(victim.index))
            await wait_until(lambda: _roles(view)[victim.port] == Role.SECONDARY, 5, "back")
            await pool.submit(lambda: demo.add_latency(victim.index))
            member = wired.health.state.members[("127.0.0.1", victim.port)]
            await wait_until(lambda: (member.rtt_ms or 0) >= 150, 5, "latency in RTT")
            return figures

        figures = run(aloop, scenario())
        ticks.stop()
        screenshot(view, "health-demo")
    finally:
        demo.stop()
    print(f"\ndemo (election delay 1 s): {figures}; longest GUI tick gap "
          f"{ticks.longest_gap_s * 1000:.1f} ms")
    record("health view: demo election", **{k: v * 1000 for k, v in figures.items()})
    ticks.assert_responsive("health view: demo election")
