"""The state and background work of ``driver.cmap.pool.Pool`` (split out to keep files short).

``PoolCore`` owns everything the pool guards with its lock (connections available, in use
and being established, the wait queue, the generation, the state) and the work done off
the application's threads: establishing connections (one short-lived thread each), the
maintenance thread, and the reset after a fork. ``driver.cmap.pool.Pool`` adds the public
operations (ready, clear, close, checkout, checkin) on top.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, cast

from driver.cmap.events import (
    Address,
    ConnectionCheckedOutEvent,
    ConnectionCheckOutFailedReason,
    ConnectionClosedEvent,
    ConnectionClosedReason,
    ConnectionCreatedEvent,
    ConnectionPoolListener,
    ConnectionReadyEvent,
    EventPublisher,
    PoolCreatedEvent,
    format_address,
)
from driver.cmap.types import PoolClearedError, PoolClosedError, PooledConnection, PoolOptions
from driver.errors import (
    RETRYABLE_ERROR,
    SYSTEM_OVERLOADED_ERROR,
    PyMongoError,
    WaitQueueTimeoutError,
)
from driver.net.handshake import ConnectCancellation, accepts_cancel

_log = logging.getLogger("driver.cmap.pool")

PAUSED = "paused"
READY = "ready"
CLOSED = "closed"

# Called with the error and the pool generation the failed attempt started with (SDAM
# "error generation number": a clear since then makes the error stale).
BackgroundErrorHandler = Callable[[BaseException, int], None]

# Every live pool, for the fork hook at the bottom of this module.
_LIVE_POOLS: weakref.WeakSet[PoolCore] = weakref.WeakSet()


class PendingConnection:
    """A connection being established: created (it has an id) but not yet usable."""

    __slots__ = (
        "id",
        "generation",
        "created_at",
        "for_checkout",
        "done",
        "conn",
        "error",
        "fail_reason",
        "abandoned",
        "cancel",
    )

    def __init__(self, connection_id: int, generation: int, for_checkout: bool) -> None:
        self.id = connection_id
        self.generation = generation
        self.created_at = time.monotonic()
        self.for_checkout = for_checkout
        self.done = False
        self.conn: PooledConnection | None = None
        self.error: BaseException | None = None
        # Set when the pool gave up on it (clear with interruption, close): the checkout
        # fails with this ConnectionCheckOutFailedReason and a late result is discarded.
        self.fail_reason: str | None = None
        self.abandoned = False
        # Given to a connect() that takes ``cancel=``: abandoning then aborts the dial or
        # handshake at once instead of leaving its thread blocked until connectTimeoutMS.
        self.cancel: ConnectCancellation | None = None


class Waiter:
    """A thread in the wait queue; ``fail_reason`` is set when a clear or close evicts it."""

    __slots__ = ("fail_reason",)

    def __init__(self) -> None:
        self.fail_reason: str | None = None


class CheckoutRefused(Exception):
    """Internal: a checkout that must fail with ``error`` for the event ``reason``."""

    def __init__(self, error: PyMongoError, reason: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.reason = reason


class PoolCore:
    """Pool state and background work; see ``driver.cmap.pool.Pool`` for the public API.

    ``on_background_error(error, generation)`` receives errors of connections the
    maintenance thread establishes for minPoolSize (and the generation of the attempt) ("it MUST be handled via the SDAM machinery", CMAP spec);
    the topology passes its application-error handler, which usually clears this pool.
    """

    def __init__(
        self,
        address: Address,
        options: PoolOptions | None = None,
        connect: Callable[[], Any] | None = None,
        listeners: Iterable[ConnectionPoolListener] = (),
        *,
        on_background_error: BackgroundErrorHandler | None = None,
    ) -> None:
        if (
            not isinstance(address, tuple)
            or len(address) != 2
            or not isinstance(address[0], str)
            or isinstance(address[1], bool)
            or not isinstance(address[1], int)
        ):
            raise TypeError(f"address must be a (host, port) tuple, not {address!r}")
        if connect is None or not callable(connect):
            raise TypeError(f"connect must be a callable returning a connection, not {connect!r}")
        if options is None:
            options = PoolOptions()
        elif not isinstance(options, PoolOptions):
            raise TypeError(f"options must be a PoolOptions, not {type(options).__name__}")
        self._address: Address = address
        self._where = format_address(address)
        self._options = options
        self._connect = connect
        self._connect_cancellable = accepts_cancel(connect)
        self._on_background_error = on_background_error
        self._events = EventPublisher(listeners)

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # waiters and pending checkouts
        self._wake_maintenance = threading.Condition(self._lock)
        self._state = PAUSED
        self._generation = 0
        self._next_id = 1
        self._available: deque[PooledConnection] = deque()  # right end = most recently used
        self._in_use: set[PooledConnection] = set()
        self._pending: set[PendingConnection] = set()
        self._populating = 0  # how many of _pending are for minPoolSize, not a checkout
        self._wait_queue: deque[Waiter] = deque()
        self._cleared_because: str | None = None
        self._interrupt_up_to: int | None = None  # generation whose in-use conns to interrupt
        self._run_requested = False
        self._maintenance: threading.Thread | None = None

        # "set generation to 0; set state to "paused"; emit PoolCreatedEvent" (CMAP spec).
        self._record(lambda: PoolCreatedEvent(address, options.non_default_options))
        self._events.flush()
        _LIVE_POOLS.add(self)

    def _new_pending_locked(self, *, for_checkout: bool) -> PendingConnection:
        pending = PendingConnection(self._next_id, self._generation, for_checkout)
        if self._connect_cancellable:
            pending.cancel = ConnectCancellation()
        self._next_id += 1
        self._pending.add(pending)
        if not for_checkout:
            self._populating += 1
        connection_id = pending.id
        self._record(lambda: ConnectionCreatedEvent(self._address, connection_id))
        return pending

    def _eviction(self, reason: str) -> CheckoutRefused:
        if reason == ConnectionCheckOutFailedReason.POOL_CLOSED:
            return CheckoutRefused(self._closed_error(), reason)
        return CheckoutRefused(self._paused_error(), reason)

    # --- establishing connections -------------------------------------------------------

    def _start_establishing(self, pending: PendingConnection) -> None:
        thread = threading.Thread(
            target=self._establish,
            args=(pending,),
            name=f"binnacle-pool-connect-{self._where}-{pending.id}",
            daemon=True,
        )
        try:
            thread.start()
        except BaseException as exc:  # e.g. RuntimeError: can't start new thread
            self._establish_failed(pending, exc)
            if not pending.for_checkout:
                raise

    def _establish(self, pending: PendingConnection) -> None:
        try:
            if pending.cancel is not None:
                connect = cast(Callable[..., Any], self._connect)
                raw = connect(cancel=pending.cancel)
            else:
                raw = self._connect()
        except BaseException as exc:
            self._establish_failed(pending, exc)
        else:
            self._established(pending, raw)

    def _established(self, pending: PendingConnection, raw: Any) -> None:
        discard: PooledConnection | None = None
        with self._lock:
            conn = PooledConnection(raw, pending.id, pending.generation, self._address, self)
            if pending.abandoned:
                discard = conn  # its ConnectionClosed was recorded when it was abandoned
            else:
                self._pending.discard(pending)
                duration = time.monotonic() - pending.created_at
                self._record(lambda: ConnectionReadyEvent(self._address, conn.id, duration))
                if pending.for_checkout:
                    # Goes straight to the thread that asked for it.
                    self._in_use.add(conn)
                    pending.conn = conn
                    pending.done = True
                else:
                    self._populating -= 1
                    self._request_run_locked()  # maybe more to populate
                    if self._state == CLOSED:
                        self._record_closed_locked(conn.id, ConnectionClosedReason.POOL_CLOSED)
                        discard = conn
                    elif conn.generation != self._generation:
                        self._record_closed_locked(conn.id, ConnectionClosedReason.STALE)
                        discard = conn
                    else:
                        # "Such a signal [pending decremented] MUST become observable ...
                        # after the action that marks the established Connection as
                        # available": both happen under this one lock hold.
                        conn.last_used = time.monotonic()
                        self._available.append(conn)
                self._changed.notify_all()
        if discard is not None:
            self._close_connections([discard])
        self._events.flush()

    def _establish_failed(self, pending: PendingConnection, error: BaseException) -> None:
        if isinstance(error, PyMongoError) and error._overload_candidate:
            # CMAP "Backpressure-enabled": "The pool MUST add the error labels
            # SystemOverloadedError and RetryableError to network errors or network
            # timeouts it encounters during the connection establishment or the hello
            # message" (the connection layer flags which ones those are). SDAM then
            # leaves the server and this pool alone.
            error._add_error_label(SYSTEM_OVERLOADED_ERROR)
            error._add_error_label(RETRYABLE_ERROR)
        if not pending.for_checkout and not pending.abandoned:
            # "If an error is encountered while populating a connection, it MUST be handled
            # via the SDAM machinery" (CMAP spec); done first so that the pool is cleared
            # (and paused) before it can try again.
            self._report_background_error(error, pending.generation)
        with self._lock:
            if not pending.abandoned:
                self._pending.discard(pending)
                self._record_closed_locked(pending.id, ConnectionClosedReason.ERROR)
                if pending.for_checkout:
                    pending.error = error
                    pending.done = True
                else:
                    self._populating -= 1
                self._changed.notify_all()
        self._events.flush()

    def _report_background_error(self, error: BaseException, generation: int) -> None:
        if self._on_background_error is None:
            _log.debug("background connection to %s failed: %s", self._where, error)
            return
        try:
            self._on_background_error(error, generation)
        except Exception:
            _log.exception("background error handler failed for %s", self._where)

    def _abandon_locked(
        self, pending: PendingConnection, closed_reason: str, fail_reason: str
    ) -> None:
        self._pending.discard(pending)
        if not pending.for_checkout:
            self._populating -= 1
        pending.abandoned = True
        if pending.cancel is not None:
            pending.cancel.cancel()  # shutdown() of a dialling socket: does not block
        self._record_closed_locked(pending.id, closed_reason)
        if pending.for_checkout:
            pending.fail_reason = fail_reason
            pending.done = True
        self._changed.notify_all()

    # --- maintenance thread -------------------------------------------------------------

    def _start_maintenance_locked(self) -> None:
        if self._maintenance is not None and self._maintenance.is_alive():
            return
        self._maintenance = threading.Thread(
            target=self._maintenance_loop,
            name=f"binnacle-pool-maintenance-{self._where}",
            daemon=True,
        )
        self._maintenance.start()

    def _request_run_locked(self) -> None:
        self._run_requested = True
        self._wake_maintenance.notify_all()

    def _maintenance_loop(self) -> None:
        options = self._options
        # "A negative value: never begin a Run" (CMAP test format): then only the
        # interruption a clear asks for is done.
        runs = options.background_thread_interval_ms > 0
        # Periodic runs only matter when connections can expire or must be replaced; else
        # the thread sleeps until a clear, ready() or a background connection wakes it.
        periodic = runs and bool(options.min_pool_size or options.max_idle_time)
        interval = options.background_thread_interval_ms / 1000 if periodic else None
        while True:
            to_close: list[PooledConnection] = []
            to_interrupt: list[PooledConnection] = []
            to_start: list[PendingConnection] = []
            with self._lock:
                if not self._run_requested and self._state != CLOSED:
                    self._wake_maintenance.wait(interval)
                if self._state == CLOSED:
                    return
                self._run_requested = False
                self._interrupt_in_use_locked(to_interrupt)
                if runs:
                    self._prune_locked(to_close)
                    self._populate_locked(to_start)
            try:
                for conn in to_interrupt:
                    self._close_quietly(conn)
                self._close_connections(to_close)
                for pending in to_start:
                    self._start_establishing(pending)
            except BaseException:
                _log.exception("pool maintenance for %s failed", self._where)
            finally:
                self._events.flush()

    def _interrupt_in_use_locked(self, to_interrupt: list[PooledConnection]) -> None:
        up_to = self._interrupt_up_to
        if up_to is None:
            return
        self._interrupt_up_to = None
        for conn in self._in_use:
            if conn.generation <= up_to and not conn._interrupted:
                conn._interrupted = True
                to_interrupt.append(conn)

    def _prune_locked(self, to_close: list[PooledConnection]) -> None:
        now = time.monotonic()
        keep: deque[PooledConnection] = deque()
        for conn in self._available:
            reason = self._perished_reason_locked(conn, now)
            if reason is None:
                keep.append(conn)
            else:
                self._record_closed_locked(conn.id, reason)
                to_close.append(conn)
        if to_close:
            self._available = keep
            self._changed.notify_all()  # below maxPoolSize again

    def _populate_locked(self, to_start: list[PendingConnection]) -> None:
        # "If minPoolSize is set, the Connection Pool MUST be populated until it has at
        # least minPoolSize total Connections. This MUST occur only while the pool is
        # "ready"." A run does not wait for a maxConnecting slot; a finished background
        # connection schedules the next run.
        options = self._options
        if self._state != READY or not options.min_pool_size:
            return
        while len(self._pending) < options.max_connecting:
            total = len(self._pending) + len(self._available) + len(self._in_use)
            if total >= options.min_pool_size:
                return
            to_start.append(self._new_pending_locked(for_checkout=False))

    # --- fork -----------------------------------------------------------------------------

    def _reset_after_fork(self) -> None:
        """In a forked child: forget the parent's connections, threads and lock states.

        "A Pool is explicitly not fork-safe. If a Pool detects that is it being used by a
        forked process, it MUST immediately clear itself" (CMAP spec). The sockets belong
        to the parent, so they are dropped, not closed (closing a TLS session here would
        break it for the parent). The generation moves on like a clear; a ready pool stays
        ready and restarts its maintenance thread on its next checkout, because the
        child's monitors (if any) are gone and could not mark it ready again.
        """
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._wake_maintenance = threading.Condition(self._lock)
        self._events = EventPublisher(self._events.listeners)
        self._generation += 1
        self._available.clear()
        self._in_use.clear()
        self._pending.clear()
        self._populating = 0
        self._wait_queue.clear()
        self._interrupt_up_to = None
        self._run_requested = False
        self._maintenance = None

    # --- helpers ------------------------------------------------------------------------

    def _perished_reason_locked(self, conn: PooledConnection, now: float) -> str | None:
        if conn.generation != self._generation:
            return ConnectionClosedReason.STALE
        if conn.closed or conn.errored:
            return ConnectionClosedReason.ERROR
        max_idle = self._options.max_idle_time
        if max_idle is not None and conn.idle_for(now) > max_idle:
            return ConnectionClosedReason.IDLE
        return None

    def _checkin_close_reason_locked(self, conn: PooledConnection) -> str | None:
        if self._state == CLOSED:
            return ConnectionClosedReason.POOL_CLOSED
        if conn.generation != self._generation:
            return ConnectionClosedReason.STALE
        if conn.closed or conn.errored or conn.interrupted:
            return ConnectionClosedReason.ERROR
        return None

    def _deliver_unlocked(self) -> None:
        self._lock.release()
        try:
            self._events.flush()
        finally:
            self._lock.acquire()

    def _record(self, make_event: Callable[[], Any]) -> None:
        if self._events.enabled:
            self._events.record(make_event())

    def _record_closed_locked(self, connection_id: int, reason: str) -> None:
        self._record(lambda: ConnectionClosedEvent(self._address, connection_id, reason))

    def _record_checked_out_locked(self, conn: PooledConnection, started: float) -> None:
        elapsed = time.monotonic() - started
        self._record(lambda: ConnectionCheckedOutEvent(self._address, conn.id, elapsed))

    def _close_connections(self, conns: list[PooledConnection]) -> None:
        for conn in conns:
            if not conn.closed:
                self._close_quietly(conn)

    def _close_quietly(self, conn: PooledConnection) -> None:
        try:
            conn._close_underlying()
        except Exception as exc:  # closing a broken socket may fail; it is gone either way
            _log.debug("closing connection %d to %s failed: %s", conn.id, self._where, exc)

    def _closed_error(self) -> PoolClosedError:
        return PoolClosedError(
            f"Attempted to check out a connection from closed connection pool for {self._where}"
        )

    def _paused_error(self) -> PoolClearedError:
        if self._cleared_because is not None:
            message = (
                f"Connection pool for {self._where} was cleared because another operation "
                f"failed with: {self._cleared_because}"
            )
        elif self._generation:
            message = f"Connection pool for {self._where} was cleared and is not ready yet"
        else:
            message = (
                f"Connection pool for {self._where} is paused until its server has been "
                f"checked successfully"
            )
        return PoolClearedError(message)

    def _timeout_error(self, limit: float | None) -> WaitQueueTimeoutError:
        waited = f"{(limit or 0) * 1000:.0f} ms"
        max_size = self._options.max_pool_size or "unlimited"
        return WaitQueueTimeoutError(
            f"Timed out while checking out a connection from connection pool for "
            f"{self._where} after waiting {waited} (maxPoolSize={max_size}, "
            f"{len(self._in_use)} in use, {len(self._pending)} being established, "
            f"{len(self._wait_queue)} waiting)"
        )


def _reset_pools_after_fork() -> None:
    for pool in list(_LIVE_POOLS):
        pool._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pools_after_fork)


__all__ = [
    "CLOSED",
    "PAUSED",
    "READY",
    "BackgroundErrorHandler",
    "CheckoutRefused",
    "PendingConnection",
    "PoolCore",
    "Waiter",
]
