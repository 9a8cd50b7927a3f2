"""Server-side command errors with MongoDB's real codes, code names and error labels.

A handler raises :class:`CommandError`; the connection layer turns it into the reply document a real
``mongod`` sends: ``{ok: 0, errmsg, code, codeName, errorLabels?, ...extra}``.
"""

from __future__ import annotations

from typing import Any

# Code -> codeName, as the server spells them (src/mongo/base/error_codes.yml).
CODE_NAMES: dict[int, str] = {
    1: "InternalError",
    2: "BadValue",
    4: "NoSuchKey",
    8: "UnknownError",
    9: "FailedToParse",
    11: "UserNotFound",
    13: "Unauthorized",
    14: "TypeMismatch",
    17: "ProtocolError",
    18: "AuthenticationFailed",
    20: "IllegalOperation",
    26: "NamespaceNotFound",
    27: "IndexNotFound",
    40: "ConflictingUpdateOperators",
    43: "CursorNotFound",
    48: "NamespaceExists",
    50: "MaxTimeMSExpired",
    51: "DuplicateKeyValue",
    59: "CommandNotFound",
    66: "ImmutableField",
    67: "CannotCreateIndex",
    72: "InvalidOptions",
    73: "InvalidNamespace",
    85: "IndexOptionsConflict",
    86: "IndexKeySpecsConflict",
    89: "NetworkTimeout",
    91: "ShutdownInProgress",
    96: "OperationFailed",
    112: "WriteConflict",
    115: "CommandNotSupported",
    121: "DocumentValidationFailure",
    166: "CommandNotSupportedOnView",
    189: "PrimarySteppedDown",
    262: "ExceededTimeLimit",
    263: "OperationNotSupportedInTransaction",
    352: "UnsupportedOpQueryCommand",
    11000: "DuplicateKey",
    13113: "MergeStageNoMatchingDocument",
    11600: "InterruptedAtShutdown",
    11601: "Interrupted",
    11602: "InterruptedDueToReplStateChange",
    10107: "NotWritablePrimary",
    10334: "BSONObjectTooLarge",
    13435: "NotPrimaryNoSecondaryOk",
    13436: "NotPrimaryOrSecondary",
    51003: "Location51003",
}

# Codes a real server marks as retryable for a retryable write ("RetryableWriteError" label):
# the "not primary" and "shutting down" families plus network-ish timeouts.
RETRYABLE_WRITE_CODES = frozenset({6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436})

# Named codes used by the handlers.
BAD_VALUE = 2
USER_NOT_FOUND = 11
UNAUTHORIZED = 13
TYPE_MISMATCH = 14
AUTHENTICATION_FAILED = 18
ILLEGAL_OPERATION = 20
NAMESPACE_NOT_FOUND = 26
INDEX_NOT_FOUND = 27
CURSOR_NOT_FOUND = 43
NAMESPACE_EXISTS = 48
MAX_TIME_MS_EXPIRED = 50
COMMAND_NOT_FOUND = 59
INVALID_OPTIONS = 72
INVALID_NAMESPACE = 73
COMMAND_NOT_SUPPORTED_ON_VIEW = 166
DUPLICATE_KEY = 11000
INTERRUPTED = 11601
INTERRUPTED_AT_SHUTDOWN = 11600
NOT_WRITABLE_PRIMARY = 10107
BSON_OBJECT_TOO_LARGE = 10334
NOT_PRIMARY_NO_SECONDARY_OK = 13435
NOT_PRIMARY_OR_SECONDARY = 13436
OPERATION_FAILED = 96


class CommandError(Exception):
    """A failed command: becomes ``{ok: 0, errmsg, code, codeName}`` on the wire."""

    def __init__(
        self,
        code: int,
        errmsg: str,
        *,
        labels: tuple[str, ...] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(errmsg)
        self.code = code
        self.errmsg = errmsg
        self.labels = list(labels)
        self.extra = dict(extra or {})

    @property
    def code_name(self) -> str:
        return CODE_NAMES.get(self.code, f"Location{self.code}")

    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"ok": 0.0, "errmsg": self.errmsg, "code": self.code,
                               "codeName": self.code_name}
        doc.update(self.extra)
        if self.labels:
            doc["errorLabels"] = list(self.labels)
        return doc

    def write_error(self, index: int) -> dict[str, Any]:
        """The entry of a ``writeErrors`` array for the operation at ``index`` of a batch."""
        doc: dict[str, Any] = {"index": index, "code": self.code, "codeName": self.code_name,
                               "errmsg": self.errmsg}
        doc.update(self.extra)
        return doc


def bad_value(message: str) -> CommandError:
    return CommandError(BAD_VALUE, message)


def type_mismatch(field: str, expected: str, value: Any) -> CommandError:
    return CommandError(
        TYPE_MISMATCH,
        f"BSON field '{field}' is the wrong type '{type(value).__name__}', expected type '{expected}'",
    )
