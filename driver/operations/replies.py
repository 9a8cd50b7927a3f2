"""Typed reading of server replies: every field the driver reads from a reply goes
through one of these helpers, so a reply of the wrong shape becomes a ``ProtocolError``
that names the field, what was expected and what came, never a bare ``KeyError``,
``TypeError`` or ``ValueError`` from deep inside the driver.

The server is trusted to follow the protocol, but a proxy, a buggy mongod-compatible
server or a corrupted connection may not; a user must see which reply field was wrong.

``where`` names the reply for the message ("find reply", "hello reply"...); field names
are dotted paths (``cursor.firstBatch``) so a message points at the exact element.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driver.errors import ProtocolError

#: What ``_describe`` prints for a missing field.
_MISSING = object()


def _describe(value: Any) -> str:
    if value is _MISSING:
        return "nothing (the field is missing)"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def bad_field(where: str, name: str, expected: str, got: Any) -> ProtocolError:
    """The error for field ``name`` of reply ``where`` that is not ``expected``."""
    return ProtocolError(
        f"malformed {where}: field '{name}' should be {expected}, got {_describe(got)}"
    )


def _is_number(value: Any) -> bool:
    # Counts and ids are BSON int32, int64 or double; bool is an int subclass, but a
    # boolean (or a Decimal128) where a count belongs is a wrong shape.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def require_document(reply: Any, name: str, where: str) -> Mapping[str, Any]:
    """``reply[name]``, which must be present and a document."""
    value = reply.get(name, _MISSING) if isinstance(reply, Mapping) else _MISSING
    if not isinstance(value, Mapping):
        raise bad_field(where, name, "a document", value)
    return value


def optional_document(reply: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any] | None:
    """``reply[name]`` when present (a document), else ``None``."""
    value = reply.get(name)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise bad_field(where, name, "a document", value)
    return value


def require_list(reply: Mapping[str, Any], name: str, where: str) -> list[Any]:
    """``reply[name]``, which must be present and an array."""
    value = reply.get(name, _MISSING)
    if not isinstance(value, list):
        raise bad_field(where, name, "an array", value)
    return value


def optional_list(reply: Mapping[str, Any], name: str, where: str) -> list[Any]:
    """``reply[name]`` as a list; a missing (or null) field is an empty one."""
    value = reply.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_field(where, name, "an array", value)
    return value


def document_list(reply: Mapping[str, Any], name: str, where: str,
                  *, required: bool = False) -> list[Mapping[str, Any]]:
    """``reply[name]``, an array whose every element is a document."""
    values = require_list(reply, name, where) if required else optional_list(reply, name, where)
    for index, value in enumerate(values):
        if not isinstance(value, Mapping):
            raise bad_field(where, f"{name}.{index}", "a document", value)
    return values


def optional_int(reply: Mapping[str, Any], name: str, where: str, default: int = 0) -> int:
    """``reply[name]`` as an ``int`` (BSON int32, int64 or an integral double)."""
    value = reply.get(name)
    if value is None:
        return default
    if not _is_number(value):
        raise bad_field(where, name, "a number", value)
    try:
        number = int(value)
    except (ValueError, OverflowError, TypeError):  # NaN, infinity
        raise bad_field(where, name, "a finite number", value) from None
    return number


def require_int(reply: Mapping[str, Any], name: str, where: str) -> int:
    """``reply[name]``, which must be present and a number."""
    if reply.get(name) is None:
        raise bad_field(where, name, "a number", reply.get(name, _MISSING))
    return optional_int(reply, name, where)


def optional_str(reply: Mapping[str, Any], name: str, where: str) -> str | None:
    """``reply[name]`` when present (a string), else ``None``."""
    value = reply.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_field(where, name, "a string", value)
    return value


def require_str(reply: Mapping[str, Any], name: str, where: str) -> str:
    """``reply[name]``, which must be present and a string (a listing entry's name)."""
    value = optional_str(reply, name, where)
    if value is None:
        raise bad_field(where, name, "a string", reply.get(name, _MISSING))
    return value


def optional_bytes(reply: Mapping[str, Any], name: str, where: str) -> bytes:
    """``reply[name]`` as ``bytes`` (BSON binary); missing is empty."""
    value = reply.get(name)
    if value is None:
        return b""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise bad_field(where, name, "binary data", value)
    return bytes(value)


def cursor_document(reply: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """The ``cursor`` sub-document of a command's reply, its shape checked: ``id`` a
    number, ``ns`` a string when present, ``firstBatch``/``nextBatch`` arrays of
    documents. Returned as given (the batch list is not copied)."""
    cursor = require_document(reply, "cursor", where)
    cursor_id(cursor, where)
    namespace = cursor.get("ns")
    if namespace is not None and not isinstance(namespace, str):
        raise bad_field(where, "cursor.ns", "a string", namespace)
    for batch_name in ("firstBatch", "nextBatch"):
        cursor_batch(cursor, batch_name, where)
    return cursor


def cursor_batch(cursor: Mapping[str, Any], name: str, where: str) -> list[Any]:
    """``cursor[name]`` (``firstBatch`` or ``nextBatch``), an array; missing is empty."""
    value = cursor.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_field(where, f"cursor.{name}", "an array", value)
    return value


def cursor_id(cursor: Mapping[str, Any], where: str) -> int:
    """``cursor.id`` as an ``int``."""
    value = cursor.get("id", _MISSING)
    if not _is_number(value):
        raise bad_field(where, "cursor.id", "a number", value)
    try:
        return int(value)
    except (ValueError, OverflowError, TypeError):
        raise bad_field(where, "cursor.id", "a finite number", value) from None


__all__ = [
    "bad_field",
    "cursor_batch",
    "cursor_document",
    "cursor_id",
    "document_list",
    "optional_bytes",
    "optional_document",
    "optional_int",
    "optional_list",
    "optional_str",
    "require_document",
    "require_int",
    "require_list",
]
