"""Runner for the CMAP spec's ``cmap-format`` tests (connection-monitoring-and-pooling).

Every ``style: unit`` file runs against ``driver.cmap.pool.Pool`` with a factory of fake
connections, on real threads with real timing, as the format's README describes
(start/wait/waitForThread/waitForEvent/checkOut/checkIn/clear/close/ready, ``ignore``,
``poolOptions``, ``events``, ``error``).

``style: integration`` files (they carry ``runOn``/``failPoint``) run against a sandbox
standalone over real sockets: the runner sets the file's ``failCommand`` fail point with
``configureFailPoint`` (it blocks or fails the handshake ``hello`` of connections whose
appName is the file's), gives the pool the driver's real connector with that appName, and
turns the fail point off afterwards. What SDAM does with a background (minPoolSize)
connection error is played by ``pool.clear()``, which is what the topology does.

Error messages: the spec's sentence must appear in ours (case-insensitively); we add the
address and the figures after it, so plain equality would be the wrong test.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from driver.cmap.events import (
    ConnectionCheckedInEvent,
    ConnectionCheckedOutEvent,
    ConnectionCheckOutFailedEvent,
    ConnectionCheckOutStartedEvent,
    ConnectionClosedEvent,
    ConnectionCreatedEvent,
    ConnectionPoolListener,
    ConnectionReadyEvent,
    PoolClearedEvent,
    PoolClosedEvent,
    PoolCreatedEvent,
    PoolReadyEvent,
)
from driver.cmap.pool import Pool, PoolClearedError, PoolClosedError, PooledConnection, PoolOptions
from driver.errors import WaitQueueTimeoutError
from driver.net.connection import connector
from driver.net.settings import ConnectionSettings
from sandbox.cluster import SandboxCluster
from tests.driver.pool_helpers import wait_no_pool_threads
from tests.specdata import load, missing, params_or_missing, spec_files

SUITE = "connection-monitoring-and-pooling/cmap-format"
ADDRESS = ("localhost", 27017)
DEFAULT_EVENT_TIMEOUT = 10.0
THREAD_JOIN_TIMEOUT = 10.0

EVENT_TYPES: dict[str, type] = {
    "ConnectionPoolCreated": PoolCreatedEvent,
    "ConnectionPoolReady": PoolReadyEvent,
    "ConnectionPoolCleared": PoolClearedEvent,
    "ConnectionPoolClosed": PoolClosedEvent,
    "ConnectionCreated": ConnectionCreatedEvent,
    "ConnectionReady": ConnectionReadyEvent,
    "ConnectionClosed": ConnectionClosedEvent,
    "ConnectionCheckOutStarted": ConnectionCheckOutStartedEvent,
    "ConnectionCheckOutFailed": ConnectionCheckOutFailedEvent,
    "ConnectionCheckedOut": ConnectionCheckedOutEvent,
    "ConnectionCheckedIn": ConnectionCheckedInEvent,
}
TYPE_NAMES = {cls: name for name, cls in EVENT_TYPES.items()}
EVENT_FIELDS = {
    "address": "address",
    "connectionId": "connection_id",
    "duration": "duration",
    "options": "options",
    "reason": "reason",
    "interruptInUseConnections": "interrupt_connections",
}
ERROR_TYPES: dict[str, type[BaseException]] = {
    "WaitQueueTimeoutError": WaitQueueTimeoutError,
    "PoolClosedError": PoolClosedError,
    "PoolClearedError": PoolClearedError,
}
POOL_OPTIONS = {
    "maxPoolSize": "max_pool_size",
    "minPoolSize": "min_pool_size",
    "maxConnecting": "max_connecting",
    "maxIdleTimeMS": "max_idle_time_ms",
    "waitQueueTimeoutMS": "wait_queue_timeout_ms",
    "backgroundThreadIntervalMS": "background_thread_interval_ms",
}
APP_NAME_OPTION = "appName"  # a connection setting (the fail point's filter), not a pool one


def _is_integration(test: dict[str, Any]) -> bool:
    return test.get("style") == "integration" or "runOn" in test or "failPoint" in test


def _files(integration: bool) -> list[Any]:
    return [
        pytest.param(path, id=path.stem)
        for path in spec_files(SUITE)
        if _is_integration(load(path)) == integration
    ]


# --- fakes --------------------------------------------------------------------------------


class FakeConnection:
    """What the injected factory returns: only ``close()`` matters to the pool."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Recorder(ConnectionPoolListener):
    """Keeps every event, in delivery order, and lets the runner wait for counts."""

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

    def count(self, type_name: str) -> int:
        cls = EVENT_TYPES[type_name]
        return sum(1 for event in self.events if type(event) is cls)

    def wait_for(self, type_name: str, count: int, timeout: float) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.count(type_name) >= count, timeout):
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {count} {type_name} events; "
                    f"saw {[TYPE_NAMES[type(e)] for e in self.events]}"
                )


# --- operations -------------------------------------------------------------------------


class Worker:
    """A named test thread running the operations scheduled on it, in order."""

    _STOP = object()

    def __init__(self, name: str, runner: Runner) -> None:
        self.error: BaseException | None = None
        self._ops: queue.Queue[Any] = queue.Queue()
        self._runner = runner
        self.thread = threading.Thread(target=self._run, name=f"cmap-test-{name}", daemon=True)
        self.thread.start()

    def schedule(self, op: dict[str, Any]) -> None:
        self._ops.put(op)

    def stop(self) -> None:
        self._ops.put(self._STOP)

    def _run(self) -> None:
        while True:
            op = self._ops.get()
            if op is self._STOP:
                return
            if self.error is None:
                try:
                    self._runner.execute(op)
                except BaseException as exc:  # propagated by waitForThread
                    self.error = exc


class Runner:
    """Runs one file's operations on a pool whose connections ``connect()`` makes."""

    def __init__(self, test: dict[str, Any], address: tuple[str, int],
                 connect: Callable[..., Any]) -> None:
        options = {}
        for key, value in test.get("poolOptions", {}).items():
            if key != APP_NAME_OPTION:
                options[POOL_OPTIONS[key]] = value
        self.recorder = Recorder()
        self.labels: dict[str, PooledConnection] = {}
        # Every connection still checked out: teardown checks them in, so that a real
        # connection (a socket) left with a thread the test never resumes gets closed.
        self.checked_out: list[PooledConnection] = []
        self._checked_out_lock = threading.Lock()
        self.workers: dict[str, Worker] = {}
        self.pool = Pool(
            address,
            PoolOptions(**options),
            connect,
            [self.recorder],
            # What SDAM does with a background (minPoolSize) connection error.
            on_background_error=lambda error, _generation: self.pool.clear(cause=error),
        )

    def run(self, operations: list[dict[str, Any]]) -> BaseException | None:
        for op in operations:
            if "thread" in op:
                self.workers[op["thread"]].schedule(op)
                continue
            try:
                self.execute(op)
            except BaseException as exc:
                return exc
        return None

    def execute(self, op: dict[str, Any]) -> None:
        name = op["name"]
        if name == "start":
            self.workers[op["target"]] = Worker(op["target"], self)
        elif name == "wait":
            time.sleep(op["ms"] / 1000)
        elif name == "waitForThread":
            worker = self.workers[op["target"]]
            worker.stop()
            worker.thread.join(THREAD_JOIN_TIMEOUT)
            assert not worker.thread.is_alive(), f"thread {op['target']} did not finish"
            if worker.error is not None:
                raise worker.error
        elif name == "waitForEvent":
            timeout = op.get("timeout")
            self.recorder.wait_for(
                op["event"], op["count"], timeout / 1000 if timeout else DEFAULT_EVENT_TIMEOUT
            )
        elif name == "checkOut":
            conn = self.pool.checkout()
            with self._checked_out_lock:
                self.checked_out.append(conn)
            if "label" in op:
                self.labels[op["label"]] = conn
        elif name == "checkIn":
            conn = self.labels[op["connection"]]
            with self._checked_out_lock:
                self.checked_out.remove(conn)
            self.pool.checkin(conn)
        elif name == "clear":
            self.pool.clear(op.get("interruptInUseConnections", False))
        elif name == "close":
            self.pool.close()
        elif name == "ready":
            self.pool.ready()
        else:
            raise AssertionError(f"unknown operation {name!r}")

    def teardown(self) -> None:
        self.pool.close()
        for worker in self.workers.values():
            worker.stop()
        for worker in self.workers.values():
            worker.thread.join(THREAD_JOIN_TIMEOUT)
            assert not worker.thread.is_alive(), f"{worker.thread.name} is stuck"
        for conn in self.checked_out:
            self.pool.checkin(conn)  # the pool is closed: this closes the connection
        wait_no_pool_threads(within=2.0)


# --- matching ---------------------------------------------------------------------------


def assert_matches(actual: Any, expected: Any, where: str) -> None:
    """The format's MATCH: ``expected`` is a subset of ``actual``; 42/"42" mean "any"."""
    if expected in (42, "42") and not isinstance(expected, bool):
        assert actual is not None, f"{where}: expected a value, got None"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected a mapping, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: missing {key!r} in {actual!r}"
            assert_matches(actual[key], value, f"{where}.{key}")
    else:
        assert actual == expected, f"{where}: expected {expected!r}, got {actual!r}"


def assert_event_matches(actual: Any, expected: dict[str, Any], index: int) -> None:
    where = f"event {index}"
    assert TYPE_NAMES[type(actual)] == expected["type"], (
        f"{where}: expected {expected['type']}, got {actual!r}"
    )
    for key, value in expected.items():
        if key == "type":
            continue
        assert_matches(getattr(actual, EVENT_FIELDS[key]), value, f"{where}.{key}")


def check_outcome(test: dict[str, Any], runner: Runner, error: BaseException | None) -> None:
    expected_error = test.get("error")
    if expected_error is None:
        if error is not None:
            raise error
    else:
        assert error is not None, f"expected {expected_error['type']}, nothing was raised"
        assert isinstance(error, ERROR_TYPES[expected_error["type"]]), repr(error)
        if "message" in expected_error:
            assert expected_error["message"].lower() in str(error).lower(), str(error)
        if "address" in expected_error:
            assert_matches(str(error), expected_error["address"], "error.address")
    ignored = set(test.get("ignore", ()))
    actual = [e for e in list(runner.recorder.events) if TYPE_NAMES[type(e)] not in ignored]
    names = [TYPE_NAMES[type(e)] for e in actual]
    for index, expected in enumerate(test.get("events", ())):
        assert index < len(actual), f"only {len(actual)} events: {names}"
        try:
            assert_event_matches(actual[index], expected, index)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nall events: {names}") from None


def run_operations(test: dict[str, Any], address: tuple[str, int],
                   connect: Callable[..., Any]) -> None:
    runner = Runner(test, address, connect)
    try:
        error = runner.run(test["operations"])
        check_outcome(test, runner, error)
    finally:
        runner.teardown()


# --- the sandbox server and its fail point ----------------------------------------------


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3])


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxCluster]:
    with SandboxCluster("standalone") as cluster:
        yield cluster


def _admin_command(address: tuple[str, int], command: dict[str, Any]) -> dict[str, Any]:
    """One admin command on a connection of its own (no appName: no fail point catches it)."""
    conn = connector(address, ConnectionSettings(connect_timeout=10.0))()
    try:
        return dict(conn.command("admin", command))
    finally:
        conn.close()


def _server_address(cluster: SandboxCluster) -> tuple[str, int]:
    host, _, port = cluster.members[0].address.rpartition(":")
    return host, int(port)


def _check_run_on(test: dict[str, Any], address: tuple[str, int]) -> None:
    """The sandbox must meet the file's ``runOn``: a case is never skipped for it."""
    version = _admin_command(address, {"buildInfo": 1})["version"]
    wanted = [entry.get("minServerVersion", "0") for entry in test.get("runOn", [])]
    assert not wanted or any(_version_tuple(version) >= _version_tuple(w) for w in wanted), (
        f"the sandbox reports {version}; the file wants one of {wanted}"
    )


def run_against_server(test: dict[str, Any], cluster: SandboxCluster) -> None:
    address = _server_address(cluster)
    _check_run_on(test, address)
    app_name = test.get("poolOptions", {}).get(APP_NAME_OPTION)
    connect = connector(address, ConnectionSettings(appname=app_name, connect_timeout=10.0))
    fail_point = test["failPoint"]
    _admin_command(address, fail_point)
    try:
        run_operations(test, address, connect)
    finally:
        # "the test runner MUST disable the fail point" once the test is done.
        _admin_command(address, {"configureFailPoint": fail_point["configureFailPoint"],
                                 "mode": "off"})


# --- tests ------------------------------------------------------------------------------


@pytest.mark.spec
@pytest.mark.parametrize("path", params_or_missing(_files(integration=False)))
def test_cmap_unit(path: Path | None) -> None:
    if path is None:
        missing(SUITE)
    assert path is not None
    run_operations(load(path), ADDRESS, FakeConnection)


@pytest.mark.spec
@pytest.mark.parametrize("path", params_or_missing(_files(integration=True)))
def test_cmap_integration(path: Path | None, server: SandboxCluster) -> None:
    if path is None:
        missing(SUITE)
    assert path is not None
    run_against_server(load(path), server)
