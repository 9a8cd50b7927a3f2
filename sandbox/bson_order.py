"""MongoDB's value ordering for the sandbox's query engine: numbers by value, then BSON type order.

mongomock compares with Python operators, so a Decimal128 (which has no ordering and equals only
another Decimal128 with the same bits) breaks ``$gt``, sorting, ``$group``'s ``$min``/``$max`` and
mixed-type equality. A server compares every number (int32, Int64, double, Decimal128) by value and
other values in the canonical BSON type order (MinKey < null < numbers < strings < objects < arrays
< binary < ObjectId < bool < date < timestamp < regex < ... < MaxKey).

This module supplies that ordering and :func:`install` puts it into mongomock, once, when
:mod:`sandbox.store` is imported. The changes live only in mongomock's module state (which only the
sandbox uses in this process); PyMongo's ``bson`` classes are never touched:

- ``filtering.bson_compare`` and ``filtering._get_compare_type`` (used by ``$gt``..``$lte``, sorting,
  ``$sort``, ``$group`` keys and aggregation comparisons) become :func:`bson_compare` /
  :func:`canonical_type`;
- ``$group``'s ``$sum``, ``$avg``, ``$min`` and ``$max`` accumulators and the update operators
  ``$min``/``$max`` become the versions below (exact decimal arithmetic, BSON order), and the
  ``$group`` stage groups ``_id`` values that are equal in BSON order (``1`` and ``1.0``).

Equality (``{total: 100}``, ``$eq``, ``$ne``, ``$in``, ``$nin``, ``$all``) is Python ``==`` inside
mongomock; :func:`numeric_filter` makes it compare by value by wrapping the filter's numbers in
:class:`NumericLiteral` (whose ``__eq__`` Python calls back when ``Decimal128.__eq__`` gives up).
The stored documents keep their original values; only the filter is rewritten, so never use a
wrapped filter to seed an upsert.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import math
import operator
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.decimal128 import create_decimal128_context
from mongomock import filtering

from sandbox.errors import BAD_VALUE, CommandError

Number = int | float | decimal.Decimal

# Canonical type ranks (src/mongo/bson/bsontypes.h, canonicalizeBSONType).
MIN_KEY, NULL, NUMBER, STRING, OBJECT, ARRAY, BINARY = -1, 5, 10, 15, 20, 25, 30
OBJECT_ID, BOOL, DATE, TIMESTAMP, REGEX, CODE, MAX_KEY = 35, 40, 45, 47, 50, 60, 127

# Decimal128 arithmetic: 34 significant digits, half-even rounding, Decimal128's exponent range.
DECIMAL128_CONTEXT = create_decimal128_context()
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
NOTHING: Any = vars(filtering)["NOTHING"]  # mongomock's marker for a missing field
# The values a dotted path reaches in a document (array elements expanded), NOTHING if none.
iter_key_candidates: Callable[[str, Any], Iterable[Any]] = filtering.iter_key_candidates


class NumericLiteral:
    """A number from a query filter that equals any BSON number of the same value.

    ``Decimal128("100.00") == NumericLiteral(100)``: ``Decimal128.__eq__`` returns NotImplemented
    for a non-Decimal128, so Python asks this object, which compares by value (NaN equals NaN, as
    on the server). The hash is that of the value, so it agrees with ``int``/``float``/``Decimal``.
    """

    __slots__ = ("original", "value")

    def __init__(self, original: Any) -> None:
        self.original = original
        self.value = numeric_value(original)

    def __eq__(self, other: object) -> bool:
        if not is_number(other):
            return False
        return numeric_cmp(self.value, numeric_value(other)) == 0

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return 0 if _is_nan(self.value) else hash(self.value)

    def __repr__(self) -> str:
        return repr(self.original)


def is_number(value: Any) -> bool:
    """True for the BSON number types (bool is not a number in BSON)."""
    return (isinstance(value, int | float | Decimal128 | NumericLiteral)
            and not isinstance(value, bool))


def numeric_value(value: Any) -> Number:
    """A number's value as a Python int, float or Decimal (exact, no rounding)."""
    if isinstance(value, NumericLiteral):
        return value.value
    if isinstance(value, Decimal128):
        return _decimal_of(value)
    if isinstance(value, Int64):
        return int(value)
    if isinstance(value, int | float):
        return value
    raise CommandError(BAD_VALUE, f"not a number: {value!r}")


_DECIMALS: dict[bytes, decimal.Decimal] = {}
_DECIMALS_MAX = 200_000


def _decimal_of(value: Decimal128) -> decimal.Decimal:
    # Decimal128.to_decimal costs ~10 us and a sort of n documents converts each value about
    # 2*log2(n) times, so conversions are remembered by the value's 16 bytes (bounded).
    bid = value.bid
    found = _DECIMALS.get(bid)
    if found is None:
        if len(_DECIMALS) >= _DECIMALS_MAX:
            _DECIMALS.clear()
        found = _DECIMALS[bid] = value.to_decimal()
    return found


def _is_nan(value: Number) -> bool:
    if isinstance(value, decimal.Decimal):
        return value.is_nan()
    return isinstance(value, float) and math.isnan(value)


def numeric_cmp(left: Number, right: Number) -> int:
    """-1, 0 or 1. NaN equals NaN and sorts below every other number, as on the server."""
    left_nan, right_nan = _is_nan(left), _is_nan(right)
    if left_nan or right_nan:
        return (right_nan - left_nan) if not (left_nan and right_nan) else 0
    # Python compares int, float and Decimal with each other exactly.
    return int(left > right) - int(left < right)


def canonical_type(value: Any) -> int:
    """The value's rank in the BSON comparison order."""
    if value is None or value is NOTHING:  # a missing value compares as null
        return NULL
    if isinstance(value, bool):
        return BOOL
    if is_number(value):
        return NUMBER
    if isinstance(value, Code):  # a str subclass: test first
        return CODE
    if isinstance(value, str):
        return STRING
    if isinstance(value, dict | DBRef):
        return OBJECT
    if isinstance(value, list | tuple):
        return ARRAY
    if isinstance(value, bytes | uuid.UUID):
        return BINARY
    if isinstance(value, ObjectId):
        return OBJECT_ID
    if isinstance(value, datetime.datetime):
        return DATE
    if isinstance(value, Timestamp):
        return TIMESTAMP
    if isinstance(value, re.Pattern | Regex):
        return REGEX
    if isinstance(value, MinKey):
        return MIN_KEY
    if isinstance(value, MaxKey):
        return MAX_KEY
    raise CommandError(BAD_VALUE, f"cannot compare a value of type {type(value).__name__}")


def _sign(left: Any, right: Any) -> int:
    return int(left > right) - int(left < right)


def _binary_key(value: bytes | uuid.UUID) -> tuple[int, int, bytes]:
    if isinstance(value, uuid.UUID):
        return 16, 4, value.bytes
    subtype = value.subtype if isinstance(value, Binary) else 0
    return len(value), subtype, bytes(value)


def _utc_naive(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(datetime.UTC).replace(tzinfo=None)


def _regex_key(value: re.Pattern[Any] | Regex[Any]) -> tuple[str, str]:
    return str(value.pattern), str(value.flags)


def bson_cmp(left: Any, right: Any) -> int:
    """Three-way comparison in MongoDB's order: -1, 0 or 1."""
    left_type, right_type = canonical_type(left), canonical_type(right)
    if left_type != right_type:
        return -1 if left_type < right_type else 1
    if left_type == NUMBER:
        return numeric_cmp(numeric_value(left), numeric_value(right))
    if left_type in (NULL, MIN_KEY, MAX_KEY):
        return 0
    if left_type in (STRING, BOOL, OBJECT_ID):
        return _sign(left, right)
    if left_type == OBJECT:
        return _compare_documents(left, right)
    if left_type == ARRAY:
        for left_item, right_item in zip(left, right, strict=False):
            result = bson_cmp(left_item, right_item)
            if result:
                return result
        return _sign(len(left), len(right))
    if left_type == BINARY:
        return _sign(_binary_key(left), _binary_key(right))
    if left_type == DATE:
        return _sign(_utc_naive(left), _utc_naive(right))
    if left_type == TIMESTAMP:
        return _sign((left.time, left.inc), (right.time, right.inc))
    if left_type == REGEX:
        return _sign(_regex_key(left), _regex_key(right))
    return _sign((str(left), repr(getattr(left, "scope", None))),
                 (str(right), repr(getattr(right, "scope", None))))


def _compare_documents(left: Any, right: Any) -> int:
    # Field by field: the value's type rank, then the field name, then the value.
    left_items = list((left.as_doc() if isinstance(left, DBRef) else left).items())
    right_items = list((right.as_doc() if isinstance(right, DBRef) else right).items())
    for (left_key, left_value), (right_key, right_value) in zip(left_items, right_items,
                                                                strict=False):
        result = (_sign(canonical_type(left_value), canonical_type(right_value))
                  or _sign(left_key, right_key) or bson_cmp(left_value, right_value))
        if result:
            return result
    return _sign(len(left_items), len(right_items))


def bson_compare(op: Callable[[Any, Any], bool], left: Any, right: Any,
                 can_compare_types: bool = True) -> bool:
    """mongomock's ``bson_compare`` contract: ``op(left, right)`` in BSON order.

    With ``can_compare_types`` false (query operators: "type bracketing"), values of different
    types never match."""
    if not can_compare_types and canonical_type(left) != canonical_type(right):
        return False
    return bool(op(bson_cmp(left, right), 0))


# -- query filters ----------------------------------------------------------------------------
_EQUALITY_OPERATORS = ("$eq", "$ne")
_LIST_OPERATORS = ("$in", "$nin", "$all")
_LOGICAL_OPERATORS = ("$and", "$or", "$nor")


def _literal(value: Any) -> Any:
    """A literal (equality) value with every number inside it wrapped."""
    if is_number(value) and not isinstance(value, NumericLiteral):
        return NumericLiteral(value)
    if isinstance(value, list):
        return [_literal(item) for item in value]
    if isinstance(value, dict):
        return {key: _literal(item) for key, item in value.items()}
    return value


def _condition(value: Any) -> Any:
    """One field's condition: an operator document or a literal."""
    if not (isinstance(value, dict) and value and all(str(k).startswith("$") for k in value)):
        return _literal(value)
    out: dict[str, Any] = {}
    for op, operand in value.items():
        if op in _EQUALITY_OPERATORS:
            out[op] = _literal(operand)
        elif op in _LIST_OPERATORS and isinstance(operand, list):
            out[op] = [_literal(item) for item in operand]
        elif op == "$not":
            out[op] = _condition(operand) if isinstance(operand, dict) else operand
        elif op == "$elemMatch" and isinstance(operand, dict):
            operator_form = operand and all(str(k).startswith("$") for k in operand)
            out[op] = _condition(operand) if operator_form else numeric_filter(operand)
        else:  # comparisons go through bson_compare; anything else is left as it was
            out[op] = operand
    return out


def numeric_filter(query: Any) -> Any:
    """``query`` with its equality numbers wrapped so that they match any number of equal value.

    For matching only: never store a wrapped value (not as an upsert seed either)."""
    if not isinstance(query, dict) or not query:
        return query
    out: dict[str, Any] = {}
    for key, value in query.items():
        if key in _LOGICAL_OPERATORS and isinstance(value, list):
            out[key] = [numeric_filter(clause) for clause in value]
        elif str(key).startswith("$"):  # $expr, $comment, $where, ...
            out[key] = value
        else:
            out[key] = _condition(value)
    return out


def numeric_pipeline(pipeline: list[Any]) -> list[Any]:
    """A pipeline whose top-level ``$match`` stages use :func:`numeric_filter`."""
    return [{"$match": numeric_filter(stage["$match"])}
            if isinstance(stage, dict) and len(stage) == 1 and "$match" in stage else stage
            for stage in pipeline]


# -- accumulators -----------------------------------------------------------------------------
def _float_as_decimal(value: float) -> decimal.Decimal:
    # The server turns a double into a Decimal128 with 15 significant digits.
    return decimal.Decimal(format(value, ".15g")) if math.isfinite(value) else \
        decimal.Decimal(str(value).replace("inf", "Infinity"))


def group_sum(values: Iterable[Any]) -> Any:
    """``$sum``: non-numbers are ignored; Decimal128 if any input is, else double if any is,
    else an integer (a long for Int64 inputs; a double when it overflows a long)."""
    numbers = [v for v in values if is_number(v)]
    if any(isinstance(v, Decimal128) for v in numbers):
        total = decimal.Decimal(0)
        for value in numbers:
            plain = numeric_value(value)
            addend = _float_as_decimal(plain) if isinstance(plain, float) else plain
            total = DECIMAL128_CONTEXT.add(total, addend)
        return Decimal128(total)
    if any(isinstance(v, float) for v in numbers):
        return math.fsum(float(v) for v in numbers)
    integer_total = sum(int(v) for v in numbers)
    if not _INT64_MIN <= integer_total <= _INT64_MAX:
        return float(integer_total)
    if any(isinstance(v, Int64) for v in numbers):
        return Int64(integer_total)
    return integer_total


def group_avg(values: Iterable[Any]) -> Any:
    """``$avg``: the mean of the numbers (null without any); Decimal128 if any input is."""
    numbers = [v for v in values if is_number(v)]
    if not numbers:
        return None
    total = group_sum(numbers)
    if isinstance(total, Decimal128):
        return Decimal128(DECIMAL128_CONTEXT.divide(total.to_decimal(), len(numbers)))
    return float(total) / len(numbers)


def _extreme(values: Iterable[Any], wins: Callable[[int, int], bool]) -> Any:
    best: Any = None
    for value in values:
        if value is None or canonical_type(value) == NULL:
            continue  # null and missing are ignored
        if best is None or wins(bson_cmp(value, best), 0):
            best = value
    return best


def group_min(values: Iterable[Any]) -> Any:
    return _extreme(values, operator.lt)


def group_max(values: Iterable[Any]) -> Any:
    return _extreme(values, operator.gt)


def _update_extreme(wins: Callable[[int, int], bool]) -> Callable[[Any, str, Any], None]:
    def updater(doc: Any, field_name: str, value: Any) -> None:
        if isinstance(doc, dict) and (field_name not in doc
                                      or wins(bson_cmp(value, doc[field_name]), 0)):
            doc[field_name] = value
    return updater


def group_stage(docs: list[dict[str, Any]], database: Any, options: dict[str, Any]) -> list[Any]:
    """``$group``: documents whose ``_id`` values are equal in BSON order share a group (so
    ``1``, ``1.0`` and ``Decimal128("1.00")`` are one group, keyed by the first value seen)."""
    from mongomock import aggregate

    spec = options["_id"]
    evaluate: Callable[..., Any] = vars(aggregate)["_parse_expression"]
    accumulate: Callable[..., dict[str, Any]] = vars(aggregate)["_accumulate_group"]

    def key_of(doc: dict[str, Any]) -> Any:
        if not spec:
            return None
        try:
            return evaluate(spec, doc, ignore_missing_keys=True)
        except KeyError:
            return None

    def by_key(left: tuple[Any, Any], right: tuple[Any, Any]) -> int:
        return bson_cmp(left[0], right[0])

    keyed = sorted(((key_of(doc), doc) for doc in docs), key=functools.cmp_to_key(by_key))
    grouped: list[dict[str, Any]] = []
    start = 0
    for end in range(1, len(keyed) + 1):
        if end == len(keyed) or bson_cmp(keyed[end][0], keyed[start][0]) != 0:
            out = accumulate(options, [doc for _key, doc in keyed[start:end]])
            out["_id"] = keyed[start][0]
            grouped.append(out)
            start = end
    return grouped


_installed = False


def install() -> None:
    """Put this module's ordering and accumulators into mongomock (idempotent)."""
    global _installed
    if _installed:
        return
    from mongomock import aggregate, collection

    filtering.bson_compare = bson_compare  # looked up at call time by every caller
    filtering._get_compare_type = canonical_type
    groups: dict[str, Any] = aggregate._GROUPING_OPERATOR_MAP
    groups.update({"$sum": group_sum, "$avg": group_avg, "$min": group_min, "$max": group_max})
    stages: dict[str, Any] = aggregate._PIPELINE_HANDLERS
    stages["$group"] = group_stage
    updaters: dict[str, Any] = collection._updaters
    updaters.update({"$min": _update_extreme(operator.lt), "$max": _update_extreme(operator.gt)})
    _installed = True
