"""How BSON values look in the document views: short text, type names, sizes.

Everything here is cheap on purpose: long strings are sliced before any other work,
embedded documents larger than ``LARGE_DOCUMENT_BYTES`` are described by their size
instead of being decoded, and arrays by their length. ``split_batch`` cuts a raw reply
batch into its documents by reading their length prefixes only.
"""

from __future__ import annotations

import datetime
import math
import struct
import uuid
from collections.abc import Mapping
from typing import Any

from app.documents.values.raw_elements import LongString, RawArray
from driver.bson import (
    Binary,
    Code,
    DatetimeMS,
    DBPointer,
    DBRef,
    Decimal128,
    Int64,
    MaxKey,
    MinKey,
    ObjectId,
    RawBSONDocument,
    Regex,
    Symbol,
    Timestamp,
    Undefined,
)
from driver.errors import InvalidBSON

LARGE_DOCUMENT_BYTES = 512 * 1024  # decoded off the GUI thread above this size
MAX_TEXT = 200  # characters of a string shown before "…"
_UNPACK_INT32 = struct.Struct("<i").unpack_from
_UTC = datetime.UTC


def split_batch(raw: bytes) -> list[bytes]:
    """The BSON documents laid end to end in ``raw`` (only their envelopes are checked)."""
    documents = []
    position = 0
    total = len(raw)
    while position < total:
        if total - position < 5:
            raise InvalidBSON(
                f"{total - position} trailing bytes are too few for a document", position
            )
        size = _UNPACK_INT32(raw, position)[0]
        end = position + size
        if size < 5 or end > total or raw[end - 1] != 0:
            raise InvalidBSON(f"bad document length {size}", position)
        documents.append(raw[position:end])
        position = end
    return documents


def human_size(nbytes: int) -> str:
    value = float(nbytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{nbytes} B"  # pragma: no cover


# The remaining BSON types, each shown by its name (order matters only where a type
# subclasses another; none of these do).
_NAMED_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (ObjectId, "ObjectId"), ((datetime.datetime, DatetimeMS), "Date"),
    (Decimal128, "Decimal128"), ((bytes, Binary), "Binary"), (Timestamp, "Timestamp"),
    (Regex, "Regex"), (DBRef, "DBRef"), (DBPointer, "DBPointer"), (MinKey, "MinKey"),
    (MaxKey, "MaxKey"), (Undefined, "Undefined"),
)


def type_name(value: Any) -> str:
    """The BSON type name users know from Compass and the manual."""
    if value is None:
        return "Null"
    if value is True or value is False:
        return "Boolean"
    if isinstance(value, Int64):
        return "Int64"
    if isinstance(value, int):
        return "Int32" if -(2**31) <= value < 2**31 else "Int64"
    if isinstance(value, float):
        return "Double"
    if isinstance(value, (Code, Symbol)):
        return "Code" if isinstance(value, Code) else "Symbol"
    if isinstance(value, (str, LongString)):
        return "String"
    if isinstance(value, (RawBSONDocument, dict, Mapping)):
        return "Object"
    if isinstance(value, (list, tuple, RawArray)):
        return "Array"
    if isinstance(value, Binary) and value.subtype in (3, 4) and len(value) == 16:
        return "UUID"
    for types, name in _NAMED_TYPES:
        if isinstance(value, types):
            return name
    return type(value).__name__


def format_datetime(value: datetime.datetime | DatetimeMS, utc: bool) -> str:
    """ISO-8601 with milliseconds, in UTC or the machine's local time zone."""
    if isinstance(value, DatetimeMS):
        return f"Date({int(value)} ms)"
    moment = value if value.tzinfo is not None else value.replace(tzinfo=_UTC)
    if utc:
        moment = moment.astimezone(_UTC)
        suffix = "Z"
    else:
        try:
            moment = moment.astimezone()
        except (OverflowError, OSError, ValueError):  # beyond what the OS can convert
            moment = moment.astimezone(_UTC)
        suffix = moment.strftime("%z")
        suffix = f"{suffix[:3]}:{suffix[3:]}" if suffix else ""
    millis = moment.microsecond // 1000
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{millis:03d}{suffix}"


def short_string(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` on one line, cut at ``limit`` characters with the full length noted."""
    if len(text) > limit:
        shown = text[:limit].replace("\n", "⏎").replace("\r", "")
        return f'"{shown}…" ({len(text):,} characters)'
    return '"' + text.replace("\n", "⏎").replace("\r", "") + '"'


def field_count(value: Any) -> str:
    """ "N fields" for a document, or its size when it is too large to count cheaply."""
    if isinstance(value, RawBSONDocument) and len(value.raw) > LARGE_DOCUMENT_BYTES:
        return human_size(len(value.raw))
    count = len(value)
    return f"{count} field" if count == 1 else f"{count} fields"


def display_value(value: Any, utc: bool = True) -> str:
    """One line of text for ``value`` in the value column."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (Code, Symbol)):
        return f"{type_name(value)}({short_string(str(value), 80)})"
    if isinstance(value, str):
        return short_string(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, ObjectId):
        return f"ObjectId('{value}')"
    if isinstance(value, (datetime.datetime, DatetimeMS)):
        return format_datetime(value, utc)
    if isinstance(value, Decimal128):
        return str(value)
    if isinstance(value, DBRef):
        return f"DBRef('{value.collection}', {display_value(value.id, utc)})"
    if isinstance(value, (RawBSONDocument, dict, Mapping)):
        return "{ " + field_count(value) + " }"
    if isinstance(value, LongString):
        shown = value.preview(MAX_TEXT).replace("\n", "⏎").replace("\r", "")
        return f'"{shown}…" ({human_size(value.size)})'
    if isinstance(value, RawArray) and value.size > LARGE_DOCUMENT_BYTES:
        return f"[ {human_size(value.size)} ]"
    if isinstance(value, (list, tuple, RawArray)):
        count = len(value)
        return f"[ {count:,} item{'s' if count != 1 else ''} ]"
    if isinstance(value, Binary) and type_name(value) == "UUID" and value.subtype == 4:
        return f"UUID('{uuid.UUID(bytes=bytes(value))}')"
    if isinstance(value, (bytes, Binary)):
        subtype = value.subtype if isinstance(value, Binary) else 0
        return f"Binary(subtype {subtype}, {human_size(len(value))})"
    if isinstance(value, Timestamp):
        return f"Timestamp({value.time}, {value.inc})"
    if isinstance(value, Regex):
        return f"/{value.pattern}/{value.flags}"
    if isinstance(value, MinKey):
        return "MinKey"
    if isinstance(value, MaxKey):
        return "MaxKey"
    if isinstance(value, Undefined):
        return "undefined"
    return repr(value)


def document_summary(document: Mapping[str, Any], utc: bool = True, limit: int = 160) -> str:
    """``{ _id: ObjectId('…'), name: "…", … }`` cut to about ``limit`` characters."""
    parts: list[str] = []
    length = 2
    for key, value in document.items():
        if isinstance(value, (RawBSONDocument, dict, Mapping)):
            shown = "{…}"
        elif isinstance(value, RawArray):
            shown = "[…]"
        elif isinstance(value, (list, tuple)):
            shown = f"[{len(value)}]"
        else:
            shown = display_value(value, utc)
            if len(shown) > 60:
                shown = shown[:57] + "…"
        part = f"{key}: {shown}"
        if length + len(part) > limit and parts:
            parts.append("…")
            break
        parts.append(part)
        length += len(part) + 2
    return "{ " + ", ".join(parts) + " }"
