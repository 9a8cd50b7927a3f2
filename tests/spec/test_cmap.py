"""Runner for the CMAP spec's ``cmap-format`` tests (connection-monitoring-and-pooling).

Every ``style: unit`` file runs against ``driver.cmap.pool.Pool`` with a factory of fake
connections, on real threads with real timing, as the format's README describes
(start/wait/waitForThread/waitForEvent/checkOut/checkIn/clear/close/ready, ``ignore``,
``poolOptions``, ``events``, ``error``).

``style: integration`` files (they carry ``runOn``/``failPoint``) need a real server's
fail points: their real-server variant is skipped by rule. They also run here in an
*emulated* variant where the factory plays the fail point (``blockConnection`` sleeps
``blockTimeMS``, ``errorCode`` raises that server error, ``closeConnection`` a network
error, ``mode.times`` counts), and where the SDAM reaction to a background connection
error is a ``pool.clear()``, which is what the topology does.

Error messages: the spec's sentence must appear in ours (case-insensitively); we add the
address and the figures after it, so plain equality would be the wrong test.
"""

from __future__ import annotations

import queue
import threading
import time
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
from driver.errors import AutoReconnect, OperationFailure, WaitQueueTimeoutError
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
IGNORED_POOL_OPTIONS = {"appName"}  # only selects the fail point's target connections


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


class FailPointFactory:
    """``connect()`` that plays a ``failCommand`` fail point on ``hello`` (or none)."""

    def __init__(self, fail_point: dict[str, Any] | None) -> None:
        self.release = threading.Event()  # set at teardown: blocked handshakes give up
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {}
        self._times: int | None = 0
        if fail_point is not None:
            self._data = fail_point.get("data", {})
            mode = fail_point["mode"]
            self._times = None if mode == "alwaysOn" else int(mode["times"])

    def _active(self) -> bool:
        with self._lock:
            if self._times is None:
                return True
            if self._times > 0:
                self._times -= 1
                return True
            return False

    def __call__(self) -> FakeConnection:
        if self._data and self._active():
            if self._data.get("blockConnection"):
                if self.release.wait(self._data.get("blockTimeMS", 0) / 1000):
                    raise AutoReconnect("test ended while the handshake was blocked")
            if "errorCode" in self._data:
                code = self._data["errorCode"]
                raise OperationFailure(f"hello failed (fail point, code {code})", code)
            if self._data.get("closeConnection"):
                raise AutoReconnect(f"connection closed by the fail point ({ADDRESS[0]})")
        return FakeConnection()


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
    def __init__(self, test: dict[str, Any]) -> None:
        options = {}
        for key, value in test.get("poolOptions", {}).items():
            if key in IGNORED_POOL_OPTIONS:
                continue
            options[POOL_OPTIONS[key]] = value
        self.factory = FailPointFactory(test.get("failPoint"))
        self.recorder = Recorder()
        self.labels: dict[str, PooledConnection] = {}
        self.workers: dict[str, Worker] = {}
        self.pool = Pool(
            ADDRESS,
            PoolOptions(**options),
            self.factory,
            [self.recorder],
            # What SDAM does with a background (minPoolSize) connection error.
            on_background_error=lambda error: self.pool.clear(cause=error),
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
            if "label" in op:
                self.labels[op["label"]] = conn
        elif name == "checkIn":
            self.pool.checkin(self.labels[op["connection"]])
        elif name == "clear":
            self.pool.clear(op.get("interruptInUseConnections", False))
        elif name == "close":
            self.pool.close()
        elif name == "ready":
            self.pool.ready()
        else:
            raise AssertionError(f"unknown operation {name!r}")

    def teardown(self) -> None:
        self.factory.release.set()
        self.pool.close()
        for worker in self.workers.values():
            worker.stop()
        for worker in self.workers.values():
            worker.thread.join(THREAD_JOIN_TIMEOUT)
            assert not worker.thread.is_alive(), f"{worker.thread.name} is stuck"
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


def run_file(path: Path) -> None:
    test = load(path)
    runner = Runner(test)
    try:
        error = runner.run(test["operations"])
        check_outcome(test, runner, error)
    finally:
        runner.teardown()


# --- tests ------------------------------------------------------------------------------


@pytest.mark.spec
@pytest.mark.parametrize("path", params_or_missing(_files(integration=False)))
def test_cmap_unit(path: Path | None) -> None:
    if path is None:
        missing(SUITE)
    assert path is not None
    run_file(path)


@pytest.mark.spec
@pytest.mark.parametrize("path", params_or_missing(_files(integration=True)))
def test_cmap_integration_real_server(path: Path | None) -> None:
    if path is None:
        missing(SUITE)
    pytest.skip("style: integration needs a real MongoDB server's failCommand fail points")


@pytest.mark.spec
@pytest.mark.parametrize("path", params_or_missing(_files(integration=True)))
def test_cmap_integration_emulated_fail_point(path: Path | None) -> None:
    if path is None:
        missing(SUITE)
    assert path is not None
    run_file(path)
