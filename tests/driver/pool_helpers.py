"""Fakes shared by the pool tests: a connection factory, an event recorder, thread checks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from driver.cmap.events import ConnectionPoolListener
from driver.cmap.pool import Pool
from driver.cmap.types import PoolOptions
from driver.errors import PyMongoError
from driver.net.connection import ConnectionSettings, connector

ADDRESS = ("db.example.test", 27017)


class FakeConnection:
    """What ``connect()`` returns; counts its ``close()`` calls."""

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.close_calls = 0
        self.closed_event = threading.Event()

    @property
    def closed(self) -> bool:
        return self.close_calls > 0

    def close(self) -> None:
        self.close_calls += 1
        self.closed_event.set()


class Factory:
    """``connect()`` for tests: optional delay (released early by ``release``) or error."""

    def __init__(self, delay: float = 0.0, error: BaseException | None = None) -> None:
        self.delay = delay
        self.error = error
        self.release = threading.Event()
        self.made: list[FakeConnection] = []
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> FakeConnection:
        with self._lock:
            self.calls += 1
        if self.delay:
            self.release.wait(self.delay)
        if self.error is not None:
            raise self.error
        with self._lock:
            conn = FakeConnection(len(self.made) + 1)
            self.made.append(conn)
            return conn


class Recorder(ConnectionPoolListener):
    """Every CMAP event, in order; ``wait_for`` blocks until a predicate holds."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._changed = threading.Condition()

    def _add(self, event: Any) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    pool_created = pool_ready = pool_cleared = pool_closed = _add
    connection_created = connection_ready = connection_closed = _add
    connection_check_out_started = connection_check_out_failed = _add
    connection_checked_out = connection_checked_in = _add

    def of(self, cls: type) -> list[Any]:
        with self._changed:
            return [event for event in self.events if type(event) is cls]

    def names(self) -> list[str]:
        with self._changed:
            return [type(event).__name__ for event in self.events]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise AssertionError(f"condition not met within {timeout}s; events: {self.names()}")

    def wait_count(self, cls: type, count: int, timeout: float = 5.0) -> None:
        self.wait_for(lambda: sum(type(e) is cls for e in self.events) >= count, timeout)


def pool_threads() -> list[threading.Thread]:
    """The pool's own threads (maintenance and connecting) still alive."""
    return [t for t in threading.enumerate() if t.name.startswith("binnacle-pool-")]


def wait_no_pool_threads(within: float = 1.0) -> None:
    """Fail unless every pool thread has ended within ``within`` seconds."""
    deadline = time.monotonic() + within
    for thread in pool_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    left = pool_threads()
    assert not left, f"pool threads still alive after {within}s: {left}"


def checkout_error(address: tuple[str, int], **settings: Any) -> BaseException:
    """What a checkout from a real pool (``connector`` with these ``ConnectionSettings``
    keywords, 5 s connect timeout unless given) raises when the connection cannot be made."""
    settings.setdefault("connect_timeout", 5.0)
    pool = Pool(address, PoolOptions(), connector(address, ConnectionSettings(**settings)))
    pool.ready()
    try:
        with pytest.raises(PyMongoError) as caught:
            pool.checkout()
        return caught.value
    finally:
        pool.close()
