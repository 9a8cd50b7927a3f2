"""One level of a BSON document or array at a time, straight from its bytes.

``ElementIndex.scan(data)`` (or ``scan_in_steps`` for a scan spread over many
event-loop turns) records where each element of a document (or array) starts,
in an ``array('q')``: no Python object per element, so scanning a 250,000-element array
allocates almost nothing the garbage collector must visit (a full collection over
hundreds of thousands of fresh objects is what would freeze the GUI thread, even when
the decoding itself runs on another thread). ``index.key(i)`` and ``index.value(i)``
decode one element on demand; embedded documents come back as ``RawBSONDocument`` and
arrays as ``RawArray``, both still bytes, so expanding a field decodes only its level.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Generator
from typing import Any

from driver.bson import DEFAULT_RAW_BSON_OPTIONS, RawBSONDocument, decode
from driver.errors import InvalidBSON

LONG_STRING_BYTES = 64 * 1024  # longer strings are decoded only when asked for
_INT32 = struct.Struct("<i")
_UNPACK_INT32 = _INT32.unpack_from
# Element type -> fixed value size in bytes (the variable-size types are handled below).
_FIXED_SIZE = {1: 8, 6: 0, 7: 12, 8: 1, 9: 8, 10: 0, 16: 4, 17: 8, 18: 8, 19: 16, 0x7F: 0, 0xFF: 0}
_STRING_LIKE = frozenset({2, 13, 14})  # int32 length, bytes, NUL
_LENGTH_PREFIXED = frozenset({3, 4, 15})  # int32 total length including itself


class RawArray:
    """A BSON array kept as bytes: a window ``data[start:stop]`` onto its parent's bytes,
    so opening a 10 MB array inside a document copies nothing."""

    __slots__ = ("data", "start", "stop")

    def __init__(self, data: bytes, start: int = 0, stop: int | None = None) -> None:
        self.data = data
        self.start = start
        self.stop = len(data) if stop is None else stop

    @property
    def raw(self) -> bytes:
        """The array document's own bytes (a copy when it is a window)."""
        if self.start == 0 and self.stop == len(self.data):
            return self.data
        return self.data[self.start : self.stop]

    @property
    def size(self) -> int:
        return self.stop - self.start

    def to_list(self) -> list[Any]:
        """The decoded elements (embedded documents as dicts)."""
        return list(decode(self.raw).values())

    def __len__(self) -> int:
        return len(ElementIndex.scan(self.data, self.start, self.stop))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawArray) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"RawArray({self.size} bytes)"


class LongString:
    """A string too long to decode just to show its first line: decoded on request."""

    __slots__ = ("data", "start", "stop")

    def __init__(self, data: bytes, start: int, stop: int) -> None:
        self.data = data
        self.start = start
        self.stop = stop

    @property
    def size(self) -> int:
        """Length in UTF-8 bytes."""
        return self.stop - self.start

    def preview(self, characters: int) -> str:
        head = self.data[self.start : min(self.stop, self.start + 4 * characters)]
        return head.decode("utf-8", "ignore")[:characters]

    def value(self) -> str:
        return self.data[self.start : self.stop].decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"LongString({self.size} bytes)"


def raw_size(value: Any) -> int:
    """Bytes of a raw container (``RawBSONDocument`` or ``RawArray``)."""
    return value.size if isinstance(value, RawArray) else len(value.raw)


def full_value(value: Any) -> Any:
    """``value`` with lazy stand-ins resolved (``LongString`` -> str, ``RawArray`` -> list)."""
    if isinstance(value, LongString):
        return value.value()
    if isinstance(value, RawArray):
        return value.to_list()
    return value


def _value_size(data: bytes, kind: int, pos: int) -> int:
    fixed = _FIXED_SIZE.get(kind)
    if fixed is not None:
        return fixed
    if kind in _STRING_LIKE:
        return 4 + int(_UNPACK_INT32(data, pos)[0])
    if kind in _LENGTH_PREFIXED:
        return int(_UNPACK_INT32(data, pos)[0])
    if kind == 5:  # binary: int32 length, subtype byte, bytes
        return 5 + int(_UNPACK_INT32(data, pos)[0])
    if kind == 11:  # regex: two C strings
        first = data.index(0, pos)
        return data.index(0, first + 1) + 1 - pos
    if kind == 12:  # DBPointer: string then ObjectId
        return 4 + int(_UNPACK_INT32(data, pos)[0]) + 12
    raise InvalidBSON(f"unknown BSON element type 0x{kind:02x}", pos)


class ElementIndex:
    """Where each element of one BSON document starts (see the module docstring)."""

    __slots__ = ("data", "starts")

    def __init__(self, data: bytes, starts: array[int]) -> None:
        self.data = data
        self.starts = starts  # len(elements) + 1 offsets: the last is the final NUL's

    @classmethod
    def scan(cls, data: bytes, start: int = 0, stop: int | None = None) -> ElementIndex:
        """Scan the document ``data[start:stop]`` at once."""
        steps = cls.scan_in_steps(data, start, stop, chunk=1 << 62)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    @classmethod
    def for_value(cls, value: Any) -> ElementIndex:
        """The index of a ``RawBSONDocument`` or ``RawArray``."""
        if isinstance(value, RawArray):
            return cls.scan(value.data, value.start, value.stop)
        return cls.scan(value.raw)

    @classmethod
    def steps_for_value(cls, value: Any, chunk: int) -> Generator[None, None, ElementIndex]:
        if isinstance(value, RawArray):
            return cls.scan_in_steps(value.data, value.start, value.stop, chunk)
        return cls.scan_in_steps(value.raw, 0, None, chunk)

    @classmethod
    def scan_in_steps(
        cls, data: bytes, start: int = 0, stop: int | None = None, chunk: int = 2000
    ) -> Generator[None, None, ElementIndex]:
        """Scan the document ``data[start:stop]``, yielding after every ``chunk`` elements
        so a caller on the GUI thread can spread a long scan over several event-loop
        turns; returns the index."""
        stop = len(data) if stop is None else stop
        if stop - start < 5 or _UNPACK_INT32(data, start)[0] != stop - start or data[stop - 1]:
            raise InvalidBSON("not a complete BSON document", start)
        end = stop - 1
        starts = array("q")
        append = starts.append
        find_nul = data.index
        value_size = _value_size
        pos = start + 4
        budget = chunk
        try:
            while pos < end:
                append(pos)
                kind = data[pos]
                value_start = find_nul(0, pos + 1) + 1
                pos = value_start + value_size(data, kind, value_start)
                budget -= 1
                if not budget:
                    budget = chunk
                    yield
        except (ValueError, struct.error) as exc:
            raise InvalidBSON(f"malformed element at offset {pos}: {exc}", pos) from None
        if pos != end:
            raise InvalidBSON(f"elements run past the document end ({pos} != {end})", pos)
        append(end)
        return cls(data, starts)

    def __len__(self) -> int:
        return len(self.starts) - 1

    def key(self, row: int) -> str:
        start = self.starts[row]
        return self.data[start + 1 : self.data.index(0, start + 1)].decode("utf-8", "replace")

    def value(self, row: int) -> Any:
        """The element's value; documents and arrays stay raw (``RawBSONDocument``, ``RawArray``)."""
        data = self.data
        start = self.starts[row]
        stop = self.starts[row + 1]
        kind = data[start]
        value_start = data.index(0, start + 1) + 1
        if kind == 3:
            return RawBSONDocument(data[value_start:stop])
        if kind == 4:
            return RawArray(data, value_start, stop)
        if kind == 2 and stop - value_start > LONG_STRING_BYTES:
            return LongString(data, value_start + 4, stop - 1)
        # Any other element: decode it as the only field of a tiny document.
        element = data[start:stop]
        single = _INT32.pack(len(element) + 5) + element + b"\x00"
        document = decode(single, DEFAULT_RAW_BSON_OPTIONS)
        return next(iter(document.values()))

    def head(self, count: int) -> dict[str, Any]:
        """The first ``count`` elements decoded, for a one-line summary."""
        return {self.key(row): self.value(row) for row in range(min(count, len(self)))}


def id_element(raw: bytes) -> bytes | None:
    """The ``_id`` element's bytes (type, name and value) of a document: two documents
    have the same ``_id`` exactly when these bytes are equal."""
    index = ElementIndex.scan(raw)
    for position in range(len(index)):
        if index.key(position) == "_id":
            return raw[index.starts[position] : index.starts[position + 1]]
    return None
