"""``CodecOptions``: how BSON values become Python values and back, and the UUID
representations it refers to.

- ``document_class``: the mapping type documents decode to (``dict`` by default; ``SON``,
  ``RawBSONDocument`` or any ``MutableMapping`` subclass whose ``__init__`` takes no
  argument).
- ``tz_aware``: decoded datetimes are aware (UTC, or ``tzinfo`` when given) instead of
  naive UTC.
- ``uuid_representation``: UUIDs are stored as binary subtype 4 (the standard) or, by
  older drivers, as subtype 3 with a driver-specific byte order. This says which one to
  read and write; the default, ``UNSPECIFIED``, reads both as ``Binary`` and refuses to
  encode a ``uuid.UUID`` until the application chooses (as the UUID spec requires, so
  that data written by an old driver is never misread silently).
- ``unicode_decode_error_handler``: the ``bytes.decode`` error handler for strings
  ("strict" turns bad UTF-8 into ``InvalidBSON``; "replace" shows it as U+FFFD).
- ``datetime_conversion``: ``DATETIME_AUTO`` (our default) gives ``datetime`` inside
  years 1-9999 and ``DatetimeMS`` outside, so every stored date can be shown and
  re-encoded exactly; ``DATETIME_MS`` always gives ``DatetimeMS``; ``DATETIME`` (PyMongo's
  default) refuses dates outside the range with ``InvalidBSON``; ``DATETIME_CLAMP``
  clamps them to ``datetime.min``/``datetime.max``.
"""

from __future__ import annotations

import codecs
import datetime
import enum
import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any

from driver.errors import InvalidDocument

BINARY_SUBTYPE = 0
FUNCTION_SUBTYPE = 1
OLD_BINARY_SUBTYPE = 2
OLD_UUID_SUBTYPE = 3
UUID_SUBTYPE = 4
MD5_SUBTYPE = 5
ENCRYPTED_SUBTYPE = 6
COLUMN_SUBTYPE = 7
SENSITIVE_SUBTYPE = 8
VECTOR_SUBTYPE = 9
USER_DEFINED_SUBTYPE = 128


class UuidRepresentation(enum.IntEnum):
    """How ``uuid.UUID`` values are stored (the numbers are PyMongo's)."""

    UNSPECIFIED = 0
    PYTHON_LEGACY = 3
    STANDARD = 4
    JAVA_LEGACY = 5
    CSHARP_LEGACY = 6


def _java_order(raw: bytes) -> bytes:
    # The Java driver wrote each 8-byte half of the UUID in reverse byte order.
    return raw[7::-1] + raw[15:7:-1]


def uuid_to_bytes(value: uuid.UUID, representation: int) -> tuple[bytes, int]:
    """The (payload, subtype) a UUID is stored as under ``representation``."""
    if representation == UuidRepresentation.STANDARD:
        return value.bytes, UUID_SUBTYPE
    if representation == UuidRepresentation.PYTHON_LEGACY:
        return value.bytes, OLD_UUID_SUBTYPE
    if representation == UuidRepresentation.JAVA_LEGACY:
        return _java_order(value.bytes), OLD_UUID_SUBTYPE
    if representation == UuidRepresentation.CSHARP_LEGACY:
        return value.bytes_le, OLD_UUID_SUBTYPE
    raise InvalidDocument(
        "cannot encode a uuid.UUID with uuid_representation=UNSPECIFIED: pass "
        "CodecOptions(uuid_representation=UuidRepresentation.STANDARD) (or a legacy "
        "representation), or wrap the value in Binary.from_uuid(value)"
    )


def bytes_to_uuid(raw: bytes, subtype: int, representation: int) -> uuid.UUID | None:
    """The UUID stored in ``raw`` under ``representation``, or None when it is not one."""
    if len(raw) != 16:
        return None
    if subtype == UUID_SUBTYPE:
        if representation == UuidRepresentation.STANDARD:
            return uuid.UUID(bytes=raw)
        return None
    if subtype == OLD_UUID_SUBTYPE:
        if representation == UuidRepresentation.PYTHON_LEGACY:
            return uuid.UUID(bytes=raw)
        if representation == UuidRepresentation.JAVA_LEGACY:
            return uuid.UUID(bytes=_java_order(raw))
        if representation == UuidRepresentation.CSHARP_LEGACY:
            return uuid.UUID(bytes_le=raw)
    return None


class DatetimeConversion(enum.IntEnum):
    """What the decoder returns for BSON datetimes (PyMongo's names and numbers)."""

    DATETIME = 1
    DATETIME_AUTO = 2
    DATETIME_MS = 3
    DATETIME_CLAMP = 4


@dataclass(frozen=True, slots=True)
class CodecOptions:
    """Immutable decoding/encoding options; ``with_options(**changes)`` makes a variant."""

    document_class: type[Any] = dict
    tz_aware: bool = False
    uuid_representation: int = UuidRepresentation.UNSPECIFIED
    unicode_decode_error_handler: str = "strict"
    tzinfo: datetime.tzinfo | None = None
    datetime_conversion: int = DatetimeConversion.DATETIME_AUTO
    _is_raw: bool = field(default=False, init=False, repr=False, compare=False)
    # The decoder's fast path: naive UTC datetimes for in-range values.
    _naive_datetimes: bool = field(default=True, init=False, repr=False, compare=False)
    # Decodes exactly as the default options do (so the shapes.py fast path applies).
    _plain: bool = field(default=True, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        document_class = self.document_class
        if not isinstance(document_class, type):
            raise TypeError(f"document_class must be a class, not {document_class!r}")
        # RawBSONDocument (and subclasses) say so with a class marker; checking the marker
        # keeps this module free of an import cycle with raw.py.
        is_raw = bool(getattr(document_class, "_raw_bson_document", False))
        if not (is_raw or issubclass(document_class, MutableMapping) or document_class is dict):
            raise TypeError(
                "document_class must be dict, SON, RawBSONDocument or a MutableMapping "
                f"subclass, not {document_class.__name__}"
            )
        object.__setattr__(self, "_is_raw", is_raw)
        if not isinstance(self.tz_aware, bool):
            raise TypeError(f"tz_aware must be True or False, not {self.tz_aware!r}")
        try:
            object.__setattr__(
                self, "uuid_representation", UuidRepresentation(self.uuid_representation)
            )
        except ValueError:
            raise ValueError(
                f"uuid_representation {self.uuid_representation!r} is not one of "
                f"{[member.name for member in UuidRepresentation]}"
            ) from None
        if not isinstance(self.unicode_decode_error_handler, str):
            raise TypeError("unicode_decode_error_handler must be a str")
        try:
            codecs.lookup_error(self.unicode_decode_error_handler)
        except LookupError:
            raise ValueError(
                f"unknown unicode_decode_error_handler {self.unicode_decode_error_handler!r}"
            ) from None
        if self.tzinfo is not None:
            if not isinstance(self.tzinfo, datetime.tzinfo):
                raise TypeError(f"tzinfo must be a datetime.tzinfo, not {self.tzinfo!r}")
            if not self.tz_aware:
                raise ValueError("tzinfo can only be given together with tz_aware=True")
        try:
            object.__setattr__(
                self, "datetime_conversion", DatetimeConversion(self.datetime_conversion)
            )
        except ValueError:
            raise ValueError(
                f"datetime_conversion {self.datetime_conversion!r} is not one of "
                f"{[member.name for member in DatetimeConversion]}"
            ) from None

        object.__setattr__(
            self,
            "_naive_datetimes",
            not self.tz_aware and self.datetime_conversion != DatetimeConversion.DATETIME_MS,
        )
        object.__setattr__(
            self,
            "_plain",
            document_class is dict
            and not self.tz_aware
            and self.uuid_representation == UuidRepresentation.UNSPECIFIED
            and self.unicode_decode_error_handler == "strict"
            and self.datetime_conversion == DatetimeConversion.DATETIME_AUTO,
        )

    def with_options(self, **changes: Any) -> CodecOptions:
        """A copy with ``changes`` applied (validated like the constructor)."""
        return replace(self, **changes)


DEFAULT_CODEC_OPTIONS = CodecOptions()
