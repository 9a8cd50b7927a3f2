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
from driver.bson.types import Int64
from driver.errors import InvalidDocument

_PACK_INT32 = struct.Struct("<i").pack
_PACK_INT64 = struct.Struct("<q").pack
_PACK_DOUBLE = struct.Struct("<d").pack

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

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
    if _INT64_MIN <= value <= _INT64_MAX:
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
    parts: list[str] = []  # expressions of the body's pieces, in order
    pending = b""  # constant bytes not yet emitted (merged with the next constant)

    def constant(data: bytes) -> None:
        nonlocal pending
        pending += data

    def expression(source: str) -> None:
        nonlocal pending
        if pending:
            namespace[f"c{len(parts)}"] = pending
            parts.append(f"c{len(parts)}")
            pending = b""
        parts.append(source)

    for index, (name, kind) in enumerate(zip(names, types, strict=True)):
        value = f"v{index}"
        header = bytes((_TYPE_BYTES[kind],)) + name.encode() + b"\x00"
        if kind is str:
            lines.append(f"    e{index} = {value}.encode()")
            constant(header)
            expression(f"pack32(len(e{index}) + 1)")
            expression(f"e{index}")
            constant(b"\x00")
        elif kind is int:
            namespace[f"narrow{index}"] = header
            namespace[f"wide{index}"] = b"\x12" + header[1:]
            lines += [
                f"    if {_INT32_MIN} <= {value} <= {_INT32_MAX}:",
                f"        h{index} = narrow{index}",
                f"        p{index} = pack32({value})",
                "    else:",
                f"        h{index}, p{index} = wide_int({value}, wide{index})",
            ]
            expression(f"h{index}")
            expression(f"p{index}")
        else:
            constant(header)
            if kind is float:
                expression(f"pack_double({value})")
            elif kind is bool:
                expression(f"(b'\\x01' if {value} else b'\\x00')")
            elif kind is ObjectId:
                expression(f"{value}._id")
            elif kind is datetime.datetime:
                # timedelta // timedelta floors, as BSON's millisecond precision needs.
                expression(
                    f"pack64(({value} - EPOCH) // MS if {value}.tzinfo is None "
                    f"else datetime_ms({value}))"
                )
            elif kind is Int64:
                expression(f"pack64({value})")
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
    if pending:
        namespace[f"c{len(parts)}"] = pending
        parts.append(f"c{len(parts)}")
    body = f"join(({', '.join(parts)},))" if parts else "b''"
    lines += [f"    body = {body}", "    return pack32(len(body) + 5) + body + b'\\x00'"]
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
