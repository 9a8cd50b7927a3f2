"""Python values → BSON bytes.

Each document is built as a list of byte strings that is joined once and prefixed with
its length. Element names are encoded through a small cache (most documents repeat the
same few keys), and the common value types are tested by exact type before the slower
``isinstance`` chain for subclasses and the BSON-specific types.

Rules: keys must be ``str`` without NUL bytes (``InvalidDocument`` otherwise); with
``check_keys=True`` they also may not start with ``$`` or contain ``.``. At the top level
an ``_id`` key is written first, as the server stores it. Python ints become int32 when
they fit, else int64; ``Int64`` always int64. ``bytes`` become binary subtype 0.
"""

from __future__ import annotations

import datetime
import re
import struct
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from driver.bson.codec_options import (
    DEFAULT_CODEC_OPTIONS,
    OLD_BINARY_SUBTYPE,
    CodecOptions,
    uuid_to_bytes,
)
from driver.bson.decimal128 import Decimal128
from driver.bson.encode_shapes import (
    ARRAY_SHAPES,
    NESTED_SHAPES,
    TOP_LEVEL_SHAPES,
    install_general_encoder,
)
from driver.bson.objectid import ObjectId
from driver.bson.raw import RawBSONDocument
from driver.bson.types import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
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
from driver.errors import InvalidDocument, InvalidStringData

_PACK_INT32 = struct.Struct("<i").pack
_PACK_INT64 = struct.Struct("<q").pack
_PACK_DOUBLE = struct.Struct("<d").pack
_PACK_TWO_UINT32 = struct.Struct("<II").pack


_EPOCH_NAIVE = datetime.datetime(1970, 1, 1)
_EPOCH_AWARE = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_datetime = datetime.datetime
_ONE_MILLISECOND = datetime.timedelta(milliseconds=1)

# key (str) → its C-string bytes (UTF-8 + NUL); bounded so odd workloads cannot grow it.
_KEY_CACHE: dict[str, bytes] = {}
_KEY_CACHE_LIMIT = 4096
# Array element names "0\x00", "1\x00", ... precomputed for the usual array sizes.
_INDEX_KEYS = tuple(f"{index}\x00".encode() for index in range(1024))


def _encode_key(key: Any) -> bytes:
    if not isinstance(key, str):
        raise InvalidDocument(f"documents must have only str keys, key was {key!r}")
    if "\x00" in key:
        raise InvalidDocument(f"key {key!r} must not contain a NUL character")
    encoded = key.encode() + b"\x00"
    if len(_KEY_CACHE) >= _KEY_CACHE_LIMIT:
        _KEY_CACHE.clear()
    _KEY_CACHE[key] = encoded
    return encoded


def _check_key(key: Any) -> None:
    if isinstance(key, str):
        if key.startswith("$"):
            raise InvalidDocument(f"key {key!r} must not start with '$'")
        if "." in key:
            raise InvalidDocument(f"key {key!r} must not contain '.'")


def _index_keys(count: int) -> Iterable[bytes]:
    if count <= len(_INDEX_KEYS):
        return _INDEX_KEYS
    return (f"{index}\x00".encode() for index in range(count))


def _encode_elements(
    parts: list[bytes],
    items: Iterable[tuple[Any, Any]],
    check_keys: bool,
    opts: CodecOptions,
    array: bool,
) -> None:
    """Append the encoded elements of ``items`` (key, value pairs; for arrays the keys
    are already the encoded index names) to ``parts``."""
    # extend() with a tuple of pieces beats concatenating them into one bytes first.
    append = parts.append
    extend = parts.extend
    cache_get = _KEY_CACHE.get
    for key, value in items:
        if array:
            name = key
        else:
            if check_keys:
                _check_key(key)
            name = cache_get(key) or _encode_key(key)
        kind = type(value)
        if kind is str:
            encoded = value.encode()
            extend((b"\x02", name, _PACK_INT32(len(encoded) + 1), encoded, b"\x00"))
        elif kind is int:
            if INT32_MIN <= value <= INT32_MAX:
                extend((b"\x10", name, _PACK_INT32(value)))
            elif INT64_MIN <= value <= INT64_MAX:
                extend((b"\x12", name, _PACK_INT64(value)))
            else:
                raise InvalidDocument(f"BSON integers are 64-bit at most; {value} is too large")
        elif kind is float:
            extend((b"\x01", name, _PACK_DOUBLE(value)))
        elif kind is dict:
            extend((b"\x03", name, _encode_document(value, check_keys, opts, False)))
        elif kind is list:
            extend((b"\x04", name, _encode_array(value, check_keys, opts)))
        elif kind is bool:
            extend((b"\x08", name, b"\x01" if value else b"\x00"))
        elif kind is ObjectId:
            extend((b"\x07", name, value._id))
        elif kind is _datetime:
            if value.tzinfo is None:
                # timedelta // timedelta floors, as BSON's millisecond precision needs.
                millis = (value - _EPOCH_NAIVE) // _ONE_MILLISECOND
            else:
                millis = _datetime_ms(value)
            extend((b"\x09", name, _PACK_INT64(millis)))
        elif value is None:
            extend((b"\x0a", name))
        elif kind is Int64:
            extend((b"\x12", name, _PACK_INT64(value)))
        else:
            append(_encode_other(name, value, check_keys, opts))


def _datetime_ms(value: datetime.datetime) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        return (value.replace(tzinfo=None) - _EPOCH_NAIVE) // _ONE_MILLISECOND
    return (value - _EPOCH_AWARE) // _ONE_MILLISECOND


def _string_payload(text: str) -> bytes:
    encoded = text.encode()
    return _PACK_INT32(len(encoded) + 1) + encoded + b"\x00"


def _cstring(text: str, what: str) -> bytes:
    if "\x00" in text:
        raise InvalidDocument(f"{what} {text!r} must not contain a NUL character")
    return text.encode() + b"\x00"


def _binary_payload(data: bytes, subtype: int) -> bytes:
    if subtype == OLD_BINARY_SUBTYPE:
        # Subtype 2 repeats the length inside the payload (BSON spec, "Binary").
        return _PACK_INT32(len(data) + 4) + b"\x02" + _PACK_INT32(len(data)) + data
    return _PACK_INT32(len(data)) + bytes((subtype,)) + data


def _encode_other(name: bytes, value: Any, check_keys: bool, opts: CodecOptions) -> bytes:
    """One element whose value is not one of the exact common types."""
    if isinstance(value, RawBSONDocument):
        return b"\x03" + name + value.raw
    if isinstance(value, Binary):
        return b"\x05" + name + _binary_payload(bytes(value), value.subtype)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return b"\x05" + name + _binary_payload(bytes(value), 0)
    if isinstance(value, Code):
        if value.scope is None:
            return b"\x0d" + name + _string_payload(value)
        code = _string_payload(value)
        scope = _encode_document(value.scope, False, opts, False)
        return b"\x0f" + name + _PACK_INT32(4 + len(code) + len(scope)) + code + scope
    if isinstance(value, Symbol):
        return b"\x0e" + name + _string_payload(value)
    if isinstance(value, str):
        return b"\x02" + name + _string_payload(value)
    if isinstance(value, Int64):
        return b"\x12" + name + _PACK_INT64(value)
    if isinstance(value, bool):
        return b"\x08" + name + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        return _encode_other_int(name, int(value))
    if isinstance(value, float):
        return b"\x01" + name + _PACK_DOUBLE(value)
    if isinstance(value, datetime.datetime):
        return b"\x09" + name + _PACK_INT64(_datetime_ms(value))
    if isinstance(value, DatetimeMS):
        return b"\x09" + name + _PACK_INT64(int(value))
    if isinstance(value, ObjectId):
        return b"\x07" + name + value.binary
    if isinstance(value, Decimal128):
        return b"\x13" + name + value.bid
    if isinstance(value, Timestamp):
        return b"\x11" + name + _PACK_TWO_UINT32(value.inc, value.time)
    if isinstance(value, Regex):
        return (
            b"\x0b"
            + name
            + _cstring(value.pattern, "regex pattern")
            + _cstring(value.flags, "regex options")
        )
    if isinstance(value, re.Pattern):
        return _encode_other(name, Regex.from_native(value), check_keys, opts)
    if isinstance(value, uuid.UUID):
        payload, subtype = uuid_to_bytes(value, opts.uuid_representation)
        return b"\x05" + name + _binary_payload(payload, subtype)
    if isinstance(value, DBRef):
        return b"\x03" + name + _encode_document(value.as_doc(), False, opts, False)
    if isinstance(value, Mapping):
        return b"\x03" + name + _encode_document(value, check_keys, opts, False)
    if isinstance(value, (list, tuple)):
        return b"\x04" + name + _encode_array(value, check_keys, opts)
    if isinstance(value, MinKey):
        return b"\xff" + name
    if isinstance(value, MaxKey):
        return b"\x7f" + name
    if isinstance(value, Undefined):
        return b"\x06" + name
    if isinstance(value, DBPointer):
        if not isinstance(value.id, ObjectId):
            raise InvalidDocument(f"DBPointer id must be an ObjectId, not {value.id!r}")
        return b"\x0c" + name + _string_payload(value.namespace) + value.id.binary
    raise InvalidDocument(f"cannot encode object: {value!r}, of type: {type(value).__name__}")


def _encode_other_int(name: bytes, value: int) -> bytes:
    if INT32_MIN <= value <= INT32_MAX:
        return b"\x10" + name + _PACK_INT32(value)
    if INT64_MIN <= value <= INT64_MAX:
        return b"\x12" + name + _PACK_INT64(value)
    raise InvalidDocument(f"BSON integers are 64-bit at most; {value} is too large")


def _encode_document(
    document: Mapping[Any, Any], check_keys: bool, opts: CodecOptions, top_level: bool
) -> bytes:
    if type(document) is dict:
        if not check_keys:
            # A repeated shape has a generated encoder (encode_shapes.py).
            table = TOP_LEVEL_SHAPES if top_level else NESTED_SHAPES
            # The keys then the value types, in one flat tuple (its halves are unambiguous).
            shape_key = (*document, *map(type, document.values()))
            try:
                shape_encoder = table.encoders[shape_key]
            except KeyError:
                half = len(shape_key) // 2
                table.learn(shape_key, shape_key[:half], shape_key[half:])
            else:
                if shape_encoder is not None:
                    return shape_encoder(document, opts)
    elif isinstance(document, RawBSONDocument):
        return document.raw
    parts: list[bytes] = []
    items: Iterable[tuple[Any, Any]] = document.items()
    if top_level and "_id" in document and next(iter(document)) != "_id":
        _encode_elements(parts, (("_id", document["_id"]),), check_keys, opts, False)
        items = ((key, value) for key, value in items if key != "_id")
    _encode_elements(parts, items, check_keys, opts, False)
    body = b"".join(parts)
    return _PACK_INT32(len(body) + 5) + body + b"\x00"


def _encode_array(values: Any, check_keys: bool, opts: CodecOptions) -> bytes:
    if type(values) is list and not check_keys:
        # Keyed by the value types alone: the index names follow from their number.
        types = tuple(map(type, values))
        try:
            shape_encoder = ARRAY_SHAPES.encoders[types]
        except KeyError:
            ARRAY_SHAPES.learn(types, (), types)
        else:
            if shape_encoder is not None:
                return shape_encoder(values, opts)
    parts: list[bytes] = []
    _encode_elements(
        parts, zip(_index_keys(len(values)), values, strict=False), check_keys, opts, True
    )
    body = b"".join(parts)
    return _PACK_INT32(len(body) + 5) + body + b"\x00"


def encode(
    document: Mapping[str, Any],
    check_keys: bool = False,
    codec_options: CodecOptions | None = None,
) -> bytes:
    """The BSON bytes of ``document`` (any mapping with str keys)."""
    if type(document) is not dict and not isinstance(document, Mapping):
        raise TypeError(
            f"encode() needs a mapping (dict, SON, RawBSONDocument...), not "
            f"{type(document).__name__}"
        )
    opts = codec_options or DEFAULT_CODEC_OPTIONS
    try:
        return _encode_document(document, check_keys, opts, True)
    except UnicodeEncodeError as exc:
        raise InvalidStringData(
            f"strings in BSON must be valid UTF-8; cannot encode {exc.object[exc.start : exc.end]!r}"
            f" ({exc.reason})"
        ) from None
    except RecursionError:
        raise InvalidDocument(
            "document is nested too deeply to encode (or contains itself)"
        ) from None


install_general_encoder(_encode_document, _encode_array, _datetime_ms)
