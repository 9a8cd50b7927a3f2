"""SDAM and heartbeat events, their listener base classes, and the delivery thread.

Listeners and events subclass the shared bases of ``driver.events`` (one registry, one way
of calling listeners for every family). Names follow PyMongo's ``pymongo.monitoring`` (``TopologyListener.opened`` /
``description_changed`` / ``closed``, ``ServerHeartbeatListener.started`` ...), and
the events those of the SDAM logging-and-monitoring spec. The topology computes events
by diffing descriptions and hands them to an ``EventPublisher``, whose single daemon
thread calls the listeners in order, never while the topology's lock is held. A
listener that raises is logged and skipped; it cannot stop delivery.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from driver.events import Event, EventListener, global_listeners, notify, register

if TYPE_CHECKING:
    from driver.sdam.server_description import ServerDescription
    from driver.sdam.topology_description import TopologyDescription

Address = tuple[str, int]

_log = logging.getLogger("driver.sdam.events")
_D = TypeVar("_D")


# --- listener base classes ----------------------------------------------------------------------


class TopologyListener(EventListener):
    """Receives TopologyOpened / TopologyDescriptionChanged / TopologyClosed events."""

    def opened(self, event: TopologyOpenedEvent) -> None:
        """The topology was opened."""

    def description_changed(self, event: TopologyDescriptionChangedEvent) -> None:
        """The topology description changed."""

    def closed(self, event: TopologyClosedEvent) -> None:
        """The topology was closed."""


class ServerListener(EventListener):
    """Receives ServerOpening / ServerDescriptionChanged / ServerClosed events."""

    def opened(self, event: ServerOpeningEvent) -> None:
        """A server was added to the topology."""

    def description_changed(self, event: ServerDescriptionChangedEvent) -> None:
        """A server's description changed."""

    def closed(self, event: ServerClosedEvent) -> None:
        """A server was removed from the topology."""


class ServerHeartbeatListener(EventListener):
    """Receives the monitors' heartbeat events."""

    def started(self, event: ServerHeartbeatStartedEvent) -> None:
        """A monitor sent hello."""

    def succeeded(self, event: ServerHeartbeatSucceededEvent) -> None:
        """A monitor's hello succeeded."""

    def failed(self, event: ServerHeartbeatFailedEvent) -> None:
        """A monitor's hello failed."""


# --- events -------------------------------------------------------------------------------------


class _TopologyEvent(Event):
    __slots__ = ("_topology_id",)

    def __init__(self, topology_id: Any) -> None:
        self._topology_id = topology_id

    @property
    def topology_id(self) -> Any:
        return self._topology_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} topology_id: {self._topology_id}>"


class TopologyOpenedEvent(_TopologyEvent):
    """Published when a topology is opened (the spec's TopologyOpeningEvent)."""

    __slots__ = ()


class TopologyClosedEvent(_TopologyEvent):
    """Published when a topology is closed."""

    __slots__ = ()


class _DescriptionChange(Generic[_D]):
    """``previous_description`` and ``new_description``, for the two "changed" events
    (each subclass holds them in its own slots)."""

    __slots__ = ()
    _previous: _D
    _new: _D

    @property
    def previous_description(self) -> _D:
        return self._previous

    @property
    def new_description(self) -> _D:
        return self._new


class TopologyDescriptionChangedEvent(
    _TopologyEvent, _DescriptionChange["TopologyDescription"]
):
    """The topology description changed from ``previous_description`` to ``new_description``."""

    __slots__ = ("_previous", "_new")

    def __init__(self, previous_description: TopologyDescription,
                 new_description: TopologyDescription, topology_id: Any) -> None:
        super().__init__(topology_id)
        self._previous = previous_description
        self._new = new_description

    def __repr__(self) -> str:
        return (f"<TopologyDescriptionChangedEvent {self._previous.topology_type_name} -> "
                f"{self._new.topology_type_name}>")


class _ServerEvent(_TopologyEvent):
    __slots__ = ("_address",)

    def __init__(self, server_address: Address, topology_id: Any) -> None:
        super().__init__(topology_id)
        self._address = server_address

    @property
    def server_address(self) -> Address:
        return self._address

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._address}>"


class ServerOpeningEvent(_ServerEvent):
    """A server was added to the topology and its monitor started."""

    __slots__ = ()


class ServerClosedEvent(_ServerEvent):
    """A server was removed from the topology (or the topology closed)."""

    __slots__ = ()


class ServerDescriptionChangedEvent(_ServerEvent, _DescriptionChange["ServerDescription"]):
    """A server's description changed (by the spec's equality: not for RTT alone)."""

    __slots__ = ("_previous", "_new")

    def __init__(self, previous_description: ServerDescription,
                 new_description: ServerDescription, server_address: Address,
                 topology_id: Any) -> None:
        super().__init__(server_address, topology_id)
        self._previous = previous_description
        self._new = new_description

    def __repr__(self) -> str:
        return (f"<ServerDescriptionChangedEvent {self._address} "
                f"{self._previous.server_type_name} -> {self._new.server_type_name}>")


class _HeartbeatEvent(Event):
    __slots__ = ("_connection_id", "_awaited")

    def __init__(self, connection_id: Address, awaited: bool = False) -> None:
        self._connection_id = connection_id
        self._awaited = awaited

    @property
    def connection_id(self) -> Address:
        """The address of the server being checked."""
        return self._connection_id

    @property
    def awaited(self) -> bool:
        """True for a streaming (awaitable hello) check."""
        return self._awaited

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._connection_id} awaited: {self._awaited}>"


class ServerHeartbeatStartedEvent(_HeartbeatEvent):
    """A monitor is about to send hello."""

    __slots__ = ()


class ServerHeartbeatSucceededEvent(_HeartbeatEvent):
    """A monitor's hello returned ``reply`` after ``duration`` seconds."""

    __slots__ = ("_duration", "_reply")

    def __init__(self, duration: float, reply: dict[str, Any], connection_id: Address,
                 awaited: bool = False) -> None:
        super().__init__(connection_id, awaited)
        self._duration = duration
        self._reply = reply

    @property
    def duration(self) -> float:
        return self._duration

    @property
    def reply(self) -> dict[str, Any]:
        return self._reply


class ServerHeartbeatFailedEvent(_HeartbeatEvent):
    """A monitor's hello failed with ``reply`` (the exception) after ``duration`` seconds."""

    __slots__ = ("_duration", "_reply")

    def __init__(self, duration: float, reply: BaseException, connection_id: Address,
                 awaited: bool = False) -> None:
        super().__init__(connection_id, awaited)
        self._duration = duration
        self._reply = reply

    @property
    def duration(self) -> float:
        return self._duration

    @property
    def reply(self) -> BaseException:
        return self._reply


# Which listener class and method receive each event type.
_DISPATCH: dict[type, tuple[type, str]] = {
    TopologyOpenedEvent: (TopologyListener, "opened"),
    TopologyDescriptionChangedEvent: (TopologyListener, "description_changed"),
    TopologyClosedEvent: (TopologyListener, "closed"),
    ServerOpeningEvent: (ServerListener, "opened"),
    ServerDescriptionChangedEvent: (ServerListener, "description_changed"),
    ServerClosedEvent: (ServerListener, "closed"),
    ServerHeartbeatStartedEvent: (ServerHeartbeatListener, "started"),
    ServerHeartbeatSucceededEvent: (ServerHeartbeatListener, "succeeded"),
    ServerHeartbeatFailedEvent: (ServerHeartbeatListener, "failed"),
}

_STOP = object()


class EventPublisher:
    """Delivers events to listeners from one daemon thread, in publication order.

    ``publish`` never blocks and never calls a listener itself. ``submit(fn)`` runs any
    callable on the same thread (other event families may share it). ``flush`` waits
    until everything queued so far has been delivered.
    """

    def __init__(self, listeners: Iterable[EventListener] = (), name: str = "binnacle-events"
                 ) -> None:
        self._listeners: Sequence[EventListener] = tuple(listeners)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._name = name
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def listeners(self) -> Sequence[EventListener]:
        return self._listeners

    def wants(self, event_type: type) -> bool:
        """True if some listener would receive events of ``event_type``."""
        base, _ = _DISPATCH[event_type]
        return any(isinstance(listener, base) for listener in self._listeners)

    def publish(self, event: Any) -> None:
        if event is None or not self.wants(type(event)):
            return
        self._enqueue(event)

    def submit(self, callback: Callable[[], None]) -> None:
        self._enqueue(callback)

    def _enqueue(self, item: Any) -> None:
        with self._lock:
            if self._closed:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._queue.put(item)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the events queued before this call were delivered."""
        done = threading.Event()
        with self._lock:
            if self._thread is None or self._closed:
                return True
            self._queue.put(done.set)
        return done.wait(timeout)

    def close(self, timeout: float = 1.0) -> None:
        """Deliver what is queued, then stop the thread (waiting at most ``timeout``)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if callable(item) and not isinstance(item, tuple(_DISPATCH)):
                self._call(item)
                continue
            base, method = _DISPATCH[type(item)]
            notify(self._listeners, base, method, item, _log)

    @staticmethod
    def _call(function: Callable[[], None]) -> None:
        try:
            function()
        except Exception:
            # A submitted callback's bug must not stop the delivery thread.
            _log.exception("event callback %r raised", function)


__all__ = [
    "EventPublisher",
    "ServerClosedEvent",
    "ServerDescriptionChangedEvent",
    "ServerHeartbeatFailedEvent",
    "ServerHeartbeatListener",
    "ServerHeartbeatStartedEvent",
    "ServerHeartbeatSucceededEvent",
    "ServerListener",
    "ServerOpeningEvent",
    "TopologyClosedEvent",
    "TopologyDescriptionChangedEvent",
    "TopologyListener",
    "TopologyOpenedEvent",
    "global_listeners",
    "register",
]
