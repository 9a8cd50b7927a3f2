"""Monitor threads with scripted connections on real threads and real clocks: polling
and streaming, RTT, heartbeat events, the immediate re-check rules, the
minHeartbeatFrequencyMS limit (no busy loop), cancellation, and thread hygiene."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from driver.errors import AutoReconnect, NetworkTimeout, OperationFailure
from driver.read_preferences import ReadPreference
from driver.sdam.events import (
    ServerDescriptionChangedEvent,
    ServerHeartbeatFailedEvent,
    ServerHeartbeatStartedEvent,
    ServerHeartbeatSucceededEvent,
)
from driver.sdam.selection import writable_server_selector
from driver.sdam.settings import TopologySettings
from driver.sdam.topology import AFTER_HANDSHAKE, Topology
from driver.sdam.types import ServerType
from tests.driver.sdam_fakes import (
    FakePool,
    Recorder,
    ScriptedFactory,
    ScriptedServer,
    fake_pool,
    hello,
)
from tests.timing import HANG_S, LONG_MS, assert_prompt

A, B, C = ("a", 27017), ("b", 27017), ("c", 27017)
HOSTS = ["a:27017", "b:27017", "c:27017"]
TV = {"processId": "000000000000000000000007", "counter": 1}


def wait_until(predicate: Callable[[], bool], timeout: float = HANG_S) -> bool:
    """Poll ``predicate``; ``timeout`` only guards against a hang (tests/timing.py)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def make(servers: dict[Any, ScriptedServer], mode: str = "poll", heartbeat_ms: int = 10_000,
         min_ms: int = 50, **settings: Any) -> tuple[Topology, ScriptedFactory, Recorder]:
    factory = ScriptedFactory(servers)
    recorder = Recorder()
    settings.setdefault("seeds", list(servers))
    topology = Topology(
        TopologySettings(server_monitoring_mode=mode, heartbeat_frequency_ms=heartbeat_ms,
                         min_heartbeat_frequency_ms=min_ms, **settings),
        connection_factory=factory, pool_factory=FakePool, listeners=[recorder])
    topology.open()
    return topology, factory, recorder


def kind(topology: Topology, address: Any = A) -> ServerType | None:
    sd = topology.description_of(address)
    return None if sd is None else sd.server_type


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def test_polling_checks_every_heartbeat_and_tracks_rtt() -> None:
    server = ScriptedServer(hello("standalone", topologyVersion=TV))
    topology, _, recorder = make({A: server}, heartbeat_ms=150)
    try:
        assert topology.select_server(ReadPreference.PRIMARY, timeout=2).address == A
        assert wait_until(lambda: len(server.check_times) >= 4)
        # Polling: never awaitable, and no RTT thread.
        assert all(not c.awaited_calls for c in server.connections)
        assert all(g >= 0.14 for g in gaps(server.check_times[1:])), gaps(server.check_times)
        stats = topology.get_server(A).rtt_stats  # type: ignore[union-attr]
        assert stats.average is not None and len(stats.samples()) >= 4
        assert topology.rtt_samples("a:27017") and topology.rtt_samples(("z", 1)) == []
        assert not [t for t in topology.threads() if t.name.startswith("binnacle-rtt")]
        started = recorder.of(ServerHeartbeatStartedEvent)
        succeeded = recorder.of(ServerHeartbeatSucceededEvent)
        assert started and succeeded and not any(e.awaited for e in started + succeeded)
        assert succeeded[0].connection_id == A and succeeded[0].duration >= 0
        assert succeeded[0].reply["ok"] == 1
        assert fake_pool(topology, A).is_ready
    finally:
        topology.close()


def test_network_error_on_a_known_server_is_retried_once_at_once() -> None:
    server = ScriptedServer(hello("standalone"))
    topology, factory, recorder = make({A: server}, heartbeat_ms=10_000, min_ms=50)
    try:
        assert wait_until(lambda: kind(topology) == ServerType.Standalone)
        server.set(AutoReconnect("a:27017: connection reset"))
        topology.request_check()
        # The failed check, then at once a retry on a new connection (which fails too)...
        assert wait_until(lambda: len(factory.connects) == 2)
        assert kind(topology) == ServerType.Unknown
        # ... and then nothing until heartbeatFrequencyMS (10 s) has passed.
        time.sleep(0.4)
        assert len(factory.connects) == 2
        pool = fake_pool(topology, A)
        assert pool.clears and not pool.is_ready
        assert topology.get_server(A).rtt_stats.average is None  # type: ignore[union-attr]
        failed = recorder.of(ServerHeartbeatFailedEvent)
        assert len(failed) == 2 and "connection reset" in str(failed[0].reply)
    finally:
        topology.close()


def test_no_retry_when_the_server_was_already_unknown_and_no_busy_loop() -> None:
    topology, factory, _ = make({}, heartbeat_ms=200, seeds=[A])
    try:
        time.sleep(0.7)
        # A server that is down is tried once per heartbeat, not in a loop.
        assert 2 <= len(factory.connects) <= 5, factory.connects
    finally:
        topology.close()


def test_state_change_error_triggers_an_immediate_check() -> None:
    server = ScriptedServer(hello("primary", hosts=["a:27017"]))
    # The heartbeat is a minute away: only the immediate check can bring the primary back
    # before wait_until's hang guard.
    topology, _, _ = make({A: server}, heartbeat_ms=LONG_MS, min_ms=50, replica_set_name="rs")
    try:
        assert topology.select_server(writable_server_selector, timeout=HANG_S).address == A
        checks = len(server.check_times)
        error = OperationFailure("not primary", 10107, {"ok": 0, "code": 10107})
        topology.handle_application_error(A, error, 0, 21, AFTER_HANDSHAKE)
        assert kind(topology) == ServerType.Unknown
        assert wait_until(lambda: kind(topology) == ServerType.RSPrimary)
        assert len(server.check_times) == checks + 1
    finally:
        topology.close()


def test_requested_checks_are_limited_by_min_heartbeat_frequency() -> None:
    server = ScriptedServer(hello("standalone"))
    topology, _, _ = make({A: server}, heartbeat_ms=10_000, min_ms=100)
    try:
        assert wait_until(lambda: kind(topology) == ServerType.Standalone)
        first = len(server.check_times)
        end = time.monotonic() + 0.65
        while time.monotonic() < end:
            topology.request_check()
            time.sleep(0.001)
        made = len(server.check_times) - first
        # A busy machine can only make fewer checks, never more or closer together.
        assert 1 <= made <= 8, made
        assert min(gaps(server.check_times)) >= 0.095, gaps(server.check_times)
    finally:
        topology.close()


def test_waiting_selection_requests_checks_but_not_faster_than_the_minimum() -> None:
    topology, factory, _ = make({}, heartbeat_ms=10_000, min_ms=100, seeds=[A])
    try:
        start = time.monotonic()
        try:
            topology.select_server(ReadPreference.PRIMARY, timeout=0.55)
        except AutoReconnect as exc:
            assert "Connection refused" in str(exc)
        assert time.monotonic() - start >= 0.5
        assert 3 <= len(factory.connects) <= 8, factory.connects
    finally:
        topology.close()


def test_streaming_uses_awaitable_hello_and_an_rtt_thread() -> None:
    server = ScriptedServer(hello("primary", hosts=["a:27017"], topologyVersion=TV))
    topology, factory, recorder = make({A: server}, mode="stream", heartbeat_ms=LONG_MS,
                                       min_ms=20, replica_set_name="rs")
    try:
        assert topology.select_server(writable_server_selector, timeout=HANG_S).address == A
        assert wait_until(lambda: any(c.awaited_calls for c in server.connections))
        monitor_conn = server.connections[0]
        assert monitor_conn.awaited_calls[0] == {"tv": TV, "max": LONG_MS}
        assert wait_until(lambda: any(t.name == "binnacle-rtt-a:27017"
                                      for t in topology.threads()))
        # The server pushes a change: seen long before the one-minute heartbeat.
        server.set(hello("secondary", hosts=["a:27017"], topologyVersion={**TV, "counter": 2}))
        assert wait_until(lambda: kind(topology) == ServerType.RSSecondary)
        assert any(e.awaited for e in recorder.of(ServerHeartbeatSucceededEvent))
        assert len(factory.connects) == 2  # the monitor's and the RTT monitor's connection
    finally:
        topology.close()
    assert not topology.threads()


def test_streaming_sees_back_to_back_changes_without_the_minimum_wait() -> None:
    # A real change comes back from the awaitable hello at once; the next awaitable hello
    # must go out at once too, or every later change is seen minHeartbeatFrequencyMS late.
    server = ScriptedServer(hello("primary", hosts=["a:27017"], topologyVersion=TV))
    # A minimum wait longer than wait_until's hang guard: a monitor that waited it out
    # before the next awaitable hello would miss the second change.
    topology, _, _ = make({A: server}, mode="stream", heartbeat_ms=LONG_MS,
                          min_ms=int(HANG_S * 2000), replica_set_name="rs")
    try:
        assert wait_until(lambda: any(c.awaited_calls for c in server.connections))
        server.set(hello("secondary", hosts=["a:27017"], topologyVersion={**TV, "counter": 2}))
        assert wait_until(lambda: kind(topology) == ServerType.RSSecondary)
        server.set(hello("primary", hosts=["a:27017"], topologyVersion={**TV, "counter": 3}))
        assert wait_until(lambda: kind(topology) == ServerType.RSPrimary)
    finally:
        topology.close()


def test_streaming_server_that_never_waits_is_held_to_the_minimum() -> None:
    # A server that answers every awaitable hello at once with the same topologyVersion
    # must not turn the monitor into a busy loop.
    server = ScriptedServer(hello("standalone", topologyVersion=TV))
    server.changed.set()  # the fake answers at once while this stays set
    original_clear = server.changed.clear
    server.changed.clear = lambda: None  # type: ignore[method-assign]
    topology, _, _ = make({A: server}, mode="stream", heartbeat_ms=10_000, min_ms=100)
    try:
        time.sleep(0.65)
        checks = len(server.check_times)
        # At most one check per 100 ms (plus the handshake and RTT probes' slack).
        assert checks <= 10, checks
    finally:
        server.changed.clear = original_clear  # type: ignore[method-assign]
        topology.close()


def test_application_network_error_cancels_a_streaming_check() -> None:
    server = ScriptedServer(hello("standalone", topologyVersion=TV))
    topology, _, recorder = make({A: server}, mode="stream", heartbeat_ms=5_000, min_ms=20)
    try:
        assert wait_until(lambda: any(c.awaited_calls for c in server.connections))
        monitor_conn = server.connections[0]
        topology.handle_application_error(A, AutoReconnect("reset"), 0, 21, AFTER_HANDSHAKE)
        assert wait_until(monitor_conn.closed.is_set)
        time.sleep(0.1)
        # Only the application error cleared the pool; the cancelled check did not again.
        assert fake_pool(topology, A).clears == [False]
        assert kind(topology) == ServerType.Unknown
        # ... and the cancelled check reported nothing: one change to Unknown, no more.
        assert topology.publisher.flush()
        to_unknown = [e for e in recorder.of(ServerDescriptionChangedEvent)
                      if e.new_description.server_type == ServerType.Unknown]
        assert len(to_unknown) == 1
        # Selection asks for a check and the server is found again.
        assert topology.select_server(ReadPreference.PRIMARY, timeout=2).address == A
    finally:
        topology.close()


def test_network_timeout_during_a_check_interrupts_in_use_connections() -> None:
    server = ScriptedServer(hello("standalone"))
    topology, _, _ = make({A: server}, heartbeat_ms=10_000, min_ms=20)
    try:
        assert wait_until(lambda: kind(topology) == ServerType.Standalone)
        server.set(NetworkTimeout("a:27017: timed out"))
        topology.request_check()
        pool = fake_pool(topology, A)
        assert wait_until(lambda: bool(pool.clears))
        assert pool.clears[0] is True
    finally:
        topology.close()


def test_removed_member_monitor_stops() -> None:
    servers = {A: ScriptedServer(hello("primary", hosts=HOSTS)),
               B: ScriptedServer(hello("secondary", hosts=HOSTS)),
               C: ScriptedServer(hello("secondary", hosts=HOSTS))}
    topology, _, _ = make(servers, heartbeat_ms=10_000, min_ms=20, seeds=[A],
                          replica_set_name="rs")
    try:
        assert wait_until(lambda: kind(topology, C) == ServerType.RSSecondary)
        c_threads = [t for t in topology.threads() if t.name == "binnacle-monitor-c:27017"]
        assert len(c_threads) == 1
        servers[A].set(hello("primary", hosts=HOSTS[:2], setVersion=2))
        topology.request_check()
        assert wait_until(lambda: kind(topology, C) is None)
        c_threads[0].join(1)
        assert not c_threads[0].is_alive()
    finally:
        topology.close()


def test_close_stops_every_thread_without_waiting_for_a_heartbeat() -> None:
    servers = {A: ScriptedServer(hello("primary", hosts=HOSTS, topologyVersion=TV)),
               B: ScriptedServer(hello("secondary", hosts=HOSTS, topologyVersion=TV)),
               C: ScriptedServer(hello("secondary", hosts=HOSTS, topologyVersion=TV))}
    before = set(threading.enumerate())
    topology, _, recorder = make(servers, mode="stream", heartbeat_ms=LONG_MS, min_ms=20,
                                 replica_set_name="rs")
    assert wait_until(lambda: len([t for t in topology.threads()
                                   if t.name.startswith("binnacle-rtt")]) == 3)
    assert recorder.wait_for(lambda events: bool(events))
    started = time.monotonic()
    topology.close()
    assert_prompt(time.monotonic() - started, "closing a streaming topology")
    assert not topology.threads()
    leaked = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert not leaked, leaked
    assert all(c.closed.is_set() for s in servers.values() for c in s.connections)
    topology.close()  # idempotent
