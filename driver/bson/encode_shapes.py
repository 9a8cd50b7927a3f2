"""A faster encoding path for dicts and lists that repeat the same shape.

The encoder's general loop (``encoder._encode_elements``) pays, for every element, a
key-cache lookup, a chain of ``type(value) is ...`` tests and a list ``extend``; for
every sub-document or array it pays two more function calls and a join. Most data an
application writes repeats a few shapes (the same keys with the same value types in the
same order: a batch of inserts, the items of an array, a command), so for such a shape
this module generates, once, with ``exec``, a function that unpacks the values in one
step and builds the whole body in one ``bytes.join`` over a tuple whose constant parts
(type byte, element name, NUL, the next element's header) are merged at generation time.

A shape is the exact keys and the exact value types: ``("a", "b", str, int)`` for a dict, ``(str, str)`` for a list. Only exact ``dict``/``list`` containers, exact
``str`` keys without NUL, and the ten common value types (str, int, float, bool, None,
ObjectId, datetime, dict, list, Int64) are generated; subclasses, other types,
``check_keys=True`` and top-level documents whose ``_id`` is not first stay on the
general path, which also produces every error (a generated function raises only what
the general path raises at the same value: ``InvalidDocument`` for an int beyond 64
bits, ``UnicodeEncodeError`` for a lone surrogate, turned into ``InvalidStringData`` by
``encode``). A shape is generated the second time it is seen, so one-off documents cost
only the shape key; the tables are bounded.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Callable
from typing import Any

from driver.bson.objectid import ObjectId
from driver.bson.types import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, Int64
from driver.errors import InvalidDocument

_PACK_INT32 = struct.Struct("<i").pack
_PACK_INT64 = struct.Struct("<q").pack
_PACK_DOUBLE = struct.Struct("<d").pack


# int32 little-endian bytes of 0..1023, indexed instead of packed: most string lengths,
# sub-document sizes and small counters fall in it, and an index is cheaper than a call.
_SMALL_INT32 = tuple(_PACK_INT32(number) for number in range(1024))

_MAX_ELEMENTS = 200  # larger containers are rarely repeated; keep generated code small
_TABLE_LIMIT = 1024  # shapes (and sightings) kept per table before it starts over

#: A generated encoder: (the dict or list, its CodecOptions) → the document's bytes.
ShapeEncoder = Callable[[Any, Any], bytes]

# The BSON type byte of each value type a shape may hold.
_TYPE_BYTES: dict[type, int] = {
    str: 0x02,
    int: 0x10,  # or 0x12 when the value needs 64 bits (decided per value)
    float: 0x01,
    bool: 0x08,
    type(None): 0x0A,
    ObjectId: 0x07,
    datetime.datetime: 0x09,
    dict: 0x03,
    list: 0x04,
    Int64: 0x12,
}


def wide_int(value: int, header: bytes) -> tuple[bytes, bytes]:
    """The int64 header and value for an int outside int32, as the general path does."""
    if INT64_MIN <= value <= INT64_MAX:
        return header, _PACK_INT64(value)
    raise InvalidDocument(f"BSON integers are 64-bit at most; {value} is too large")


class ShapeTable:
    """The shapes seen at one kind of place (top-level documents, nested documents or
    arrays): key → generated encoder, or None for a shape the general path keeps."""

    __slots__ = ("encoders", "sightings", "array", "top_level")

    def __init__(self, array: bool, top_level: bool) -> None:
        self.encoders: dict[Any, ShapeEncoder | None] = {}
        self.sightings: dict[Any, int] = {}
        self.array = array
        self.top_level = top_level

    def learn(self, key: Any, names: tuple[Any, ...], types: tuple[type, ...]) -> None:
        """Count a sighting of ``key``; on the second, generate its encoder."""
        seen = self.sightings.get(key, 0)
        if not seen:
            if len(self.sightings) >= _TABLE_LIMIT:
                self.sightings.clear()
            self.sightings[key] = 1
            return
        if len(self.encoders) >= _TABLE_LIMIT:
            self.encoders.clear()
        self.encoders[key] = _generate(names, types, self.array, self.top_level)


def _headers_ok(names: tuple[Any, ...], types: tuple[type, ...], top_level: bool) -> bool:
    if len(types) > _MAX_ELEMENTS or any(kind not in _TYPE_BYTES for kind in types):
        return False
    for name in names:
        if type(name) is not str or "\x00" in name:
            return False  # the general path raises InvalidDocument for these
    # At the top level the general path writes ``_id`` first (as the server stores it).
    return not (top_level and "_id" in names[1:])


def _generate(
    names: tuple[Any, ...], types: tuple[type, ...], array: bool, top_level: bool
) -> ShapeEncoder | None:
    if array:
        names = tuple(str(index) for index in range(len(types)))
    if not _headers_ok(names, types, top_level):
        return None
    namespace: dict[str, Any] = {
        "join": b"".join,
        "pack32": _PACK_INT32,
        "small32": _SMALL_INT32,
        "pack64": _PACK_INT64,
        "pack_double": _PACK_DOUBLE,
        "wide_int": wide_int,
        "EPOCH": datetime.datetime(1970, 1, 1),
        "MS": datetime.timedelta(milliseconds=1),
    }
    lines = ["def encode_shape(container, opts):"]
    if types:
        values = ", ".join(f"v{index}" for index in range(len(types)))
        source = "container" if array else "container.values()"
        lines.append(f"    {values}, = {source}")
    # The document is one join: its length prefix first, then the pieces. The length is
    # added up before the join (constants and fixed-size values counted here, strings
    # and sub-documents by ``len``), so the body is never copied to prepend it.
    parts: list[str] = ["(small32[size] if size < 1024 else pack32(size))"]  # expressions of the document's pieces, in order
    pending = b""  # constant bytes not yet emitted (merged with the next constant)
    fixed = 5  # the length prefix and the closing NUL
    sized: list[str] = []  # expressions whose length is known only at run time

    def constant(data: bytes) -> None:
        nonlocal pending, fixed
        pending += data
        fixed += len(data)

    def expression(source: str, size: int | None = None) -> None:
        nonlocal pending, fixed
        if pending:
            namespace[f"c{len(parts)}"] = pending
            parts.append(f"c{len(parts)}")
            pending = b""
        parts.append(source)
        if size is None:
            sized.append(f"len({source})")
        else:
            fixed += size

    for index, (name, kind) in enumerate(zip(names, types, strict=True)):
        value = f"v{index}"
        header = bytes((_TYPE_BYTES[kind],)) + name.encode() + b"\x00"
        if kind is str:
            lines += [
                f"    e{index} = {value}.encode()",
                f"    n{index} = len(e{index}) + 1",
            ]
            constant(header)
            expression(f"(small32[n{index}] if n{index} < 1024 else pack32(n{index}))", 4)
            expression(f"e{index}")
            constant(b"\x00")
        elif kind is int:
            namespace[f"narrow{index}"] = header
            namespace[f"wide{index}"] = b"\x12" + header[1:]
            lines += [
                f"    if {INT32_MIN} <= {value} <= {INT32_MAX}:",
                f"        h{index} = narrow{index}",
                f"        p{index} = small32[{value}] if 0 <= {value} < 1024 "
                f"else pack32({value})",
                "    else:",
                f"        h{index}, p{index} = wide_int({value}, wide{index})",
            ]
            expression(f"h{index}", len(header))
            expression(f"p{index}")
        else:
            constant(header)
            if kind is float:
                expression(f"pack_double({value})", 8)
            elif kind is bool:
                expression(f"(b'\\x01' if {value} else b'\\x00')", 1)
            elif kind is ObjectId:
                expression(f"{value}._id", 12)
            elif kind is datetime.datetime:
                # timedelta // timedelta floors, as BSON's millisecond precision needs.
                expression(
                    f"pack64(({value} - EPOCH) // MS if {value}.tzinfo is None "
                    f"else datetime_ms({value}))",
                    8,
                )
            elif kind is Int64:
                expression(f"pack64({value})", 8)
            elif kind is dict:
                # The sub-document's own generated encoder, looked up inline (one call
                # less per sub-document); unknown shapes go through the general entry,
                # which learns them.
                lines += [
                    f"    sub = nested_encoders.get((*{value}, *map(type, {value}.values())))",
                    f"    p{index} = encode_document({value}, False, opts, False) if sub is None "
                    f"else sub({value}, opts)",
                ]
                expression(f"p{index}")
            elif kind is list:
                lines += [
                    f"    sub = array_encoders.get(tuple(map(type, {value})))",
                    f"    p{index} = encode_array({value}, False, opts) if sub is None "
                    f"else sub({value}, opts)",
                ]
                expression(f"p{index}")
            # None: the header alone.
    namespace[f"c{len(parts)}"] = pending + b"\x00"
    parts.append(f"c{len(parts)}")
    lines.append(f"    size = {' + '.join([str(fixed), *sized])}")
    lines.append(f"    return join(({', '.join(parts)},))")
    namespace.update(_ENCODER_HOOKS)
    namespace["nested_encoders"] = NESTED_SHAPES.encoders  # cleared in place, never replaced
    namespace["array_encoders"] = ARRAY_SHAPES.encoders
    # The source holds only generated names and literals; the element names are bytes
    # constants in the namespace, never pasted into the source.
    exec("\n".join(lines), namespace)
    encoder: ShapeEncoder = namespace["encode_shape"]
    return encoder


# The general encoder's functions the generated code calls (encoder.py hands them over
# once, since it imports this module).
_ENCODER_HOOKS: dict[str, Any] = {}


def install_general_encoder(
    encode_document: Callable[..., bytes],
    encode_array: Callable[..., bytes],
    datetime_ms: Callable[[datetime.datetime], int],
) -> None:
    """Called once by encoder.py with its document, array and aware-datetime encoders."""
    _ENCODER_HOOKS.update(
        encode_document=encode_document, encode_array=encode_array, datetime_ms=datetime_ms
    )


TOP_LEVEL_SHAPES = ShapeTable(array=False, top_level=True)
NESTED_SHAPES = ShapeTable(array=False, top_level=False)
ARRAY_SHAPES = ShapeTable(array=True, top_level=False)
