"""A faster decoding path for documents that repeat the same shape.

Most BSON a client reads comes in runs of documents with the same field names and
types in the same order (a query batch, the items of an array, the sub-document at
one place of every document). For such a *shape* (the sequence of element headers:
type byte, name, NUL) this module generates a decoding function once, with ``exec``,
that checks the expected headers and reads the values with their types already known
(a run of fixed-size elements costs one ``struct`` unpack of all its headers, compared
at once, and all its values), then builds the dict in one display with constant keys.
That skips finding, slicing and decoding every element name and dispatching on its type
byte, which is most of the per-element work of the general loop in ``decoder.py``.
For a document shape it also generates *run loops*, which decode every following
document of the shape in a batch (laid end to end for ``decode_all``, or as the elements
of a cursor reply's batch array) without a function call per document; a run stops at
the first document it cannot decode exactly and hands that one back.

Safety: a generated function never guesses. If any header differs, a length does not
fit, a byte is wrong or Python raises on the way, it gives up (returns None) and the
general decoder decodes the document from scratch, producing exactly what it always
produces, errors with offsets included. A header match is exact (type byte, whole name,
NUL), so a match reads the same elements the general loop would. Shapes are learnt
from documents the general decoder has just accepted, under a small budget per place,
so documents that never repeat cost only a failed header check and rare rescans.

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
RunDecoder = Callable[[bytes, int, int, Callable[[Any], None]], int]

#: The largest document accepted (as in decoder.py, which imports this module).
MAX_DOCUMENT_SIZE = 16 * 1024 * 1024 + 16 * 1024


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

    __slots__ = ("decode", "slots", "headers", "_runs")

    def __init__(
        self, decode: DocumentDecoder, slots: list[Slot], headers: tuple[bytes, ...] | None
    ) -> None:
        self.decode = decode
        self.slots = slots
        # A document shape's headers, from which its run loops are made when first needed.
        self.headers = headers
        self._runs: tuple[RunDecoder, RunDecoder] | None = None

    def run_loops(self) -> tuple[RunDecoder, RunDecoder] | None:
        """For a document shape, the loops decoding many such documents in one call,
        laid end to end ([0]) or as the elements of an array ([1]); None for an array
        shape. Generated on first use: most shapes (sub-documents) never need them."""
        runs = self._runs
        if runs is None and self.headers is not None:
            runs = self._runs = _compile_runs(self.headers, self.slots)
        return runs


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


# Fixed-size element types: the struct code reading the value and its size in bytes.
_STRUCT_CODES = {
    1: ("d", 8),
    7: ("12s", 12),
    8: ("B", 1),
    9: ("q", 8),
    10: ("", 0),
    16: ("i", 4),
    18: ("q", 8),
}


def _segment_formats(items: list[tuple[int, str, int]]) -> str:
    """A little-endian struct format reading ``(offset, code, size)`` items in order and
    skipping the bytes between them."""
    parts = ["<"]
    position = 0
    for offset, code, size in items:
        if offset > position:
            parts.append(f"{offset - position}x")
        parts.append(code)
        position = offset + size
    return "".join(parts)


def _body_source(
    headers: tuple[bytes, ...], namespace: dict[str, Any], fail: str, size_check: str | None
) -> list[str]:
    """Source lines decoding the elements into ``v0``, ``v1``... (``fail`` is the statement
    run when the bytes do not fit the shape).

    Elements are read in *segments*: a run of fixed-size elements, closed by either the
    length prefix of a string/document/array or the end of the document. Each segment
    costs one C call: a ``struct`` unpack of all its headers and values, the headers then
    compared at once with the expected ones; a string's length prefix comes with the
    segment before it.

    Without ``size_check``, ``pos`` starts at the first element and ``end`` (the final
    NUL's offset) is known. With it, ``pos`` starts at the document's length prefix,
    which the first segment reads into ``size``; ``size_check`` (which sets ``end`` and
    checks the envelope as the general path would) runs right after, before any value
    is decoded: a malformed sub-document must only raise once its document's envelope
    was found sound, as in the general path.
    """
    lines: list[str] = []
    index = 0
    count = len(headers)
    offset = 0
    segment_number = 0
    if size_check is not None and not headers:
        return ["size = unpack_int32(data, pos)[0]", size_check, "pos += 4"]
    while index < count:
        header_items: list[tuple[int, str, int]] = []
        value_items: list[tuple[int, str, int]] = []
        names: list[str] = []
        expected: list[bytes] = []
        after: list[str] = []
        if segment_number == 0 and size_check is not None:
            value_items.append((0, "i", 4))
            names.append("size")
            offset = 4
        else:
            offset = 0
        closing: tuple[int, int, int] | None = None  # (index, type, offset of length)
        while index < count:
            header = headers[index]
            element_type = header[0]
            header_items.append((offset, f"{len(header)}s", len(header)))
            expected.append(header)
            offset += len(header)
            value = f"v{index}"
            if element_type in _PREFIXED:
                value_items.append((offset, "i", 4))
                names.append(f"n{index}")
                closing = (index, element_type, offset)
                offset += 4
                index += 1
                break
            code, size = _STRUCT_CODES[element_type]
            if element_type == 10:
                after.append(f"{value} = None")
            else:
                value_items.append((offset, code, size))
                names.append(value)
            if element_type == 8:  # BOOLEANS[byte] raises IndexError past 1: give up
                after.append(f"{value} = BOOLEANS[{value}]")
            elif element_type == 9:
                after += [
                    f"if {value} < MS_MIN or {value} > MS_MAX:",
                    f"    {value} = DatetimeMS({value})",
                    "else:",
                    f"    {value} = EPOCH + timedelta(0, 0, {value} * 1000)",
                ]
            elif element_type == 18:
                after.append(f"{value} = int_new(Int64, {value})")
            elif element_type == 7:
                after += ["oid = new_object(ObjectId)", f"oid._id = {value}", f"{value} = oid"]
            offset += size
            index += 1
        segment = str(segment_number)
        # One unpack reads the segment's headers and values together (in offset order);
        # the headers are then compared at once with the expected ones.
        header_names = [f"h{segment}_{number}" for number in range(len(header_items))]
        combined = sorted(
            [(item, name) for item, name in zip(header_items, header_names, strict=True)]
            + [(item, name) for item, name in zip(value_items, names, strict=True)]
        )
        reader = struct.Struct(_segment_formats([item for item, _ in combined])).unpack_from
        namespace[f"segment{segment}"] = reader
        lines.append(", ".join(name for _, name in combined) + f", = segment{segment}(data, pos)")
        if len(expected) == 1:
            namespace[f"expected{segment}"] = expected[0]
            lines += [f"if {header_names[0]} != expected{segment}:", f"    {fail}"]
        else:
            namespace[f"expected{segment}"] = tuple(expected)
            lines += [
                f"if ({', '.join(header_names)}) != expected{segment}:",
                f"    {fail}",
            ]
        if segment_number == 0 and size_check is not None:
            lines.append(size_check)
        lines += after
        if closing is None:
            lines.append(f"pos += {offset}")
        else:
            closing_index, element_type, length_at = closing
            size_name, value = f"n{closing_index}", f"v{closing_index}"
            if element_type == 2:
                lines += [
                    f"stop = pos + {length_at + 3} + {size_name}",
                    f"if {size_name} < 1 or stop > end or data[stop]:",
                    f"    {fail}",
                    f"{value} = data[pos + {length_at + 4} : stop].decode()",
                ]
            else:
                function = "decode_document" if element_type == 3 else "decode_array"
                slot = f"slot{closing_index}"
                namespace[slot] = namespace["slots"][closing_index]
                # The place's own shape is tried inline (one call less per sub-document);
                # if it raises, the enclosing document gives up and is decoded again by
                # the general path, which gives the same result.
                lines += [
                    f"stop = pos + {length_at - 1} + {size_name}",
                    f"if {size_name} < 5 or stop > end or data[stop]:",
                    f"    {fail}",
                    f"shape = {slot}.shape",
                    f"{value} = None if shape is None else "
                    f"shape.decode(data, pos + {length_at + 4}, stop)",
                    f"if {value} is None:",
                    f"    {value} = {function}(data, pos + {length_at + 4}, stop, {slot})",
                ]
            lines.append("pos = stop + 1")
        segment_number += 1
    return lines


def _namespace(slots: list[Slot]) -> dict[str, Any]:
    """The names the generated code uses (its only globals)."""
    return {
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
        "unpack_int32": _UNPACK_INT32,
        "GIVE_UP": (*_GIVE_UP, RecursionError),
        "MAX_SIZE": MAX_DOCUMENT_SIZE,
        "BOOLEANS": (False, True),
    }


def _result_source(headers: tuple[bytes, ...], array: bool) -> str:
    if array:
        return "[" + ", ".join(f"v{index}" for index in range(len(headers))) + "]"
    return (
        "{"
        + ", ".join(f"{header[1:-1].decode()!r}: v{index}" for index, header in enumerate(headers))
        + "}"
    )


def _compile(headers: tuple[bytes, ...], array: bool) -> Shape:
    slots = [Slot() for _ in headers]
    namespace = _namespace(slots)
    lines = ["def decode_shape(data, pos, end):"]
    lines += ["    " + line for line in _body_source(headers, namespace, "return None", None)]
    lines += [
        "    if pos != end:",
        "        return None",
        f"    return {_result_source(headers, array)}",
    ]
    # The source holds only literals made with repr() of checked header bytes and names.
    exec("\n".join(lines), namespace)
    return Shape(namespace["decode_shape"], slots, None if array else headers)


def _compile_runs(headers: tuple[bytes, ...], slots: list[Slot]) -> tuple[RunDecoder, RunDecoder]:
    """The document shape's body in a loop over documents laid end to end (``in_array``
    False) or over the elements of an array of documents (True), up to ``limit`` (the end
    of the data, or the array's final NUL). Each returns where it stopped: ``limit``, or
    the start of the first document (element) it could not decode exactly."""
    namespace = _namespace(slots)
    result = _result_source(headers, False)
    size_check = (
        "if size < 5 or size > MAX_SIZE or (end := pos + size - 1) >= limit or data[end]:\n"
        "    return begin"
    )
    body = [
        "            " + line
        for block in _body_source(headers, namespace, "return begin", size_check)
        for line in block.split("\n")
    ]
    lines: list[str] = []
    for in_array in (False, True):
        lines += [
            f"def decode_run_{int(in_array)}(data, pos, limit, append):",
            "    find = data.find",
            "    while pos < limit:",
            "        begin = pos",
        ]
        if in_array:
            lines += [
                "        if data[pos] != 3:",
                "            return begin",
                "        pos = find(b'\\x00', pos + 1, limit) + 1",
                "        if pos == 0:",
                "            return begin",
            ]
        lines += ["        try:", *body]
        lines += [
            "            if pos != end:",
            "                return begin",
            "        except GIVE_UP:",
            "            return begin",
            f"        append({result})",
            "        pos = end + 1",
            "    return pos",
        ]
    # The source holds only literals made with repr() of checked header bytes and names.
    exec("\n".join(lines), namespace)
    return namespace["decode_run_0"], namespace["decode_run_1"]


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
