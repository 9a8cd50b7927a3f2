"""BSON bytes → Python values.

One loop (``_decode_elements``) walks the elements of a document or array in place over
the immutable ``bytes``, with precompiled ``struct`` readers and the type byte tested
in order of how often each type occurs in real data; nested documents recurse. Every
length is checked against the end of the enclosing document before it is used, so
malformed input always ends in ``InvalidBSON`` carrying the byte offset where decoding
stopped: the checks raise it directly, and the few errors Python raises on its own
(``IndexError`` past the end, ``struct.error``, ``UnicodeDecodeError``, a missing NUL)
are turned into it at the element where they happened.

With the default options, documents of a shape seen before are first tried by a
function generated for that shape (``shapes.py``); whenever it cannot decode a
document exactly as this loop would, this loop decodes it. ``decode_all`` and
``decode_document_array`` (a cursor reply's batch, decoded in place in the reply) hand
the documents after the first of a shape to that shape's run loop, and decode here only
the ones it stops at.

Decoded values: double → float, string → str, document → ``document_class``
(``DBRef`` when it starts with ``$ref``/``$id`` as the DBRef spec describes), array →
list, binary subtype 0 → bytes, other subtypes → ``Binary`` (or ``uuid.UUID`` under
the chosen ``uuid_representation``), ObjectId, bool, datetime (naive UTC unless
``tz_aware``; ``DatetimeMS`` outside years 1-9999), None, ``Regex``, ``Code``, int32 →
int, ``Timestamp``, int64 → ``Int64``, ``Decimal128``, ``MinKey``/``MaxKey``, and the
deprecated undefined/DBPointer/symbol as ``Undefined``/``DBPointer``/``Symbol``.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Iterator
from typing import Any

from driver.bson.codec_options import (
    BINARY_SUBTYPE,
    DEFAULT_CODEC_OPTIONS,
    OLD_BINARY_SUBTYPE,
    OLD_UUID_SUBTYPE,
    UUID_SUBTYPE,
    CodecOptions,
    DatetimeConversion,
    UuidRepresentation,
    bytes_to_uuid,
)
from driver.bson.decimal128 import decimal128_from_bytes
from driver.bson.objectid import ObjectId
from driver.bson.shapes import (
    MAX_DOCUMENT_SIZE,
    TOP_LEVEL,
    Slot,
    decode_top_level,
    install_general_decoder,
)
from driver.bson.types import (
    DATETIME_MS_MAX,
    DATETIME_MS_MIN,
    Binary,
    Code,
    DatetimeMS,
    DBPointer,
    DBRef,
    Int64,
    MaxKey,
    MinKey,
    Regex,
    Symbol,
    Timestamp,
    Undefined,
)
from driver.errors import InvalidBSON

#: The largest document accepted (``MAX_DOCUMENT_SIZE``, defined in shapes.py): the
#: server's 16 MiB user limit plus the 16 KiB it allows itself for command replies that
#: wrap a maximal document.
__all__ = [
    "MAX_DOCUMENT_SIZE",
    "decode",
    "decode_all",
    "decode_document_array",
    "decode_iter",
    "is_valid",
]

_UNPACK_INT32 = struct.Struct("<i").unpack_from
_UNPACK_INT64 = struct.Struct("<q").unpack_from
_UNPACK_DOUBLE = struct.Struct("<d").unpack_from
_UNPACK_TWO_UINT32 = struct.Struct("<II").unpack_from

_EPOCH_NAIVE = datetime.datetime(1970, 1, 1)
_EPOCH_AWARE = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_timedelta = datetime.timedelta
_new_object = object.__new__
_int_new = int.__new__  # skips Int64's range check: 8 bytes always fit

# The Python errors that mean "the bytes ran out or were not what the type needs".
_MALFORMED = (IndexError, ValueError, struct.error)

_MIN_KEY = MinKey()
_MAX_KEY = MaxKey()
_UNDEFINED = Undefined()


def _decode_elements(data: bytes, pos: int, end: int, opts: CodecOptions, array: bool) -> Any:
    """The elements from ``pos`` up to ``end`` (the offset of the document's final NUL),
    as a list when ``array`` else as ``opts``' document container."""
    items: Any
    if array:
        items = []
        append = items.append
    else:
        container = opts.document_class
        items = {} if container is dict or opts._is_raw else container()
    errors = opts.unicode_decode_error_handler
    raw_documents = opts._is_raw
    naive_datetimes = opts._naive_datetimes
    find_nul = data.index
    try:
        while pos < end:
            element_start = pos
            element_type = data[pos]
            key_end = find_nul(0, pos + 1)
            if not array:
                key = data[pos + 1 : key_end].decode()
            pos = key_end + 1
            if element_type == 2:  # UTF-8 string
                size = _UNPACK_INT32(data, pos)[0]
                stop = pos + 3 + size
                # A string running past ``end`` is caught by the check after the loop.
                if size < 1 or data[stop]:
                    raise _bad_length("string", size, pos)
                value: Any = data[pos + 4 : stop].decode("utf-8", errors)
                pos = stop + 1
            elif element_type == 16:  # int32
                value = _UNPACK_INT32(data, pos)[0]
                pos += 4
            elif element_type == 1:  # double
                value = _UNPACK_DOUBLE(data, pos)[0]
                pos += 8
            elif element_type == 3:  # embedded document
                size = _UNPACK_INT32(data, pos)[0]
                stop = pos + size - 1
                if size < 5 or stop > end or data[stop]:
                    raise _bad_length("embedded document", size, pos)
                if raw_documents:
                    value = opts.document_class(data[pos : stop + 1], opts)
                else:
                    value = _decode_elements(data, pos + 4, stop, opts, False)
                    if "$ref" in value:
                        value = _as_dbref(value)
                pos = stop + 1
            elif element_type == 4:  # array
                size = _UNPACK_INT32(data, pos)[0]
                stop = pos + size - 1
                if size < 5 or stop > end or data[stop]:
                    raise _bad_length("array", size, pos)
                value = _decode_elements(data, pos + 4, stop, opts, True)
                pos = stop + 1
            elif element_type == 7:  # ObjectId
                value = _new_object(ObjectId)
                value._id = data[pos : pos + 12]
                pos += 12
            elif element_type == 8:  # boolean
                byte = data[pos]
                if byte > 1:
                    raise InvalidBSON(f"boolean byte must be 0 or 1, not {byte}", pos)
                value = byte == 1
                pos += 1
            elif element_type == 9:  # UTC datetime
                millis = _UNPACK_INT64(data, pos)[0]
                if naive_datetimes and DATETIME_MS_MIN <= millis <= DATETIME_MS_MAX:
                    # timedelta normalises the microseconds into days and seconds exactly.
                    value = _EPOCH_NAIVE + _timedelta(0, 0, millis * 1000)
                else:
                    value = _datetime_from_ms(millis, opts)
                pos += 8
            elif element_type == 18:  # int64
                value = _int_new(Int64, _UNPACK_INT64(data, pos)[0])
                pos += 8
            elif element_type == 10:  # null
                value = None
            else:
                value, pos = _decode_rare(element_type, data, pos, end, opts, element_start)
            if array:
                append(value)
            else:
                items[key] = value
    except InvalidBSON:
        raise
    except UnicodeDecodeError as exc:
        raise InvalidBSON(f"invalid UTF-8 in a key or string ({exc.reason})", pos) from None
    except OverflowError as exc:  # a datetime the chosen datetime_conversion refuses
        raise InvalidBSON(str(exc), element_start) from None
    except IndexError:
        raise InvalidBSON(
            "element runs past the end of the data", pos if pos < len(data) else element_start
        ) from None
    except ValueError:  # bytes.index found no NUL: a key or C string without terminator
        raise InvalidBSON("truncated element: missing NUL terminator", element_start) from None
    except _MALFORMED as exc:
        raise InvalidBSON(
            f"truncated or malformed element ({type(exc).__name__})", element_start
        ) from None
    if pos != end:
        raise InvalidBSON(
            "element runs past the end of its document" if pos > end else "bad document end",
            min(pos, end),
        )
    return items


def _bad_length(what: str, size: int, pos: int) -> InvalidBSON:
    return InvalidBSON(f"{what} length {size} does not fit its document or lacks its NUL", pos)


def _as_dbref(doc: Any) -> Any:
    """``doc`` as a DBRef when it has the DBRef shape, else unchanged.

    DBRef spec: ``$ref`` (a string) and ``$id`` are required and ``$db``, if present, is a
    string. We also require them first and in that order, so that re-encoding the DBRef
    gives back the very same bytes; anything else stays a plain document.
    """
    keys = iter(doc)
    if next(keys) != "$ref" or next(keys, None) != "$id":
        return doc
    collection = doc["$ref"]
    if not isinstance(collection, str):
        return doc
    database = None
    extra: dict[str, Any] = {}
    for key in keys:
        if key == "$db" and not extra:
            database = doc[key]
            if not isinstance(database, str):
                return doc
        elif key == "$db" or key in ("$ref", "$id"):
            return doc
        else:
            extra[key] = doc[key]
    return DBRef(collection, doc["$id"], database, **extra)


def _datetime_from_ms(ms: int, opts: CodecOptions) -> Any:
    """A BSON datetime as ``opts.datetime_conversion`` asks (naive UTC unless tz_aware)."""
    conversion = opts.datetime_conversion
    if conversion == DatetimeConversion.DATETIME_MS:
        return DatetimeMS(ms)
    if ms < DATETIME_MS_MIN or ms > DATETIME_MS_MAX:
        if conversion == DatetimeConversion.DATETIME_AUTO:
            return DatetimeMS(ms)
        if conversion == DatetimeConversion.DATETIME:
            raise OverflowError(
                f"datetime {ms} ms is outside Python's years 1-9999; decode with "
                "datetime_conversion=DATETIME_AUTO or DATETIME_MS to read it"
            )
        ms = DATETIME_MS_MIN if ms < DATETIME_MS_MIN else DATETIME_MS_MAX  # DATETIME_CLAMP
    seconds, millis = divmod(ms, 1000)
    if not opts.tz_aware:
        return _EPOCH_NAIVE + _timedelta(0, seconds, millis * 1000)
    value = _EPOCH_AWARE + _timedelta(0, seconds, millis * 1000)
    if opts.tzinfo is not None:
        try:
            value = value.astimezone(opts.tzinfo)
        except OverflowError:
            pass  # the local time would fall outside years 1-9999; keep it in UTC
    return value


def _read_string(data: bytes, pos: int, end: int, what: str, errors: str) -> tuple[str, int]:
    size = _UNPACK_INT32(data, pos)[0]
    stop = pos + 3 + size
    if size < 1 or stop > end or data[stop]:
        raise _bad_length(what, size, pos)
    return data[pos + 4 : stop].decode("utf-8", errors), stop + 1


def _read_cstring(data: bytes, pos: int, end: int, what: str) -> tuple[str, int]:
    stop = data.index(0, pos)
    if stop > end:
        raise InvalidBSON(f"{what} runs past the end of its document", pos)
    return data[pos:stop].decode(), stop + 1


def _decode_rare(
    element_type: int, data: bytes, pos: int, end: int, opts: CodecOptions, element_start: int
) -> tuple[Any, int]:
    """The less common element types; returns the value and the position after it."""
    errors = opts.unicode_decode_error_handler
    if element_type == 5:  # binary
        size = _UNPACK_INT32(data, pos)[0]
        start = pos + 5
        stop = start + size
        if size < 0 or stop > end:
            raise _bad_length("binary", size, pos)
        subtype = data[pos + 4]
        if subtype == OLD_BINARY_SUBTYPE:
            # The old subtype repeats the length inside the payload; it must agree.
            inner = _UNPACK_INT32(data, start)[0] if size >= 4 else -1
            if inner != size - 4:
                raise InvalidBSON(
                    f"binary subtype 2 inner length {inner} does not match {size - 4}", start
                )
            return Binary(data[start + 4 : stop], OLD_BINARY_SUBTYPE), stop
        payload = data[start:stop]
        if subtype == BINARY_SUBTYPE:
            return payload, stop
        if (
            subtype == UUID_SUBTYPE or subtype == OLD_UUID_SUBTYPE
        ) and opts.uuid_representation != UuidRepresentation.UNSPECIFIED:
            as_uuid = bytes_to_uuid(payload, subtype, opts.uuid_representation)
            if as_uuid is not None:
                return as_uuid, stop
        return Binary(payload, subtype), stop
    if element_type == 6:  # undefined (deprecated)
        return _UNDEFINED, pos
    if element_type == 11:  # regular expression: two C strings
        pattern, pos = _read_cstring(data, pos, end, "regex pattern")
        flags, pos = _read_cstring(data, pos, end, "regex options")
        return Regex(pattern, flags), pos
    if element_type == 12:  # DBPointer (deprecated): namespace string + ObjectId
        namespace, pos = _read_string(data, pos, end, "DBPointer namespace", errors)
        if pos + 12 > end:
            raise InvalidBSON("DBPointer ObjectId is truncated", pos)
        return DBPointer(namespace, ObjectId(data[pos : pos + 12])), pos + 12
    if element_type == 13:  # JavaScript code
        code, pos = _read_string(data, pos, end, "code", errors)
        return Code(code), pos
    if element_type == 14:  # symbol (deprecated)
        symbol, pos = _read_string(data, pos, end, "symbol", errors)
        return Symbol(symbol), pos
    if element_type == 15:  # code with scope: int32 total, string, document
        total = _UNPACK_INT32(data, pos)[0]
        stop = pos + total
        # The smallest is 4 (total) + 5 (empty string) + 5 (empty document) bytes.
        if total < 14 or stop > end:
            raise _bad_length("code with scope", total, pos)
        code, scope_start = _read_string(data, pos + 4, stop - 1, "code with scope code", errors)
        scope_size = _UNPACK_INT32(data, scope_start)[0]
        if scope_size < 5 or scope_start + scope_size != stop or data[stop - 1]:
            raise _bad_length("code with scope scope", scope_size, scope_start)
        scope_opts = opts if not opts._is_raw else DEFAULT_CODEC_OPTIONS
        scope = _decode_elements(data, scope_start + 4, stop - 1, scope_opts, False)
        return Code(code, scope), stop
    if element_type == 17:  # timestamp: increment then seconds, both unsigned
        increment, seconds = _UNPACK_TWO_UINT32(data, pos)
        return Timestamp(seconds, increment), pos + 8
    if element_type == 19:  # Decimal128
        if pos + 16 > end:
            raise InvalidBSON("Decimal128 is truncated", pos)
        return decimal128_from_bytes(data[pos : pos + 16]), pos + 16
    if element_type == 255:
        return _MIN_KEY, pos
    if element_type == 127:
        return _MAX_KEY, pos
    raise InvalidBSON(f"unknown BSON element type 0x{element_type:02x}", element_start)


def _as_bytes(data: Any) -> bytes:
    if type(data) is bytes:
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"BSON data must be bytes-like, not {type(data).__name__}")


def _check_envelope(data: bytes, start: int, available: int) -> int:
    """The declared size of the document at ``start``, checked against what is there."""
    if available < 5:
        raise InvalidBSON(
            f"{available} bytes are too few for a BSON document (at least 5 needed)", start
        )
    size: int = _UNPACK_INT32(data, start)[0]
    if size < 5:
        raise InvalidBSON(f"declared document length {size} is below the minimum of 5", start)
    if size > MAX_DOCUMENT_SIZE:
        raise InvalidBSON(
            f"declared document length {size} exceeds the maximum of {MAX_DOCUMENT_SIZE}", start
        )
    if size > available:
        raise InvalidBSON(
            f"declared document length {size} but only {available} bytes remain", start
        )
    if data[start + size - 1]:
        raise InvalidBSON("document does not end with a NUL byte", start + size - 1)
    return size


def _decode_one(data: bytes, start: int, size: int, opts: CodecOptions) -> Any:
    if opts._is_raw:
        return opts.document_class(data[start : start + size], opts)
    try:
        if opts._plain:
            return decode_top_level(data, start + 4, start + size - 1, TOP_LEVEL)
        return _decode_elements(data, start + 4, start + size - 1, opts, False)
    except RecursionError:
        raise InvalidBSON("document is nested too deeply to decode", start) from None


def decode(data: bytes | bytearray | memoryview, codec_options: CodecOptions | None = None) -> Any:
    """The one document in ``data`` (which must hold exactly one) as ``document_class``."""
    opts = codec_options or DEFAULT_CODEC_OPTIONS
    if type(data) is not bytes:
        data = _as_bytes(data)
    total = len(data)
    # The common case, checked inline: a declared length equal to the data's, and a
    # final NUL. Anything else goes through the checks that explain what is wrong.
    if total < 5 or _UNPACK_INT32(data, 0)[0] != total or data[-1] or total > MAX_DOCUMENT_SIZE:
        size = _check_envelope(data, 0, total)
        raise InvalidBSON(
            f"declared document length {size} but {total} bytes given (trailing bytes)", size
        )
    if opts._is_raw:
        return opts.document_class(data, opts)
    try:
        if opts._plain:
            return decode_top_level(data, 4, total - 1, TOP_LEVEL)
        return _decode_elements(data, 4, total - 1, opts, False)
    except RecursionError:
        raise InvalidBSON("document is nested too deeply to decode", 0) from None


def decode_iter(
    data: bytes | bytearray | memoryview, codec_options: CodecOptions | None = None
) -> Iterator[Any]:
    """The documents concatenated in ``data``, one at a time."""
    opts = codec_options or DEFAULT_CODEC_OPTIONS
    raw = _as_bytes(data)
    position = 0
    total = len(raw)
    while position < total:
        size = _check_envelope(raw, position, total - position)
        yield _decode_one(raw, position, size, opts)
        position += size


def decode_all(
    data: bytes | bytearray | memoryview, codec_options: CodecOptions | None = None
) -> list[Any]:
    """Every document concatenated in ``data``, as a list."""
    opts = codec_options or DEFAULT_CODEC_OPTIONS
    raw = _as_bytes(data)
    total = len(raw)
    documents: list[Any] = []
    append = documents.append
    # A batch learns its own shape, whatever other calls decode in between.
    batch_slot = Slot()
    position = 0
    if opts._is_raw:
        while position < total:
            size = _check_envelope(raw, position, total - position)
            append(opts.document_class(raw[position : position + size], opts))
            position += size
        return documents
    plain = opts._plain
    try:
        while position < total:
            if plain:
                shape = batch_slot.shape
                runs = shape.run_loops() if shape is not None else None
                if runs is not None:
                    # Every following document of the batch's shape, in one loop; it
                    # stops at the first one it cannot decode exactly, decoded below.
                    position = runs[0](raw, position, total, append)
                    if position >= total:
                        break
            # The checks of _check_envelope, inline for the usual well-formed case.
            size = _UNPACK_INT32(raw, position)[0] if total - position >= 5 else 0
            if size < 5 or size > total - position or size > MAX_DOCUMENT_SIZE:
                _check_envelope(raw, position, total - position)
            end = position + size - 1
            if raw[end]:
                raise InvalidBSON("document does not end with a NUL byte", end)
            if plain:
                append(decode_top_level(raw, position + 4, end, batch_slot))
            else:
                append(_decode_elements(raw, position + 4, end, opts, False))
            position = end + 1
    except RecursionError:
        raise InvalidBSON("document is nested too deeply to decode", position) from None
    return documents


def decode_document_array(data: bytes, start: int, codec_options: CodecOptions) -> list[Any]:
    """The documents of the BSON array at ``start`` in ``data`` (a cursor reply's
    ``firstBatch``/``nextBatch``), decoded in place without copying them out first.

    Every element must be an embedded document; anything malformed raises
    ``InvalidBSON`` with its offset in ``data``.
    """
    total = len(data)
    size = _UNPACK_INT32(data, start)[0] if total - start >= 5 else 0
    limit = start + size - 1  # the array's final NUL
    if size < 5 or limit >= total or data[limit]:
        raise InvalidBSON("invalid cursor batch array length", start)
    opts = codec_options
    documents: list[Any] = []
    append = documents.append
    batch_slot = Slot()
    plain = opts._plain
    position = start + 4
    try:
        while position < limit:
            if plain:
                shape = batch_slot.shape
                runs = shape.run_loops() if shape is not None else None
                if runs is not None:
                    position = runs[1](data, position, limit, append)
                    if position >= limit:
                        break
            if data[position] != 3:
                raise InvalidBSON("a cursor batch element is not a document", position)
            key_end = data.find(0, position + 1, limit)
            if key_end < 0:
                raise InvalidBSON("unterminated array index in cursor batch", position)
            position = key_end + 1
            size = _check_envelope(data, position, limit - position)
            end = position + size - 1
            if opts._is_raw:
                append(opts.document_class(data[position : end + 1], opts))
            elif plain:
                append(decode_top_level(data, position + 4, end, batch_slot))
            else:
                append(_decode_elements(data, position + 4, end, opts, False))
            position = end + 1
    except RecursionError:
        raise InvalidBSON("document is nested too deeply to decode", position) from None
    if position != limit:
        raise InvalidBSON("a batch document overruns its array", position)
    return documents


def is_valid(data: bytes) -> bool:
    """True when ``data`` is exactly one well-formed BSON document."""
    try:
        decode(data)
    except InvalidBSON:
        return False
    return True


install_general_decoder(_decode_elements, _as_dbref)
