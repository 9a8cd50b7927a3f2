"""Closing never waits for connectTimeoutMS: every thread a topology, client or pool
started is gone within 1 s, even while one is dialling or handshaking a silent server.

Two kinds of silent server, both on 127.0.0.1 only:
- ``SilentServer`` accepts and reads but never answers, so the handshake (or the TLS
  ClientHello) stalls until the client's timeout;
- ``FullBacklogServer`` listens but never accepts, and its accept queue is filled first,
  so a new TCP ``connect()`` itself blocks (Linux drops the SYN and retries it).
Every test uses ``connectTimeoutMS=20000``: without cancellation the threads would live
for 20 s.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from driver import MongoClient
from driver.cmap.events import ConnectionCreatedEvent, ConnectionPoolListener
from driver.cmap.pool import Pool
from driver.cmap.types import PoolOptions
from driver.errors import AutoReconnect, PyMongoError
from driver.net.connection import Connection, connector, monitor_connection_factory
from driver.net.handshake import ConnectCancellation, accepts_cancel
from driver.net.settings import ConnectionSettings
from driver.net.tls import TLSOptions
from driver.sdam.events import ServerHeartbeatListener, ServerHeartbeatStartedEvent
from driver.sdam.monitor import RttMonitor, RttStats
from driver.sdam.settings import TopologySettings
from driver.sdam.topology import Topology
from tests.timing import HANG_S, LONG_MS

# Close must cancel connects and handshakes, never wait them out: they are made a minute
# long, and close is held to a bound that only such a wait (or a hang) would cross.
CONNECT_TIMEOUT_MS = LONG_MS
CLOSE_LIMIT = HANG_S


class SilentServer:
    """Accepts connections and swallows what they send; never writes a byte."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = self._listener.getsockname()[:2]
        self.received = threading.Event()  # some client sent bytes (a handshake)
        self._peers: list[socket.socket] = []
        self._stopped = False
        self._threads = [threading.Thread(target=self._accept, name="silent-accept", daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                peer, _ = self._listener.accept()
            except OSError:
                return
            self._peers.append(peer)
            reader = threading.Thread(target=self._swallow, args=(peer,), name="silent-read",
                                      daemon=True)
            self._threads.append(reader)
            reader.start()

    def _swallow(self, peer: socket.socket) -> None:
        while True:
            try:
                data = peer.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.received.set()

    def close(self) -> None:
        self._stopped = True
        with_shutdown = [self._listener, *self._peers]
        for sock in with_shutdown:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in self._threads:
            thread.join(2.0)


class FullBacklogServer:
    """Listens but never accepts; its accept queue is full, so new connects block."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.address = self._listener.getsockname()[:2]
        self._fillers: list[socket.socket] = []
        # Fill the queue until a connect no longer completes at once.
        for _ in range(16):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(0.2)
            self._fillers.append(filler)
            try:
                filler.connect(self.address)
            except TimeoutError:
                return
        raise AssertionError("could not fill the accept queue of a 127.0.0.1 listener")

    def close(self) -> None:
        for sock in [*self._fillers, self._listener]:
            sock.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def full_backlog() -> Iterator[FullBacklogServer]:
    server = FullBacklogServer()
    yield server
    server.close()


def _binnacle_threads(exclude: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate()
            if t.name.startswith("binnacle-") and t.is_alive() and t not in exclude]


def _assert_no_thread_left(before: set[threading.Thread]) -> None:
    """No binnacle-* thread started during the test outlives close (by ``CLOSE_LIMIT``)."""
    deadline = time.monotonic() + CLOSE_LIMIT
    for thread in _binnacle_threads(before):
        thread.join(max(0.0, deadline - time.monotonic()))
    assert _binnacle_threads(before) == []


def _timed(close: Callable[[], None]) -> float:
    start = time.monotonic()
    close()
    return time.monotonic() - start


class _HeartbeatStarted(ServerHeartbeatListener):
    """Sets ``began`` at the first ServerHeartbeatStartedEvent: the monitor is about to
    call its connection factory."""

    def __init__(self) -> None:
        self.began = threading.Event()

    def started(self, event: ServerHeartbeatStartedEvent) -> None:
        self.began.set()


class _ConnectionCreated(ConnectionPoolListener):
    def __init__(self) -> None:
        self.seen = threading.Event()

    def connection_created(self, event: ConnectionCreatedEvent) -> None:
        self.seen.set()


def _topology(address: tuple[str, int], listener: Any = None) -> Topology:
    settings = TopologySettings(seeds=[address], direct_connection=True,
                                connect_timeout_ms=CONNECT_TIMEOUT_MS)
    factory = monitor_connection_factory(ConnectionSettings(connect_timeout=20.0))
    return Topology(settings, connection_factory=factory,
                    listeners=[listener] if listener is not None else [])


# -- Topology.close() ---------------------------------------------------------------------


def test_topology_close_stops_a_monitor_stuck_in_the_handshake(silent: SilentServer) -> None:
    before = set(threading.enumerate())
    topology = _topology(silent.address)
    topology.open()
    assert silent.received.wait(5.0), "the monitor never sent its handshake"
    assert _timed(topology.close) < CLOSE_LIMIT
    _assert_no_thread_left(before)


def test_topology_close_stops_a_monitor_stuck_in_connect(
        full_backlog: FullBacklogServer) -> None:
    before = set(threading.enumerate())
    heartbeat = _HeartbeatStarted()
    topology = _topology(full_backlog.address, heartbeat)
    topology.open()
    # Started is published just before the factory runs; whether close() lands before or
    # during connect(), the thread must end either way.
    assert heartbeat.began.wait(5.0)
    assert _timed(topology.close) < CLOSE_LIMIT
    _assert_no_thread_left(before)


def test_rtt_monitor_stop_aborts_its_opening(silent: SilentServer) -> None:
    settings = TopologySettings(seeds=[silent.address], connect_timeout_ms=CONNECT_TIMEOUT_MS)
    factory = monitor_connection_factory(ConnectionSettings(connect_timeout=20.0))
    rtt = RttMonitor(silent.address, settings, factory, RttStats())
    rtt.start()
    assert silent.received.wait(5.0)
    start = time.monotonic()
    rtt.stop()
    rtt.join(CLOSE_LIMIT)
    assert not rtt.thread.is_alive()
    assert time.monotonic() - start < CLOSE_LIMIT


# -- MongoClient.close() ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["silent", "full_backlog"])
def test_client_close_returns_at_once_with_a_silent_server(
        kind: str, request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue(kind)
    before = set(threading.enumerate())
    host, port = server.address
    heartbeat = _HeartbeatStarted()
    client: MongoClient = MongoClient(
        f"mongodb://{host}:{port}/?directConnection=true&connectTimeoutMS={CONNECT_TIMEOUT_MS}",
        event_listeners=[heartbeat])
    assert heartbeat.began.wait(5.0)
    if isinstance(server, SilentServer):
        assert server.received.wait(5.0)
    assert _timed(client.close) < CLOSE_LIMIT
    _assert_no_thread_left(before)


# -- Pool.close() -------------------------------------------------------------------------


def test_pool_close_aborts_a_connection_being_established(silent: SilentServer) -> None:
    before = set(threading.enumerate())
    connect = connector(silent.address, ConnectionSettings(connect_timeout=20.0))
    pool = Pool(silent.address, PoolOptions(), connect)
    pool.ready()
    outcome: list[BaseException] = []

    def check_out() -> None:
        try:
            pool.checkout()
        except PyMongoError as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=check_out, name="test-checkout", daemon=True)
    waiter.start()
    assert silent.received.wait(5.0)
    assert _timed(pool.close) < CLOSE_LIMIT
    waiter.join(CLOSE_LIMIT)
    assert len(outcome) == 1 and "closed" in str(outcome[0])
    _assert_no_thread_left(before)


def test_pool_close_aborts_min_pool_size_connects(full_backlog: FullBacklogServer) -> None:
    before = set(threading.enumerate())
    connect = connector(full_backlog.address, ConnectionSettings(connect_timeout=20.0))
    created = _ConnectionCreated()
    pool = Pool(full_backlog.address, PoolOptions(min_pool_size=2), connect, [created])
    pool.ready()
    # ConnectionCreated is recorded just before the connect thread starts.
    assert created.seen.wait(5.0), "the pool never started populating"
    assert _timed(pool.close) < CLOSE_LIMIT
    _assert_no_thread_left(before)


# -- the cancellation handle itself -------------------------------------------------------


def test_cancelled_handshake_names_the_address_and_says_cancelled(silent: SilentServer) -> None:
    handle = ConnectCancellation()
    failure: list[BaseException] = []

    def open_connection() -> None:
        try:
            Connection.open(silent.address, ConnectionSettings(connect_timeout=20.0),
                            cancel=handle)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion below
            failure.append(exc)

    opener = threading.Thread(target=open_connection, name="test-open", daemon=True)
    opener.start()
    assert silent.received.wait(5.0)
    handle.cancel()
    opener.join(CLOSE_LIMIT)
    assert not opener.is_alive()
    assert isinstance(failure[0], AutoReconnect)
    assert f"{silent.address[0]}:{silent.address[1]}" in str(failure[0])
    assert "cancelled" in str(failure[0])


def test_cancel_during_tls_handshake(silent: SilentServer) -> None:
    handle = ConnectCancellation()
    settings = ConnectionSettings(connect_timeout=20.0,
                                  tls=TLSOptions(allow_invalid_certificates=True,
                                                 allow_invalid_hostnames=True))
    failure: list[BaseException] = []

    def open_connection() -> None:
        try:
            Connection.open(silent.address, settings, cancel=handle)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion below
            failure.append(exc)

    opener = threading.Thread(target=open_connection, name="test-open-tls", daemon=True)
    opener.start()
    assert silent.received.wait(5.0), "no TLS ClientHello arrived"
    handle.cancel()
    opener.join(CLOSE_LIMIT)
    assert not opener.is_alive()
    assert isinstance(failure[0], AutoReconnect) and "cancelled" in str(failure[0])


def test_a_handle_cancelled_before_dialling_fails_at_once(silent: SilentServer) -> None:
    handle = ConnectCancellation()
    handle.cancel()
    start = time.monotonic()
    with pytest.raises(AutoReconnect, match="cancelled"):
        Connection.open(silent.address, ConnectionSettings(connect_timeout=20.0), cancel=handle)
    assert time.monotonic() - start < CLOSE_LIMIT
    assert not silent.received.is_set()


class _CancelledRightAfterAttach(ConnectCancellation):
    """The race a pool's close can hit: cancel() lands after the socket is registered
    but before connect() is called, when shutting the socket down wakes nothing."""

    def attach(self, sock: socket.socket) -> None:
        super().attach(sock)
        self.cancel()


def test_a_cancel_between_registering_and_dialling_still_aborts_the_dial(
        full_backlog: FullBacklogServer) -> None:
    # Found as a pool connect thread that outlived close by the whole connectTimeoutMS
    # (test_pool_close_aborts_min_pool_size_connects, once in a full driver run).
    start = time.monotonic()
    with pytest.raises(AutoReconnect, match="cancelled"):
        Connection.open(full_backlog.address, ConnectionSettings(connect_timeout=20.0),
                        cancel=_CancelledRightAfterAttach())
    assert time.monotonic() - start < CLOSE_LIMIT


def test_accepts_cancel_detects_the_optional_keyword() -> None:
    def old_style(address: Any, timeout: Any) -> None: ...

    def new_style(address: Any, timeout: Any, *, cancel: Any = None) -> None: ...

    def open_ended(*args: Any, **kwargs: Any) -> None: ...

    assert not accepts_cancel(old_style)
    assert accepts_cancel(new_style)
    assert accepts_cancel(open_ended)
    assert not accepts_cancel(print)  # a builtin: no keyword of that name
    assert accepts_cancel(monitor_connection_factory(ConnectionSettings()))
    assert accepts_cancel(connector(("127.0.0.1", 1), ConnectionSettings()))
