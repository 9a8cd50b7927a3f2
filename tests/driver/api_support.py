"""Shared fixtures and helpers of the client-API tests (``test_client*``, ``test_collection*``,
``test_cursor*``, ``test_bulk*``, ``test_session*``).

The sandbox clusters are real servers on 127.0.0.1 sockets; one standalone and one
replica set are shared per test module (starting one takes a fraction of a second, but
there is no reason to do it per test). Each test gets a fresh collection name.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from driver import MongoClient
from driver.operations.command_events import CommandListener
from sandbox.cluster import SandboxCluster

_names = itertools.count()


class RecordingListener(CommandListener):
    """Keeps every command event (thread-safe appends)."""

    def __init__(self) -> None:
        self.started_events: list[Any] = []
        self.succeeded_events: list[Any] = []
        self.failed_events: list[Any] = []
        self._lock = threading.Lock()

    def started(self, event: Any) -> None:
        with self._lock:
            self.started_events.append(event)

    def succeeded(self, event: Any) -> None:
        with self._lock:
            self.succeeded_events.append(event)

    def failed(self, event: Any) -> None:
        with self._lock:
            self.failed_events.append(event)

    def commands(self, name: str) -> list[dict[str, Any]]:
        """The command documents sent with this command name, in order."""
        with self._lock:
            return [dict(e.command) for e in self.started_events if e.command_name == name]

    def failures(self, name: str) -> list[Any]:
        with self._lock:
            return [e for e in self.failed_events if e.command_name == name]

    def clear(self) -> None:
        with self._lock:
            self.started_events.clear()
            self.succeeded_events.clear()
            self.failed_events.clear()


def fresh_name(prefix: str = "c") -> str:
    return f"{prefix}{next(_names)}"


@pytest.fixture(scope="module", name="standalone")
def standalone_fixture() -> Iterator[SandboxCluster]:
    with SandboxCluster(kind="standalone") as cluster:
        yield cluster


@pytest.fixture(scope="module", name="replset")
def replset_fixture() -> Iterator[SandboxCluster]:
    with SandboxCluster(kind="replset", members=3, election_delay=0.2) as cluster:
        yield cluster


@pytest.fixture(name="listener")
def listener_fixture() -> RecordingListener:
    return RecordingListener()


@pytest.fixture(name="client")
def client_fixture(standalone: SandboxCluster, listener: RecordingListener) -> Iterator[MongoClient]:
    c = MongoClient(standalone.uri, serverSelectionTimeoutMS=5000, event_listeners=[listener])
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(name="coll")
def coll_fixture(client: MongoClient) -> Any:
    collection = client["apitest"][fresh_name()]
    yield collection
    collection.drop()


def driver_threads() -> list[str]:
    """Names of live threads the driver starts (monitors, pools, events, reaper)."""
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("binnacle"))
