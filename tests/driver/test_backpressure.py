"""Backpressure labels on connection-establishment errors (CMAP spec, "Backpressure-enabled"):
the pool labels network errors and timeouts of the dial, the TLS handshake and the
``hello`` with ``SystemOverloadedError`` and ``RetryableError``, and nothing else (DNS
failures, certificate failures, authentication, command errors; monitoring connections
are not the pool's). Real sockets against the fake server; TLS cases are in test_tls."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from driver import MongoClient
from driver.auth import MongoCredential
from driver.cmap.pool import Pool
from driver.cmap.types import PoolOptions
from driver.errors import (
    RETRYABLE_ERROR,
    SYSTEM_OVERLOADED_ERROR,
    AutoReconnect,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
    WaitQueueTimeoutError,
)
from driver.net.connection import ConnectionSettings, connector, monitor_connection_factory
from driver.sdam.types import ServerType
from tests.driver.net_fake_server import FakeServer, User
from tests.driver.pool_helpers import checkout_error

HELLO = frozenset({"isMaster", "hello"})
LABELS = (SYSTEM_OVERLOADED_ERROR, RETRYABLE_ERROR)


def labels(error: BaseException) -> list[str]:
    assert isinstance(error, PyMongoError)
    return [label for label in LABELS if error.has_error_label(label)]


@pytest.fixture
def closing_hello() -> Iterator[FakeServer]:
    with FakeServer(close_on=HELLO) as running:
        yield running


def test_connection_closed_during_the_hello_is_labelled(closing_hello: FakeServer) -> None:
    error = checkout_error(closing_hello.address)
    assert isinstance(error, AutoReconnect)
    assert labels(error) == list(LABELS)


def test_timeout_during_the_hello_is_labelled() -> None:
    with FakeServer(silent=True) as server:
        error = checkout_error(server.address, connect_timeout=0.2)
    assert isinstance(error, NetworkTimeout)
    assert labels(error) == list(LABELS)


def test_refused_dial_is_labelled() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    address = ("127.0.0.1", probe.getsockname()[1])
    probe.close()  # nothing listens there now
    error = checkout_error(address)
    assert isinstance(error, AutoReconnect)
    assert labels(error) == list(LABELS)


def test_dns_failure_is_not_labelled(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    error = checkout_error(("no-such-host.invalid", 27017))
    assert isinstance(error, AutoReconnect)
    assert labels(error) == []


def test_network_error_during_authentication_is_not_labelled() -> None:
    users = {"alice": User("pw")}
    with FakeServer(users=users, close_on=frozenset({"saslStart", "saslContinue"})) as server:
        error = checkout_error(server.address,
                               credential=MongoCredential("SCRAM-SHA-256", "alice", "pw"))
    assert isinstance(error, AutoReconnect)
    assert labels(error) == []


def test_authentication_failure_is_not_labelled() -> None:
    with FakeServer(users={"alice": User("pw")}) as server:
        error = checkout_error(server.address,
                               credential=MongoCredential("SCRAM-SHA-256", "alice", "wrong"))
    assert isinstance(error, OperationFailure)
    assert labels(error) == []


def test_monitoring_connections_are_not_labelled(closing_hello: FakeServer) -> None:
    factory = monitor_connection_factory(ConnectionSettings())
    with pytest.raises(AutoReconnect) as caught:
        factory(closing_hello.address, 5.0)
    assert labels(caught.value) == []


def test_background_population_errors_reach_sdam_labelled(closing_hello: FakeServer) -> None:
    address = closing_hello.address
    reported: list[BaseException] = []
    done = threading.Event()

    def on_background_error(error: BaseException, generation: int) -> None:
        reported.append(error)
        done.set()

    pool = Pool(address, PoolOptions(min_pool_size=1),
                connector(address, ConnectionSettings(connect_timeout=5.0)),
                on_background_error=on_background_error)
    pool.ready()
    try:
        assert done.wait(5.0)
    finally:
        pool.close()
    assert labels(reported[0]) == list(LABELS)


def test_pool_wait_queue_timeout_is_not_an_sdam_error() -> None:
    # Since any error while establishing a connection marks the server Unknown, the
    # pool's own refusals (wait queue timed out, paused, closed) must not reach SDAM.
    with FakeServer() as server:
        uri = (f"mongodb://127.0.0.1:{server.address[1]}/?directConnection=true"
               "&maxPoolSize=1&waitQueueTimeoutMS=100")
        client = MongoClient(uri, serverSelectionTimeoutMS=5000)
        try:
            client.admin.command("ping")
            holder = threading.Thread(target=client.admin.command, args=("slow",), daemon=True)
            holder.start()
            assert server.slow_started.wait(5.0)
            with pytest.raises(WaitQueueTimeoutError):
                client.admin.command("ping")
            (description,) = client.topology_description.server_descriptions().values()
            assert description.server_type == ServerType.Standalone
            server.release.set()
            holder.join(5.0)
        finally:
            client.close()


def test_establishment_error_after_a_clear_is_stale() -> None:
    # SDAM "error generation number": "when a network error occurs before the handshake
    # completes then the error's generation number is the generation of the pool at the
    # time the connection attempt was started", so a pool cleared meanwhile makes it stale.
    with FakeServer() as server:
        uri = f"mongodb://127.0.0.1:{server.address[1]}/?directConnection=true"
        client = MongoClient(uri, serverSelectionTimeoutMS=5000)
        try:
            client.admin.command("ping")
            topology = client._get_topology()
            pool: Any = topology.get_server(server.address).pool  # type: ignore[union-attr]
            while pool.available_connection_count:  # make the next checkout connect
                idle = pool.checkout()
                idle.mark_errored()
                pool.checkin(idle)

            def cleared_then_refused(**kwargs: Any) -> Any:
                pool.clear()  # e.g. another thread's error, while this one was connecting
                raise OperationFailure("Authentication failed.", 18, {"ok": 0, "code": 18})

            pool._connect = cleared_then_refused
            with pytest.raises(OperationFailure):
                client.admin.command("ping")
            assert pool.generation == 1  # not cleared a second time
            (description,) = client.topology_description.server_descriptions().values()
            assert description.server_type == ServerType.Standalone
        finally:
            client.close()


def test_background_error_reports_the_generation_of_its_attempt() -> None:
    # The same rule for minPoolSize population: SDAM must get the generation the attempt
    # started with, or an error that outlived a clear is taken for a fresh one.
    reported: list[tuple[BaseException, int]] = []
    done = threading.Event()
    holder: list[Pool] = []

    def cleared_then_refused() -> Any:
        holder[0].clear()
        raise AutoReconnect("a:27017: connection reset during authentication")

    def on_background_error(error: BaseException, generation: int) -> None:
        reported.append((error, generation))
        done.set()

    pool = Pool(("a", 27017), PoolOptions(min_pool_size=1), cleared_then_refused,
                on_background_error=on_background_error)
    holder.append(pool)
    pool.ready()
    try:
        assert done.wait(5.0)
    finally:
        pool.close()
    assert reported[0][1] == 0 and pool.generation >= 1
