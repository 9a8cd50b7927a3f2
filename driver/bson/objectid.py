"""``ObjectId``: MongoDB's 12-byte document identifier.

Layout (BSON spec and the ObjectId spec): a 4-byte big-endian creation time in seconds,
a 5-byte random value chosen once per process, and a 3-byte big-endian counter that
starts at a random value and wraps around.
"""

from __future__ import annotations

import binascii
import datetime
import os
import struct
import threading
import time
from typing import Any

from driver.errors import InvalidId

_BIG_ENDIAN_U32 = struct.Struct(">I")
_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


class ObjectId:
    """A 12-byte identifier; ``ObjectId()`` makes a new one, ``ObjectId("<24 hex>")`` parses."""

    __slots__ = ("_id",)

    _id: bytes

    _lock = threading.Lock()
    _counter = int.from_bytes(os.urandom(3), "big")
    _random = os.urandom(5)
    _random_pid = os.getpid()

    def __init__(self, oid: str | bytes | ObjectId | None = None) -> None:
        if oid is None:
            self._id = self._generate()
        elif isinstance(oid, ObjectId):
            self._id = oid._id
        elif isinstance(oid, bytes):
            if len(oid) != 12:
                raise InvalidId(f"an ObjectId needs exactly 12 bytes, got {len(oid)}: {oid!r}")
            self._id = bytes(oid)
        elif isinstance(oid, str):
            if len(oid) != 24:
                raise InvalidId(f"{oid!r} is not a valid ObjectId: it needs 24 hex digits")
            try:
                self._id = bytes.fromhex(oid)
            except ValueError:
                raise InvalidId(
                    f"{oid!r} is not a valid ObjectId: it needs 24 hex digits"
                ) from None
        else:
            raise TypeError(
                f"ObjectId takes a 24-digit hex str, 12 bytes or an ObjectId, not {type(oid).__name__}"
            )

    @classmethod
    def _generate(cls) -> bytes:
        with cls._lock:
            # A forked child must not repeat its parent's random part (ObjectId spec).
            if cls._random_pid != os.getpid():
                cls._random_pid = os.getpid()
                cls._random = os.urandom(5)
            cls._counter = (cls._counter + 1) & 0xFFFFFF
            counter = cls._counter
            random_part = cls._random
        seconds = int(time.time()) & 0xFFFFFFFF
        return _BIG_ENDIAN_U32.pack(seconds) + random_part + counter.to_bytes(3, "big")

    @classmethod
    def from_datetime(cls, generation_time: datetime.datetime) -> ObjectId:
        """An ObjectId whose time part is ``generation_time`` and whose other bytes are zero.

        Useful only for range queries on ``_id``; naive datetimes are taken as UTC.
        """
        if generation_time.tzinfo is None:
            generation_time = generation_time.replace(tzinfo=datetime.UTC)
        seconds = int((generation_time - _EPOCH_UTC).total_seconds())
        return cls(_BIG_ENDIAN_U32.pack(seconds & 0xFFFFFFFF) + b"\x00" * 8)

    @classmethod
    def is_valid(cls, oid: Any) -> bool:
        """True when ``ObjectId(oid)`` would succeed."""
        if not oid:
            return False
        try:
            cls(oid)
        except (InvalidId, TypeError):
            return False
        return True

    @property
    def binary(self) -> bytes:
        """The 12 raw bytes."""
        return self._id

    @property
    def generation_time(self) -> datetime.datetime:
        """The creation time stored in the first 4 bytes, as an aware UTC datetime."""
        seconds = _BIG_ENDIAN_U32.unpack_from(self._id)[0]
        return _EPOCH_UTC + datetime.timedelta(seconds=seconds)

    def __str__(self) -> str:
        return binascii.hexlify(self._id).decode("ascii")

    def __repr__(self) -> str:
        return f"ObjectId('{self}')"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ObjectId):
            return self._id == other._id
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, ObjectId):
            return self._id != other._id
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, ObjectId):
            return self._id < other._id
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, ObjectId):
            return self._id <= other._id
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, ObjectId):
            return self._id > other._id
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, ObjectId):
            return self._id >= other._id
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._id)

    def __getstate__(self) -> bytes:
        return self._id

    def __setstate__(self, state: bytes) -> None:
        self._id = state

    def __copy__(self) -> ObjectId:
        return self

    def __deepcopy__(self, memo: Any) -> ObjectId:
        return self


def objectid_from_bytes(raw: bytes) -> ObjectId:
    """The decoder's fast path: wrap 12 bytes already known to be the right size."""
    oid = object.__new__(ObjectId)
    oid._id = raw
    return oid
