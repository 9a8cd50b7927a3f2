"""Recursive-descent parser for the shell syntax users paste from mongosh and Compass.

Grammar (a relaxed JavaScript literal; never evaluated)::

    value    := object | array | STRING | number | REGEX | constant | call
    object   := '{' [ key ':' value { ',' key ':' value } [','] ] '}'
    key      := IDENT | STRING | NUMBER
    array    := '[' [ value { ',' value } [','] ] ']'
    number   := ['-' | '+'] ( NUMBER | 'Infinity' | 'NaN' )
    constant := 'true' | 'false' | 'null' | 'undefined' | 'MinKey' | 'MaxKey'
    call     := ['new'] IDENT '(' [ value { ',' value } [','] ] ')'

The calls are the shell's BSON constructors (``ObjectId``, ``ISODate``, ``Date``,
``NumberLong``, ``NumberInt``, ``NumberDecimal``, ``Timestamp``, ``BinData``, ``UUID``, ...;
see ``_CONSTRUCTORS``). An object whose keys are an Extended JSON type wrapper
(``{"$oid": ...}``, ``{"$date": ...}``, ...) becomes that BSON value by the rules of
``driver.bson.json_util``. Values are Python values with ``driver.bson`` types, as the
driver encodes them.

Numbers: a literal without fraction or exponent is an ``int`` (the encoder stores it as
int32 or int64 by size; beyond int64 it becomes a double, as the shell's JavaScript
numbers would), anything else a ``float``. ``undefined`` becomes ``None``: mongosh's
BSON library also serializes JavaScript ``undefined`` as null.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import math
import re
import uuid
from collections.abc import Callable
from typing import Any

from app.shell_syntax.tokens import ShellSyntaxError, Token, Tokenizer, TokenKind
from driver.bson import (
    UUID_SUBTYPE,
    Binary,
    Code,
    DatetimeMS,
    DBRef,
    Decimal128,
    Int64,
    MaxKey,
    MinKey,
    ObjectId,
    Regex,
    Timestamp,
    json_util,
)
from driver.bson.types import ms_to_datetime

__all__ = ["ShellSyntaxError", "parse", "parse_document", "parse_query_field", "parse_pipeline"]

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT32_MAX = 2**32 - 1
# Python's datetime covers years 1-9999; BSON dates outside that stay as DatetimeMS.
_DATETIME_MS_MIN = -62135596800000
_DATETIME_MS_MAX = 253402300799999
# The flags MongoDB's regular expressions understand (BSON spec: i, l, m, s, u, x).
_REGEX_FLAGS = frozenset("ilmsux")
_JS_ONLY_FLAGS = frozenset("gydv")
_MAX_DEPTH = 200
_WRAPPER_KEYS = frozenset(
    {
        "$oid", "$symbol", "$numberInt", "$numberLong", "$numberDouble", "$numberDecimal",
        "$binary", "$uuid", "$code", "$timestamp", "$regularExpression", "$dbPointer",
        "$date", "$minKey", "$maxKey", "$undefined",
    }
)  # fmt: skip
# mongosh's ISODate: date, optional time (T or space), optional fraction and zone.
_ISO_DATE = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:\.(\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?"
)
_HEX_24 = re.compile(r"[0-9a-fA-F]{24}")
_UUID_TEXT = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokenizer = Tokenizer(text)
        self._token = self._tokenizer.next_token()
        self._depth = 0

    # -- token helpers -----------------------------------------------------------
    def _advance(self) -> Token:
        token = self._token
        self._token = self._tokenizer.next_token()
        return token

    def _error(self, message: str, token: Token | None = None) -> ShellSyntaxError:
        at = token or self._token
        return ShellSyntaxError(message, at.line, at.column, at.offset)

    def _expected(self, what: str) -> ShellSyntaxError:
        return self._error(f"expected {what}, found {self._token.describe()}")

    def _is_punct(self, char: str) -> bool:
        return self._token.kind is TokenKind.PUNCT and self._token.text == char

    def _expect_punct(self, char: str, what: str) -> Token:
        if not self._is_punct(char):
            raise self._expected(what)
        return self._advance()

    # -- entry -------------------------------------------------------------------
    def parse_all(self) -> Any:
        value = self._value()
        if self._token.kind is not TokenKind.END:
            raise self._expected("end of input (one value only)")
        return value

    # -- grammar -----------------------------------------------------------------
    def _value(self) -> Any:
        token = self._token
        kind = token.kind
        if kind is TokenKind.PUNCT:
            if token.text == "{":
                return self._nested(self._object)
            if token.text == "[":
                return self._nested(self._array)
            if token.text in "-+":
                return self._signed_number()
            raise self._expected("a value")
        if kind is TokenKind.STRING:
            self._advance()
            return token.text
        if kind is TokenKind.NUMBER:
            self._advance()
            return _fit_integer(_number(token.text))
        if kind is TokenKind.REGEX:
            self._advance()
            return self._regex(token.text, token.flags, token)
        if kind is TokenKind.IDENT:
            return self._identifier_value()
        raise self._expected("a value")

    def _nested(self, parse: Callable[[], Any]) -> Any:
        self._depth += 1
        if self._depth > _MAX_DEPTH:
            raise self._error(f"nested more than {_MAX_DEPTH} levels deep")
        try:
            return parse()
        finally:
            self._depth -= 1

    def _object(self) -> Any:
        opening = self._advance()
        document: dict[str, Any] = {}
        while not self._is_punct("}"):
            key_token = self._token
            if key_token.kind in (TokenKind.IDENT, TokenKind.STRING, TokenKind.NUMBER):
                key = key_token.text
                self._advance()
            else:
                raise self._expected("a field name or '}'")
            if "\x00" in key:
                raise self._error("a field name must not contain a NUL character", key_token)
            self._expect_punct(":", f"':' after the field name {key!r}")
            document[key] = self._value()
            if self._is_punct(","):
                self._advance()
            elif not self._is_punct("}"):
                raise self._expected("',' or '}'")
        self._advance()
        if not _WRAPPER_KEYS.isdisjoint(document):
            return self._extended_json(document, opening)
        return document

    def _array(self) -> list[Any]:
        self._advance()
        items: list[Any] = []
        while not self._is_punct("]"):
            items.append(self._value())
            if self._is_punct(","):
                self._advance()
            elif not self._is_punct("]"):
                raise self._expected("',' or ']'")
        self._advance()
        return items

    def _signed_number(self) -> Any:
        sign = self._advance()
        token = self._token
        if token.kind is TokenKind.NUMBER:
            value = _number(token.text)
        elif token.kind is TokenKind.IDENT and token.text in ("Infinity", "NaN"):
            value = math.inf if token.text == "Infinity" else math.nan
        else:
            raise self._expected(f"a number after '{sign.text}'")
        self._advance()
        if sign.text == "-":
            value = -value
        return _fit_integer(value)

    def _identifier_value(self) -> Any:
        token = self._advance()
        name = token.text
        if name in _CONSTANTS:
            return _CONSTANTS[name]()
        if name in ("MinKey", "MaxKey"):
            if self._is_punct("("):
                self._advance()
                self._expect_punct(")", f"')': {name}() takes no arguments")
            return MinKey() if name == "MinKey" else MaxKey()
        if name == "new":
            if self._token.kind is not TokenKind.IDENT:
                raise self._expected("a constructor name after 'new'")
            token = self._advance()
            name = token.text
        constructor = _CONSTRUCTORS.get(name)
        if constructor is None:
            known = ", ".join(sorted(_CONSTRUCTORS))
            raise self._error(
                f"unknown name {name!r}: expected a value (quote strings; known constructors "
                f"are {known})",
                token,
            )
        self._expect_punct("(", f"'(' after {name}")
        arguments: list[tuple[Any, Token]] = []
        while not self._is_punct(")"):
            start = self._token
            arguments.append((self._value(), start))
            if self._is_punct(","):
                self._advance()
            elif not self._is_punct(")"):
                raise self._expected(f"',' or ')' in {name}(...)")
        self._advance()
        try:
            return constructor(arguments)
        except _BadArgument as exc:
            raise self._error(f"{name}(...): {exc.message}", exc.token or token) from None

    def _regex(self, pattern: str, flags: str, token: Token) -> Regex:
        js_only = sorted(set(flags) & _JS_ONLY_FLAGS)
        if js_only:
            raise self._error(
                f"regular expression flag {''.join(js_only)!r} is JavaScript-only; MongoDB "
                "understands i, m, s, x, u and l",
                token,
            )
        unknown = sorted(set(flags) - _REGEX_FLAGS)
        if unknown:
            raise self._error(f"unknown regular expression flag(s) {''.join(unknown)!r}", token)
        if len(set(flags)) != len(flags):
            raise self._error(f"repeated regular expression flag in {flags!r}", token)
        if "\x00" in pattern:
            raise self._error("a regular expression must not contain a NUL character", token)
        return Regex(pattern, flags)

    def _extended_json(self, document: dict[str, Any], opening: Token) -> Any:
        """Turn a type-wrapper object into its BSON value (``json_util`` rules)."""
        if set(document) == {"$date"} and isinstance(document["$date"], int):
            # Legacy Extended JSON v1 wrote {"$date": <millis>}; Compass still accepts it.
            return _date_from_ms(int(document["$date"]))
        try:
            plain = json_util.to_extended_json(document, "relaxed")
            return json_util.from_extended_json(plain)
        except (ValueError, TypeError, OverflowError) as exc:
            raise self._error(str(exc), opening) from None


# --- values ---------------------------------------------------------------------------


class _BadArgument(Exception):
    def __init__(self, message: str, token: Token | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.token = token


def _number(text: str) -> int | float:
    if text[:2] in ("0x", "0X"):
        return int(text, 16)
    if "." in text or "e" in text or "E" in text:
        return float(text)
    return int(text)


def _fit_integer(value: int | float) -> int | float:
    # JavaScript numbers beyond int64 could never be integers in BSON: keep them doubles.
    if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
        return float(value)
    return value


def _date_from_ms(ms: int) -> Any:
    if not _INT64_MIN <= ms <= _INT64_MAX:
        raise _BadArgument(f"{ms} ms does not fit in a BSON date")
    if _DATETIME_MS_MIN <= ms <= _DATETIME_MS_MAX:
        return ms_to_datetime(ms)
    return DatetimeMS(ms)


def parse_iso_date(text: str) -> datetime.datetime:
    """A naive UTC datetime for the date strings ``ISODate`` accepts (no zone means UTC)."""
    match = _ISO_DATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not a date: expected ISO-8601 like 2024-05-01, 2024-05-01T12:30:00Z "
            "or 2024-05-01T12:30:00.000+02:00"
        )
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
        )  # fmt: skip
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date: {exc}") from None
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        moment = moment - offset if zone[0] == "+" else moment + offset
    # BSON keeps milliseconds only.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _arity(arguments: list[tuple[Any, Token]], low: int, high: int, usage: str) -> None:
    if not low <= len(arguments) <= high:
        raise _BadArgument(f"expected {usage}, got {len(arguments)} argument(s)")


def _text_argument(argument: tuple[Any, Token], what: str) -> str:
    value, token = argument
    if not isinstance(value, str):
        raise _BadArgument(f"expected {what} as a string, got {value!r}", token)
    return value


def _int_argument(argument: tuple[Any, Token], what: str, low: int, high: int) -> int:
    value, token = argument
    if isinstance(value, str):
        try:
            value = int(value.strip(), 10)
        except ValueError:
            raise _BadArgument(f"{what} {value!r} is not an integer", token) from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _BadArgument(f"expected {what} as an integer, got {value!r}", token)
    if not low <= value <= high:
        raise _BadArgument(f"{what} {value} is out of range {low}..{high}", token)
    return int(value)


def _object_id(arguments: list[tuple[Any, Token]]) -> ObjectId:
    _arity(arguments, 0, 1, 'ObjectId() or ObjectId("<24 hex digits>")')
    if not arguments:
        return ObjectId()
    text = _text_argument(arguments[0], "the id")
    if _HEX_24.fullmatch(text) is None:
        raise _BadArgument(f"{text!r} is not 24 hex digits", arguments[0][1])
    return ObjectId(text)


def _date(arguments: list[tuple[Any, Token]]) -> Any:
    _arity(arguments, 0, 1, "a date string, milliseconds since 1970, or nothing")
    if not arguments:
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)
    value, token = arguments[0]
    if isinstance(value, str):
        try:
            return parse_iso_date(value)
        except ValueError as exc:
            raise _BadArgument(str(exc), token) from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _date_from_ms(int(value))
    if isinstance(value, (datetime.datetime, DatetimeMS)):
        return value
    raise _BadArgument(f"expected a date string or milliseconds, got {value!r}", token)


def _number_long(arguments: list[tuple[Any, Token]]) -> Int64:
    _arity(arguments, 1, 1, "one number or numeric string")
    return Int64(_int_argument(arguments[0], "the value", _INT64_MIN, _INT64_MAX))


def _number_int(arguments: list[tuple[Any, Token]]) -> int:
    _arity(arguments, 1, 1, "one number or numeric string")
    return _int_argument(arguments[0], "the value", _INT32_MIN, _INT32_MAX)


def _number_decimal(arguments: list[tuple[Any, Token]]) -> Decimal128:
    _arity(arguments, 1, 1, 'one decimal string, as in NumberDecimal("1.10")')
    value, token = arguments[0]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = repr(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        raise _BadArgument(f"expected a decimal string, got {value!r}", token)
    try:
        return Decimal128(value)
    except (ValueError, ArithmeticError, TypeError) as exc:
        raise _BadArgument(f"{value!r} is not a Decimal128 ({exc})", token) from None


def _double(arguments: list[tuple[Any, Token]]) -> float:
    _arity(arguments, 1, 1, "one number")
    value, token = arguments[0]
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _BadArgument(f"{value!r} is not a number", token) from None


def _timestamp(arguments: list[tuple[Any, Token]]) -> Timestamp:
    if len(arguments) == 1 and isinstance(arguments[0][0], dict):
        fields = arguments[0][0]  # mongosh 2: Timestamp({t: 1, i: 2})
        if set(fields) != {"t", "i"}:
            raise _BadArgument("expected {t: <seconds>, i: <increment>}", arguments[0][1])
        arguments = [(fields["t"], arguments[0][1]), (fields["i"], arguments[0][1])]
    _arity(arguments, 2, 2, "Timestamp(<seconds>, <increment>)")
    seconds = _int_argument(arguments[0], "the seconds", 0, _UINT32_MAX)
    increment = _int_argument(arguments[1], "the increment", 0, _UINT32_MAX)
    return Timestamp(seconds, increment)


def _bin_data(arguments: list[tuple[Any, Token]]) -> Binary:
    _arity(arguments, 2, 2, 'BinData(<subtype>, "<base64>")')
    subtype = _int_argument(arguments[0], "the subtype", 0, 255)
    text = _text_argument(arguments[1], "the data")
    try:
        return Binary(base64.b64decode(text, validate=True), subtype)
    except binascii.Error as exc:
        raise _BadArgument(f"the data is not base64 ({exc})", arguments[1][1]) from None


def _hex_data(arguments: list[tuple[Any, Token]]) -> Binary:
    _arity(arguments, 2, 2, 'HexData(<subtype>, "<hex>")')
    subtype = _int_argument(arguments[0], "the subtype", 0, 255)
    text = _text_argument(arguments[1], "the data")
    try:
        return Binary(bytes.fromhex(text), subtype)
    except ValueError:
        raise _BadArgument(f"{text!r} is not hex digits", arguments[1][1]) from None


def _uuid(arguments: list[tuple[Any, Token]]) -> Binary:
    _arity(arguments, 0, 1, 'UUID() or UUID("<32 hex digits, dashes optional>")')
    if not arguments:
        return Binary(uuid.uuid4().bytes, UUID_SUBTYPE)
    text = _text_argument(arguments[0], "the UUID")
    if _UUID_TEXT.fullmatch(text) is None:
        raise _BadArgument(f"{text!r} is not a UUID", arguments[0][1])
    return Binary(uuid.UUID(text).bytes, UUID_SUBTYPE)


def _regexp(arguments: list[tuple[Any, Token]]) -> Regex:
    _arity(arguments, 1, 2, 'RegExp("<pattern>", "<flags>")')
    pattern = _text_argument(arguments[0], "the pattern")
    flags = _text_argument(arguments[1], "the flags") if len(arguments) == 2 else ""
    bad = sorted(set(flags) - _REGEX_FLAGS)
    if bad:
        raise _BadArgument(f"unsupported regular expression flag(s) {''.join(bad)!r}")
    return Regex(pattern, flags)


def _dbref(arguments: list[tuple[Any, Token]]) -> DBRef:
    _arity(arguments, 2, 3, 'DBRef("<collection>", <id>[, "<database>"])')
    collection = _text_argument(arguments[0], "the collection")
    database = _text_argument(arguments[2], "the database") if len(arguments) == 3 else None
    return DBRef(collection, arguments[1][0], database)


def _code(arguments: list[tuple[Any, Token]]) -> Code:
    _arity(arguments, 1, 2, 'Code("<javascript>"[, <scope>])')
    source = _text_argument(arguments[0], "the code")
    scope = arguments[1][0] if len(arguments) == 2 else None
    if scope is not None and not isinstance(scope, dict):
        raise _BadArgument("the scope must be a document", arguments[1][1])
    return Code(source, scope)


def _min_key(arguments: list[tuple[Any, Token]]) -> MinKey:
    _arity(arguments, 0, 0, "no arguments")
    return MinKey()


def _max_key(arguments: list[tuple[Any, Token]]) -> MaxKey:
    _arity(arguments, 0, 0, "no arguments")
    return MaxKey()


_Constructor = Callable[[list[tuple[Any, Token]]], Any]
_CONSTRUCTORS: dict[str, _Constructor] = {
    "ObjectId": _object_id,
    "ISODate": _date,
    "Date": _date,
    "NumberLong": _number_long,
    "Long": _number_long,
    "NumberInt": _number_int,
    "Int32": _number_int,
    "NumberDecimal": _number_decimal,
    "Decimal128": _number_decimal,
    "Double": _double,
    "Timestamp": _timestamp,
    "BinData": _bin_data,
    "HexData": _hex_data,
    "UUID": _uuid,
    "RegExp": _regexp,
    "DBRef": _dbref,
    "Code": _code,
    "MinKey": _min_key,
    "MaxKey": _max_key,
}
_CONSTANTS: dict[str, Callable[[], Any]] = {
    "true": lambda: True,
    "false": lambda: False,
    "null": lambda: None,
    "undefined": lambda: None,
    "Infinity": lambda: math.inf,
    "NaN": lambda: math.nan,
}


# --- public entry points --------------------------------------------------------------


def parse(text: str) -> Any:
    """The one value written in ``text``; raises ``ShellSyntaxError`` with its position."""
    return _Parser(text).parse_all()


def _is_blank(text: str) -> bool:
    try:
        return Tokenizer(text).next_token().kind is TokenKind.END
    except ShellSyntaxError:
        return False


def parse_document(text: str, *, allow_empty: bool = True) -> dict[str, Any]:
    """A document (``{...}``); blank text (or only comments) gives ``{}`` if allowed."""
    if allow_empty and _is_blank(text):
        return {}
    value = parse(text)
    if not isinstance(value, dict):
        tokenizer = Tokenizer(text)
        first = tokenizer.next_token()
        raise ShellSyntaxError(
            f"expected a document {{...}}, found {type(value).__name__}", first.line,
            first.column, first.offset,
        )  # fmt: skip
    return value


def parse_pipeline(text: str) -> list[dict[str, Any]]:
    """An aggregation pipeline: an array of stage documents (blank text is ``[]``)."""
    if _is_blank(text):
        return []
    value = parse(text)
    if isinstance(value, dict):
        value = [value]  # a single stage, as Compass lets users type it
    if not isinstance(value, list) or not all(isinstance(stage, dict) for stage in value):
        raise ShellSyntaxError("expected an array of stage documents [{...}, ...]", 1, 1, 0)
    return value


def parse_query_field(text: str, kind: str) -> Any:
    """One query-bar field: ``kind`` is filter/project/sort/collation/hint (documents, or
    an index name for hint), skip/limit/maxTimeMS (non-negative integers)."""
    if kind in ("filter", "project", "sort", "collation"):
        return parse_document(text)
    if kind == "hint":
        if _is_blank(text):
            return None
        value = parse(text)
        if not isinstance(value, (dict, str)):
            raise ShellSyntaxError("expected an index document or an index name", 1, 1, 0)
        return value
    if kind in ("skip", "limit", "maxTimeMS"):
        if _is_blank(text):
            return 0
        value = parse(text)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ShellSyntaxError(f"{kind} must be a whole number 0 or more", 1, 1, 0)
        return int(value)
    raise ValueError(f"unknown query field kind {kind!r}")
