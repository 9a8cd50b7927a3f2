"""Property tests: BSON and Extended JSON round trips for generated documents, and
PyMongo's ``bson`` (C extension) as an independent oracle for our bytes.

The strategies generate values in the form the decoder gives back (naive UTC
datetimes at millisecond precision, ``bytes`` for binary subtype 0, ``Int64`` outside
int32 range, ``DatetimeMS`` only outside Python's datetime range...), so that a round
trip can be compared with ``==``. Keys never start with ``$`` so that no generated
document is mistaken for an Extended JSON wrapper or a DBRef. For the oracle, generated
documents (every non-deprecated type) are encoded by us, decoded and re-encoded by
PyMongo, and the bytes must not change; PyMongo is a test dependency only.
"""

from __future__ import annotations

import datetime
import decimal
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    decode,
    decode_all,
    encode,
    json_util,
)
from driver.bson.types import DATETIME_MS_MAX, DATETIME_MS_MIN

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

keys = st.text(max_size=12).filter(lambda key: "\x00" not in key and not key.startswith("$"))
cstrings = st.text(max_size=12).filter(lambda text: "\x00" not in text)

object_ids = st.binary(min_size=12, max_size=12).map(ObjectId)
datetimes = st.integers(DATETIME_MS_MIN, DATETIME_MS_MAX).map(
    lambda ms: datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)
)
far_datetimes = st.one_of(
    st.integers(INT64[0], DATETIME_MS_MIN - 1), st.integers(DATETIME_MS_MAX + 1, INT64[1])
).map(DatetimeMS)
binaries = st.one_of(
    st.binary(max_size=40),
    st.builds(
        Binary,
        st.binary(max_size=40),
        st.integers(1, 255),
    ),
)
regexes = st.builds(Regex, cstrings, st.lists(st.sampled_from("ilmsux"), unique=True).map("".join))
timestamps = st.builds(Timestamp, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))


def _decimal(sign: int, coefficient: int, exponent: int) -> Decimal128:
    digits = tuple(int(digit) for digit in str(coefficient))
    return Decimal128(decimal.Decimal((sign, digits, exponent)))


decimals = st.one_of(
    st.builds(_decimal, st.integers(0, 1), st.integers(0, 10**34 - 1), st.integers(-6176, 6111)),
    st.sampled_from(["Infinity", "-Infinity", "NaN", "0", "-0", "1.5E+10"]).map(Decimal128),
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(*INT32),
    st.integers(*INT64).map(Int64),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    object_ids,
    datetimes,
    far_datetimes,
    binaries,
    regexes,
    timestamps,
    decimals,
    st.builds(Code, st.text(max_size=20)),
    st.builds(DBRef, st.text(max_size=10), object_ids),
    st.builds(DBRef, st.text(max_size=10), st.integers(*INT32), st.text(max_size=10)),
    st.just(MinKey()),
    st.just(MaxKey()),
)
deprecated_scalars = st.one_of(
    st.builds(Symbol, st.text(max_size=20)),
    st.builds(DBPointer, st.text(max_size=10), object_ids),
    st.just(Undefined()),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(keys, children, max_size=5),
        st.builds(Code, st.text(max_size=10), st.dictionaries(keys, children, max_size=3)),
    )


values = st.recursive(scalars | deprecated_scalars, _containers, max_leaves=25)
documents = st.dictionaries(keys, values, max_size=8)
#: Without the deprecated types, which other libraries convert (symbol → str ...).
modern_documents = st.dictionaries(
    keys, st.recursive(scalars, _containers, max_leaves=25), max_size=8
)


@st.composite
def deep_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A document nested 1 to 100 levels deep through documents and arrays."""
    value: Any = draw(documents)
    for as_array in draw(st.lists(st.booleans(), min_size=1, max_size=100)):
        value = [value] if as_array else {draw(keys): value}
    return value if isinstance(value, dict) else {"deep": value}


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(documents)
def test_bson_round_trip(document: dict[str, Any]) -> None:
    data = encode(document)
    assert decode(data) == document
    assert encode(decode(data)) == data


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deep_documents())
def test_bson_round_trip_nested_up_to_100_levels(document: dict[str, Any]) -> None:
    data = encode(document)
    assert decode(data) == document
    assert json_util.loads(json_util.dumps(document, mode="canonical")) == document


@SETTINGS
@given(documents)
def test_canonical_extended_json_round_trip(document: dict[str, Any]) -> None:
    text = json_util.dumps(document, mode="canonical")
    parsed = json_util.loads(text)
    assert parsed == document
    # Canonical mode keeps every type, so the bytes survive too.
    assert encode(parsed) == encode(document)


@SETTINGS
@given(documents)
def test_relaxed_extended_json_round_trip(document: dict[str, Any]) -> None:
    # Relaxed mode writes Int64 as a plain number; the value (not the type) survives.
    assert json_util.loads(json_util.dumps(document, mode="relaxed")) == document


@SETTINGS
@given(documents, documents)
def test_concatenated_documents_and_raw(first: dict[str, Any], second: dict[str, Any]) -> None:
    data = encode(first) + encode(second)
    assert decode_all(data) == [first, second]
    raw = RawBSONDocument(encode(first))
    assert encode(raw) == raw.raw == encode(first)
    assert set(raw) == set(first)


# --- PyMongo as the oracle ---


def _pymongo_bson() -> Any:
    """PyMongo's ``bson`` module (a test extra), or a skip naming why it is missing."""
    return pytest.importorskip("bson", reason="PyMongo (the oracle) is not installed")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modern_documents)
def test_pymongo_reads_and_rewrites_our_bytes_unchanged(document: dict[str, Any]) -> None:
    pymongo_bson = _pymongo_bson()
    options = pymongo_bson.CodecOptions(
        datetime_conversion=pymongo_bson.DatetimeConversion.DATETIME_AUTO
    )
    ours = encode(document)
    theirs = pymongo_bson.encode(pymongo_bson.decode(ours, options))
    assert theirs == ours
    assert encode(decode(theirs)) == theirs


def test_pymongo_and_we_agree_on_a_mixed_document() -> None:
    pymongo_bson = _pymongo_bson()
    document = {
        "_id": pymongo_bson.ObjectId(),
        "s": "é☆",
        "i": 1,
        "l": 2**40,
        "f": 0.1,
        "t": datetime.datetime(2024, 5, 1, 12, 0, 0, 123000),
        "b": True,
        "n": None,
        "bin": pymongo_bson.Binary(b"\x00\x01", 0x80),
        "r": re.compile("^a", re.IGNORECASE),
        "dec": pymongo_bson.Decimal128("1.10"),
        "ts": pymongo_bson.Timestamp(5, 6),
        "code": pymongo_bson.Code("f()", {"a": 1}),
        "nested": {"a": [1, {"b": [None, "x"]}]},
    }
    theirs = pymongo_bson.encode(document)
    assert encode(decode(theirs)) == theirs
    assert pymongo_bson.decode(encode(decode(theirs))) == pymongo_bson.decode(theirs)
