"""Splitting a cursor reply into its metadata and its undecoded batch.

For ``find_raw_batches`` the documents of ``cursor.firstBatch``/``cursor.nextBatch``
must reach the caller as BSON bytes (documents laid end to end), without being decoded
and re-encoded. ``decode_raw_reply`` walks the reply's bytes: it decodes every
top-level field except ``cursor`` normally (``ok``, ``$clusterTime``, errors...), reads
``cursor.id`` and ``cursor.ns``, and slices the batch array's elements out as they are.
A reply without a cursor (an error) is decoded normally.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass
from typing import Any

from driver.errors import InvalidBSON

_INT32 = struct.Struct("<i")
_INT64 = struct.Struct("<q")

# Sizes of fixed-width BSON element types; variable ones are computed below.
_FIXED = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8,
          0x13: 16, 0x06: 0, 0x7F: 0, 0xFF: 0}


class RawReply(dict[str, Any]):
    """A decoded reply whose cursor batch was kept as bytes in ``raw_batch``:
    ``(cursor_id, namespace, batch_bytes, document_count)``."""

    raw_batch: tuple[int, str, bytes, int] | None = None


def _value_size(data: bytes, kind: int, pos: int) -> int:
    if kind in _FIXED:
        return _FIXED[kind]
    if kind in (0x02, 0x0D, 0x0E):  # string, code, symbol: int32 length + bytes
        return 4 + int(_INT32.unpack_from(data, pos)[0])
    if kind in (0x03, 0x04, 0x0F):  # document, array, code with scope
        return int(_INT32.unpack_from(data, pos)[0])
    if kind == 0x05:  # binary: length, subtype, bytes
        return 5 + int(_INT32.unpack_from(data, pos)[0])
    if kind == 0x0B:  # regex: two cstrings
        end = data.index(b"\x00", pos)
        end = data.index(b"\x00", end + 1)
        return end + 1 - pos
    if kind == 0x0C:  # DBPointer: string + 12 bytes
        return 4 + int(_INT32.unpack_from(data, pos)[0]) + 12
    raise InvalidBSON(f"unknown BSON element type 0x{kind:02x}", offset=pos)


def _elements(data: bytes, start: int) -> list[tuple[str, int, int, int]]:
    """``(name, type, element_start, value_start)`` of each element, plus a sentinel whose
    element_start is the document's closing NUL."""
    size = _INT32.unpack_from(data, start)[0] if len(data) - start >= 5 else 0
    end = start + size - 1
    if size < 5 or end >= len(data) or data[end] != 0:
        raise InvalidBSON("invalid document length in reply", offset=start)
    pos = start + 4
    result: list[tuple[str, int, int, int]] = []
    try:
        while pos < end:
            kind = data[pos]
            name_end = data.index(b"\x00", pos + 1)
            name = data[pos + 1 : name_end].decode("utf-8", "replace")
            value = name_end + 1
            result.append((name, kind, pos, value))
            pos = value + _value_size(data, kind, value)
    except (struct.error, ValueError, IndexError):
        # Malformed bytes only ever raise InvalidBSON, with where it went wrong.
        raise InvalidBSON("truncated element in reply", offset=pos) from None
    if pos != end:
        raise InvalidBSON("document elements overrun its length", offset=pos)
    result.append(("", 0, end, end))
    return result


def _document_of(parts: list[bytes]) -> bytes:
    body = b"".join(parts)
    return _INT32.pack(len(body) + 5) + body + b"\x00"


@dataclass(frozen=True)
class CursorReplyParts:
    """A cursor reply taken apart without decoding: the reply without ``cursor``, the
    cursor document without its batch, the batch field's name, and the batch itself."""

    reply_rest: bytes
    cursor_rest: bytes
    cursor_id: int
    namespace: str
    field: str
    batch: bytes
    count: int
    #: Where the batch array starts in the reply (``batch`` is then left empty and
    #: ``count`` is -1 when the parts were taken without copying the batch out).
    batch_offset: int = -1


def take_cursor_reply_apart(data: bytes) -> CursorReplyParts | None:
    """Split a ``{cursor: {id, ns, firstBatch|nextBatch: [...]}, ok...}`` reply; ``None``
    when the reply has no cursor document with a batch (an error reply, for instance)."""
    return _take_apart(data, copy_batch=True)


def _take_apart(data: bytes, copy_batch: bool) -> CursorReplyParts | None:
    top = _elements(data, 0)
    reply_rest: list[bytes] = []
    found: CursorReplyParts | None = None
    for index, (name, kind, element_start, value_start) in enumerate(top[:-1]):
        element_end = top[index + 1][2]
        if name == "cursor" and kind == 0x03 and found is None:
            found = _split_cursor(data, value_start, copy_batch)
            if found is None:
                return None
        else:
            reply_rest.append(data[element_start:element_end])
    if found is None:
        return None
    return dataclasses.replace(found, reply_rest=_document_of(reply_rest))


def split_cursor_reply(data: bytes) -> tuple[bytes, int, str, bytes, int] | None:
    """``(rest_of_reply_bson, cursor_id, ns, batch_bytes, count)``, or ``None`` when the
    reply has no cursor document with a batch."""
    parts = take_cursor_reply_apart(data)
    if parts is None:
        return None
    return parts.reply_rest, parts.cursor_id, parts.namespace, parts.batch, parts.count


def _split_cursor(data: bytes, start: int, copy_batch: bool) -> CursorReplyParts | None:
    cursor_id = 0
    batch_offset = -1
    namespace = ""
    batch: bytes | None = None
    field = ""
    count = 0
    cursor_rest: list[bytes] = []
    elements = _elements(data, start)
    for index, (name, kind, element_start, value) in enumerate(elements[:-1]):
        if name in ("firstBatch", "nextBatch") and kind == 0x04 and batch is None:
            if copy_batch:
                batch, count = _array_of_documents(data, value)
            else:  # decoded in place by the caller, which checks every element
                batch, count, batch_offset = b"", -1, value
            field = name
            continue
        if name == "id" and kind == 0x12:
            cursor_id = _INT64.unpack_from(data, value)[0]
        elif name == "id" and kind == 0x10:
            cursor_id = _INT32.unpack_from(data, value)[0]
        elif name == "ns" and kind == 0x02:
            length = _INT32.unpack_from(data, value)[0]
            try:
                namespace = data[value + 4 : value + 4 + length - 1].decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidBSON("cursor.ns is not valid UTF-8", offset=value) from None
        cursor_rest.append(data[element_start : elements[index + 1][2]])
    if batch is None:
        return None
    return CursorReplyParts(b"", _document_of(cursor_rest), cursor_id, namespace, field,
                            batch, count, batch_offset)


def _array_of_documents(data: bytes, start: int) -> tuple[bytes, int]:
    """The documents of the BSON array at ``start``, laid end to end, and their count.

    The hot loop of ``find_raw_batches``: it only skips each element's type byte and
    index key and slices the document out. Slices are ``bytes`` on purpose: unlike
    memoryviews they are not tracked by the garbage collector, so 100k of them do not
    trigger collections of the application's whole heap.
    """
    size = _INT32.unpack_from(data, start)[0]
    end = start + size - 1
    if size < 5 or end >= len(data) or data[end] != 0:
        raise InvalidBSON("invalid cursor batch array length", offset=start)
    unpack = _INT32.unpack_from
    find = data.find
    parts: list[bytes] = []
    append = parts.append
    pos = start + 4
    while pos < end:
        if data[pos] != 0x03:
            raise InvalidBSON("a cursor batch element is not a document", offset=pos)
        doc_start = find(b"\x00", pos + 1, end) + 1
        if doc_start <= 0 or doc_start + 4 > end:
            raise InvalidBSON("unterminated array index in cursor batch", offset=pos)
        doc_size = unpack(data, doc_start)[0]
        # A size below 5 would move pos backwards (or nowhere): corrupt bytes must end
        # in InvalidBSON, never in an IndexError or a loop that does not advance.
        if doc_size < 5 or doc_start + doc_size > end:
            raise InvalidBSON("a batch document overruns its array", offset=doc_start)
        pos = doc_start + doc_size
        append(data[doc_start:pos])
    return b"".join(parts), len(parts)


def decode_raw_reply(body: bytes, codec_options: Any) -> RawReply:
    """The reply decoded except for its batch, which is put in ``raw_batch``."""
    from driver.bson import decode

    parts = take_cursor_reply_apart(bytes(body))
    if parts is None:
        return RawReply(decode(body, codec_options))
    reply = RawReply(decode(parts.reply_rest, codec_options))
    reply["cursor"] = decode(parts.cursor_rest, codec_options)
    reply.raw_batch = (parts.cursor_id, parts.namespace, parts.batch, parts.count)
    return reply


def decode_cursor_reply(body: bytes, codec_options: Any) -> Any:
    """A cursor reply fully decoded, its batch in one pass over the reply's own bytes
    (``decode_document_array``, which runs the documents of one shape in a single loop):
    for big batches that is faster than decoding the nested array as part of the reply."""
    from driver.bson import DEFAULT_CODEC_OPTIONS, decode
    from driver.bson.decoder import decode_document_array

    data = body if type(body) is bytes else bytes(body)
    parts = _take_apart(data, copy_batch=False)
    if parts is None:
        return decode(data, codec_options)
    reply = decode(parts.reply_rest, codec_options)
    cursor = decode(parts.cursor_rest, codec_options)
    cursor[parts.field] = decode_document_array(
        data, parts.batch_offset, codec_options or DEFAULT_CODEC_OPTIONS
    )
    reply["cursor"] = cursor
    return reply


__all__ = [
    "CursorReplyParts",
    "RawReply",
    "decode_cursor_reply",
    "decode_raw_reply",
    "split_cursor_reply",
    "take_cursor_reply_apart",
]
