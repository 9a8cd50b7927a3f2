"""The command registry, the per-command context and helpers shared by the handlers.

A handler is a function of a :class:`Context` that returns the reply: a ``dict`` (encoded with
PyMongo's ``bson``), ready ``bytes`` (the cursor fast path), or an awaitable of either (``hello``
that waits for a topology change). Handlers raise :class:`~sandbox.errors.CommandError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sandbox.errors import BAD_VALUE, INVALID_NAMESPACE, CommandError, type_mismatch
from sandbox.state import ClusterState, ConnectionState, Member
from sandbox.store import DataStore
from sandbox.wire import Request

Reply = dict[str, Any] | bytes
Handler = Callable[["Context"], Reply | Awaitable[Reply]]

# Kinds decide the checks made before a handler runs:
#   open  - allowed before authentication (hello, ping, sasl*)
#   read  - a secondary refuses it unless the client allowed secondary reads
#   write - only a primary (or a standalone / router) runs it
#   admin - anything else
OPEN, READ, WRITE, ADMIN = "open", "read", "write", "admin"


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    kind: str
    counter: str = "command"  # the serverStatus opcounter it moves


COMMANDS: dict[str, Command] = {}


def command(*names: str, kind: str = ADMIN, counter: str = "command") -> Callable[[Handler], Handler]:
    """Register a handler under one or more command names (names are case-sensitive)."""

    def register(handler: Handler) -> Handler:
        for name in names:
            COMMANDS[name] = Command(name, handler, kind, counter)
        return handler

    return register


@dataclass
class Context:
    """What a handler sees: the cluster, the member it runs on, the connection and the command."""

    cluster: ClusterState
    member: Member
    conn: ConnectionState
    db: str
    body: dict[str, Any]
    request: Request
    name: str

    @property
    def store(self) -> DataStore:
        return self.cluster.store

    @property
    def argument(self) -> Any:
        return self.body[self.name]

    def collection_name(self) -> str:
        value = self.body[self.name]
        if not isinstance(value, str):
            raise type_mismatch(self.name, "string", value)
        if not value or "$" in value or "\x00" in value:
            raise CommandError(INVALID_NAMESPACE, f"Invalid collection name: {value!r}")
        return value

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.collection_name()}"

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default)

    def get_doc(self, key: str, default: dict[str, Any] | None = None) -> dict[str, Any]:
        value = self.body.get(key, default if default is not None else {})
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise type_mismatch(f"{self.name}.{key}", "object", value)
        return value

    def get_int(self, key: str, default: int = 0) -> int:
        value = self.body.get(key, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise type_mismatch(f"{self.name}.{key}", "int", value)
        return int(value)

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self.body.get(key, default)
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return bool(value)
        raise type_mismatch(f"{self.name}.{key}", "bool", value)


def ok(**fields: Any) -> dict[str, Any]:
    reply = dict(fields)
    reply["ok"] = 1.0
    return reply


def require(condition: bool, message: str, code: int = BAD_VALUE) -> None:
    if not condition:
        raise CommandError(code, message)
