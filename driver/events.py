"""The one base of every monitoring event and listener, and the one way listeners are called.

Three specifications define events: command logging and monitoring
(``driver.operations.command_events``), connection monitoring and pooling
(``driver.cmap.events``) and SDAM logging and monitoring (``driver.sdam.events``). Their
families deliver differently, for reasons of their own: command events on the thread that
runs the command, CMAP events on the thread that changed the pool (after it released the
pool's lock), SDAM events on one daemon thread per topology. What they share lives here,
one layer below all three:

- :class:`EventListener`, the base of every listener class (PyMongo's
  ``monitoring._EventListener``): what ``event_listeners=[...]`` and :func:`register`
  accept;
- :class:`Event`, the base of every event, with a ``repr`` built from its fields;
- :func:`notify`, which calls one method of every listener of a family and logs, then
  skips, a listener that raises: "a listener's bug must not stop the others or the
  driver";
- the global registry (:func:`register`, :func:`global_listeners`): listeners every client
  created afterwards receives, whatever their family, as with ``pymongo.monitoring``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

_log = logging.getLogger("driver.events")

L = TypeVar("L", bound="EventListener")


class EventListener:
    """Base of every listener class (command, connection pool, topology, server, heartbeat).

    Subclass one of the family bases (``CommandListener``, ``ConnectionPoolListener``,
    ``TopologyListener``, ``ServerListener``, ``ServerHeartbeatListener``) and override the
    methods you need; a class may subclass several families to hear all of them.
    """


class Event:
    """Base of every monitoring event: immutable, slotted, ``repr`` from :meth:`_fields`."""

    __slots__ = ()

    def _fields(self) -> dict[str, Any]:
        """The fields shown by ``repr``, in order (each family extends its parent's)."""
        return {}

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self._fields().items())
        return f"{type(self).__name__}({fields})"


def notify(listeners: Iterable[EventListener], family: type[EventListener], method: str,
           event: Event, log: logging.Logger = _log) -> None:
    """Call ``method(event)`` on every listener of ``family``, in order.

    A listener that raises is logged on ``log`` with the event, and the others still hear
    of it: monitoring code must never break the operation it watches.
    """
    for listener in listeners:
        if isinstance(listener, family):
            try:
                getattr(listener, method)(event)
            except Exception:
                log.exception("%s listener %r raised in %s(%r)", family.__name__, listener,
                              method, event)


def of_family(listeners: Iterable[EventListener], family: type[L]) -> list[L]:
    """The listeners that belong to ``family`` (a listener may belong to several)."""
    return [listener for listener in listeners if isinstance(listener, family)]


def check_listeners(listeners: Iterable[Any]) -> list[EventListener]:
    """``listeners`` as a list, refusing anything that is not a listener (a clear
    ``TypeError`` naming it, instead of a listener that silently never hears a thing)."""
    checked = []
    for listener in listeners:
        if not isinstance(listener, EventListener):
            raise TypeError(
                "listeners must be instances of CommandListener, ConnectionPoolListener, "
                "TopologyListener, ServerListener or ServerHeartbeatListener, not "
                f"{type(listener).__name__}")
        checked.append(listener)
    return checked


_GLOBAL_LISTENERS: list[EventListener] = []


def register(listener: EventListener) -> None:
    """Register ``listener`` for every client created afterwards (PyMongo's ``register``)."""
    _GLOBAL_LISTENERS.extend(check_listeners([listener]))


def global_listeners() -> Sequence[EventListener]:
    """The listeners registered with :func:`register`, oldest first (a copy)."""
    return list(_GLOBAL_LISTENERS)


__all__ = [
    "Event",
    "EventListener",
    "check_listeners",
    "global_listeners",
    "notify",
    "of_family",
    "register",
]
