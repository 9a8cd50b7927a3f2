"""``EventBridge``: driver listener callbacks (any thread) → Qt signals (GUI thread).

This is the one place where driver threads meet Qt. Driver threads (monitors, the
event-dispatch thread, pool maintenance) call the listener objects made here; each call
emits the private ``_relay`` signal, which is connected to ``_dispatch`` with an explicit
``Qt.QueuedConnection``. Qt copies the arguments into an event posted to the bridge's
thread (the GUI thread), so the public signals are always emitted there and every
receiver, whatever its connection type, runs on the GUI thread.

Never call ``QTimer.singleShot`` or touch widgets from a driver thread: a plain thread
has no Qt event loop, so the timer would never fire. Emitting a signal is the only safe
hand-over, and that is all the listeners here do.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

log = logging.getLogger(__name__)

# Listener method names per family, as PyMongo names them (our driver mirrors them).
_FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "topology": ("TopologyListener", ("opened", "description_changed", "closed")),
    "server": ("ServerListener", ("opened", "description_changed", "closed")),
    "heartbeat": ("ServerHeartbeatListener", ("started", "succeeded", "failed")),
    "command": ("CommandListener", ("started", "succeeded", "failed")),
    "pool": (
        "ConnectionPoolListener",
        (
            "pool_created",
            "pool_ready",
            "pool_cleared",
            "pool_closed",
            "connection_created",
            "connection_ready",
            "connection_closed",
            "connection_check_out_started",
            "connection_check_out_failed",
            "connection_checked_out",
            "connection_checked_in",
        ),
    ),
}

# Where the driver defines each family's listener base class (so the client's
# isinstance checks pass); absent modules are fine while the driver is being written.
_BASE_MODULES = {
    "topology": "driver.sdam.events",
    "server": "driver.sdam.events",
    "heartbeat": "driver.sdam.events",
    "command": "driver.operations.command_events",
    "pool": "driver.cmap.events",
}


class EventBridge(QObject):
    """Turns driver monitoring events into signals on the GUI thread.

    Each public signal carries ``(kind, event)`` where ``kind`` is the listener method
    name (``"description_changed"``, ``"succeeded"`` ...) and ``event`` the driver's
    immutable event object.
    """

    topology_event = Signal(str, object)
    server_event = Signal(str, object)
    heartbeat_event = Signal(str, object)
    command_event = Signal(str, object)
    pool_event = Signal(str, object)

    _relay = Signal(str, str, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._closed = False
        self._relay.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        self._listeners: list[Any] | None = None

    def listeners(self) -> list[Any]:
        """Listener objects for ``MongoClient(event_listeners=...)`` (made once)."""
        if self._listeners is None:
            self._listeners = [_make_listener(self, family) for family in _FAMILIES]
        return list(self._listeners)

    def close(self) -> None:
        """Stop forwarding: events still arriving from driver threads are dropped."""
        self._closed = True

    # Called from any thread.
    def post(self, family: str, kind: str, event: object) -> None:
        if self._closed:
            return
        try:
            self._relay.emit(family, kind, event)
        except RuntimeError:
            # The C++ object is gone (window closed before the client): drop the event.
            self._closed = True

    @Slot(str, str, object)
    def _dispatch(self, family: str, kind: str, event: object) -> None:
        if self._closed:
            return
        signal = {
            "topology": self.topology_event,
            "server": self.server_event,
            "heartbeat": self.heartbeat_event,
            "command": self.command_event,
            "pool": self.pool_event,
        }[family]
        signal.emit(kind, event)


def _listener_base(family: str) -> type:
    class_name = _FAMILIES[family][0]
    try:
        module = importlib.import_module(_BASE_MODULES[family])
    except ImportError:
        return object
    base = getattr(module, class_name, None)
    return base if isinstance(base, type) else object


def _make_listener(bridge: EventBridge, family: str) -> Any:
    """A listener instance whose every method posts ``(family, name, event)``."""
    class_name, methods = _FAMILIES[family]
    namespace: dict[str, Any] = {"__doc__": f"Forwards {family} events to an EventBridge."}
    for name in methods:
        namespace[name] = _forwarder(family, name)
    cls = type(f"Bridge{class_name}", (_listener_base(family),), namespace)
    listener = cls()
    listener._bridge = bridge
    return listener


def _forwarder(family: str, name: str) -> Any:
    def forward(self: Any, event: object) -> None:
        self._bridge.post(family, name, event)

    forward.__name__ = name
    return forward


# -- what the status bar and log panel show -------------------------------------------
def _address_text(address: Any) -> str:
    if isinstance(address, tuple) and len(address) == 2:
        host, port = address
        host = f"[{host}]" if ":" in str(host) else str(host)
        return f"{host}:{port}"
    return str(address)


def describe_command_event(kind: str, event: Any) -> str:
    """One log-panel line for a command event, redacted by construction.

    Only the command's name, database, server, request id, duration and error code are
    shown: never the command, reply or error message, which may hold documents, user
    data or (for authentication commands) credentials.
    """
    name = getattr(event, "command_name", "?")
    where = _address_text(getattr(event, "connection_id", "?"))
    request = getattr(event, "request_id", "?")
    if kind == "started":
        database = getattr(event, "database_name", "")
        return f"→ {name} on {database or '?'} at {where} (request {request})"
    millis = getattr(event, "duration_micros", 0) / 1000
    if kind == "succeeded":
        return f"✓ {name} at {where} in {millis:.1f} ms (request {request})"
    failure = getattr(event, "failure", None) or {}
    code = failure.get("code") if hasattr(failure, "get") else None
    code_name = failure.get("codeName") if hasattr(failure, "get") else None
    detail = f"code {code}" + (f" ({code_name})" if code_name else "") if code is not None \
        else "a network error"
    return f"✗ {name} at {where} failed after {millis:.1f} ms: {detail} (request {request})"


def topology_summary(description: Any) -> tuple[str, str | None]:
    """(topology type name, primary address or None) for the status bar."""
    type_name = str(getattr(description, "topology_type_name", "Unknown"))
    primary = None
    servers = description.server_descriptions() if hasattr(description, "server_descriptions") \
        else {}
    for address, server in servers.items():
        if getattr(server, "server_type_name", "") in ("RSPrimary", "Standalone", "Mongos"):
            primary = _address_text(address)
            break
    return type_name, primary
