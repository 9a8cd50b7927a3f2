"""Command monitoring: started/succeeded/failed events with PyMongo's names.

A ``CommandListener`` subclass registered with the client receives, in the thread
that ran the command, one ``CommandStartedEvent`` and then either a
``CommandSucceededEvent`` or a ``CommandFailedEvent``, with ``duration_micros``,
``request_id`` (the wire request id), ``operation_id``, ``connection_id`` (the
server address, as in PyMongo), ``server_connection_id`` (the server's own id for
the connection, from the handshake), ``service_id`` (load-balanced mode),
``database_name`` and ``command_name``.

Security-sensitive commands are redacted, as the command logging and monitoring
spec says: "the command and reply MUST be replaced with an empty document" for
``authenticate``, ``saslStart``, ``saslContinue``, ``getnonce``, ``createUser``,
``updateUser``, ``copydbgetnonce``, ``copydbsaslstart``, ``copydb``, and for
``hello``/legacy hello when it carries ``speculativeAuthenticate``; a failure keeps only
``code``, ``codeName`` and ``errorLabels``. The connection handshake itself is not
published (as in PyMongo); the authentication commands after it are, redacted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from driver.events import Event, EventListener, notify

_LOG = logging.getLogger("driver.operations.command_events")

SENSITIVE_COMMANDS = frozenset(
    {
        "authenticate",
        "saslstart",
        "saslcontinue",
        "getnonce",
        "createuser",
        "updateuser",
        "copydbgetnonce",
        "copydbsaslstart",
        "copydb",
    }
)
_HELLO_NAMES = frozenset({"hello", "ismaster"})
_KEPT_FAILURE_FIELDS = ("code", "codeName", "errorLabels")

Address = tuple[str, int]


def is_sensitive(command_name: str, command: Mapping[str, Any]) -> bool:
    """True when the command (and its reply) must be redacted from events."""
    lowered = command_name.lower()
    if lowered in SENSITIVE_COMMANDS:
        return True
    return lowered in _HELLO_NAMES and "speculativeAuthenticate" in command


def command_for_event(
    document: Mapping[str, Any],
    sequences: Sequence[tuple[str, Sequence[Mapping[str, Any] | bytes]]],
    decode: Callable[[bytes], Mapping[str, Any]],
) -> dict[str, Any]:
    """The command as a ``CommandStartedEvent`` shows it: the body with each OP_MSG
    document sequence folded in as a list under its identifier (``documents``,
    ``updates``, ``deletes``), as PyMongo shows them.

    Writes hand the connection pre-encoded BSON statements; they are decoded here, which
    costs something, so the connection calls this only when a command listener is
    registered."""
    command = dict(document)
    for identifier, docs in sequences:
        command[identifier] = [
            decode(bytes(doc)) if isinstance(doc, bytes | bytearray | memoryview) else doc
            for doc in docs
        ]
    return command


class _CommandEvent(Event):
    """Fields every command event has."""

    __slots__ = (
        "_command_name",
        "_request_id",
        "_connection_id",
        "_operation_id",
        "_service_id",
        "_database_name",
        "_server_connection_id",
    )

    def __init__(
        self,
        command_name: str,
        request_id: int,
        connection_id: Address,
        operation_id: int | None,
        service_id: Any = None,
        database_name: str = "",
        server_connection_id: int | None = None,
    ) -> None:
        self._command_name = command_name
        self._request_id = request_id
        self._connection_id = connection_id
        self._operation_id = operation_id
        self._service_id = service_id
        self._database_name = database_name
        self._server_connection_id = server_connection_id

    @property
    def command_name(self) -> str:
        return self._command_name

    @property
    def request_id(self) -> int:
        return self._request_id

    @property
    def connection_id(self) -> Address:
        """The address (host, port) of the server the command went to."""
        return self._connection_id

    @property
    def operation_id(self) -> int | None:
        return self._operation_id

    @property
    def service_id(self) -> Any:
        return self._service_id

    @property
    def database_name(self) -> str:
        return self._database_name

    @property
    def server_connection_id(self) -> int | None:
        return self._server_connection_id


class CommandStartedEvent(_CommandEvent):
    """A command is about to be sent."""

    __slots__ = ("_command",)

    def __init__(
        self,
        command: Mapping[str, Any],
        database_name: str,
        request_id: int,
        connection_id: Address,
        operation_id: int | None,
        service_id: Any = None,
        server_connection_id: int | None = None,
    ) -> None:
        if not command:
            raise ValueError(f"{command!r} is not a valid command")
        command_name = next(iter(command))
        super().__init__(command_name, request_id, connection_id, operation_id, service_id,
                         database_name, server_connection_id)
        self._command: Mapping[str, Any] = (
            {} if is_sensitive(command_name, command) else command
        )

    @property
    def command(self) -> Mapping[str, Any]:
        return self._command

    def __repr__(self) -> str:
        return (
            f"<CommandStartedEvent {self.connection_id} db: {self.database_name!r}, "
            f"command: {self.command_name!r}, request_id: {self.request_id}>"
        )


class _CommandOutcomeEvent(_CommandEvent):
    """What a command's end (success or failure) adds: its duration."""

    __slots__ = ("_duration_micros",)

    def __init__(self, duration: float, command_name: str, request_id: int,
                 connection_id: Address, operation_id: int | None, service_id: Any,
                 database_name: str, server_connection_id: int | None) -> None:
        super().__init__(command_name, request_id, connection_id, operation_id, service_id,
                         database_name, server_connection_id)
        self._duration_micros = int(duration * 1_000_000)

    @property
    def duration_micros(self) -> int:
        return self._duration_micros

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.connection_id} command: {self.command_name!r}, "
                f"request_id: {self.request_id}, duration_micros: {self.duration_micros}"
                f"{self._repr_tail()}>")

    def _repr_tail(self) -> str:
        return ""


class CommandSucceededEvent(_CommandOutcomeEvent):
    """A command succeeded; ``reply`` is redacted for sensitive commands."""

    __slots__ = ("_reply",)

    def __init__(self, duration: float, reply: Mapping[str, Any], command_name: str,
                 request_id: int, connection_id: Address, operation_id: int | None,
                 service_id: Any = None, database_name: str = "",
                 server_connection_id: int | None = None, *, redacted: bool = False) -> None:
        super().__init__(duration, command_name, request_id, connection_id, operation_id,
                         service_id, database_name, server_connection_id)
        self._reply: Mapping[str, Any] = {} if redacted else reply

    @property
    def reply(self) -> Mapping[str, Any]:
        return self._reply


class CommandFailedEvent(_CommandOutcomeEvent):
    """A command failed (server error document or a network error)."""

    __slots__ = ("_failure",)

    def __init__(self, duration: float, failure: Mapping[str, Any], command_name: str,
                 request_id: int, connection_id: Address, operation_id: int | None,
                 service_id: Any = None, database_name: str = "",
                 server_connection_id: int | None = None, *, redacted: bool = False) -> None:
        super().__init__(duration, command_name, request_id, connection_id, operation_id,
                         service_id, database_name, server_connection_id)
        # "the failure ... MUST have all fields besides [code, codeName, errorLabels] redacted".
        self._failure: Mapping[str, Any] = (
            {key: failure[key] for key in _KEPT_FAILURE_FIELDS if key in failure}
            if redacted
            else failure
        )

    @property
    def failure(self) -> Mapping[str, Any]:
        return self._failure

    def _repr_tail(self) -> str:
        return f", failure: {self.failure!r}"


class CommandListener(EventListener):
    """Base class of command listeners; override the methods you need."""

    def started(self, event: CommandStartedEvent) -> None:
        """A command started."""

    def succeeded(self, event: CommandSucceededEvent) -> None:
        """A command succeeded."""

    def failed(self, event: CommandFailedEvent) -> None:
        """A command failed."""


class CommandPublisher:
    """Delivers command events to listeners; a listener's exception is logged, not raised."""

    __slots__ = ("_listeners",)

    def __init__(self, listeners: Iterable[CommandListener] = ()) -> None:
        self._listeners = tuple(listeners)

    @property
    def enabled(self) -> bool:
        return bool(self._listeners)

    @property
    def listeners(self) -> tuple[CommandListener, ...]:
        return self._listeners

    # Delivered on the thread that runs the command, as the command monitoring spec's
    # events are ordered by it (started before succeeded/failed of the same request).
    def started(self, event: CommandStartedEvent) -> None:
        notify(self._listeners, CommandListener, "started", event, _LOG)

    def succeeded(self, event: CommandSucceededEvent) -> None:
        notify(self._listeners, CommandListener, "succeeded", event, _LOG)

    def failed(self, event: CommandFailedEvent) -> None:
        notify(self._listeners, CommandListener, "failed", event, _LOG)


__all__ = [
    "CommandFailedEvent",
    "CommandListener",
    "CommandPublisher",
    "CommandStartedEvent",
    "CommandSucceededEvent",
    "SENSITIVE_COMMANDS",
    "command_for_event",
    "is_sensitive",
]
