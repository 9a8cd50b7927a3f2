"""MongoDB Extended JSON v2: BSON values as JSON text and back.

``dumps(obj, mode="relaxed" | "canonical", indent=None, **json_kwargs)`` writes
Extended JSON. Canonical mode keeps every BSON type (``{"$numberInt": "1"}``);
relaxed mode, which the app shows and lets users edit, writes numbers and recent
dates the natural JSON way (``1``, ``{"$date": "2024-05-01T12:00:00Z"}``) and keeps the
wrappers only where JSON has no equivalent.

``loads(text, codec_options=None)`` reads both modes and the legacy forms the
specification asks parsers to accept (``{"$binary": "...", "$type": "00"}``,
``{"$regex": "...", "$options": "..."}``, ``{"$uuid": "..."}``). It is strict the way
the specification requires: "if the parsed object contains any of the special keys
for a type in the Conversion table ... then it must contain exactly the keys of the
type wrapper", and every wrapper value must have the right JSON type. Violations raise
``ValueError`` naming the wrapper (``json.JSONDecodeError``, also a ``ValueError``, for
text that is not JSON at all).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from driver.bson.codec_options import (
    BINARY_SUBTYPE,
    DEFAULT_CODEC_OPTIONS,
    UUID_SUBTYPE,
    CodecOptions,
    UuidRepresentation,
    bytes_to_uuid,
    uuid_to_bytes,
)
from driver.bson.decimal128 import Decimal128
from driver.bson.decoder import _as_dbref, _datetime_from_ms
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
    datetime_to_ms,
)

RELAXED = "relaxed"
CANONICAL = "canonical"

_UINT32_MAX = 2**32 - 1
# Relaxed mode writes ISO-8601 text only for years 1970-9999 (Extended JSON spec).
_ISO_MS_MIN = 0
_ISO_MS_MAX = 253402300799999


# --- writing ----------------------------------------------------------------------------


def _canonical_double(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value).replace("e", "E")


def _iso_date(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=seconds)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def _date(ms: int, canonical: bool) -> dict[str, Any]:
    if not canonical and _ISO_MS_MIN <= ms <= _ISO_MS_MAX:
        return {"$date": _iso_date(ms)}
    return {"$date": {"$numberLong": str(ms)}}


def _binary(data: bytes, subtype: int) -> dict[str, Any]:
    return {
        "$binary": {"base64": base64.b64encode(data).decode("ascii"), "subType": f"{subtype:02x}"}
    }


def _to_json(value: Any, canonical: bool, uuid_representation: int) -> Any:
    """``value`` as plain JSON-ready Python (dict/list/str/int/float/bool/None)."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is dict or isinstance(value, (Mapping, RawBSONDocument)):
        return {key: _to_json(item, canonical, uuid_representation) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_to_json(item, canonical, uuid_representation) for item in value]
    if isinstance(value, Int64):
        return {"$numberLong": str(int(value))} if canonical else int(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        if not canonical:
            return int(value)
        if INT32_MIN <= value <= INT32_MAX:
            return {"$numberInt": str(int(value))}
        return {"$numberLong": str(int(value))}
    if isinstance(value, float):
        if canonical or not math.isfinite(value):
            return {"$numberDouble": _canonical_double(value)}
        return float(value)
    if isinstance(value, ObjectId):
        return {"$oid": str(value)}
    if isinstance(value, datetime.datetime):
        return _date(datetime_to_ms(value), canonical)
    if isinstance(value, DatetimeMS):
        return _date(int(value), canonical)
    if isinstance(value, Code):
        if value.scope is None:
            return {"$code": str(value)}
        scope = _to_json(value.scope, canonical, uuid_representation)
        return {"$code": str(value), "$scope": scope}
    if isinstance(value, Symbol):
        return {"$symbol": str(value)}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Binary):
        return _binary(bytes(value), value.subtype)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _binary(bytes(value), BINARY_SUBTYPE)
    if isinstance(value, uuid.UUID):
        if uuid_representation == UuidRepresentation.UNSPECIFIED:
            uuid_representation = UuidRepresentation.STANDARD
        return _binary(*uuid_to_bytes(value, uuid_representation))
    if isinstance(value, Decimal128):
        return {"$numberDecimal": str(value)}
    if isinstance(value, Timestamp):
        return {"$timestamp": {"t": value.time, "i": value.inc}}
    if isinstance(value, Regex):
        return {"$regularExpression": {"pattern": value.pattern, "options": value.flags}}
    if isinstance(value, re.Pattern):
        return _to_json(Regex.from_native(value), canonical, uuid_representation)
    if isinstance(value, DBRef):
        return _to_json(value.as_doc(), canonical, uuid_representation)
    if isinstance(value, DBPointer):
        target = _to_json(value.id, canonical, uuid_representation)
        return {"$dbPointer": {"$ref": value.namespace, "$id": target}}
    if isinstance(value, MinKey):
        return {"$minKey": 1}
    if isinstance(value, MaxKey):
        return {"$maxKey": 1}
    if isinstance(value, Undefined):
        return {"$undefined": True}
    raise TypeError(f"{value!r} (type {type(value).__name__}) is not a BSON value")


def to_extended_json(
    value: Any, mode: str = RELAXED, codec_options: CodecOptions | None = None
) -> Any:
    """``value`` converted to plain JSON-ready Python values in Extended JSON ``mode``."""
    if mode not in (RELAXED, CANONICAL):
        raise ValueError(f"mode must be 'relaxed' or 'canonical', not {mode!r}")
    opts = codec_options or DEFAULT_CODEC_OPTIONS
    return _to_json(value, mode == CANONICAL, opts.uuid_representation)


def dumps(
    obj: Any,
    mode: str = RELAXED,
    indent: int | str | None = None,
    codec_options: CodecOptions | None = None,
    **json_kwargs: Any,
) -> str:
    """Extended JSON text for ``obj`` (a document, or any BSON value)."""
    return json.dumps(to_extended_json(obj, mode, codec_options), indent=indent, **json_kwargs)


# --- reading ----------------------------------------------------------------------------

_HEX_OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DOUBLE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL_DOUBLES = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}
_UUID_TEXT = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_SUBTYPE_HEX = re.compile(r"[0-9a-fA-F]{1,2}")
_ISO_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?"
    r"(Z|[+-][0-9]{2}(?::?[0-9]{2})?)"
)

# The keys that make an object a type wrapper (Extended JSON spec, "Conversion table").
_WRAPPER_KEYS = frozenset(
    {
        "$oid", "$symbol", "$numberInt", "$numberLong", "$numberDouble", "$numberDecimal",
        "$binary", "$uuid", "$code", "$timestamp", "$regularExpression", "$dbPointer",
        "$date", "$minKey", "$maxKey", "$undefined",
    }
)  # fmt: skip


def _fail(wrapper: str, problem: str) -> ValueError:
    return ValueError(f"invalid Extended JSON {wrapper}: {problem}")


def _exact_keys(doc: dict[str, Any], wrapper: str, *allowed: str) -> None:
    if set(doc) != set(allowed):
        extra = sorted(set(doc) - set(allowed))
        missing = sorted(set(allowed) - set(doc))
        detail = f"unexpected keys {extra}" if extra else f"missing keys {missing}"
        raise _fail(wrapper, f"{detail} (it must have exactly {list(allowed)})")


def _string(value: Any, wrapper: str) -> str:
    if not isinstance(value, str):
        raise _fail(wrapper, f"expected a string, got {value!r}")
    return value


def _parse_date(value: Any, opts: CodecOptions) -> Any:
    if isinstance(value, Int64):
        return _date_value(int(value), opts)
    if not isinstance(value, str):
        raise _fail(
            "$date", f"expected an ISO-8601 string or {{'$numberLong': ...}}, got {value!r}"
        )
    match = _ISO_DATE.fullmatch(value)
    if match is None:
        raise _fail("$date", f"{value!r} is not an ISO-8601 date-time")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0)
        )
    except ValueError as exc:
        raise _fail("$date", f"{value!r}: {exc}") from None
    ms = datetime_to_ms(moment) + (int((fraction + "00")[:3]) if fraction else 0)
    if zone != "Z":
        digits = zone[1:].replace(":", "")
        offset_minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
        ms -= (offset_minutes if zone[0] == "+" else -offset_minutes) * 60000
    return _date_value(ms, opts)


def _date_value(ms: int, opts: CodecOptions) -> Any:
    try:
        return _datetime_from_ms(ms, opts)
    except OverflowError as exc:
        raise _fail("$date", str(exc)) from None


def _parse_binary(doc: dict[str, Any], opts: CodecOptions) -> Any:
    payload = doc["$binary"]
    if isinstance(payload, dict):  # canonical: {"$binary": {"base64": ..., "subType": ...}}
        _exact_keys(doc, "$binary", "$binary")
        _exact_keys(payload, "$binary", "base64", "subType")
        data, subtype = payload["base64"], payload["subType"]
    else:  # legacy: {"$binary": "<base64>", "$type": "<hex>"}
        _exact_keys(doc, "$binary", "$binary", "$type")
        data, subtype = payload, doc["$type"]
    data = _string(data, "$binary base64")
    subtype = _string(subtype, "$binary subType")
    if _SUBTYPE_HEX.fullmatch(subtype) is None:
        raise _fail("$binary", f"subType {subtype!r} is not one or two hex digits")
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise _fail("$binary", f"bad base64 ({exc})") from None
    return _binary_value(raw, int(subtype, 16), opts)


def _binary_value(raw: bytes, subtype: int, opts: CodecOptions) -> Any:
    if subtype == BINARY_SUBTYPE:
        return raw
    if opts.uuid_representation != UuidRepresentation.UNSPECIFIED:
        as_uuid = bytes_to_uuid(raw, subtype, opts.uuid_representation)
        if as_uuid is not None:
            return as_uuid
    return Binary(raw, subtype)


def _small_uint(value: Any, wrapper: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _UINT32_MAX:
        raise _fail(wrapper, f"expected an unsigned 32-bit integer, got {value!r}")
    return value


def _parse_wrapper(key: str, doc: dict[str, Any], opts: CodecOptions) -> Any:
    """The BSON value of type wrapper ``doc``, whose wrapper key is ``key``."""
    value = doc[key]
    if key == "$binary":
        return _parse_binary(doc, opts)
    if key == "$code":
        if "$scope" in doc:
            _exact_keys(doc, key, "$code", "$scope")
            scope = doc["$scope"]
            if not isinstance(scope, Mapping) or isinstance(scope, DBRef):
                raise _fail("$scope", f"expected a document, got {scope!r}")
            return Code(_string(value, key), scope)
        _exact_keys(doc, key, "$code")
        return Code(_string(value, key))
    _exact_keys(doc, key, key)
    if key == "$oid":
        if not isinstance(value, str) or _HEX_OBJECT_ID.fullmatch(value) is None:
            raise _fail(key, f"expected 24 hex digits, got {value!r}")
        return ObjectId(value)
    if key == "$numberInt":
        text = _string(value, key)
        if _INTEGER.fullmatch(text) is None or not INT32_MIN <= int(text) <= INT32_MAX:
            raise _fail(key, f"{text!r} is not a 32-bit integer")
        return int(text)
    if key == "$numberLong":
        text = _string(value, key)
        if _INTEGER.fullmatch(text) is None or not INT64_MIN <= int(text) <= INT64_MAX:
            raise _fail(key, f"{text!r} is not a 64-bit integer")
        return Int64(int(text))
    if key == "$numberDouble":
        text = _string(value, key)
        if text in _SPECIAL_DOUBLES:
            return _SPECIAL_DOUBLES[text]
        if _DOUBLE.fullmatch(text) is None:
            raise _fail(key, f"{text!r} is not a number")
        return float(text)
    if key == "$numberDecimal":
        return Decimal128(_string(value, key))
    if key == "$date":
        return _parse_date(value, opts)
    if key == "$symbol":
        return Symbol(_string(value, key))
    if key == "$uuid":
        text = _string(value, key)
        if _UUID_TEXT.fullmatch(text) is None:
            raise _fail(key, f"{text!r} is not a UUID in 8-4-4-4-12 hex form")
        return _binary_value(uuid.UUID(text).bytes, UUID_SUBTYPE, opts)
    if key == "$timestamp":
        if not isinstance(value, dict):
            raise _fail(key, f"expected {{'t': ..., 'i': ...}}, got {value!r}")
        _exact_keys(value, key, "t", "i")
        return Timestamp(
            _small_uint(value["t"], "$timestamp t"), _small_uint(value["i"], "$timestamp i")
        )
    if key == "$regularExpression":
        if not isinstance(value, dict):
            raise _fail(key, f"expected {{'pattern': ..., 'options': ...}}, got {value!r}")
        _exact_keys(value, key, "pattern", "options")
        pattern = _string(value["pattern"], "$regularExpression pattern")
        options = _string(value["options"], "$regularExpression options")
        if "\x00" in pattern or "\x00" in options:
            raise _fail(key, "pattern and options must not contain NUL characters")
        return Regex(pattern, options)
    if key == "$dbPointer":
        if isinstance(value, DBRef) and value.database is None and not value.extra:
            namespace, target = value.collection, value.id
        elif isinstance(value, dict):
            _exact_keys(value, key, "$ref", "$id")
            namespace, target = _string(value["$ref"], "$dbPointer $ref"), value["$id"]
        else:
            raise _fail(key, f"expected {{'$ref': ..., '$id': ...}}, got {value!r}")
        if not isinstance(target, ObjectId):
            raise _fail(key, f"$id must be an ObjectId, got {target!r}")
        return DBPointer(namespace, target)
    if key in ("$minKey", "$maxKey"):
        if value != 1 or type(value) is not int:
            raise _fail(key, f"the value must be 1, not {value!r}")
        return MinKey() if key == "$minKey" else MaxKey()
    if key == "$undefined":
        if value is not True:
            raise _fail(key, f"the value must be true, not {value!r}")
        return Undefined()
    raise AssertionError(f"unhandled wrapper {key}")  # pragma: no cover


def _object_hook(opts: CodecOptions) -> Callable[[list[tuple[str, Any]]], Any]:
    document_class = dict if opts._is_raw else opts.document_class

    def convert(pairs: list[tuple[str, Any]]) -> Any:
        doc = dict(pairs)
        wrapper = None
        for key in doc:
            if "\x00" in key:
                raise ValueError(f"key {key!r} must not contain a NUL character")
            if wrapper is None and key in _WRAPPER_KEYS:
                wrapper = key
        if wrapper is not None:
            return _parse_wrapper(wrapper, doc, opts)
        # Legacy regex, only when it cannot be the $regex query operator with a
        # non-string value (BSON corpus: "Regular expression as value of $regex").
        if (
            "$regex" in doc
            and isinstance(doc["$regex"], str)
            and set(doc) == {"$regex", "$options"}
        ):
            return Regex(doc["$regex"], _string(doc["$options"], "$options"))
        if "$ref" in doc:
            converted = _as_dbref(doc)
            if converted is not doc:
                return converted
        if document_class is dict:
            return doc
        result = document_class()
        result.update(doc)
        return result

    return convert


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; write {{'$numberDouble': '{name}'}}")


def loads(text: str | bytes, codec_options: CodecOptions | None = None) -> Any:
    """The BSON values in Extended JSON ``text`` (canonical, relaxed or legacy)."""
    opts = codec_options or DEFAULT_CODEC_OPTIONS
    result = json.loads(text, object_pairs_hook=_object_hook(opts), parse_constant=_reject_constant)
    if isinstance(result, DBRef):
        # A whole document is never a DBRef (as in ``decode``): give back its fields.
        document_class = dict if opts._is_raw else opts.document_class
        document = document_class()
        document.update(result.as_doc())
        return document
    return result


def from_extended_json(value: Any, codec_options: CodecOptions | None = None) -> Any:
    """Like ``loads`` for an already parsed JSON value (dicts, lists, scalars)."""
    return loads(json.dumps(value), codec_options)


__all__ = [
    "CANONICAL",
    "RELAXED",
    "dumps",
    "from_extended_json",
    "loads",
    "to_extended_json",
]
