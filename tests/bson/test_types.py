"""The BSON value types: construction, validation, comparison, conversions."""

from __future__ import annotations

import copy
import datetime
import decimal
import os
import pickle
import threading

import pytest

from driver.bson import (
    SON,
    Binary,
    Code,
    DatetimeMS,
    DBRef,
    Decimal128,
    Int64,
    MaxKey,
    MinKey,
    ObjectId,
    RawBSONDocument,
    Regex,
    Timestamp,
    Undefined,
    encode,
)
from driver.errors import InvalidId


def test_object_ids_are_unique_and_ordered_across_threads() -> None:
    made: list[ObjectId] = []

    def make() -> None:
        made.extend(ObjectId() for _ in range(2000))

    workers = [threading.Thread(target=make) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(set(made)) == 8000
    first = ObjectId()
    assert ObjectId() > first or ObjectId().generation_time >= first.generation_time


def test_object_id_parsing_and_time() -> None:
    oid = ObjectId("5f0c3a9e8e4b2a1c2d3e4f50")
    assert str(oid) == "5f0c3a9e8e4b2a1c2d3e4f50" and repr(oid).startswith("ObjectId('5f0c")
    assert ObjectId(oid.binary) == oid == ObjectId(oid)
    assert oid.generation_time == datetime.datetime(2020, 7, 13, 10, 42, 38, tzinfo=datetime.UTC)
    start = ObjectId.from_datetime(datetime.datetime(2020, 7, 13, 10, 42, 38))
    assert start.binary[4:] == bytes(8) and start < oid
    for bad in ("5f0c", "zz" * 12, b"short"):
        assert not ObjectId.is_valid(bad)
        with pytest.raises(InvalidId):
            ObjectId(bad)
    with pytest.raises(TypeError):
        ObjectId(12)  # type: ignore[arg-type]
    assert pickle.loads(pickle.dumps(oid)) == oid and copy.deepcopy(oid) is oid


def test_object_id_random_part_changes_after_fork() -> None:
    if not hasattr(os, "fork"):
        pytest.skip("os.fork is not available on this platform")
    parent = ObjectId().binary[4:9]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its random part and leave at once
        os.write(write_end, ObjectId().binary[4:9])
        os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 5)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert len(child) == 5 and child != parent


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("0", "0"),
        ("-0.00", "-0.00"),
        ("1E+3", "1E+3"),
        ("1000", "1000"),
        ("0.0000001", "1E-7"),
        ("-150e-6177", "-1.5E-6175"),
        ("9.999999999999999999999999999999999E+6144", "9.999999999999999999999999999999999E+6144"),
        ("1E+6144", "1.000000000000000000000000000000000E+6144"),
        ("inf", "Infinity"),
        ("-NaN", "NaN"),  # the sign bit is kept in the bytes but not shown
    ],
)
def test_decimal128_strings(text: str, canonical: str) -> None:
    value = Decimal128(text)
    assert str(value) == canonical
    if text != "-NaN":
        assert Decimal128(str(value)) == value
        assert Decimal128(value.to_decimal()) == value
    assert Decimal128.from_bid(value.bid) == value == copy.copy(value)


def test_decimal128_refuses_inexact_and_malformed_values() -> None:
    for text in ("1E-6177", "1" * 35, " 1", "1_0", "١", "sNaN", "NaN12"):
        with pytest.raises(ValueError):
            Decimal128(text)
    with pytest.raises(ValueError, match="signalling"):
        Decimal128(decimal.Decimal("sNaN"))
    with pytest.raises(TypeError):
        Decimal128(1.5)  # type: ignore[arg-type]
    assert str(Decimal128((0x3040000000000000, 5))) == "5"


def test_int64_range_and_identity() -> None:
    assert Int64(5) == 5 and repr(Int64(5)) == "Int64(5)" and isinstance(Int64(5), int)
    with pytest.raises(OverflowError):
        Int64(2**63)


def test_timestamp_validation_and_order() -> None:
    assert Timestamp(1, 2) < Timestamp(1, 3) < Timestamp(2, 0)
    assert Timestamp(datetime.datetime(1970, 1, 1, 0, 1, tzinfo=datetime.UTC), 0).time == 60
    assert Timestamp(60, 1).as_datetime() == datetime.datetime(
        1970, 1, 1, 0, 1, tzinfo=datetime.UTC
    )
    for bad in ((-1, 0), (0, 2**32)):
        with pytest.raises(ValueError):
            Timestamp(*bad)
    with pytest.raises(TypeError):
        Timestamp("1", 0)  # type: ignore[arg-type]


def test_small_types() -> None:
    assert Regex("a", "mi").flags == "im" and Regex("a", 2) == Regex("a", "i")
    assert Code("x") != Code("x", {}) and Code("x", {"a": 1}).scope == {"a": 1}
    assert Code(Code("x", {"a": 1})).scope == {"a": 1}
    assert MinKey() < 1 and MaxKey() > "z" and MinKey() == MinKey() and MaxKey() != MinKey()
    assert not Undefined() and Undefined() == Undefined()
    ref = DBRef("c", 1, "d", extra=2)
    assert ref.as_doc() == {"$ref": "c", "$id": 1, "$db": "d", "extra": 2} and ref.extra == {
        "extra": 2
    }
    assert ref.extra["extra"] == 2 and "extra=2" in repr(ref)
    assert Binary(b"x") == b"x" and Binary(b"x", 5) != b"x" and Binary(b"x", 5).subtype == 5
    assert pickle.loads(pickle.dumps(Binary(b"x", 5))) == Binary(b"x", 5)
    with pytest.raises(ValueError):
        Binary(b"", 256)
    assert DatetimeMS(datetime.datetime(1970, 1, 1, 0, 0, 1)) == DatetimeMS(1000)
    assert SON([("b", 1), ("a", 2)]) == {"a": 2, "b": 1} and "SON([" in repr(SON(a=1))


def test_raw_document_is_a_read_only_mapping() -> None:
    raw = RawBSONDocument(encode({"a": 1, "b": [1, 2]}))
    assert dict(raw) == {"a": 1, "b": [1, 2]} and len(raw) == 2 and "a" in raw
    assert pickle.loads(pickle.dumps(raw)) == raw and hash(raw) == hash(raw.raw)
    with pytest.raises(TypeError):
        raw["a"] = 2  # type: ignore[index]
