"""Fakes shared by the SDAM tests: a pool that records calls, scripted monitor connections,
an event recorder, and a tiny connection-string reader for the spec files' URIs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from driver.errors import AutoReconnect
from driver.sdam.events import ServerHeartbeatListener, ServerListener, TopologyListener
from driver.sdam.settings import TopologySettings
from driver.sdam.types import Address, parse_address


class FakePool:
    """Records clear/ready/close and counts generations like a CMAP pool."""

    instances: list[FakePool] = []

    def __init__(self, address: Address) -> None:
        self.address = address
        self.generation = 0
        self.ready_calls = 0
        self.clears: list[bool] = []
        self.closed = False
        self.is_ready = False
        FakePool.instances.append(self)

    def clear(self, interrupt_in_use: bool = False) -> None:
        self.generation += 1
        self.clears.append(interrupt_in_use)
        self.is_ready = False

    def ready(self) -> None:
        self.ready_calls += 1
        self.is_ready = True

    def close(self) -> None:
        self.closed = True


def fake_pool(topology: Any, address: Address) -> FakePool:
    """The ``FakePool`` of ``address`` in ``topology`` (fails if there is none)."""
    server = topology.get_server(address)
    assert server is not None and isinstance(server.pool, FakePool)
    return server.pool


def settings_from_uri(uri: str, **overrides: Any) -> TopologySettings:
    """The topology-related options of a spec file's ``mongodb://`` URI."""
    if not uri.startswith("mongodb://"):
        raise ValueError(f"unsupported test URI {uri!r}")
    hosts, _, query = uri[len("mongodb://"):].partition("/")
    options = {k.lower(): v[0] for k, v in parse_qs(query.lstrip("?")).items()}

    def flag(name: str) -> bool | None:
        value = options.get(name)
        return None if value is None else value == "true"

    values: dict[str, Any] = dict(
        seeds=[parse_address(h) for h in hosts.split(",")],
        replica_set_name=options.get("replicaset"),
        direct_connection=flag("directconnection"),
        load_balanced=bool(flag("loadbalanced")),
    )
    values.update(overrides)
    return TopologySettings(**values)


class Recorder(TopologyListener, ServerListener, ServerHeartbeatListener):
    """Collects every SDAM and heartbeat event in delivery order."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._lock = threading.Condition()

    def _add(self, event: Any) -> None:
        with self._lock:
            self.events.append(event)
            self._lock.notify_all()

    opened = description_changed = closed = _add
    started = succeeded = failed = _add

    def of(self, *types: type) -> list[Any]:
        with self._lock:
            return [e for e in self.events if isinstance(e, types)]

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self.events):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True


class ScriptedConnection:
    """A ``HelloConnection`` whose replies come from its server's script."""

    def __init__(self, server: ScriptedServer, handshake: dict[str, Any]) -> None:
        self._server = server
        self._handshake = handshake
        self.closed = threading.Event()
        self.awaited_calls: list[dict[str, Any]] = []

    @property
    def handshake_reply(self) -> dict[str, Any]:
        return self._handshake

    def hello(self, *, topology_version: Any = None, max_await_time_ms: int | None = None,
              timeout: float | None = None) -> dict[str, Any]:
        if self.closed.is_set():
            raise AutoReconnect("connection closed")
        if topology_version is not None and max_await_time_ms is not None:
            self.awaited_calls.append({"tv": topology_version, "max": max_await_time_ms})
            # An awaitable hello: block until the script changes, the wait ends or close().
            if self._server.changed.wait(max_await_time_ms / 1000.0):
                self._server.changed.clear()
            if self.closed.is_set():
                raise AutoReconnect("connection closed while awaiting")
        return self._server.next_reply()

    def close(self) -> None:
        self.closed.set()
        self._server.changed.set()


class ScriptedServer:
    """Replies for one address: a fixed reply, or exceptions to raise, changeable any time."""

    def __init__(self, reply: dict[str, Any] | BaseException) -> None:
        self._lock = threading.Lock()
        self._reply = reply
        self.changed = threading.Event()
        self.check_times: list[float] = []
        self.connections: list[ScriptedConnection] = []

    def set(self, reply: dict[str, Any] | BaseException) -> None:
        with self._lock:
            self._reply = reply
        self.changed.set()

    def next_reply(self) -> dict[str, Any]:
        with self._lock:
            self.check_times.append(time.monotonic())
            reply = self._reply
        if isinstance(reply, BaseException):
            raise reply
        return dict(reply)


class ScriptedFactory:
    """A ``MonitorConnectionFactory`` over ``ScriptedServer`` objects keyed by address."""

    def __init__(self, servers: dict[Address, ScriptedServer]) -> None:
        self.servers = servers
        self.connects: list[Address] = []

    def __call__(self, address: Address, connect_timeout: float | None) -> ScriptedConnection:
        self.connects.append(address)
        server = self.servers.get(address)
        if server is None:
            raise AutoReconnect(f"{address[0]}:{address[1]}: [Errno 111] Connection refused")
        connection = ScriptedConnection(server, server.next_reply())
        server.connections.append(connection)
        return connection


def hello(kind: str, *, hosts: Iterable[str] = (), set_name: str = "rs", **extra: Any
          ) -> dict[str, Any]:
    """A hello reply for ``kind`` in primary/secondary/arbiter/standalone/mongos."""
    reply: dict[str, Any] = {"ok": 1, "helloOk": True, "minWireVersion": 0, "maxWireVersion": 21}
    if kind in ("primary", "secondary", "arbiter"):
        reply.update(setName=set_name, hosts=list(hosts), isWritablePrimary=kind == "primary",
                     secondary=kind == "secondary", arbiterOnly=kind == "arbiter")
    elif kind == "mongos":
        reply.update(msg="isdbgrid", isWritablePrimary=True)
    else:
        reply.update(isWritablePrimary=True)
    reply.update(extra)
    return reply
