"""The BSON value types that have no exact Python built-in, with PyMongo's public names.

``Int64`` (an ``int`` that stays 64-bit on re-encoding), ``Binary``, ``Timestamp``, ``Regex``,
``Code``, ``MinKey``/``MaxKey``, ``DBRef``, ``DatetimeMS`` (a UTC datetime as
milliseconds, for dates Python's ``datetime`` cannot hold), ``SON`` (an ordered dict),
and the deprecated ``Symbol``, ``DBPointer`` and ``Undefined``, which the decoder keeps
as their own types so that re-encoding gives back the very same bytes.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Mapping
from typing import Any

from driver.bson.codec_options import (
    BINARY_SUBTYPE,
    UuidRepresentation,
    bytes_to_uuid,
    uuid_to_bytes,
)

#: The BSON integer ranges (int32, int64), for the encoders and the JSON reader.
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_UINT32_MAX = 0xFFFFFFFF

_EPOCH_NAIVE = datetime.datetime(1970, 1, 1)
#: Milliseconds of datetime.min / datetime.max since the epoch (the decodable range).
DATETIME_MS_MIN = -62135596800000
DATETIME_MS_MAX = 253402300799999


class Int64(int):
    """A 64-bit integer: encodes as BSON int64 even when the value would fit in int32."""

    __slots__ = ()

    def __new__(cls, value: Any = 0) -> Int64:
        result = super().__new__(cls, value)
        if not INT64_MIN <= result <= INT64_MAX:
            raise OverflowError(f"{int(result)} does not fit in a signed 64-bit integer")
        return result

    def __repr__(self) -> str:
        return f"Int64({int(self)})"

    def __getstate__(self) -> int:
        return int(self)


class Timestamp:
    """A MongoDB internal timestamp: ``time`` (seconds since the epoch) and ``inc`` (ordinal)."""

    __slots__ = ("_time", "_inc")

    def __init__(self, time: int | datetime.datetime, inc: int) -> None:
        if isinstance(time, datetime.datetime):
            offset = time.utcoffset()
            naive = time.replace(tzinfo=None) - offset if offset is not None else time
            time = int((naive - _EPOCH_NAIVE).total_seconds())
        if not isinstance(time, int) or isinstance(time, bool):
            raise TypeError(f"Timestamp time must be an int, not {type(time).__name__}")
        if not isinstance(inc, int) or isinstance(inc, bool):
            raise TypeError(f"Timestamp inc must be an int, not {type(inc).__name__}")
        if not 0 <= time <= _UINT32_MAX:
            raise ValueError(f"Timestamp time {time} is not an unsigned 32-bit integer")
        if not 0 <= inc <= _UINT32_MAX:
            raise ValueError(f"Timestamp inc {inc} is not an unsigned 32-bit integer")
        self._time = time
        self._inc = inc

    @property
    def time(self) -> int:
        return self._time

    @property
    def inc(self) -> int:
        return self._inc

    def as_datetime(self) -> datetime.datetime:
        """``time`` as an aware UTC datetime."""
        return datetime.datetime.fromtimestamp(self._time, datetime.UTC)

    def _key(self) -> tuple[int, int]:
        return self._time, self._inc

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Timestamp):
            return self._key() == other._key()
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Timestamp):
            return self._key() < other._key()
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, Timestamp):
            return self._key() <= other._key()
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, Timestamp):
            return self._key() > other._key()
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, Timestamp):
            return self._key() >= other._key()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Timestamp", self._time, self._inc))

    def __repr__(self) -> str:
        return f"Timestamp({self._time}, {self._inc})"


# Python re flags for the BSON option letters that have one; the others (e.g. 'l' for
# locale on old servers) are kept as letters but not applied by ``try_compile``.
_FLAG_LETTERS = {
    "i": re.IGNORECASE,
    "m": re.MULTILINE,
    "s": re.DOTALL,
    "u": re.UNICODE,
    "x": re.VERBOSE,
}


def _flags_to_letters(flags: int) -> str:
    return "".join(letter for letter, bit in _FLAG_LETTERS.items() if flags & bit)


class Regex:
    """A BSON regular expression: ``pattern`` and ``flags``, the option letters as a str.

    ``flags`` may also be given as Python ``re`` flags (an int). The letters are kept
    sorted, as the BSON spec stores them. ``try_compile()`` turns it into ``re.Pattern``.
    """

    __slots__ = ("pattern", "flags")

    def __init__(self, pattern: str | bytes, flags: str | int = "") -> None:
        if isinstance(pattern, bytes):
            pattern = pattern.decode("utf-8")
        if not isinstance(pattern, str):
            raise TypeError(f"Regex pattern must be str, not {type(pattern).__name__}")
        if isinstance(flags, int) and not isinstance(flags, bool):
            flags = _flags_to_letters(flags)
        if not isinstance(flags, str):
            raise TypeError(f"Regex flags must be str or int, not {type(flags).__name__}")
        self.pattern = pattern
        self.flags = "".join(sorted(flags))

    @classmethod
    def from_native(cls, regex: re.Pattern[Any]) -> Regex:
        """The BSON form of a compiled Python pattern."""
        pattern = regex.pattern
        if isinstance(pattern, bytes):
            pattern = pattern.decode("utf-8")
        # Python sets UNICODE implicitly on str patterns; keep only what was asked for.
        flags = regex.flags & ~re.UNICODE if isinstance(regex.pattern, str) else regex.flags
        return cls(pattern, _flags_to_letters(flags))

    def try_compile(self) -> re.Pattern[str]:
        """Compile with Python's ``re`` (which may reject MongoDB/PCRE syntax)."""
        flags = 0
        for letter in self.flags:
            flags |= _FLAG_LETTERS.get(letter, 0)
        return re.compile(self.pattern, flags)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Regex):
            return self.pattern == other.pattern and self.flags == other.flags
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Regex", self.pattern, self.flags))

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r}, {self.flags!r})"


class Code(str):
    """JavaScript code, with an optional ``scope`` document (BSON "code with scope")."""

    _scope: Mapping[str, Any] | None

    def __new__(cls, code: str | bytes, scope: Mapping[str, Any] | None = None) -> Code:
        if isinstance(code, bytes):
            code = code.decode("utf-8")
        if not isinstance(code, str):
            raise TypeError(f"Code must be str, not {type(code).__name__}")
        if scope is not None and not isinstance(scope, Mapping):
            raise TypeError(f"Code scope must be a mapping, not {type(scope).__name__}")
        if scope is None and isinstance(code, Code):
            scope = code.scope
        result = super().__new__(cls, code)
        result._scope = scope
        return result

    @property
    def scope(self) -> Mapping[str, Any] | None:
        return self._scope

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Code):
            return str(self) == str(other) and self._scope == other._scope
        return False

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"Code({str.__repr__(self)}, {self._scope!r})"


class Symbol(str):
    """The deprecated BSON symbol type; behaves as its text."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Symbol({str.__repr__(self)})"


class _Singleton:
    __slots__ = ()
    _name = ""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(self._name)

    def __repr__(self) -> str:
        return f"{self._name}()"


class MinKey(_Singleton):
    """Compares below every other BSON value."""

    __slots__ = ()
    _name = "MinKey"

    def __lt__(self, other: object) -> bool:
        return not isinstance(other, MinKey)

    def __le__(self, other: object) -> bool:
        return True

    def __gt__(self, other: object) -> bool:
        return False

    def __ge__(self, other: object) -> bool:
        return isinstance(other, MinKey)


class MaxKey(_Singleton):
    """Compares above every other BSON value."""

    __slots__ = ()
    _name = "MaxKey"

    def __lt__(self, other: object) -> bool:
        return False

    def __le__(self, other: object) -> bool:
        return isinstance(other, MaxKey)

    def __gt__(self, other: object) -> bool:
        return not isinstance(other, MaxKey)

    def __ge__(self, other: object) -> bool:
        return True


class Undefined(_Singleton):
    """The deprecated BSON undefined value (kept apart from ``None`` for exact round trips)."""

    __slots__ = ()
    _name = "Undefined"

    def __bool__(self) -> bool:
        return False


class DBRef:
    """A reference to a document: ``collection``, ``id``, optional ``database`` and extras."""

    __slots__ = ("_collection", "_id", "_database", "_kwargs")

    def __init__(
        self, collection: str, id: Any, database: str | None = None, **kwargs: Any
    ) -> None:
        if not isinstance(collection, str):
            raise TypeError(f"DBRef collection must be str, not {type(collection).__name__}")
        if database is not None and not isinstance(database, str):
            raise TypeError(f"DBRef database must be str, not {type(database).__name__}")
        self._collection = collection
        self._id = id
        self._database = database
        self._kwargs = kwargs

    @property
    def collection(self) -> str:
        return self._collection

    @property
    def id(self) -> Any:
        return self._id

    @property
    def database(self) -> str | None:
        return self._database

    @property
    def extra(self) -> dict[str, Any]:
        """The fields beyond ``$ref``, ``$id`` and ``$db``, in order."""
        return self._kwargs

    def __getattr__(self, name: str) -> Any:
        try:
            return self._kwargs[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_doc(self) -> dict[str, Any]:
        """The document form: ``$ref``, ``$id``, ``$db`` (when set), then the extras."""
        doc: dict[str, Any] = {"$ref": self._collection, "$id": self._id}
        if self._database is not None:
            doc["$db"] = self._database
        doc.update(self._kwargs)
        return doc

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBRef):
            return self.as_doc() == other.as_doc()
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._collection, repr(self._id), self._database))

    def __repr__(self) -> str:
        extra = "".join(f", {key}={value!r}" for key, value in self._kwargs.items())
        database = f", {self._database!r}" if self._database is not None else ""
        return f"DBRef({self._collection!r}, {self._id!r}{database}{extra})"


class DBPointer:
    """The deprecated BSON DBPointer: a ``namespace`` string and an ObjectId ``id``."""

    __slots__ = ("namespace", "id")

    def __init__(self, namespace: str, id: Any) -> None:
        self.namespace = namespace
        self.id = id

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBPointer):
            return self.namespace == other.namespace and self.id == other.id
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("DBPointer", self.namespace, self.id))

    def __repr__(self) -> str:
        return f"DBPointer({self.namespace!r}, {self.id!r})"


class Binary(bytes):
    """Bytes with a BSON binary ``subtype`` (0-255). Plain ``bytes`` encode as subtype 0."""

    _subtype: int

    def __new__(cls, data: bytes | bytearray | memoryview, subtype: int = BINARY_SUBTYPE) -> Binary:
        if not isinstance(subtype, int) or isinstance(subtype, bool):
            raise TypeError(f"Binary subtype must be an int, not {type(subtype).__name__}")
        if not 0 <= subtype <= 255:
            raise ValueError(f"Binary subtype {subtype} is not in 0..255")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"Binary data must be bytes-like, not {type(data).__name__}")
        result = super().__new__(cls, data)
        result._subtype = subtype
        return result

    @property
    def subtype(self) -> int:
        return self._subtype

    @classmethod
    def from_uuid(
        cls, value: uuid.UUID, uuid_representation: int = UuidRepresentation.STANDARD
    ) -> Binary:
        """The binary form of a UUID (subtype 4, or 3 for the legacy representations)."""
        if not isinstance(value, uuid.UUID):
            raise TypeError(f"from_uuid needs a uuid.UUID, not {type(value).__name__}")
        if uuid_representation == UuidRepresentation.UNSPECIFIED:
            raise ValueError("from_uuid needs a UUID representation other than UNSPECIFIED")
        payload, subtype = uuid_to_bytes(value, uuid_representation)
        return cls(payload, subtype)

    def as_uuid(self, uuid_representation: int = UuidRepresentation.STANDARD) -> uuid.UUID:
        """The UUID this value holds under ``uuid_representation``."""
        result = bytes_to_uuid(bytes(self), self._subtype, uuid_representation)
        if result is None:
            raise ValueError(
                f"this Binary (subtype {self._subtype}, {len(self)} bytes) is not a UUID "
                f"under {UuidRepresentation(uuid_representation).name}"
            )
        return result

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Binary):
            return self._subtype == other._subtype and bytes(self) == bytes(other)
        # Subtype 0 is what plain bytes decode from, so they compare equal to it.
        if isinstance(other, bytes) and self._subtype == BINARY_SUBTYPE:
            return bytes(self) == other
        return False

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((bytes(self), self._subtype))

    def __repr__(self) -> str:
        return f"Binary({bytes(self)!r}, {self._subtype})"

    def __getnewargs__(self) -> tuple[Any, ...]:
        return bytes(self), self._subtype


class DatetimeMS:
    """A BSON UTC datetime as whole milliseconds since the Unix epoch.

    The decoder returns one for dates outside ``datetime.datetime``'s years 1-9999,
    and a ``datetime`` for everything else.
    """

    __slots__ = ("_value",)

    def __init__(self, value: int | datetime.datetime) -> None:
        if isinstance(value, datetime.datetime):
            value = datetime_to_ms(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"DatetimeMS takes an int or a datetime, not {type(value).__name__}")
        if not INT64_MIN <= value <= INT64_MAX:
            raise OverflowError(f"{value} ms does not fit in a signed 64-bit integer")
        self._value = int(value)

    def as_datetime(self, tz_aware: bool = True) -> datetime.datetime:
        """The same instant as a datetime; raises ``OverflowError`` outside years 1-9999."""
        if not DATETIME_MS_MIN <= self._value <= DATETIME_MS_MAX:
            raise OverflowError(f"{self._value} ms is outside Python's datetime range")
        result = ms_to_datetime(self._value)
        return result.replace(tzinfo=datetime.UTC) if tz_aware else result

    def __int__(self) -> int:
        return self._value

    def __index__(self) -> int:
        return self._value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DatetimeMS):
            return self._value == other._value
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, DatetimeMS):
            return self._value < other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("DatetimeMS", self._value))

    def __repr__(self) -> str:
        return f"DatetimeMS({self._value})"


def datetime_to_ms(value: datetime.datetime) -> int:
    """Whole milliseconds since the epoch; naive datetimes are taken as UTC, and
    sub-millisecond digits are dropped (BSON datetimes have millisecond precision)."""
    offset = value.utcoffset()
    delta = value.replace(tzinfo=None) - _EPOCH_NAIVE
    if offset is not None:
        delta -= offset
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


def ms_to_datetime(ms: int) -> datetime.datetime:
    """A naive UTC datetime for ``ms``, which must be within ``DATETIME_MS_MIN..MAX``."""
    seconds, millis = divmod(ms, 1000)
    return _EPOCH_NAIVE + datetime.timedelta(0, seconds, millis * 1000)


class SON(dict[str, Any]):
    """An ordered document type (a ``dict``, which keeps insertion order), for PyMongo
    code that asks for ``SON`` by name."""

    def __repr__(self) -> str:
        return f"SON({list(self.items())!r})"

    def to_dict(self) -> dict[str, Any]:
        """A plain ``dict`` copy, with nested SONs converted too."""

        def convert(value: Any) -> Any:
            if isinstance(value, list):
                return [convert(item) for item in value]
            if isinstance(value, SON):
                return {key: convert(item) for key, item in value.items()}
            return value

        return {key: convert(value) for key, value in self.items()}
