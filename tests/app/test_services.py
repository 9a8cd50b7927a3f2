"""The service layer: worker results on the GUI thread, cancellation, superseded requests,
a responsive event loop during blocking calls, and the event bridge's thread hand-over."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from PySide6.QtCore import QTimer

from app.services.bridge import EventBridge
from app.services.worker import Superseded, SupersedingRequests, WorkerPool
from tests.gui_ticks import assert_ticks_responsive


def test_result_arrives_on_the_gui_thread(aloop, pool):
    main = threading.get_ident()
    seen: dict[str, int] = {}

    async def scenario():
        future = pool.submit(threading.get_ident)
        future.add_done_callback(lambda f: seen.setdefault("callback", threading.get_ident()))
        seen["worker"] = await future
        seen["after_await"] = threading.get_ident()

    aloop.run_until_complete(scenario())
    assert seen["worker"] != main
    assert seen["callback"] == main
    assert seen["after_await"] == main


def test_exception_is_raised_to_the_awaiter(aloop, pool):
    def boom():
        raise ValueError("bad value 42")

    async def scenario():
        with pytest.raises(ValueError, match="bad value 42"):
            await pool.submit(boom)

    aloop.run_until_complete(scenario())


def test_cancelled_queued_job_never_runs(aloop):
    single = WorkerPool(max_workers=1)
    release = threading.Event()
    ran: list[str] = []

    async def scenario():
        first = single.submit(lambda: release.wait(5) and ran.append("first"))
        second = single.submit(lambda: ran.append("second"))
        second.cancel()
        release.set()
        await first
        third = single.submit(lambda: ran.append("third"))
        await third

    aloop.run_until_complete(scenario())
    assert single.shutdown(timeout=5)
    assert ran == ["first", "third"]


def test_running_job_cancelled_drops_its_result(aloop, pool):
    release = threading.Event()
    finished = threading.Event()

    def slow():
        release.wait(5)
        finished.set()
        return "stale"

    async def scenario():
        future = pool.submit(slow)
        await asyncio.sleep(0.01)
        future.cancel()
        release.set()
        await asyncio.get_running_loop().run_in_executor(None, finished.wait, 5)
        await asyncio.sleep(0.02)  # let a (wrong) delivery arrive if there were one
        return future

    future = aloop.run_until_complete(scenario())
    assert future.cancelled()


def test_superseded_request_result_is_dropped(aloop, pool):
    requests = SupersedingRequests(pool)
    release_old = threading.Event()

    async def scenario():
        old = requests.submit(lambda: release_old.wait(5) and "old result")
        new = requests.submit(lambda: "new result")
        assert requests.generation == 2
        assert await new == "new result"
        release_old.set()
        with pytest.raises(Superseded):
            await old
        # A third request after the old one finished still gets its own result only.
        assert await requests.submit(lambda: "third") == "third"

    aloop.run_until_complete(scenario())


def test_superseded_task_ends_cancelled_quietly(aloop, pool):
    requests = SupersedingRequests(pool)
    gate = threading.Event()

    async def load():
        return await requests.submit(gate.wait, 5)

    async def scenario():
        task = asyncio.ensure_future(load())
        await asyncio.sleep(0.01)
        requests.cancel()
        gate.set()
        await asyncio.gather(task, return_exceptions=True)
        return task

    task = aloop.run_until_complete(scenario())
    assert task.cancelled()


def test_event_loop_keeps_ticking_during_a_blocking_socket_read(aloop, pool, qtbot):
    """A worker blocks in recv() on a real socket whose peer never answers; the GUI
    loop's 10 ms timer must keep firing (the gaps are measured by benchmarks/gui_stalls.py)."""
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname(), timeout=5)
    peer, _ = server.accept()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def blocking_read():
        client.settimeout(0.6)
        try:
            return client.recv(1)
        except TimeoutError:
            return b"timed out"

    async def scenario():
        timer.start()
        result = await pool.submit(blocking_read)
        timer.stop()
        return result

    try:
        started = time.perf_counter()
        assert aloop.run_until_complete(scenario()) == b"timed out"
        elapsed = time.perf_counter() - started
    finally:
        for s in (client, peer, server):
            s.close()
    assert elapsed >= 0.55
    assert_ticks_responsive(ticks, "a worker blocked in recv()", min_ticks=3)


def test_pool_rejects_work_after_shutdown(aloop):
    workers = WorkerPool(max_workers=2)

    async def scenario():
        assert await workers.submit(lambda: 7) == 7

    aloop.run_until_complete(scenario())
    assert workers.shutdown(timeout=5)
    assert workers.thread_count == 0
    with pytest.raises(RuntimeError, match="shut down"):
        workers.submit(lambda: 1, loop=aloop)


def test_pool_grows_to_max_workers_for_parallel_calls(aloop):
    workers = WorkerPool(max_workers=3)
    barrier = threading.Barrier(3, timeout=5)

    async def scenario():
        # Three calls that can only finish together: they need three threads.
        return await asyncio.gather(*(workers.submit(barrier.wait) for _ in range(3)))

    assert sorted(aloop.run_until_complete(scenario())) == [0, 1, 2]
    assert workers.thread_count == 3
    assert workers.shutdown(timeout=5)


# -- EventBridge ---------------------------------------------------------------------
def test_bridge_delivers_plain_thread_events_on_the_gui_thread(qtbot):
    bridge = EventBridge()
    main = threading.get_ident()
    received: list[tuple[str, object, int]] = []
    bridge.topology_event.connect(
        lambda kind, event: received.append((kind, event, threading.get_ident()))
    )
    listeners = {type(x).__name__: x for x in bridge.listeners()}
    topology = listeners["BridgeTopologyListener"]
    event = object()
    thread = threading.Thread(target=topology.description_changed, args=(event,))
    with qtbot.waitSignal(bridge.topology_event, timeout=2000):
        thread.start()
        thread.join()
    assert received == [("description_changed", event, main)]


def test_bridge_listener_families_have_pymongo_method_names(qtbot):
    bridge = EventBridge()
    names = {type(x).__name__: x for x in bridge.listeners()}
    assert set(names) == {
        "BridgeTopologyListener",
        "BridgeServerListener",
        "BridgeServerHeartbeatListener",
        "BridgeCommandListener",
        "BridgeConnectionPoolListener",
    }
    command = names["BridgeCommandListener"]
    pool_listener = names["BridgeConnectionPoolListener"]
    for method in ("started", "succeeded", "failed"):
        assert callable(getattr(command, method))
    for method in ("pool_created", "pool_cleared", "connection_checked_out"):
        assert callable(getattr(pool_listener, method))
    with qtbot.waitSignal(bridge.pool_event, timeout=2000) as blocker:
        pool_listener.pool_cleared("evt")
    assert blocker.args == ["pool_cleared", "evt"]


def test_closed_bridge_drops_late_events(qtbot):
    bridge = EventBridge()
    received: list[str] = []
    bridge.command_event.connect(lambda kind, event: received.append(kind))
    listener = next(x for x in bridge.listeners() if "Command" in type(x).__name__)
    listener.started("one")
    bridge.close()
    listener.succeeded("two")  # posted after close: dropped
    qtbot.wait(20)
    assert received == []


# -- real driver events through the bridge into the window ----------------------------
def test_bridge_listeners_are_the_drivers_listener_classes(qtbot):
    from driver.cmap.events import ConnectionPoolListener
    from driver.operations.command_events import CommandListener
    from driver.sdam.events import ServerHeartbeatListener, ServerListener, TopologyListener

    kinds = (TopologyListener, ServerListener, ServerHeartbeatListener, CommandListener,
             ConnectionPoolListener)
    listeners = EventBridge().listeners()
    for base, listener in zip(kinds, listeners, strict=True):
        assert isinstance(listener, base)


def test_command_events_reach_the_log_panel_redacted(qtbot):
    from app.window import MainWindow
    from driver.operations.command_events import (
        CommandFailedEvent,
        CommandStartedEvent,
        CommandSucceededEvent,
    )

    window = MainWindow()
    qtbot.addWidget(window)
    bridge = EventBridge()
    window.attach_bridge(bridge)
    command = next(x for x in bridge.listeners() if "Command" in type(x).__name__)
    address = ("db1.example", 27017)
    events = [
        ("started", CommandStartedEvent({"find": "people", "filter": {"ssn": "078-05-1120"}},
                                        "shop", 7, address, 7)),
        ("succeeded", CommandSucceededEvent(0.0042, {"cursor": {"firstBatch": [{"ssn": "078-05-1120"}]}},
                                            "find", 7, address, 7, database_name="shop")),
        ("failed", CommandFailedEvent(0.001, {"code": 11000, "codeName": "DuplicateKey",
                                              "errmsg": "dup key: { ssn: \"078-05-1120\" }"},
                                      "insert", 8, ("::1", 27018), 8, database_name="shop")),
    ]
    thread = threading.Thread(target=lambda: [getattr(command, k)(e) for k, e in events])
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: window.log_panel.blockCount() == 3)
    text = window.log_panel.toPlainText()
    assert "→ find on shop at db1.example:27017 (request 7)" in text
    assert "✓ find at db1.example:27017 in 4.2 ms (request 7)" in text
    assert "✗ insert at [::1]:27018 failed after 1.0 ms: code 11000 (DuplicateKey)" in text
    assert "078-05-1120" not in text and "ssn" not in text


def test_topology_events_update_the_status_bar(qtbot):
    from app.window import MainWindow
    from driver.sdam.events import TopologyDescriptionChangedEvent
    from driver.sdam.server_description import ServerDescription
    from driver.sdam.settings import TopologySettings
    from driver.sdam.topology_description import TopologyDescription, updated_topology_description

    window = MainWindow()
    qtbot.addWidget(window)
    bridge = EventBridge()
    window.attach_bridge(bridge)
    settings = TopologySettings(seeds=[("a.example", 27017), ("b.example", 27017)],
                                replica_set_name="rs0")
    before = TopologyDescription.initial(settings)
    hello = {"ok": 1, "isWritablePrimary": True, "setName": "rs0", "setVersion": 1,
             "hosts": ["a.example:27017", "b.example:27017"], "me": "a.example:27017",
             "minWireVersion": 0, "maxWireVersion": 21}
    after = updated_topology_description(before, ServerDescription(("a.example", 27017), hello, 0.001))
    topology = next(x for x in bridge.listeners() if "Topology" in type(x).__name__)
    thread = threading.Thread(
        target=topology.description_changed,
        args=(TopologyDescriptionChangedEvent(before, after, 1),),
    )
    with qtbot.waitSignal(bridge.topology_event, timeout=2000):
        thread.start()
        thread.join()
    assert window.topology_label.text() == "ReplicaSetWithPrimary"
    assert window.primary_label.text() == "Primary: a.example:27017"
