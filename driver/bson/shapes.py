"""A faster decoding path for documents that repeat the same shape.

Most BSON a client reads comes in runs of documents with the same field names and
types in the same order (a query batch, the items of an array, the sub-document at
one place of every document). For such a *shape* (the sequence of element headers:
type byte, name, NUL) this module generates a decoding function once, with ``exec``,
that checks each expected header with ``bytes.startswith`` and reads the value with the
type already known, then builds the dict in one display with constant keys. That skips
finding, slicing and decoding every element name and dispatching on its type byte,
which is most of the per-element work of the general loop in ``decoder.py``.

Safety: a generated function never guesses. If any header differs, a length does not
fit, a byte is wrong or Python raises on the way, it gives up (returns None) and the
general decoder decodes the document from scratch, producing exactly what it always
produces, errors with offsets included. A header match is exact (type byte, whole name,
NUL), so a match reads the same elements the general loop would. Shapes are learnt
from documents the general decoder has just accepted, under a small budget per place,
so documents that never repeat cost only a failed ``startswith`` and rare rescans.

Only the default-like options use this path (``dict`` documents, naive datetimes in
``DATETIME_AUTO`` mode, strict UTF-8); documents whose first name is ``$ref`` (possible
DBRefs) and types outside the common ten are left to the general decoder.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Callable
from typing import Any

from driver.bson.codec_options import CodecOptions
from driver.bson.objectid import ObjectId
from driver.bson.types import DATETIME_MS_MAX, DATETIME_MS_MIN, DatetimeMS, Int64

_UNPACK_INT32 = struct.Struct("<i").unpack_from
_UNPACK_INT64 = struct.Struct("<q").unpack_from
_UNPACK_DOUBLE = struct.Struct("<d").unpack_from

# The exceptions a generated function may hit on malformed input; it then gives up.
_GIVE_UP = (IndexError, ValueError, struct.error)

# How many shapes one place may learn before it must earn more by decoding documents
# (one more every _MISSES_PER_BUDGET documents the current shape did not fit).
_INITIAL_BUDGET = 8
_MISSES_PER_BUDGET = 256
_COMPILED_LIMIT = 512
_MAX_ELEMENTS = 200  # larger documents are rarely uniform; keep generated code small

# Element types a shape may contain, with the number of bytes their value occupies
# (None: read from a 4-byte length prefix).
_FIXED_SIZES = {1: 8, 7: 12, 8: 1, 9: 8, 10: 0, 16: 4, 18: 8}
_PREFIXED = {2, 3, 4}

DocumentDecoder = Callable[[bytes, int, int], Any]


class Slot:
    """One place documents are decoded at (the top level, or element N of a shape):
    the shape expected there and the budget for learning new ones."""

    __slots__ = ("shape", "budget", "misses", "elements")

    def __init__(self) -> None:
        self.shape: Shape | None = None
        self.budget = _INITIAL_BUDGET
        self.misses = 0
        # For an array of documents: the place its documents are decoded at.
        self.elements: Slot | None = None


class Shape:
    """The generated decoder for one sequence of element headers."""

    __slots__ = ("decode", "slots")

    def __init__(self, decode: DocumentDecoder, slots: list[Slot]) -> None:
        self.decode = decode
        self.slots = slots


# (is an array, headers) → the compiled shape, shared by every place it fits.
_COMPILED: dict[tuple[bool, tuple[bytes, ...]], Shape] = {}


def _signature(data: bytes, pos: int, end: int, array: bool) -> tuple[bytes, ...] | None:
    """The element headers of the (already validated) document or array, or None when
    it holds a type this module leaves to the general decoder."""
    headers = []
    find_nul = data.index
    while pos < end:
        element_type = data[pos]
        key_end = find_nul(0, pos + 1)
        headers.append(data[pos : key_end + 1])
        pos = key_end + 1
        if element_type in _PREFIXED:
            size = _UNPACK_INT32(data, pos)[0]
            pos += size + 4 if element_type == 2 else size
        elif element_type in _FIXED_SIZES:
            pos += _FIXED_SIZES[element_type]
        else:
            return None
        if len(headers) > _MAX_ELEMENTS:
            return None
    if not array and headers and headers[0][1:] == b"$ref\x00":
        return None  # may be a DBRef: left to the general decoder
    return tuple(headers)


def _value_source(index: int, element_type: int) -> list[str]:
    """Source lines reading element ``index``'s value into ``v{index}``."""
    value = f"v{index}"
    if element_type == 2:
        return [
            "size = unpack_int32(data, pos)[0]",
            "stop = pos + 3 + size",
            "if size < 1 or stop > end or data[stop]:",
            "    return None",
            f"{value} = data[pos + 4 : stop].decode()",
            "pos = stop + 1",
        ]
    if element_type in (3, 4):
        function = "decode_document" if element_type == 3 else "decode_array"
        return [
            "size = unpack_int32(data, pos)[0]",
            "stop = pos + size - 1",
            "if size < 5 or stop > end or data[stop]:",
            "    return None",
            f"{value} = {function}(data, pos + 4, stop, slots[{index}])",
            "pos = stop + 1",
        ]
    if element_type == 16:
        return [f"{value} = unpack_int32(data, pos)[0]", "pos += 4"]
    if element_type == 1:
        return [f"{value} = unpack_double(data, pos)[0]", "pos += 8"]
    if element_type == 7:
        return [
            f"{value} = new_object(ObjectId)",
            f"{value}._id = data[pos : pos + 12]",
            "pos += 12",
        ]
    if element_type == 8:
        return [
            "byte = data[pos]",
            "if byte > 1:",
            "    return None",
            f"{value} = byte == 1",
            "pos += 1",
        ]
    if element_type == 9:
        return [
            "millis = unpack_int64(data, pos)[0]",
            "if millis < MS_MIN or millis > MS_MAX:",
            f"    {value} = DatetimeMS(millis)",
            "else:",
            f"    {value} = EPOCH + timedelta(0, 0, millis * 1000)",
            "pos += 8",
        ]
    if element_type == 18:
        return [f"{value} = int_new(Int64, unpack_int64(data, pos)[0])", "pos += 8"]
    assert element_type == 10
    return [f"{value} = None"]


def _compile(headers: tuple[bytes, ...], array: bool) -> Shape:
    slots = [Slot() for _ in headers]
    lines = ["def decode_shape(data, pos, end):", "    startswith = data.startswith"]
    entries = []
    for index, header in enumerate(headers):
        lines.append(f"    if not startswith({header!r}, pos):")
        lines.append("        return None")
        lines.append(f"    pos += {len(header)}")
        lines.extend("    " + line for line in _value_source(index, header[0]))
        entries.append(f"v{index}" if array else f"{header[1:-1].decode()!r}: v{index}")
    lines.append("    if pos != end:")
    lines.append("        return None")
    if array:
        lines.append("    return [" + ", ".join(entries) + "]")
    else:
        lines.append("    return {" + ", ".join(entries) + "}")
    namespace: dict[str, Any] = {
        "unpack_int32": _UNPACK_INT32,
        "unpack_int64": _UNPACK_INT64,
        "unpack_double": _UNPACK_DOUBLE,
        "new_object": object.__new__,
        "int_new": int.__new__,
        "ObjectId": ObjectId,
        "Int64": Int64,
        "DatetimeMS": DatetimeMS,
        "EPOCH": datetime.datetime(1970, 1, 1),
        "timedelta": datetime.timedelta,
        "MS_MIN": DATETIME_MS_MIN,
        "MS_MAX": DATETIME_MS_MAX,
        "decode_document": decode_document,
        "decode_array": decode_array,
        "slots": slots,
    }
    # The source holds only literals made with repr() of checked header bytes and names.
    exec("\n".join(lines), namespace)
    return Shape(namespace["decode_shape"], slots)


def _learn(slot: Slot, data: bytes, start: int, end: int, array: bool) -> None:
    if slot.budget <= 0:
        slot.misses += 1
        if slot.misses >= _MISSES_PER_BUDGET:
            slot.misses = 0
            slot.budget = 1
        return
    headers = _signature(data, start, end, array)
    if headers is None:
        slot.budget -= 1
        return
    shape = _COMPILED.get((array, headers))
    if shape is None:
        slot.budget -= 1
        if len(_COMPILED) >= _COMPILED_LIMIT:
            _COMPILED.clear()
        shape = _COMPILED[array, headers] = _compile(headers, array)
    slot.shape = shape


# The general decoder's element loop and DBRef check, handed over by decoder.py (which
# imports this module, so it cannot be imported from here at load time).
_general_elements: Callable[[bytes, int, int, CodecOptions, bool], Any]
_as_dbref: Callable[[Any], Any]


def install_general_decoder(
    elements: Callable[[bytes, int, int, CodecOptions, bool], Any],
    as_dbref: Callable[[Any], Any],
) -> None:
    """Called once by decoder.py with its ``_decode_elements`` and ``_as_dbref``."""
    global _general_elements, _as_dbref
    _general_elements = elements
    _as_dbref = as_dbref


def _general(data: bytes, start: int, end: int, array: bool) -> Any:
    return _general_elements(data, start, end, _PLAIN_OPTIONS, array)


def decode_top_level(data: bytes, start: int, end: int, slot: Slot) -> Any:
    """The document whose elements run from ``start`` to its final NUL at ``end``."""
    shape = slot.shape
    if shape is not None:
        try:
            result = shape.decode(data, start, end)
        except (*_GIVE_UP, RecursionError):  # this path needs more stack per level
            result = None
        if result is not None:
            return result
    result = _general(data, start, end, False)
    _learn(slot, data, start, end, False)
    return result


def decode_document(data: bytes, start: int, end: int, slot: Slot) -> Any:
    """An embedded document (which the general decoder may turn into a DBRef)."""
    shape = slot.shape
    if shape is not None:
        try:
            result = shape.decode(data, start, end)
        except _GIVE_UP:
            result = None
        if result is not None:
            return result
    result = _general(data, start, end, False)
    if "$ref" in result:
        return _as_dbref(result)
    _learn(slot, data, start, end, False)
    return result


def decode_array(data: bytes, start: int, end: int, slot: Slot) -> Any:
    """An array: by its own shape when it has a fixed one, else (for an array of
    documents) with one shared place for its documents, else by the general decoder."""
    shape = slot.shape
    if shape is not None:
        try:
            result = shape.decode(data, start, end)
        except _GIVE_UP:
            result = None
        if result is not None:
            return result
    if start < end and data[start] == 3:
        elements = slot.elements
        if elements is None:
            elements = slot.elements = Slot()
        documents = _documents(data, start, end, elements)
        if documents is not None:
            return documents
    result = _general(data, start, end, True)
    _learn(slot, data, start, end, True)
    return result


def _documents(data: bytes, start: int, end: int, slot: Slot) -> list[Any] | None:
    """An array made only of documents, each decoded at ``slot``; None otherwise."""
    items: list[Any] = []
    append = items.append
    pos = start
    find_nul = data.index
    while pos < end:
        if data[pos] != 3:
            return None
        pos = find_nul(0, pos + 1) + 1
        size = _UNPACK_INT32(data, pos)[0]
        stop = pos + size - 1
        if size < 5 or stop > end or data[stop]:
            return None  # the general decoder then raises, with the offset
        append(decode_document(data, pos + 4, stop, slot))
        pos = stop + 1
    return items if pos == end else None


_PLAIN_OPTIONS = CodecOptions()
#: Where top-level documents are decoded by decode and decode_iter (each decode_all call
#: gives its batch a Slot of its own).
TOP_LEVEL = Slot()
