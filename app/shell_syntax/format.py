"""Writing BSON values back in shell syntax (the inverse of ``shell_parser``).

``to_shell(value, indent=None)`` gives text that mongosh accepts and that
``shell_parser.parse`` reads back to the same BSON value: ``ObjectId("...")``,
``ISODate("...Z")``, ``NumberLong("...")``, ``NumberDecimal("...")``, ``Timestamp(t, i)``,
``BinData(sub, "...")``, ``/pattern/flags``. Values without a shell constructor of their
own (Code, Symbol, DBPointer, ...) are written as canonical Extended JSON, which the
parser also reads. The query history and "copy as shell" use this.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import re
from typing import Any

from driver.bson import (
    Binary,
    DatetimeMS,
    Decimal128,
    Int64,
    MaxKey,
    MinKey,
    ObjectId,
    Regex,
    Timestamp,
    json_util,
)
from driver.bson.types import Code, Symbol, Undefined, datetime_to_ms

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_RESERVED = frozenset({"true", "false", "null", "undefined", "new", "Infinity", "NaN"})
# A regex literal can only be written when its pattern cannot end the literal early or
# be mistaken for a comment.
_UNSAFE_IN_REGEX_LITERAL = re.compile(r"[/\n\r\u2028\u2029]")


def _key(name: str) -> str:
    if _IDENTIFIER.fullmatch(name) and name not in _RESERVED:
        return name
    return _string(name)


def _string(text: str) -> str:
    # JSON string syntax is valid JavaScript string syntax.
    return json.dumps(text, ensure_ascii=False)


def _iso(ms: int) -> str:
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def _float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)
    return text if any(c in text for c in ".eE") else text + ".0"


def _scalar(value: Any) -> str | None:
    """Shell text for a non-container value, or None if it needs Extended JSON."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Int64):
        return f'NumberLong("{int(value)}")'
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, (Code, Symbol)):
        return None
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, ObjectId):
        return f'ObjectId("{value}")'
    if isinstance(value, datetime.datetime):
        ms = datetime_to_ms(value)
        return f'ISODate("{_iso(ms)}")' if 0 <= ms <= 253402300799999 else f"new Date({ms})"
    if isinstance(value, DatetimeMS):
        return f"new Date({int(value)})"
    if isinstance(value, Decimal128):
        return f'NumberDecimal("{value}")'
    if isinstance(value, Timestamp):
        return f"Timestamp({value.time}, {value.inc})"
    if isinstance(value, Binary):
        return f'BinData({value.subtype}, "{base64.b64encode(bytes(value)).decode("ascii")}")'
    if isinstance(value, (bytes, bytearray)):
        return f'BinData(0, "{base64.b64encode(bytes(value)).decode("ascii")}")'
    if isinstance(value, Regex):
        pattern = value.pattern
        # "/*" would open a comment rather than a regular expression literal.
        if (pattern and not pattern.endswith("\\") and not pattern.startswith("*")
                and not _UNSAFE_IN_REGEX_LITERAL.search(pattern)):
            # A trailing odd backslash or a '[' left open would change where it ends.
            if "[" not in pattern:
                return f"/{pattern}/{value.flags}"
        return f"RegExp({_string(pattern)}, {_string(value.flags)})"
    if isinstance(value, MinKey):
        return "MinKey()"
    if isinstance(value, MaxKey):
        return "MaxKey()"
    if isinstance(value, Undefined):
        return None
    return None


def to_shell(value: Any, indent: int | None = None) -> str:
    """``value`` in shell syntax; ``indent`` spaces per level for multi-line output."""
    parts: list[str] = []
    _write(value, parts, indent, 0)
    return "".join(parts)


def _write(value: Any, out: list[str], indent: int | None, level: int) -> None:
    text = _scalar(value) if not isinstance(value, (dict, list, tuple)) else None
    if text is not None:
        out.append(text)
        return
    if isinstance(value, (list, tuple)):
        _write_items([(None, item) for item in value], "[", "]", out, indent, level)
        return
    if isinstance(value, dict) or (hasattr(value, "items") and hasattr(value, "raw")):
        _write_items(list(value.items()), "{", "}", out, indent, level)
        return
    out.append(json_util.dumps(value, mode="canonical"))


def _write_items(
    items: list[tuple[str | None, Any]],
    opening: str,
    closing: str,
    out: list[str],
    indent: int | None,
    level: int,
) -> None:
    if not items:
        out.append(opening + closing)
        return
    out.append(opening)
    for index, (key, item) in enumerate(items):
        if index:
            out.append(",")
        if indent is not None:
            out.append("\n" + " " * (indent * (level + 1)))
        elif index:
            out.append(" ")
        if key is not None:
            out.append(_key(key) + ": ")
        _write(item, out, indent, level + 1)
    if indent is not None:
        out.append("\n" + " " * (indent * level))
    out.append(closing)
