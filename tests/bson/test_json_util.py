"""Extended JSON: the relaxed text the app shows, legacy input forms, clear errors."""

from __future__ import annotations

import datetime
import json
import math
import uuid

import pytest

from driver.bson import (
    SON,
    Binary,
    Code,
    CodecOptions,
    DatetimeMS,
    DBRef,
    Decimal128,
    Int64,
    ObjectId,
    Regex,
    Timestamp,
    UuidRepresentation,
    encode,
    json_util,
)

OID = ObjectId("5f0c3a9e8e4b2a1c2d3e4f50")


def test_relaxed_output_reads_naturally() -> None:
    document = {
        "_id": OID,
        "n": 1,
        "big": Int64(5),
        "x": 1.5,
        "when": datetime.datetime(2024, 5, 1, 12, 0, 0, 250000),
        "old": datetime.datetime(1960, 1, 1),
        "tags": ["a", None, True],
    }
    assert json.loads(json_util.dumps(document)) == {
        "_id": {"$oid": "5f0c3a9e8e4b2a1c2d3e4f50"},
        "n": 1,
        "big": 5,
        "x": 1.5,
        "when": {"$date": "2024-05-01T12:00:00.250Z"},
        "old": {"$date": {"$numberLong": "-315619200000"}},
        "tags": ["a", None, True],
    }


def test_canonical_output_keeps_every_type() -> None:
    text = json_util.dumps({"n": 1, "big": Int64(5), "x": 2.0, "inf": math.inf}, mode="canonical")
    assert json.loads(text) == {
        "n": {"$numberInt": "1"},
        "big": {"$numberLong": "5"},
        "x": {"$numberDouble": "2.0"},
        "inf": {"$numberDouble": "Infinity"},
    }


def test_indent_and_json_keyword_arguments_pass_through() -> None:
    text = json_util.dumps({"a": "é"}, indent=2, ensure_ascii=False)
    assert text == '{\n  "a": "é"\n}'


def test_every_wrapper_parses() -> None:
    text = """{
        "oid": {"$oid": "5f0c3a9e8e4b2a1c2d3e4f50"},
        "i": {"$numberInt": "-7"}, "l": {"$numberLong": "7"},
        "d": {"$numberDouble": "-Infinity"}, "dec": {"$numberDecimal": "1.10"},
        "bin": {"$binary": {"base64": "AQI=", "subType": "80"}},
        "legacy": {"$binary": "AQI=", "$type": "5"},
        "u": {"$uuid": "00112233-4455-6677-8899-aabbccddeeff"},
        "code": {"$code": "f()", "$scope": {"a": 1}},
        "ts": {"$timestamp": {"t": 5, "i": 6}},
        "re": {"$regularExpression": {"pattern": "^a", "options": "xi"}},
        "legacy_re": {"$regex": "^b", "$options": "m"},
        "date": {"$date": "2024-05-01T14:00:00.5+02:00"},
        "ref": {"$ref": "c", "$id": 1, "$db": "d"}
    }"""
    parsed = json_util.loads(text)
    assert parsed["oid"] == OID
    assert parsed["i"] == -7 and type(parsed["l"]) is Int64
    assert parsed["d"] == -math.inf and parsed["dec"] == Decimal128("1.10")
    assert parsed["bin"] == Binary(b"\x01\x02", 0x80) and parsed["legacy"] == Binary(b"\x01\x02", 5)
    assert parsed["u"] == Binary(uuid.UUID("00112233-4455-6677-8899-aabbccddeeff").bytes, 4)
    assert parsed["code"] == Code("f()", {"a": 1})
    assert parsed["ts"] == Timestamp(5, 6)
    assert parsed["re"] == Regex("^a", "ix") and parsed["legacy_re"] == Regex("^b", "m")
    assert parsed["date"] == datetime.datetime(2024, 5, 1, 12, 0, 0, 500000)
    assert parsed["ref"] == DBRef("c", 1, "d")
    encode(parsed)  # everything parsed is encodable


def test_loads_honours_codec_options() -> None:
    options = CodecOptions(
        document_class=SON, tz_aware=True, uuid_representation=UuidRepresentation.STANDARD
    )
    parsed = json_util.loads(
        '{"a": {"b": {"$date": "1970-01-01T00:00:01Z"}},'
        ' "u": {"$uuid": "00112233-4455-6677-8899-aabbccddeeff"}}',
        options,
    )
    assert isinstance(parsed, SON) and isinstance(parsed["a"], SON)
    assert parsed["a"]["b"] == datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=datetime.UTC)
    assert parsed["u"] == uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")


def test_far_dates_round_trip_as_datetime_ms() -> None:
    value = {"t": DatetimeMS(-(2**62))}
    for mode in ("relaxed", "canonical"):
        assert json_util.loads(json_util.dumps(value, mode=mode)) == value


def test_query_operators_stay_documents() -> None:
    for text in ('{"$type": "string"}', '{"$regex": "a"}', '{"$in": [1, 2]}'):
        assert json_util.loads(text) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": {"$oid": "xyz"}}', r"\$oid: expected 24 hex digits"),
        ('{"a": {"$numberInt": "2147483648"}}', "not a 32-bit integer"),
        ('{"a": {"$date": 5}}', r"\$date: expected an ISO-8601 string"),
        ('{"a": {"$date": "2024-13-01T00:00:00Z"}}', "month must be in 1..12"),
        ('{"a": {"$numberDecimal": "1e99999"}}', "too large"),
        ('{"a": {"$binary": {"base64": "!!", "subType": "00"}}}', "bad base64"),
        ('{"a": {"$oid": "5f0c3a9e8e4b2a1c2d3e4f50", "b": 1}}', r"unexpected keys \['b'\]"),
        ('{"a": NaN}', "not valid JSON"),
        ('{"a": {"$numberDouble": "1_0"}}', "is not a number"),
        ('{"a\\u0000": 1}', "NUL"),
    ],
)
def test_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        json_util.loads(text)


def test_mode_is_checked_and_non_bson_values_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        json_util.dumps({}, mode="shell")
    with pytest.raises(TypeError, match="not a BSON value"):
        json_util.dumps({"a": object()})
