"""The topology with its real neighbours: ``driver.cmap.pool.Pool`` (CMAP) as the injected
pool, and the real monitoring connections of ``driver.net`` against the small
MongoDB-speaking server on 127.0.0.1 (``tests/driver/net_fake_server.py``)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from driver.cmap.events import ConnectionPoolListener, PoolClearedEvent, PoolReadyEvent
from driver.cmap.pool import Pool, PoolOptions
from driver.errors import AutoReconnect, ServerSelectionTimeoutError
from driver.net.connection import monitor_connection_factory
from driver.net.settings import ConnectionSettings
from driver.read_preferences import ReadPreference
from driver.sdam.settings import TopologySettings
from driver.sdam.topology import AFTER_HANDSHAKE, Topology
from driver.sdam.types import ServerType
from tests.driver.net_fake_server import FakeServer
from tests.driver.sdam_fakes import ScriptedFactory, ScriptedServer, hello
from tests.timing import LONG_MS, assert_prompt

A = ("a", 27017)


class _PoolWatcher(ConnectionPoolListener):
    """Reads the topology from inside CMAP callbacks (they run with its lock held)."""

    def __init__(self) -> None:
        self.topology: Topology | None = None
        self.seen: list[tuple[str, str]] = []

    def pool_ready(self, event: PoolReadyEvent) -> None:
        assert self.topology is not None
        self.seen.append(("ready", self.topology.description.topology_type.name))

    def pool_cleared(self, event: PoolClearedEvent) -> None:
        assert self.topology is not None
        sd = self.topology.description_of(event.address)
        self.seen.append(("cleared", sd.server_type.name if sd else "gone"))


def test_real_pool_is_readied_and_cleared_in_step_with_the_description() -> None:
    watcher = _PoolWatcher()
    pools: list[Pool] = []

    def make_pool(address: Any) -> Pool:
        pool = Pool(address, PoolOptions(), connect=lambda: None, listeners=[watcher])
        pools.append(pool)
        return pool

    server = ScriptedServer(hello("standalone"))
    settings = TopologySettings(seeds=[A], server_monitoring_mode="poll",
                                min_heartbeat_frequency_ms=20)
    topology = Topology(settings, connection_factory=ScriptedFactory({A: server}),
                        pool_factory=make_pool)
    watcher.topology = topology
    with topology:
        assert topology.select_server(ReadPreference.PRIMARY, timeout=2).address == A
        deadline = time.monotonic() + 2
        while not watcher.seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert watcher.seen[0] == ("ready", "Single")
        topology.handle_application_error(A, AutoReconnect("reset"), 0, 21, AFTER_HANDSHAKE)
        # The clear happened with the description already Unknown (same lock, same step).
        assert watcher.seen[-1] == ("cleared", "Unknown")
        assert pools[0].generation == 1
        # A stale error from the old generation changes nothing.
        topology.handle_application_error(A, AutoReconnect("late"), 0, 21, AFTER_HANDSHAKE)
        assert pools[0].generation == 1
    assert pools[0].closed


@pytest.fixture
def mongod() -> Any:
    server = FakeServer().start()
    yield server
    server.stop()


def test_real_sockets_discover_a_standalone_and_close_promptly(mongod: FakeServer) -> None:
    factory = monitor_connection_factory(ConnectionSettings(connect_timeout=2.0))
    settings = TopologySettings(seeds=[mongod.address], server_monitoring_mode="poll",
                                heartbeat_frequency_ms=LONG_MS)  # close must not wait it out
    before = set(threading.enumerate())
    topology = Topology(settings, connection_factory=factory)
    topology.open()
    server = topology.select_server(ReadPreference.PRIMARY, timeout=5)
    assert server.description.server_type == ServerType.Standalone
    assert server.description.round_trip_time is not None
    started = time.monotonic()
    topology.close()
    assert_prompt(time.monotonic() - started, "closing a topology between heartbeats")
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()
                and t.name.startswith("binnacle")]


def test_real_silent_server_times_out_with_a_readable_message() -> None:
    silent = FakeServer(silent=True).start()
    try:
        factory = monitor_connection_factory(ConnectionSettings(connect_timeout=0.2))
        settings = TopologySettings(seeds=[silent.address], connect_timeout_ms=200)
        with Topology(settings, connection_factory=factory) as topology:
            with pytest.raises(ServerSelectionTimeoutError) as info:
                topology.select_server(ReadPreference.PRIMARY, timeout=0.6)
        where = f"127.0.0.1:{silent.address[1]}"
        assert str(info.value).startswith(f"{where}: ")
        assert "timed out" in str(info.value)
    finally:
        silent.stop()
