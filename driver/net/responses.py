"""Turning a command's reply document into the right exception.

``ok: 1`` replies pass. ``ok: 0`` becomes, by code: ``NotPrimaryError`` for the
"not writable primary" and "node is recovering" family (which the topology must see,
SDAM spec "error handling"), ``ExecutionTimeout`` (50), ``CursorNotFound`` (43),
``DuplicateKeyError`` (11000 family) and ``OperationFailure`` otherwise, always with
``code`` and the whole reply as ``details``. Write errors and write-concern errors in
an ``ok: 1`` reply are left to the write operations that know how to report them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driver.errors import (
    CursorNotFound,
    DuplicateKeyError,
    ExecutionTimeout,
    NotPrimaryError,
    OperationFailure,
)

# SDAM spec, "not writable primary" and "node is recovering" error codes.
NOT_WRITABLE_PRIMARY_CODES = frozenset({10107, 13435, 10058})
NODE_IS_RECOVERING_CODES = frozenset({11600, 11602, 13436, 189, 91})
NOT_PRIMARY_CODES = NOT_WRITABLE_PRIMARY_CODES | NODE_IS_RECOVERING_CODES
SHUTDOWN_CODES = frozenset({11600, 91})
DUPLICATE_KEY_CODES = frozenset({11000, 11001, 12582})
CURSOR_NOT_FOUND = 43
MAX_TIME_MS_EXPIRED = 50


def _is_ok(value: Any) -> bool:
    try:
        return bool(value) and float(value) == 1.0
    except (TypeError, ValueError):
        return value is True


def is_not_primary(code: int | None, message: str) -> bool:
    """True for the errors that tell SDAM the server is no longer (or not yet) primary."""
    if code is not None:
        return code in NOT_PRIMARY_CODES
    # "Clients MUST fall back to string matching" when the reply has no code.
    return "not master" in message or "node is recovering" in message


def check_command_response(
    reply: Mapping[str, Any], max_wire_version: int | None = None
) -> None:
    """Raise the fitting ``OperationFailure`` subclass when ``reply`` says ``ok: 0``."""
    if _is_ok(reply.get("ok")):
        return
    message = reply.get("errmsg") or reply.get("$err")  # "$err": legacy OP_REPLY failures
    if not isinstance(message, str) or not message:
        message = "command failed without an error message"
    raw_code = reply.get("code")
    code = int(raw_code) if isinstance(raw_code, int | float) else None
    details = dict(reply)
    if is_not_primary(code, message):
        raise NotPrimaryError(message, details)
    if code == MAX_TIME_MS_EXPIRED:
        raise ExecutionTimeout(message, code, details, max_wire_version)
    if code == CURSOR_NOT_FOUND:
        raise CursorNotFound(message, code, details, max_wire_version)
    if code in DUPLICATE_KEY_CODES:
        raise DuplicateKeyError(message, code, details, max_wire_version)
    raise OperationFailure(message, code, details, max_wire_version)
