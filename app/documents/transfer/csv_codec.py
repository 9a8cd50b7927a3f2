"""Documents as CSV rows and back: flattening, cell text, per-column type detection.

Export: nested documents become dotted columns (``address.city``); arrays, empty
documents and BSON types without a natural text form are written as relaxed Extended
JSON text; ObjectIds as their 24 hex digits, dates as ISO-8601 UTC with milliseconds,
``null`` as the word ``null``; a missing field is an empty cell.

Import: every column gets a type, detected from all its non-empty cells (the narrowest
of objectId, int, long, double, bool, date, json, string) unless the caller overrides
it; empty cells leave the field out; dotted headers rebuild nested documents.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from driver.bson import Decimal128, Int64, ObjectId, json_util
from driver.bson.types import datetime_to_ms, ms_to_datetime

COLUMN_TYPES = (
    "auto", "string", "objectId", "int", "long", "double", "decimal", "bool", "date", "json",
    "null",
)  # fmt: skip
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_HEX_24 = re.compile(r"[0-9a-fA-F]{24}")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Infinity|NaN")
_DATE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)
# Narrowest first: the first type every value of a column fits is the column's type.
_DETECTION_ORDER = ("objectId", "int", "long", "double", "bool", "date", "json")


class CellError(ValueError):
    """A cell that does not fit its column's type; the message names column and value."""


# --- export ---------------------------------------------------------------------------


def flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Dotted column name -> cell text for one document."""
    row: dict[str, str] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and not _is_dbref_like(value):
            row.update(flatten(value, name + "."))
        else:
            row[name] = cell_text(value)
    return row


def _is_dbref_like(value: Mapping[str, Any]) -> bool:
    return "$ref" in value and "$id" in value


def cell_text(value: Any) -> str:
    """The CSV text of one value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str) and type(value) is str:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        if math.isfinite(value):
            return repr(value)
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime.datetime):
        ms = datetime_to_ms(value)
        moment = ms_to_datetime(ms)
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"
    if isinstance(value, Decimal128):
        return str(value)
    return json_util.dumps(value, mode="relaxed", separators=(",", ":"))


# --- import ---------------------------------------------------------------------------


def _fits(kind: str, text: str) -> bool:
    if text == "null":
        return True  # null fits every column
    if kind == "objectId":
        return _HEX_24.fullmatch(text) is not None
    if kind == "int":
        return _INTEGER.fullmatch(text) is not None and _INT32_MIN <= int(text) <= _INT32_MAX
    if kind == "long":
        return _INTEGER.fullmatch(text) is not None and _INT64_MIN <= int(text) <= _INT64_MAX
    if kind == "double":
        return _NUMBER.fullmatch(text) is not None
    if kind == "bool":
        return text in ("true", "false")
    if kind == "date":
        return _DATE.fullmatch(text) is not None
    if kind == "json":
        if text[:1] not in ("{", "["):
            return False
        try:
            json.loads(text)
        except ValueError:
            return False
        return True
    return True


class TypeDetector:
    """Feed it rows (column -> text); ``types()`` gives each column's narrowest type."""

    def __init__(self) -> None:
        self._candidates: dict[str, list[str]] = {}
        self._non_null_seen: set[str] = set()
        self._null_seen: set[str] = set()

    def add(self, row: Mapping[str, str]) -> None:
        for column, text in row.items():
            candidates = self._candidates.setdefault(column, list(_DETECTION_ORDER))
            if text == "":
                continue
            if text == "null":
                self._null_seen.add(column)
            else:
                self._non_null_seen.add(column)
            if candidates:
                candidates[:] = [kind for kind in candidates if _fits(kind, text)]

    def types(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for column, candidates in self._candidates.items():
            if column not in self._non_null_seen:
                result[column] = "null" if column in self._null_seen else "string"
            else:
                result[column] = candidates[0] if candidates else "string"
        return result


def _parse_date(text: str) -> datetime.datetime:
    from app.shell_syntax.parser import parse_iso_date

    return parse_iso_date(text)


def convert_cell(text: str, kind: str, column: str) -> Any:
    """The value of one non-empty cell under column type ``kind``."""
    if kind == "string":
        return text
    if text == "null":
        return None
    try:
        if kind in ("null", "auto"):
            return None if kind == "null" else text
        if kind == "objectId":
            return ObjectId(text)
        if kind == "int":
            value = int(text)
            if not _INT32_MIN <= value <= _INT32_MAX:
                raise ValueError("out of the 32-bit range")
            return value
        if kind == "long":
            return Int64(int(text))
        if kind == "double":
            return float(text)
        if kind == "decimal":
            return Decimal128(text)
        if kind == "bool":
            if text not in ("true", "false"):
                raise ValueError("expected true or false")
            return text == "true"
        if kind == "date":
            return _parse_date(text)
        if kind == "json":
            return json_util.loads(text)
    except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
        raise CellError(f"column {column!r}: {text!r} is not {kind} ({exc})") from None
    raise ValueError(f"unknown column type {kind!r}; expected one of {COLUMN_TYPES}")


def unflatten(cells: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Rebuild nested documents from dotted column names."""
    document: dict[str, Any] = {}
    for column, value in cells:
        parts = column.split(".")
        target = document
        for depth, part in enumerate(parts[:-1]):
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                prefix = ".".join(parts[: depth + 1])
                raise CellError(f"column {column!r} conflicts with column {prefix!r}")
            target = child
        leaf = parts[-1]
        if leaf in target:
            raise CellError(f"column {column!r} conflicts with a nested column under it")
        target[leaf] = value
    return document


def row_to_document(header: list[str], row: list[str], types: Mapping[str, str]) -> dict[str, Any]:
    """One CSV row as a document; raises ``CellError`` naming the bad cell."""
    if len(row) > len(header):
        raise CellError(f"{len(row)} cells but the header has {len(header)} columns")
    cells = [
        (column, convert_cell(text, types.get(column, "string"), column))
        for column, text in zip(header, row, strict=False)
        if text != ""
    ]
    return unflatten(cells)
