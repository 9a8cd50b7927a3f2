"""Raw BSON straight to Extended JSON text, without building Python documents first.

Exports spend their time turning each document into JSON. Decoding into dicts and then
converting those into Extended JSON walks every value twice and allocates a Python
object for each; this writer reads the BSON bytes once and emits the JSON pieces
directly (strings through the json module's C escaper). The output is the Extended JSON
v2 that ``driver.bson.json_util.dumps`` writes (relaxed or canonical mode, compact
separators); the rare types it does not special-case (DBPointer, old binary subtype 2)
go through ``json_util`` one element at a time.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import struct
from json.encoder import encode_basestring
from typing import Any

from driver.bson import DEFAULT_CODEC_OPTIONS, Decimal128, decode, json_util

_INT32 = struct.Struct("<i")
_UNPACK_INT32 = _INT32.unpack_from
_UNPACK_INT64 = struct.Struct("<q").unpack_from
_UNPACK_DOUBLE = struct.Struct("<d").unpack_from
_UNPACK_TWO_UINT32 = struct.Struct("<II").unpack_from
_EPOCH = datetime.datetime(1970, 1, 1)
_ISO_MS_MAX = 253402300799999  # relaxed mode writes ISO text for years 1970-9999
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _double(value: float, canonical: bool) -> str:
    if math.isfinite(value) and not canonical:
        return float.__repr__(value)
    if math.isnan(value):
        text = "NaN"
    elif math.isinf(value):
        text = "Infinity" if value > 0 else "-Infinity"
    else:
        text = float.__repr__(value).replace("e", "E")
    return '{"$numberDouble":"' + text + '"}'


def _date(ms: int, canonical: bool) -> str:
    if canonical or not 0 <= ms <= _ISO_MS_MAX:
        return '{"$date":{"$numberLong":"' + str(ms) + '"}}'
    seconds, millis = divmod(ms, 1000)
    moment = _EPOCH + datetime.timedelta(seconds=seconds)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return '{"$date":"' + (f"{text}.{millis:03d}Z" if millis else f"{text}Z") + '"}'


def _generic(data: bytes, start: int, stop: int, canonical: bool) -> str:
    """One element's value through ``json_util`` (types this module does not handle)."""
    element = data[start:stop]
    single = _INT32.pack(len(element) + 5) + element + b"\x00"
    value = next(iter(decode(single, DEFAULT_CODEC_OPTIONS).values()))
    mode = "canonical" if canonical else "relaxed"
    return _COMPACT.encode(json_util.to_extended_json(value, mode))


def _write(data: bytes, pos: int, end: int, array: bool, canonical: bool, out: list[str]) -> None:
    """Write the elements from ``pos`` to ``end`` (the document's final NUL)."""
    append = out.append
    append("[" if array else "{")
    first = True
    find_nul = data.index
    while pos < end:
        kind = data[pos]
        key_end = find_nul(0, pos + 1)
        if first:
            first = False
        else:
            append(",")
        if not array:
            append(encode_basestring(data[pos + 1 : key_end].decode("utf-8")))
            append(":")
        element_start = pos
        pos = key_end + 1
        if kind == 2:  # string
            size = _UNPACK_INT32(data, pos)[0]
            append(encode_basestring(data[pos + 4 : pos + 3 + size].decode("utf-8")))
            pos += 4 + size
        elif kind == 16:  # int32
            value = _UNPACK_INT32(data, pos)[0]
            append('{"$numberInt":"' + str(value) + '"}' if canonical else str(value))
            pos += 4
        elif kind == 1:  # double
            append(_double(_UNPACK_DOUBLE(data, pos)[0], canonical))
            pos += 8
        elif kind == 3 or kind == 4:  # embedded document / array
            size = _UNPACK_INT32(data, pos)[0]
            _write(data, pos + 4, pos + size - 1, kind == 4, canonical, out)
            pos += size
        elif kind == 7:  # ObjectId
            append('{"$oid":"' + data[pos : pos + 12].hex() + '"}')
            pos += 12
        elif kind == 8:  # boolean
            append("true" if data[pos] else "false")
            pos += 1
        elif kind == 9:  # UTC datetime
            append(_date(_UNPACK_INT64(data, pos)[0], canonical))
            pos += 8
        elif kind == 10:  # null
            append("null")
        elif kind == 18:  # int64
            value = _UNPACK_INT64(data, pos)[0]
            append('{"$numberLong":"' + str(value) + '"}' if canonical else str(value))
            pos += 8
        elif kind == 5 and data[pos + 4] != 2:  # binary (not the old subtype 2)
            size = _UNPACK_INT32(data, pos)[0]
            payload = base64.b64encode(data[pos + 5 : pos + 5 + size]).decode("ascii")
            append(f'{{"$binary":{{"base64":"{payload}","subType":"{data[pos + 4]:02x}"}}}}')
            pos += 5 + size
        elif kind == 19:  # decimal128
            append('{"$numberDecimal":"' + str(Decimal128.from_bid(data[pos : pos + 16])) + '"}')
            pos += 16
        elif kind == 17:  # timestamp: increment first, then seconds
            increment, seconds = _UNPACK_TWO_UINT32(data, pos)
            append(f'{{"$timestamp":{{"t":{seconds},"i":{increment}}}}}')
            pos += 8
        elif kind == 11:  # regex: pattern and options as C strings
            pattern_end = find_nul(0, pos)
            options_end = find_nul(0, pattern_end + 1)
            pattern = data[pos:pattern_end].decode("utf-8")
            options = "".join(sorted(data[pattern_end + 1 : options_end].decode("utf-8")))
            append(
                '{"$regularExpression":{"pattern":' + encode_basestring(pattern)
                + ',"options":' + encode_basestring(options) + "}}"
            )  # fmt: skip
            pos = options_end + 1
        elif kind == 0xFF:
            append('{"$minKey":1}')
        elif kind == 0x7F:
            append('{"$maxKey":1}')
        elif kind == 6:
            append('{"$undefined":true}')
        else:  # code, symbol, code with scope, DBPointer, old binary: rare, generic path
            stop = _element_end(data, kind, pos)
            append(_generic(data, element_start, stop, canonical))
            pos = stop
    append("]" if array else "}")


def _element_end(data: bytes, kind: int, pos: int) -> int:
    from app.documents.values.raw_elements import _value_size

    return pos + _value_size(data, kind, pos)


def raw_to_json(raw: bytes, mode: str = "relaxed") -> str:
    """The Extended JSON text of one BSON document (compact separators)."""
    if mode not in ("relaxed", "canonical"):
        raise ValueError(f"mode must be 'relaxed' or 'canonical', not {mode!r}")
    out: list[str] = []
    _write(raw, 4, len(raw) - 1, False, mode == "canonical", out)
    return "".join(out)


def document_to_json(document: Any, mode: str = "relaxed") -> str:
    """Extended JSON text of a raw document (bytes / ``RawBSONDocument``) or a mapping."""
    raw = getattr(document, "raw", document)
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return raw_to_json(bytes(raw), mode)
    return _COMPACT.encode(json_util.to_extended_json(document, mode))
