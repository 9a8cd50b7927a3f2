"""Unit tests of ``driver.cmap.pool`` beyond the CMAP spec files: options, errors and their
messages, check-in rules, clear/close semantics, events, thread hygiene."""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Iterator
from types import SimpleNamespace

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
    PoolCreatedEvent,
)
from driver.cmap.pool import Pool, PoolClearedError, PoolClosedError, PoolOptions
from driver.errors import (
    AutoReconnect,
    ConfigurationError,
    ConnectionFailure,
    InvalidOperation,
    OperationFailure,
    WaitQueueTimeoutError,
)
from tests.driver.pool_helpers import ADDRESS, Factory, Recorder, wait_no_pool_threads
from tests.timing import HANG_S, assert_prompt

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def no_leaked_pool_threads() -> Iterator[None]:
    yield
    wait_no_pool_threads(within=2.0)


def make_pool(
    factory: Factory | None = None, recorder: Recorder | None = None, **options: object
) -> tuple[Pool, Factory, Recorder]:
    factory = factory or Factory()
    recorder = recorder or Recorder()
    pool = Pool(ADDRESS, PoolOptions(**options), factory, [recorder])  # type: ignore[arg-type]
    return pool, factory, recorder


# --- options ------------------------------------------------------------------------------


def test_defaults_follow_the_issue_and_the_spec() -> None:
    options = PoolOptions()
    assert (options.max_pool_size, options.min_pool_size, options.max_connecting) == (100, 0, 2)
    assert options.max_idle_time is None and options.wait_queue_timeout is None
    assert options.non_default_options == {}


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"max_pool_size": -1}, "maxPoolSize"),
        ({"max_pool_size": True}, "maxPoolSize"),
        ({"min_pool_size": 5, "max_pool_size": 2}, "minPoolSize (5) must be <= maxPoolSize (2)"),
        ({"max_connecting": 0}, "maxConnecting"),
        ({"max_idle_time_ms": -5}, "maxIdleTimeMS"),
        ({"wait_queue_timeout_ms": "soon"}, "waitQueueTimeoutMS"),
        ({"wait_queue_timeout_ms": float("nan")}, "waitQueueTimeoutMS"),
        ({"background_thread_interval_ms": 0}, "backgroundThreadIntervalMS"),
    ],
)
def test_bad_options_name_the_option(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named.replace("(", r"\(").replace(")", r"\)")):
        PoolOptions(**kwargs)  # type: ignore[arg-type]


def test_min_pool_size_may_exceed_an_unlimited_max() -> None:
    assert PoolOptions(max_pool_size=0, min_pool_size=500).min_pool_size == 500


def test_options_from_client_options() -> None:
    client_options = SimpleNamespace(
        max_pool_size=20,
        min_pool_size=2,
        max_connecting=3,
        max_idle_time_ms=60_000,
        wait_queue_timeout_ms=None,
    )
    options = PoolOptions.from_client_options(client_options)
    assert (options.max_pool_size, options.min_pool_size, options.max_connecting) == (20, 2, 3)
    assert options.max_idle_time == 60.0 and options.wait_queue_timeout is None


def test_pool_created_event_lists_only_non_default_options() -> None:
    pool, _, recorder = make_pool(max_pool_size=7, wait_queue_timeout_ms=250)
    (created,) = recorder.of(PoolCreatedEvent)
    assert created.options == {"maxPoolSize": 7, "waitQueueTimeoutMS": 250}
    assert created.address == ADDRESS
    pool.close()


def test_bad_constructor_arguments() -> None:
    with pytest.raises(TypeError, match="address"):
        Pool("localhost:27017", PoolOptions(), Factory())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="connect"):
        Pool(ADDRESS, PoolOptions(), None)
    with pytest.raises(TypeError, match="ConnectionPoolListener"):
        Pool(ADDRESS, PoolOptions(), Factory(), [object()])  # type: ignore[list-item]


# --- wait queue timeout --------------------------------------------------------------------


def test_wait_queue_timeout_message_and_timing() -> None:
    pool, _, recorder = make_pool(max_pool_size=1, wait_queue_timeout_ms=150)
    pool.ready()
    held = pool.checkout()
    started = time.monotonic()
    with pytest.raises(WaitQueueTimeoutError) as caught:
        pool.checkout()
    waited = time.monotonic() - started
    # Not before the timeout; and "MUST leave the WaitQueue immediately" (a wait that
    # overran would be a hang; how promptly it leaves is not measured here).
    assert waited >= 0.15
    assert_prompt(waited, "a checkout with waitQueueTimeoutMS=150")
    message = str(caught.value)
    assert message.startswith("Timed out while checking out a connection from connection pool")
    assert "db.example.test:27017" in message
    assert "maxPoolSize=1" in message and "150 ms" in message
    assert isinstance(caught.value, ConnectionFailure) and caught.value.timeout
    failed = recorder.of(ConnectionCheckOutFailedEvent)[-1]
    assert failed.reason == "timeout" and failed.duration >= 0.15
    pool.checkin(held)
    pool.close()


def test_explicit_timeout_replaces_wait_queue_timeout() -> None:
    pool, _, _ = make_pool(max_pool_size=1, wait_queue_timeout_ms=60_000)
    pool.ready()
    held = pool.checkout()
    started = time.monotonic()
    with pytest.raises(WaitQueueTimeoutError, match="after waiting 50 ms"):
        pool.checkout(timeout=0.05)
    assert_prompt(time.monotonic() - started, "a checkout with a 50 ms timeout")
    with pytest.raises(WaitQueueTimeoutError, match="after waiting 0 ms"):
        pool.checkout(timeout=0)
    pool.checkin(held)
    pool.close()


def test_default_max_pool_size_is_100_and_zero_means_unlimited() -> None:
    pool, _, _ = make_pool()
    pool.ready()
    held = [pool.checkout() for _ in range(100)]
    with pytest.raises(WaitQueueTimeoutError, match="maxPoolSize=100"):
        pool.checkout(timeout=0.02)
    for conn in held:
        pool.checkin(conn)
    pool.close()

    unlimited, factory, _ = make_pool(max_pool_size=0)
    unlimited.ready()
    many = [unlimited.checkout(timeout=0) for _ in range(150)]
    assert len({conn.id for conn in many}) == 150 and len(factory.made) == 150
    for conn in many:
        unlimited.checkin(conn)
    unlimited.close()


# --- paused, cleared, closed ---------------------------------------------------------------


def test_new_pool_is_paused_and_refuses_with_a_retryable_error() -> None:
    pool, _, recorder = make_pool()
    with pytest.raises(PoolClearedError, match="paused until its server has been checked"):
        pool.checkout()
    assert issubclass(PoolClearedError, AutoReconnect)
    assert recorder.of(ConnectionCheckOutFailedEvent)[0].reason == "connectionError"
    pool.close()


def test_clear_message_names_the_cause_and_pool_refuses_until_ready() -> None:
    pool, _, _ = make_pool()
    pool.ready()
    pool.clear(cause=AutoReconnect("db.example.test:27017: connection reset"))
    assert pool.state == "paused" and pool.generation == 1
    with pytest.raises(PoolClearedError) as caught:
        pool.checkout()
    assert str(caught.value) == (
        "Connection pool for db.example.test:27017 was cleared because another operation "
        "failed with: db.example.test:27017: connection reset"
    )
    pool.ready()
    with pool.checkout() as conn:
        assert conn.generation == 1
    pool.close()


def test_clear_evicts_waiters_at_once() -> None:
    pool, _, recorder = make_pool(max_pool_size=1)
    pool.ready()
    held = pool.checkout()
    errors: list[BaseException] = []
    entered = threading.Event()

    def wait_for_connection() -> None:
        entered.set()
        try:
            pool.checkout()
        except BaseException as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait_for_connection)
    waiter.start()
    entered.wait()
    # Delivered once the waiter is in the queue (the pool flushes before blocking).
    recorder.wait_count(ConnectionCheckOutStartedEvent, 2)
    assert pool.wait_queue_length == 1
    started = time.monotonic()
    pool.clear()
    waiter.join(HANG_S)
    assert_prompt(time.monotonic() - started, "a waiter released by clear()")
    assert len(errors) == 1 and isinstance(errors[0], PoolClearedError)
    pool.checkin(held)  # stale now: closed, not kept
    assert pool.available_connection_count == 0
    pool.close()


def test_close_is_idempotent_and_final() -> None:
    pool, factory, recorder = make_pool()
    pool.ready()
    kept = pool.checkout()
    spare = pool.checkout()
    pool.checkin(spare)
    pool.close()
    pool.close()
    pool.ready()
    pool.clear()
    assert pool.state == "closed"
    assert factory.made[1].closed and not factory.made[0].closed
    with pytest.raises(PoolClosedError, match="closed connection pool for db.example.test"):
        pool.checkout()
    pool.checkin(kept)
    assert factory.made[0].closed
    assert [e.reason for e in recorder.of(ConnectionClosedEvent)] == ["poolClosed", "poolClosed"]


def test_close_evicts_waiters_with_pool_closed_error() -> None:
    pool, _, recorder = make_pool(max_pool_size=1)
    pool.ready()
    held = pool.checkout()
    errors: list[BaseException] = []
    waiter = threading.Thread(target=lambda: _capture(errors, pool.checkout))
    waiter.start()
    recorder.wait_count(ConnectionCheckOutStartedEvent, 2)
    pool.close()
    waiter.join(2)
    assert len(errors) == 1 and isinstance(errors[0], PoolClosedError)
    assert recorder.of(ConnectionCheckOutFailedEvent)[-1].reason == "poolClosed"
    pool.checkin(held)


def test_close_abandons_a_checkout_stuck_in_connect() -> None:
    factory = Factory(delay=30.0)
    pool, _, recorder = make_pool(factory)
    pool.ready()
    errors: list[BaseException] = []
    worker = threading.Thread(target=lambda: _capture(errors, pool.checkout))
    worker.start()
    recorder.wait_count(ConnectionCreatedEvent, 1)
    started = time.monotonic()
    pool.close()
    worker.join(HANG_S)
    assert_prompt(time.monotonic() - started, "a checkout stuck in a 30 s connect, closed")
    assert len(errors) == 1 and isinstance(errors[0], PoolClosedError)
    factory.release.set()  # the orphaned handshake ends; its connection is closed
    wait_no_pool_threads(within=1.0)
    assert factory.made and all(conn.closed for conn in factory.made)


def _capture(errors: list[BaseException], call: object) -> None:
    try:
        call()  # type: ignore[operator]
    except BaseException as exc:
        errors.append(exc)


# --- interruption --------------------------------------------------------------------------


def test_clear_with_interruption_closes_in_use_connections() -> None:
    pool, factory, recorder = make_pool(background_thread_interval_ms=60_000)
    pool.ready()
    conn = pool.checkout()
    pool.clear(interrupt_in_use_connections=True)
    (cleared,) = recorder.of(PoolClearedEvent)
    assert cleared.interrupt_connections is True
    # Done by the maintenance thread, woken at once despite its 60 s interval.
    assert factory.made[0].closed_event.wait(1.0)
    assert conn.interrupted and conn.closed
    error = conn.interruption_error()
    assert isinstance(error, PoolClearedError)
    assert str(error) == (
        "Connection to db.example.test:27017 interrupted due to server monitor timeout"
    )
    pool.checkin(conn)
    assert recorder.of(ConnectionClosedEvent)[-1].reason == "stale"
    assert factory.made[0].close_calls == 1  # not closed twice
    pool.close()


def test_clear_without_interruption_leaves_in_use_connections_alone() -> None:
    pool, factory, recorder = make_pool()
    pool.ready()
    conn = pool.checkout()
    pool.clear(interrupt_in_use=False)
    pool.ready()
    other = pool.checkout()  # forces a round trip through the pool's lock
    assert not factory.made[0].closed and not conn.interrupted
    assert conn.interruption_error() is None
    pool.checkin(conn)
    assert factory.made[0].closed
    assert recorder.of(ConnectionClosedEvent)[-1].reason == "stale"
    pool.checkin(other)
    pool.close()


# --- check-in rules ------------------------------------------------------------------------


def test_context_manager_checks_in_and_discards_after_network_errors() -> None:
    pool, factory, recorder = make_pool()
    pool.ready()
    with pool.checkout() as conn:
        first_id = conn.id
    assert pool.available_connection_count == 1
    with pytest.raises(OperationFailure), pool.checkout() as conn:
        assert conn.id == first_id  # reused
        raise OperationFailure("not authorized", 13)
    assert pool.available_connection_count == 1  # a server's "no" leaves it usable
    with pytest.raises(AutoReconnect), pool.checkout():
        raise AutoReconnect("connection reset by peer")
    assert pool.available_connection_count == 0 and factory.made[0].closed
    assert recorder.of(ConnectionClosedEvent)[-1].reason == "error"
    pool.close()


def test_mark_errored_connection_is_closed_on_checkin() -> None:
    pool, factory, _ = make_pool()
    pool.ready()
    conn = pool.checkout()
    conn.mark_errored()
    pool.checkin(conn)
    assert factory.made[0].closed and pool.total_connection_count == 0
    pool.close()


def test_checkin_refuses_foreign_and_double_checkins() -> None:
    pool, _, _ = make_pool()
    other, _, _ = make_pool()
    pool.ready()
    other.ready()
    mine = pool.checkout()
    theirs = other.checkout()
    with pytest.raises(InvalidOperation, match="not checked out of the pool for db.example"):
        pool.checkin(theirs)
    with pytest.raises(InvalidOperation, match="not checked out of the pool"):
        pool.checkin("a connection")  # type: ignore[arg-type]
    pool.checkin(mine)
    with pytest.raises(InvalidOperation, match="checked in twice"):
        pool.checkin(mine)
    other.checkin(theirs)
    pool.close()
    other.close()


# --- connection errors and events ----------------------------------------------------------


def test_connect_error_propagates_with_connection_error_events() -> None:
    # CMAP prose test 5: "assert that a ConnectionCheckOutFailedEvent with
    # reason="connectionError" is emitted".
    factory = Factory(error=AutoReconnect("db.example.test:27017: [Errno 111] refused"))
    pool, _, recorder = make_pool(factory)
    pool.ready()
    with pytest.raises(AutoReconnect, match="refused"):
        pool.checkout()
    names = recorder.names()
    assert names[-3:] == [
        "ConnectionCreatedEvent",
        "ConnectionClosedEvent",
        "ConnectionCheckOutFailedEvent",
    ]
    assert recorder.of(ConnectionClosedEvent)[0].reason == "error"
    assert recorder.of(ConnectionCheckOutFailedEvent)[0].reason == "connectionError"
    assert pool.total_connection_count == 0
    pool.close()


def test_background_errors_go_to_the_sdam_handler() -> None:
    seen: list[BaseException] = []
    two_seen = threading.Event()

    def handle(exc: BaseException, generation: int) -> None:
        seen.append(exc)
        if len(seen) >= 2:
            two_seen.set()

    error = OperationFailure("hello failed", 91)
    pool = Pool(
        ADDRESS,
        PoolOptions(min_pool_size=2),
        Factory(error=error),
        [],
        on_background_error=handle,
    )
    pool.ready()
    assert two_seen.wait(2.0)
    assert seen[:2] == [error, error]
    pool.close()


def test_event_durations_and_ids() -> None:
    pool, _, recorder = make_pool(Factory(delay=0.02))
    pool.ready()
    first = pool.checkout()
    second = pool.checkout()
    assert (first.id, second.id) == (1, 2)
    ready = recorder.of(ConnectionReadyEvent)
    checked_out = recorder.of(ConnectionCheckedOutEvent)
    for made, out in zip(ready, checked_out, strict=True):
        assert made.duration is not None and made.duration >= 0.015
        assert out.duration is not None and out.duration >= made.duration
    pool.checkin(first)
    pool.checkin(second)
    assert [e.connection_id for e in recorder.of(ConnectionCheckedInEvent)] == [1, 2]
    assert "connection_id=1" in repr(recorder.of(ConnectionCheckedInEvent)[0])
    pool.close()


def test_a_failing_listener_does_not_break_the_pool(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(ConnectionPoolListener):
        def connection_checked_out(self, event: ConnectionCheckedOutEvent) -> None:
            raise RuntimeError("listener bug")

    recorder = Recorder()
    pool = Pool(ADDRESS, PoolOptions(), Factory(), [Broken(), recorder])
    pool.ready()
    with caplog.at_level(logging.ERROR, logger="driver.cmap"), pool.checkout():
        pass
    assert "listener bug" in caplog.text
    assert recorder.of(ConnectionCheckedInEvent)  # later listeners still get everything
    pool.close()


# --- fork ----------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_forked_child_drops_the_parents_connections() -> None:
    # "If a Pool detects that is it being used by a forked process, it MUST immediately
    # clear itself" (CMAP spec): the child gets its own connections, the parent keeps its.
    pool, factory, _ = make_pool(min_pool_size=1)
    pool.ready()
    with pool.checkout() as parent_conn:
        parent_id = parent_conn.id
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a multi-threaded process may deadlock; the pool's
        # fork hook exists precisely for that situation.
        warnings.simplefilter("ignore", DeprecationWarning)
        child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child process
        code = 1
        try:
            with pool.checkout(timeout=2) as conn:
                fresh = conn.id != parent_id and conn.generation == 1
            report = f"{int(fresh)} {pool.generation} {len(factory.made)}"
            os.write(write_end, report.encode())
            pool.close()
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        report = pipe.read()
    _, status = os.waitpid(child, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, report
    fresh_flag, child_generation, _ = report.split()
    assert fresh_flag == "1" and child_generation == "1"
    assert pool.generation == 0  # the parent is untouched
    with pool.checkout() as conn:
        assert conn.id == parent_id and conn.generation == 0  # reused, not dropped
    assert not any(made.closed for made in factory.made)
    pool.close()


# --- logging -------------------------------------------------------------------------------


def test_debug_log_uses_the_spec_wording(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="driver.connection"):
        pool = Pool(ADDRESS, PoolOptions(max_pool_size=5), Factory())  # no listener at all
        pool.ready()
        with pool.checkout():
            pass
        pool.clear()
        pool.close()
    lines = [record.getMessage() for record in caplog.records if record.name == "driver.connection"]
    where = "db.example.test:27017"
    assert lines[0] == f"Connection pool created for {where} using options maxPoolSize=5"
    assert f"Connection pool ready for {where}" in lines
    assert f"Connection created: address={where}, driver-generated ID=1" in lines
    assert any(line.startswith("Connection ready: address=") for line in lines)
    assert any(line.startswith("Connection checked out: address=") for line in lines)
    assert f"Connection checked in: address={where}, driver-generated ID=1" in lines
    assert f"Connection pool for {where} cleared" in lines
    # Closed as stale by the maintenance thread after the clear, or by close(): either way
    # in the spec's words.
    closed = [line for line in lines if line.startswith("Connection closed: ")]
    assert closed and closed[0].startswith(f"Connection closed: address={where}, driver-gen")
    assert closed[0].endswith(
        (
            "Reason: Connection became stale because the pool was cleared.",
            "Reason: Connection pool was closed.",
        )
    )
    assert lines[-1] == f"Connection pool closed for {where}"
    assert all(record.levelno == logging.DEBUG for record in caplog.records)
