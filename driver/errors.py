"""The driver's single error hierarchy.

The names and the parent/child relations are the ones PyMongo documents, so code
written against PyMongo catches the same things here::

    PyMongoError (alias DriverError)
    ├── BSONError
    │   ├── InvalidBSON            bytes that are not valid BSON (carries the byte offset)
    │   ├── InvalidDocument        a document that cannot be encoded
    │   │   └── DocumentTooLarge
    │   ├── InvalidStringData
    │   └── InvalidId
    ├── ProtocolError              a malformed wire-protocol reply
    ├── ConnectionFailure
    │   ├── AutoReconnect
    │   │   ├── NetworkTimeout
    │   │   ├── NotPrimaryError
    │   │   └── ServerSelectionTimeoutError
    │   └── WaitQueueTimeoutError
    ├── ConfigurationError
    │   └── InvalidURI
    ├── OperationFailure           a command the server refused (code, details)
    │   ├── CursorNotFound
    │   ├── ExecutionTimeout
    │   ├── WriteConcernError
    │   ├── WriteError
    │   │   └── DuplicateKeyError
    │   └── BulkWriteError
    ├── InvalidOperation
    ├── InvalidName
    └── CollectionInvalid

Nothing here does I/O; every layer of the driver imports from this module only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Error labels of the backpressure rules (CMAP spec, "Backpressure-enabled"): a pool puts
#: both on a network error or timeout of a new connection's dial, TLS handshake or hello.
SYSTEM_OVERLOADED_ERROR = "SystemOverloadedError"
RETRYABLE_ERROR = "RetryableError"


class PyMongoError(Exception):
    """Base class of every error the driver raises on purpose."""

    #: Set by the connection layer on a network error or timeout of the dial, the TLS
    #: handshake or the hello of a new connection (not on DNS, certificate or
    #: authentication failures): the errors a pool labels as a sign of server overload.
    _overload_candidate = False

    def __init__(self, message: str = "", error_labels: Iterable[str] | None = None) -> None:
        super().__init__(message)
        self._message = message
        # Labels come from server replies too: only strings in a list count, so a reply
        # whose errorLabels has another shape cannot turn into a TypeError here.
        if not isinstance(error_labels, list | tuple | set | frozenset):
            error_labels = ()
        self._error_labels: set[str] = {label for label in error_labels
                                        if isinstance(label, str)}

    def has_error_label(self, label: str) -> bool:
        """True when the server or the driver attached ``label`` to this error."""
        return label in self._error_labels

    def _add_error_label(self, label: str) -> None:
        self._error_labels.add(label)

    def _remove_error_label(self, label: str) -> None:
        self._error_labels.discard(label)

    @property
    def timeout(self) -> bool:
        """True when this error was caused by a timeout."""
        return False


#: Our own name for the root of the hierarchy; the same class as ``PyMongoError``.
DriverError = PyMongoError


# --- BSON -------------------------------------------------------------------------------------


class BSONError(PyMongoError):
    """Base class of the BSON codec's errors."""


class InvalidBSON(BSONError):
    """The bytes are not valid BSON; ``offset`` is where decoding stopped, when known."""

    def __init__(self, message: str = "", offset: int | None = None) -> None:
        if offset is not None and "offset" not in message:
            message = f"{message} (at byte offset {offset})"
        super().__init__(message)
        self.offset = offset


class InvalidDocument(BSONError):
    """A document that cannot be encoded (bad key, unsupported type, too deep...)."""


class DocumentTooLarge(InvalidDocument):
    """An encoded document is larger than the server accepts."""


class InvalidStringData(BSONError):
    """A string that cannot be encoded as BSON's UTF-8."""


class InvalidId(BSONError):
    """An ObjectId built from something that is not 12 bytes or 24 hex digits."""


# --- Network and protocol ---------------------------------------------------------------------


class ProtocolError(PyMongoError):
    """The server sent something that does not follow the wire protocol."""


class ConnectionFailure(PyMongoError):
    """A connection to the database could not be made or was lost."""


class AutoReconnect(ConnectionFailure):
    """A connection was lost; the operation may succeed if tried again.

    ``errors`` holds the underlying per-server errors when there are several.
    """

    def __init__(
        self,
        message: str = "",
        errors: Any = None,
        error_labels: Iterable[str] | None = None,
    ) -> None:
        if error_labels is None and isinstance(errors, Mapping):
            error_labels = errors.get("errorLabels", ())
        super().__init__(message, error_labels)
        self.errors = self.details = errors if errors is not None else []


class NetworkTimeout(AutoReconnect):
    """A socket operation timed out (``connectTimeoutMS``/``socketTimeoutMS``)."""

    @property
    def timeout(self) -> bool:
        return True


class NotPrimaryError(AutoReconnect):
    """The server answered "not primary" or "node is recovering"."""


class ServerSelectionTimeoutError(AutoReconnect):
    """No server matched the selector within ``serverSelectionTimeoutMS``."""

    @property
    def timeout(self) -> bool:
        return True


class WaitQueueTimeoutError(ConnectionFailure):
    """A pool checkout waited longer than ``waitQueueTimeoutMS``."""

    @property
    def timeout(self) -> bool:
        return True


# --- Configuration ----------------------------------------------------------------------------


class ConfigurationError(PyMongoError):
    """The client was configured with something it cannot use."""


class InvalidURI(ConfigurationError):
    """A connection string that cannot be parsed."""


# --- Server-side failures ---------------------------------------------------------------------


class OperationFailure(PyMongoError):
    """The server refused a command; ``code`` and ``details`` hold what it said."""

    def __init__(
        self,
        error: str,
        code: int | None = None,
        details: Mapping[str, Any] | None = None,
        max_wire_version: int | None = None,
    ) -> None:
        labels = details.get("errorLabels") if details else None
        super().__init__(error, labels)
        self._code = code
        self._details = details
        self._max_wire_version = max_wire_version

    @property
    def code(self) -> int | None:
        """The server's numeric error code, when it gave one."""
        return self._code

    @property
    def details(self) -> Mapping[str, Any] | None:
        """The server's whole error document."""
        return self._details

    @property
    def code_name(self) -> str | None:
        """The server's ``codeName`` (``DuplicateKey``, ``NotWritablePrimary``...)."""
        if self._details:
            name = self._details.get("codeName")
            return name if isinstance(name, str) else None
        return None

    def __str__(self) -> str:
        base = super().__str__()
        if self._code is not None and f"code {self._code}" not in base:
            base = f"{base}, full error: code {self._code}"
            if self.code_name:
                base += f" ({self.code_name})"
        return base


class CursorNotFound(OperationFailure):
    """The server no longer knows the cursor (killed, timed out, or the server restarted)."""


class ExecutionTimeout(OperationFailure):
    """The operation exceeded ``maxTimeMS`` (code 50, MaxTimeMSExpired)."""

    @property
    def timeout(self) -> bool:
        return True


class WriteConcernError(OperationFailure):
    """The write happened but the write concern could not be satisfied."""


class WriteError(OperationFailure):
    """One write of an operation failed."""


class DuplicateKeyError(WriteError):
    """A write violated a unique index (code 11000)."""


class BulkWriteError(OperationFailure):
    """A bulk write had errors; ``details`` holds the full result with ``writeErrors``."""

    def __init__(self, results: Mapping[str, Any]) -> None:
        super().__init__(
            "the bulk write had errors: see details['writeErrors'] and "
            "details['writeConcernErrors']", 65, results)

    def __reduce__(self) -> tuple[Any, Any]:
        return self.__class__, (self.details,)


# --- Client-side misuse -----------------------------------------------------------------------


class InvalidOperation(PyMongoError):
    """The call makes no sense in the current state (closed cursor, unacknowledged result...)."""


class InvalidName(PyMongoError):
    """A database or collection name the server would refuse."""


class CollectionInvalid(PyMongoError):
    """A collection operation failed validation on the client."""


__all__ = [
    "AutoReconnect",
    "BSONError",
    "BulkWriteError",
    "CollectionInvalid",
    "ConfigurationError",
    "ConnectionFailure",
    "CursorNotFound",
    "DocumentTooLarge",
    "DriverError",
    "DuplicateKeyError",
    "ExecutionTimeout",
    "InvalidBSON",
    "InvalidDocument",
    "InvalidId",
    "InvalidName",
    "InvalidOperation",
    "InvalidStringData",
    "InvalidURI",
    "NetworkTimeout",
    "NotPrimaryError",
    "OperationFailure",
    "ProtocolError",
    "PyMongoError",
    "RETRYABLE_ERROR",
    "SYSTEM_OVERLOADED_ERROR",
    "ServerSelectionTimeoutError",
    "WaitQueueTimeoutError",
    "WriteConcernError",
    "WriteError",
]
