"""Classifying errors the way the SDAM specification's "Error handling" section does.

"not writable primary" and "node is recovering" are recognised by numeric code when
the server gave one, and only otherwise by message ("Clients MUST fallback to checking
the error message if and only if the response does not include an error code").
Also: comparing topologyVersions ("topologyVersion Comparison"). Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driver.errors import (
    SYSTEM_OVERLOADED_ERROR,
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WaitQueueTimeoutError,
)

# SDAM spec, '"not writable primary" and "node is recovering"'.
RECOVERING_CODES = frozenset({11600, 11602, 13436, 189, 91})
NOT_WRITABLE_PRIMARY_CODES = frozenset({10107, 13435, 10058})
SHUTDOWN_CODES = frozenset({11600, 91})
# Server errors raised while authenticating (AuthenticationFailed and friends).
AUTH_ERROR_CODES = frozenset({18, 11, 13, 33, 334})


def error_code_and_message(error: BaseException) -> tuple[int | None, str]:
    """The server's code and message of a command / write-concern / not-primary error."""
    details: Any = None
    if isinstance(error, OperationFailure):
        details = error.details
        code = error.code
    elif isinstance(error, NotPrimaryError):
        details = error.details if isinstance(error.details, Mapping) else None
        code = None
    else:
        return None, str(error)
    if isinstance(details, Mapping):
        wce = details.get("writeConcernError")
        if code is None and isinstance(wce, Mapping):
            code = wce.get("code")
            return code, str(wce.get("errmsg", error))
        if code is None:
            code = details.get("code")
        message = details.get("errmsg", details.get("$err", str(error)))
        return code, str(message)
    return code, str(error)


def is_recovering(code: int | None, message: str) -> bool:
    if code is not None:
        return code in RECOVERING_CODES
    return "not master or secondary" in message or "node is recovering" in message


def is_not_writable_primary(code: int | None, message: str) -> bool:
    if code is not None:
        return code in NOT_WRITABLE_PRIMARY_CODES
    if is_recovering(None, message):
        return False
    return "not master" in message


def is_state_change_error(error: BaseException) -> bool:
    """A "not writable primary" or "node is recovering" error (a State Change Error)."""
    if not isinstance(error, (OperationFailure, NotPrimaryError)):
        return False
    code, message = error_code_and_message(error)
    return is_recovering(code, message) or is_not_writable_primary(code, message)


def is_shutdown_error(error: BaseException) -> bool:
    code, _ = error_code_and_message(error)
    return code is not None and code in SHUTDOWN_CODES


def is_network_timeout(error: BaseException) -> bool:
    return isinstance(error, NetworkTimeout)


def is_network_error(error: BaseException) -> bool:
    """A lost connection (not a timeout, not a server reply, not a pool/selection wait)."""
    if isinstance(error, (NetworkTimeout, NotPrimaryError, ServerSelectionTimeoutError,
                          WaitQueueTimeoutError)):
        return False
    return isinstance(error, (AutoReconnect, ConnectionFailure, OSError))


def is_backpressure_error(error: BaseException) -> bool:
    """An error the pool labelled ``SystemOverloadedError`` (a failed dial, TLS handshake
    or hello that may be the server shedding load): SDAM ignores it."""
    return isinstance(error, PyMongoError) and error.has_error_label(SYSTEM_OVERLOADED_ERROR)


def is_auth_error(error: BaseException) -> bool:
    return isinstance(error, OperationFailure) and error.code in AUTH_ERROR_CODES


def error_topology_version(error: BaseException) -> dict[str, Any] | None:
    """The ``topologyVersion`` a State Change Error's reply carried, if any."""
    details = getattr(error, "details", None)
    if isinstance(details, Mapping):
        tv = details.get("topologyVersion")
        if isinstance(tv, Mapping):
            return dict(tv)
    return None


def _process_id_key(value: Any) -> Any:
    binary = getattr(value, "binary", None)
    return binary if binary is not None else value


def compare_topology_versions(
    current: Mapping[str, Any] | None, incoming: Mapping[str, Any] | None
) -> int:
    """-1 when ``incoming`` is more recent than ``current``, 0 when equal, 1 when older.

    SDAM spec: an unset version on either side, or a different processId, means
    the incoming one "MUST" be assumed more recent; otherwise the counters decide.
    """
    if current is None or incoming is None:
        return -1
    if _process_id_key(current.get("processId")) != _process_id_key(incoming.get("processId")):
        return -1
    current_counter = int(current.get("counter", 0))
    incoming_counter = int(incoming.get("counter", 0))
    if current_counter == incoming_counter:
        return 0
    return 1 if current_counter > incoming_counter else -1


__all__ = [
    "NOT_WRITABLE_PRIMARY_CODES",
    "RECOVERING_CODES",
    "SHUTDOWN_CODES",
    "compare_topology_versions",
    "error_code_and_message",
    "error_topology_version",
    "is_auth_error",
    "is_backpressure_error",
    "is_network_error",
    "is_network_timeout",
    "is_not_writable_primary",
    "is_recovering",
    "is_shutdown_error",
    "is_state_change_error",
]
