"""The connection pool of one server, after the CMAP specification.

``Pool(address, options, connect, listeners)`` keeps the connections the injected
``connect()`` makes (it returns a handshaken, authenticated object with ``close()``),
hands them out one thread at a time and takes them back::

    pool.ready()                       # SDAM does this after a successful server check
    with pool.checkout() as conn:      # or: conn = pool.checkout(); ...; pool.checkin(conn)
        conn.connection.command(...)

How it works, in one place:

- One lock guards all state; a condition on it wakes waiters. Every state change records
  its CMAP event under the lock, and the events are delivered after the lock is released
  (``driver.cmap.events.EventPublisher``), so listeners see them in state-change order.
- The wait queue is a FIFO of waiters; only its head may take an available connection or
  start a new one, so connections go out in arrival order ("Ordered/fair").
- Connections are established by a short-lived thread each. The checking-out thread
  waits for its own one without holding the lock ("the Pool MUST NOT prevent other
  threads from checking out Connections while establishing a Connection"), and a clear
  with ``interrupt_in_use_connections`` or a close can abandon it at once instead of
  waiting out a connect timeout.
- A maintenance thread, started by the first ``ready()``, closes perished available
  connections, interrupts in-use ones after an interrupting clear, and populates the pool
  up to minPoolSize. A run never waits for work; it is scheduled every
  ``background_thread_interval_ms`` and immediately after ``ready()``, a clear, or a
  finished background connection.

This module holds the public operations; the state, the connecting threads and the
maintenance thread live in ``driver.cmap.state``; options, the connection wrapper and
the pool's errors in ``driver.cmap.types``.
"""

from __future__ import annotations

import threading
import time

from driver.cmap.events import (
    Address,
    ConnectionCheckedInEvent,
    ConnectionCheckOutFailedEvent,
    ConnectionCheckOutFailedReason,
    ConnectionCheckOutStartedEvent,
    ConnectionClosedReason,
    PoolClearedEvent,
    PoolClosedEvent,
    PoolReadyEvent,
)
from driver.cmap.state import (
    CLOSED,
    PAUSED,
    READY,
    BackgroundErrorHandler,
    CheckoutRefused,
    PendingConnection,
    PoolCore,
    Waiter,
)
from driver.cmap.types import PoolClearedError, PoolClosedError, PooledConnection, PoolOptions
from driver.errors import InvalidOperation


class Pool(PoolCore):
    """A CMAP connection pool for one server address (see the module docstring).

    ``Pool(address, options=PoolOptions(), connect=..., listeners=(), *,
    on_background_error=None)``: ``on_background_error(error, generation)`` receives
    errors of connections the maintenance thread establishes for minPoolSize, with the
    pool generation the attempt started with ("it MUST be handled via the SDAM
    machinery", CMAP spec); the topology passes its application-error handler.
    """

    # --- read-only views ----------------------------------------------------------------

    @property
    def address(self) -> Address:
        """The ``(host, port)`` this pool connects to."""
        return self._address

    @property
    def options(self) -> PoolOptions:
        """The pool's options."""
        return self._options

    @property
    def generation(self) -> int:
        """Incremented by every clear; connections of older generations are stale."""
        return self._generation

    @property
    def state(self) -> str:
        """``"paused"``, ``"ready"`` or ``"closed"``."""
        return self._state

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._state == CLOSED

    @property
    def total_connection_count(self) -> int:
        """Pending + available + in use."""
        with self._lock:
            return len(self._pending) + len(self._available) + len(self._in_use)

    @property
    def available_connection_count(self) -> int:
        """Connections waiting in the pool to be checked out."""
        return len(self._available)

    @property
    def pending_connection_count(self) -> int:
        """Connections being established."""
        return len(self._pending)

    @property
    def in_use_connection_count(self) -> int:
        """Connections checked out."""
        return len(self._in_use)

    @property
    def wait_queue_length(self) -> int:
        """Threads waiting for a connection."""
        return len(self._wait_queue)

    def __repr__(self) -> str:
        return (
            f"Pool({self._where}, state={self._state}, generation={self._generation}, "
            f"available={len(self._available)}, in_use={len(self._in_use)}, "
            f"pending={len(self._pending)})"
        )

    # --- state transitions --------------------------------------------------------------

    def ready(self) -> None:
        """Mark the pool ready: checkouts may proceed and minPoolSize is populated.

        "If the pool is already "ready" when this method is invoked, then this method MUST
        immediately return and MUST NOT emit a PoolReadyEvent" (CMAP spec). A closed pool
        stays closed.
        """
        with self._lock:
            if self._state != PAUSED:
                return
            self._state = READY
            # Recorded before the maintenance thread can record anything: "no observer is
            # able to observe actions of the background thread related to creating new
            # connections before observing the PoolReadyEvent".
            self._record(lambda: PoolReadyEvent(self._address))
            self._start_maintenance_locked()
            self._request_run_locked()
        self._events.flush()

    def clear(
        self,
        interrupt_in_use: bool = False,
        *,
        interrupt_in_use_connections: bool = False,
        cause: BaseException | str | None = None,
    ) -> None:
        """Mark every current connection stale, evict the wait queue and pause the pool.

        With ``interrupt_in_use`` (or its spec name ``interrupt_in_use_connections``)
        connections being established are abandoned now and checked-out ones are closed
        by the maintenance thread, so operations on them fail quickly. ``cause`` (the
        error that made SDAM clear the pool) goes into the message of the
        ``PoolClearedError`` that waiting and later checkouts get.
        """
        interrupt = bool(interrupt_in_use_connections or interrupt_in_use)
        with self._lock:
            if self._state == CLOSED:
                return
            old_generation = self._generation
            self._generation += 1
            was_paused = self._state == PAUSED
            self._state = PAUSED
            if cause is not None:
                self._cleared_because = str(cause) or type(cause).__name__
            elif not was_paused:
                self._cleared_because = None  # an older clear's cause would mislead
            # "all requests in the WaitQueue MUST fail ... Clearing the WaitQueue MUST
            # happen eagerly" (CMAP spec).
            for waiter in self._wait_queue:
                waiter.fail_reason = ConnectionCheckOutFailedReason.CONN_ERROR
            self._wait_queue.clear()
            # "If the pool is already "paused" when it is cleared, then the pool MUST NOT
            # emit a PoolCleared event".
            if not was_paused:
                self._record(lambda: PoolClearedEvent(self._address, None, interrupt))
            if interrupt:
                for pending in [p for p in self._pending if p.generation <= old_generation]:
                    self._abandon_locked(
                        pending,
                        ConnectionClosedReason.STALE,
                        ConnectionCheckOutFailedReason.CONN_ERROR,
                    )
                # "The pool MUST only interrupt in-use Connections whose generation is less
                # than or equal to the generation of the pool at the moment of the clear".
                self._interrupt_up_to = old_generation
            # "A pool SHOULD allow immediate scheduling of the next background thread
            # iteration after a clear is performed."
            self._request_run_locked()
            self._changed.notify_all()
        self._events.flush()

    def close(self) -> None:
        """Close the pool for good: available connections now, checked-out ones at check-in.

        Threads waiting for a connection, or for one being established, fail with
        ``PoolClosedError``. The maintenance thread is stopped and joined (up to 1 s).
        """
        to_close: list[PooledConnection] = []
        with self._lock:
            if self._state == CLOSED:
                thread = None
            else:
                self._state = CLOSED
                # "When a pool is closed, it MUST first close all available Connections".
                while self._available:
                    conn = self._available.pop()
                    self._record_closed_locked(conn.id, ConnectionClosedReason.POOL_CLOSED)
                    to_close.append(conn)
                for waiter in self._wait_queue:
                    waiter.fail_reason = ConnectionCheckOutFailedReason.POOL_CLOSED
                self._wait_queue.clear()
                for pending in list(self._pending):
                    self._abandon_locked(
                        pending,
                        ConnectionClosedReason.POOL_CLOSED,
                        ConnectionCheckOutFailedReason.POOL_CLOSED,
                    )
                self._record(lambda: PoolClosedEvent(self._address))
                self._changed.notify_all()
                self._wake_maintenance.notify_all()
                thread = self._maintenance
        self._close_connections(to_close)
        self._events.flush()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)

    # --- checkout and check-in ----------------------------------------------------------

    def checkout(self, timeout: float | None = None) -> PooledConnection:
        """A connection for the calling thread's exclusive use; give it back with
        :meth:`checkin` or use it as a context manager (``with pool.checkout() as conn:``).

        ``timeout`` (seconds) bounds the time spent in the wait queue and replaces
        waitQueueTimeoutMS when given (the caller computes it from timeoutMS). Raises
        ``WaitQueueTimeoutError`` when it expires, ``PoolClearedError`` when the pool is
        paused or gets cleared meanwhile, ``PoolClosedError`` when it is closed, and
        whatever ``connect()`` raised when establishing a new connection failed.
        """
        started = time.monotonic()
        limit = self._options.wait_queue_timeout if timeout is None else max(timeout, 0.0)
        deadline = None if limit is None else started + limit
        to_close: list[PooledConnection] = []
        pending: PendingConnection | None = None
        try:
            with self._lock:
                self._record(lambda: ConnectionCheckOutStartedEvent(self._address))
                try:
                    conn, pending = self._take_or_create_locked(deadline, limit, to_close)
                except CheckoutRefused as refused:
                    elapsed = time.monotonic() - started
                    reason = refused.reason
                    self._record(
                        lambda: ConnectionCheckOutFailedEvent(self._address, reason, elapsed)
                    )
                    raise refused.error from None
                if conn is not None:
                    self._in_use.add(conn)
                    self._record_checked_out_locked(conn, started)
                    return conn
        finally:
            self._close_connections(to_close)
            self._events.flush()
        assert pending is not None
        self._start_establishing(pending)
        return self._await_established(pending, started)

    def checkin(self, conn: PooledConnection) -> None:
        """Give ``conn`` back. It is closed instead of kept when it is perished (stale,
        errored, interrupted) or the pool is closed."""
        if not isinstance(conn, PooledConnection) or conn._pool is not self:
            raise InvalidOperation(
                f"cannot check in {conn!r}: it was not checked out of the pool for {self._where}"
            )
        closing = False
        with self._lock:
            if conn not in self._in_use:
                raise InvalidOperation(
                    f"cannot check in connection {conn.id} to {self._where}: it is not "
                    f"checked out (checked in twice?)"
                )
            self._in_use.discard(conn)
            self._record(lambda: ConnectionCheckedInEvent(self._address, conn.id))
            reason = self._checkin_close_reason_locked(conn)
            if reason is not None:
                self._record_closed_locked(conn.id, reason)
                closing = True
                if self._options.min_pool_size and self._state == READY:
                    self._request_run_locked()
            else:
                conn.last_used = time.monotonic()
                self._available.append(conn)
            # Either a connection is available or the total went down: the head may go on.
            self._changed.notify_all()
        try:
            if closing:
                self._close_connections([conn])
        finally:
            self._events.flush()

    # --- checkout internals -------------------------------------------------------------

    def _take_or_create_locked(
        self, deadline: float | None, limit: float | None, to_close: list[PooledConnection]
    ) -> tuple[PooledConnection | None, PendingConnection | None]:
        if self._state == CLOSED:
            raise CheckoutRefused(self._closed_error(), ConnectionCheckOutFailedReason.POOL_CLOSED)
        if self._maintenance is None and self._state == READY:
            self._start_maintenance_locked()  # first checkout in a forked child
        if self._state == PAUSED:
            # "The error thrown as a result of the pool being "paused" MUST be considered a
            # retryable error and MUST NOT be an error that marks the SDAM state unknown."
            raise CheckoutRefused(self._paused_error(), ConnectionCheckOutFailedReason.CONN_ERROR)
        waiter = Waiter()
        self._wait_queue.append(waiter)
        try:
            while True:
                if waiter.fail_reason is not None:
                    raise self._eviction(waiter.fail_reason)
                if self._wait_queue[0] is waiter:
                    conn = self._pop_available_locked(to_close)
                    if conn is not None:
                        return conn, None
                    if self._may_create_locked():
                        return None, self._new_pending_locked(for_checkout=True)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise CheckoutRefused(
                        self._timeout_error(limit), ConnectionCheckOutFailedReason.TIMEOUT
                    )
                if self._events.has_undelivered:
                    # Deliver what this checkout recorded (CheckOutStarted, closed perished
                    # connections) before blocking, without the lock; then look again.
                    self._deliver_unlocked()
                    continue
                # "Members of a WaitQueue MUST timeout if they are enqueued for longer than
                # the computed timeout and MUST leave the WaitQueue immediately".
                self._changed.wait(remaining)
        finally:
            if self._wait_queue and waiter in self._wait_queue:
                self._wait_queue.remove(waiter)
                self._changed.notify_all()  # the next waiter may now be at the head

    def _pop_available_locked(self, to_close: list[PooledConnection]) -> PooledConnection | None:
        # "If a perished Connection is encountered, such a Connection MUST be closed ... and
        # the iteration of available Connections MUST continue".
        now = time.monotonic()
        while self._available:
            conn = self._available.pop()
            reason = self._perished_reason_locked(conn, now)
            if reason is None:
                return conn
            self._record_closed_locked(conn.id, reason)
            to_close.append(conn)
        return None

    def _may_create_locked(self) -> bool:
        max_size = self._options.max_pool_size
        total = len(self._pending) + len(self._available) + len(self._in_use)
        if max_size and total >= max_size:
            return False
        if len(self._pending) >= self._options.max_connecting:
            return False
        # A connection the maintenance thread is establishing for minPoolSize is nobody's
        # yet: the head of the queue takes it when it is ready rather than creating one
        # more (so checkouts racing a freshly readied pool do not overshoot).
        return self._populating == 0

    def _await_established(self, pending: PendingConnection, started: float) -> PooledConnection:
        try:
            with self._lock:
                while not pending.done:
                    self._changed.wait()
                elapsed = time.monotonic() - started
                if pending.conn is not None:
                    conn = pending.conn
                    self._record_checked_out_locked(conn, started)
                    return conn
                reason = pending.fail_reason or ConnectionCheckOutFailedReason.CONN_ERROR
                self._record(lambda: ConnectionCheckOutFailedEvent(self._address, reason, elapsed))
                if pending.error is not None:
                    raise pending.error
                raise self._eviction(reason).error
        except BaseException:
            # Interrupted while waiting (KeyboardInterrupt...): do not strand the connection.
            self._give_up_waiting(pending)
            raise
        finally:
            self._events.flush()

    def _give_up_waiting(self, pending: PendingConnection) -> None:
        with self._lock:
            if not pending.done:
                self._abandon_locked(
                    pending, ConnectionClosedReason.ERROR, ConnectionCheckOutFailedReason.CONN_ERROR
                )
                return
            conn = pending.conn
            if conn is None or conn not in self._in_use:
                return
            self._in_use.discard(conn)
            self._record_closed_locked(conn.id, ConnectionClosedReason.ERROR)
            self._changed.notify_all()
        self._close_connections([conn])


__all__ = [
    "CLOSED",
    "PAUSED",
    "READY",
    "BackgroundErrorHandler",
    "Pool",
    "PoolClearedError",
    "PoolClosedError",
    "PoolOptions",
    "PooledConnection",
]
