"""Connection pool (CMAP) monitoring events and the listener that receives them.

The classes, their attributes and the listener's method names are the ones PyMongo
documents in ``pymongo.monitoring``, so a listener written for PyMongo works here::

    class Counter(ConnectionPoolListener):
        def connection_checked_out(self, event: ConnectionCheckedOutEvent) -> None:
            ...

Durations are ``float`` seconds measured on the monotonic clock ("use a monotonic clock
if possible", CMAP spec). Addresses are ``(host, port)`` tuples.

Delivery: a pool records events in the order its state changes happen (under its lock)
and hands them to listeners afterwards, outside that lock, through an
:class:`EventPublisher`; see there for the ordering guarantee.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from driver.events import Event, EventListener, notify

Address = tuple[str, int]

_log = logging.getLogger("driver.cmap")


class ConnectionClosedReason:
    """Why a connection was closed (``ConnectionClosedEvent.reason``)."""

    STALE = "stale"
    """The pool was cleared, making the connection no longer valid."""
    IDLE = "idle"
    """The connection stayed available longer than maxIdleTimeMS."""
    ERROR = "error"
    """The connection failed (network error, failed handshake, interruption...)."""
    POOL_CLOSED = "poolClosed"
    """The pool was closed."""


class ConnectionCheckOutFailedReason:
    """Why a checkout failed (``ConnectionCheckOutFailedEvent.reason``)."""

    TIMEOUT = "timeout"
    """No connection became available within the wait queue timeout."""
    POOL_CLOSED = "poolClosed"
    """The pool was closed."""
    CONN_ERROR = "connectionError"
    """Establishing a connection failed, or the pool was paused (cleared)."""


def format_address(address: Address) -> str:
    """``host:port``, with IPv6 hosts in brackets."""
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _PoolEvent(Event):
    """Base of every CMAP event: the pool's address."""

    __slots__ = ("__address",)

    def __init__(self, address: Address) -> None:
        self.__address = address

    @property
    def address(self) -> Address:
        """The ``(host, port)`` of the server the pool connects to."""
        return self.__address

    def _fields(self) -> dict[str, Any]:
        return {"address": self.address}


class PoolCreatedEvent(_PoolEvent):
    """A pool was created; ``options`` holds the options that differ from the defaults."""

    __slots__ = ("__options",)

    def __init__(self, address: Address, options: Mapping[str, Any]) -> None:
        super().__init__(address)
        self.__options = dict(options)

    @property
    def options(self) -> dict[str, Any]:
        """Non-default pool options, keyed by their connection-string names."""
        return self.__options

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "options": self.options}


class PoolReadyEvent(_PoolEvent):
    """A pool was marked ready: checkouts and background connecting may proceed."""

    __slots__ = ()


class PoolClearedEvent(_PoolEvent):
    """A pool was cleared: its generation moved on and it is paused."""

    __slots__ = ("__service_id", "__interrupt_connections")

    def __init__(
        self, address: Address, service_id: Any = None, interrupt_connections: bool = False
    ) -> None:
        super().__init__(address)
        self.__service_id = service_id
        self.__interrupt_connections = interrupt_connections

    @property
    def service_id(self) -> Any:
        """The service id cleared in load-balanced mode; ``None`` otherwise."""
        return self.__service_id

    @property
    def interrupt_connections(self) -> bool:
        """True when in-use connections are interrupted by this clear."""
        return self.__interrupt_connections

    def _fields(self) -> dict[str, Any]:
        return {
            **super()._fields(),
            "service_id": self.service_id,
            "interrupt_connections": self.interrupt_connections,
        }


class PoolClosedEvent(_PoolEvent):
    """A pool was closed for good."""

    __slots__ = ()


class _ConnectionEvent(_PoolEvent):
    """An event about one connection of the pool."""

    __slots__ = ("__connection_id",)

    def __init__(self, address: Address, connection_id: int) -> None:
        super().__init__(address)
        self.__connection_id = connection_id

    @property
    def connection_id(self) -> int:
        """The connection's id, unique in its pool, 1 for the first one created."""
        return self.__connection_id

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "connection_id": self.connection_id}


class ConnectionCreatedEvent(_ConnectionEvent):
    """A connection was created (not yet established: no handshake done)."""

    __slots__ = ()


class _TimedConnectionEvent(_ConnectionEvent):
    """A connection event that ends a timed step (``duration``)."""

    __slots__ = ("__duration",)

    def __init__(self, address: Address, connection_id: int, duration: float | None) -> None:
        super().__init__(address, connection_id)
        self.__duration = duration

    @property
    def duration(self) -> float | None:
        """Seconds since the step began: ConnectionCreated for ConnectionReady,
        ConnectionCheckOutStarted for ConnectionCheckedOut."""
        return self.__duration

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "duration": self.duration}


class ConnectionReadyEvent(_TimedConnectionEvent):
    """A connection finished its handshake and authentication."""

    __slots__ = ()


class ConnectionClosedEvent(_ConnectionEvent):
    """A connection left the pool; ``reason`` is a :class:`ConnectionClosedReason` value."""

    __slots__ = ("__reason",)

    def __init__(self, address: Address, connection_id: int, reason: str) -> None:
        super().__init__(address, connection_id)
        self.__reason = reason

    @property
    def reason(self) -> str:
        """``stale``, ``idle``, ``error`` or ``poolClosed``."""
        return self.__reason

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "reason": self.reason}


class ConnectionCheckOutStartedEvent(_PoolEvent):
    """A thread asked the pool for a connection."""

    __slots__ = ()


class ConnectionCheckOutFailedEvent(_PoolEvent):
    """A checkout failed; ``reason`` is a :class:`ConnectionCheckOutFailedReason` value."""

    __slots__ = ("__reason", "__duration")

    def __init__(self, address: Address, reason: str, duration: float | None) -> None:
        super().__init__(address)
        self.__reason = reason
        self.__duration = duration

    @property
    def reason(self) -> str:
        """``timeout``, ``poolClosed`` or ``connectionError``."""
        return self.__reason

    @property
    def duration(self) -> float | None:
        """Seconds between ConnectionCheckOutStarted and this event."""
        return self.__duration

    @property
    def connection_id(self) -> None:
        """Always ``None``: no connection was checked out."""
        return None

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "reason": self.reason, "duration": self.duration}


class ConnectionCheckedOutEvent(_TimedConnectionEvent):
    """A checkout succeeded."""

    __slots__ = ()


class ConnectionCheckedInEvent(_ConnectionEvent):
    """A connection was given back to the pool."""

    __slots__ = ()


class ConnectionPoolListener(EventListener):
    """Base class for CMAP listeners: override the methods you need; the others do nothing.

    Methods are called from driver threads (application threads checking connections
    out and in, the pool's maintenance and connecting threads), never while the pool's
    lock is held. An exception raised by a listener is logged and otherwise ignored.
    """

    def pool_created(self, event: PoolCreatedEvent) -> None:
        """A pool was created."""

    def pool_ready(self, event: PoolReadyEvent) -> None:
        """A pool was marked ready."""

    def pool_cleared(self, event: PoolClearedEvent) -> None:
        """A pool was cleared."""

    def pool_closed(self, event: PoolClosedEvent) -> None:
        """A pool was closed."""

    def connection_created(self, event: ConnectionCreatedEvent) -> None:
        """A connection was created."""

    def connection_ready(self, event: ConnectionReadyEvent) -> None:
        """A connection was established."""

    def connection_closed(self, event: ConnectionClosedEvent) -> None:
        """A connection was closed."""

    def connection_check_out_started(self, event: ConnectionCheckOutStartedEvent) -> None:
        """A checkout started."""

    def connection_check_out_failed(self, event: ConnectionCheckOutFailedEvent) -> None:
        """A checkout failed."""

    def connection_checked_out(self, event: ConnectionCheckedOutEvent) -> None:
        """A checkout succeeded."""

    def connection_checked_in(self, event: ConnectionCheckedInEvent) -> None:
        """A connection was checked in."""


#: Which listener method receives which event class.
LISTENER_METHODS: dict[type[_PoolEvent], str] = {
    PoolCreatedEvent: "pool_created",
    PoolReadyEvent: "pool_ready",
    PoolClearedEvent: "pool_cleared",
    PoolClosedEvent: "pool_closed",
    ConnectionCreatedEvent: "connection_created",
    ConnectionReadyEvent: "connection_ready",
    ConnectionClosedEvent: "connection_closed",
    ConnectionCheckOutStartedEvent: "connection_check_out_started",
    ConnectionCheckOutFailedEvent: "connection_check_out_failed",
    ConnectionCheckedOutEvent: "connection_checked_out",
    ConnectionCheckedInEvent: "connection_checked_in",
}

CmapEvent = _PoolEvent


#: Debug-level log of every pool event, in the spec's unstructured wording: "Drivers MUST
#: support logging of connection pool information ... at Debug level and use the
#: connection log component" (CMAP spec).
connection_log = logging.getLogger("driver.connection")

_CLOSED_REASON_TEXT = {
    ConnectionClosedReason.STALE: "Connection became stale because the pool was cleared",
    ConnectionClosedReason.IDLE: (
        "Connection has been available but unused for longer than the configured max idle time"
    ),
    ConnectionClosedReason.ERROR: "An error occurred while using the connection",
    ConnectionClosedReason.POOL_CLOSED: "Connection pool was closed",
}
_CHECKOUT_FAILED_TEXT = {
    ConnectionCheckOutFailedReason.TIMEOUT: (
        "Wait queue timeout elapsed without a connection becoming available"
    ),
    ConnectionCheckOutFailedReason.CONN_ERROR: (
        "An error occurred while trying to establish a new connection"
    ),
    ConnectionCheckOutFailedReason.POOL_CLOSED: "Connection pool was closed",
}


def _ms(seconds: float | None) -> str:
    return "unknown" if seconds is None else f"{seconds * 1000:.0f}"


def log_message(event: _PoolEvent) -> str:
    """The spec's unstructured log message for ``event``."""
    where = format_address(event.address)
    if isinstance(event, PoolCreatedEvent):
        options = ", ".join(f"{name}={value}" for name, value in event.options.items())
        return f"Connection pool created for {where} using options {options or '(defaults)'}"
    if isinstance(event, PoolReadyEvent):
        return f"Connection pool ready for {where}"
    if isinstance(event, PoolClearedEvent):
        service = f" for serviceId {event.service_id}" if event.service_id is not None else ""
        return f"Connection pool for {where} cleared{service}"
    if isinstance(event, PoolClosedEvent):
        return f"Connection pool closed for {where}"
    if isinstance(event, ConnectionCheckOutStartedEvent):
        return f"Checkout started for connection to {where}"
    if isinstance(event, ConnectionCheckOutFailedEvent):
        reason = _CHECKOUT_FAILED_TEXT.get(event.reason, event.reason)
        return (
            f"Checkout failed for connection to {where}. Reason: {reason}. "
            f"Duration: {_ms(event.duration)} ms"
        )
    assert isinstance(event, _ConnectionEvent)
    head = f"address={where}, driver-generated ID={event.connection_id}"
    if isinstance(event, ConnectionCreatedEvent):
        return f"Connection created: {head}"
    if isinstance(event, ConnectionReadyEvent):
        return f"Connection ready: {head}, established in={_ms(event.duration)} ms"
    if isinstance(event, ConnectionClosedEvent):
        reason = _CLOSED_REASON_TEXT.get(event.reason, event.reason)
        return f"Connection closed: {head}. Reason: {reason}."
    if isinstance(event, ConnectionCheckedOutEvent):
        return f"Connection checked out: {head}, duration={_ms(event.duration)} ms"
    return f"Connection checked in: {head}"


class EventPublisher:
    """Delivers a pool's events, in the order the pool recorded them, to its listeners and
    to the ``driver.connection`` debug log.

    The pool calls :meth:`record` while it holds its own lock, so the recorded order is
    the order of the state changes; any thread then calls :meth:`flush` after releasing
    that lock. One thread at a time delivers (under a re-entrant lock, so a listener
    that calls back into the pool cannot deadlock itself), and a thread that returns
    from ``flush`` knows every event recorded before its call has been delivered.
    """

    def __init__(self, listeners: Iterable[ConnectionPoolListener]) -> None:
        self._listeners = tuple(listeners)
        for listener in self._listeners:
            if not isinstance(listener, ConnectionPoolListener):
                raise TypeError(
                    f"listeners must be ConnectionPoolListener instances, not "
                    f"{type(listener).__name__}"
                )
        self._queue: deque[_PoolEvent] = deque()
        self._deliver_lock = threading.RLock()

    @property
    def listeners(self) -> tuple[ConnectionPoolListener, ...]:
        """The subscribed listeners."""
        return self._listeners

    @property
    def enabled(self) -> bool:
        """False when nobody listens and debug logging is off: the pool then skips
        building events at all."""
        return bool(self._listeners) or connection_log.isEnabledFor(logging.DEBUG)

    @property
    def has_undelivered(self) -> bool:
        """True when recorded events wait for a :meth:`flush`."""
        return bool(self._queue)

    def record(self, event: _PoolEvent) -> None:
        """Queue ``event`` (deque appends are atomic; the caller holds the pool lock)."""
        self._queue.append(event)

    def flush(self) -> None:
        """Deliver everything recorded so far, in order."""
        if not self._queue:
            return
        with self._deliver_lock:
            while True:
                try:
                    event = self._queue.popleft()
                except IndexError:
                    return
                self._deliver(event)

    def _deliver(self, event: _PoolEvent) -> None:
        if connection_log.isEnabledFor(logging.DEBUG):
            connection_log.debug("%s", log_message(event))
        notify(self._listeners, ConnectionPoolListener, LISTENER_METHODS[type(event)], event,
               _log)


__all__ = [
    "LISTENER_METHODS",
    "Address",
    "CmapEvent",
    "ConnectionCheckOutFailedEvent",
    "ConnectionCheckOutFailedReason",
    "ConnectionCheckOutStartedEvent",
    "ConnectionCheckedInEvent",
    "ConnectionCheckedOutEvent",
    "ConnectionClosedEvent",
    "ConnectionClosedReason",
    "ConnectionCreatedEvent",
    "ConnectionPoolListener",
    "ConnectionReadyEvent",
    "EventPublisher",
    "PoolClearedEvent",
    "PoolClosedEvent",
    "PoolCreatedEvent",
    "PoolReadyEvent",
    "connection_log",
    "format_address",
    "log_message",
]
