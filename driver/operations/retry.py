"""Which errors allow one more attempt (retryable reads and writes).

From the Retryable Writes and Retryable Reads specifications:

* Network errors (``ConnectionFailure`` other than a pool wait-queue timeout) are
  retryable; for writes the driver adds the ``RetryableWriteError`` label itself.
* Command errors with one of the codes below are retryable for reads. For writes,
  "when receiving a command result with an error from a 4.4+ server ... the driver MUST
  NOT add a RetryableWriteError label ... since the server will have already added that
  label if the error is retryable"; for older servers the driver applies the code list.
* A write is retried at most once, after a fresh server selection, with the same
  ``txnNumber``; "if the retry attempt fails with an error labeled NoWritesPerformed,
  drivers MUST return the original error".
* Retryable writes need an acknowledged write concern, a server that supports sessions
  (``logicalSessionTimeoutMinutes``) and is not a standalone.
"""

from __future__ import annotations

from typing import Any

from driver.errors import (
    ConnectionFailure,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WaitQueueTimeoutError,
    WriteConcernError,
)

RETRYABLE_WRITE_ERROR = "RetryableWriteError"
NO_WRITES_PERFORMED = "NoWritesPerformed"

#: HostUnreachable, HostNotFound, NetworkTimeout, ShutdownInProgress, PrimarySteppedDown,
#: ExceededTimeLimit, SocketException, NotWritablePrimary, InterruptedAtShutdown,
#: InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary.
RETRYABLE_CODES = frozenset({6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436})
#: Reads may also retry ReadConcernMajorityNotAvailableYet.
RETRYABLE_READ_CODES = RETRYABLE_CODES | {134}

#: The first wire version (MongoDB 4.4) whose servers label retryable write errors.
LABELLING_WIRE_VERSION = 9


def is_network_error(error: BaseException) -> bool:
    """A lost or timed-out connection (not a selection or wait-queue timeout, and not a
    "not primary" reply, which is an ``AutoReconnect`` carrying a server code)."""
    return isinstance(error, ConnectionFailure) and not isinstance(
        error, (ServerSelectionTimeoutError, WaitQueueTimeoutError, NotPrimaryError)
    )


def _code_of(error: BaseException) -> int | None:
    if isinstance(error, OperationFailure):
        return error.code
    details = getattr(error, "details", None)
    if isinstance(details, dict):
        code = details.get("code")
        return code if isinstance(code, int) else None
    return None


def is_retryable_read_error(error: BaseException) -> bool:
    """May a read that failed with ``error`` be tried once more?"""
    if is_network_error(error):
        return True
    if isinstance(error, NotPrimaryError):
        return True
    return _code_of(error) in RETRYABLE_READ_CODES


def label_retryable_write_error(error: PyMongoError, max_wire_version: int | None) -> None:
    """Add ``RetryableWriteError`` where the driver (not the server) must decide."""
    if is_network_error(error):
        error._add_error_label(RETRYABLE_WRITE_ERROR)
        return
    if max_wire_version is not None and max_wire_version >= LABELLING_WIRE_VERSION:
        return
    code = _code_of(error)
    if isinstance(error, WriteConcernError) or isinstance(error, OperationFailure):
        if code in RETRYABLE_CODES:
            error._add_error_label(RETRYABLE_WRITE_ERROR)
        return
    if isinstance(error, NotPrimaryError) and code in RETRYABLE_CODES:
        error._add_error_label(RETRYABLE_WRITE_ERROR)


def is_retryable_write_error(error: BaseException) -> bool:
    return isinstance(error, PyMongoError) and error.has_error_label(RETRYABLE_WRITE_ERROR)


def retryable_write_concern_error(reply: dict[str, Any], max_wire_version: int | None) -> bool:
    """Is the ``writeConcernError`` of an ok:1 reply one to retry?"""
    labels = reply.get("errorLabels") or ()
    if RETRYABLE_WRITE_ERROR in labels:
        return True
    if max_wire_version is not None and max_wire_version >= LABELLING_WIRE_VERSION:
        return False
    concern_error = reply.get("writeConcernError") or {}
    return concern_error.get("code") in RETRYABLE_CODES


__all__ = [
    "NO_WRITES_PERFORMED",
    "RETRYABLE_CODES",
    "RETRYABLE_READ_CODES",
    "RETRYABLE_WRITE_ERROR",
    "is_network_error",
    "is_retryable_read_error",
    "is_retryable_write_error",
    "label_retryable_write_error",
    "retryable_write_concern_error",
]
