"""encode/decode behaviour beyond the corpus: options, errors with offsets, raw documents."""

from __future__ import annotations

import datetime
import re
import uuid
from collections import OrderedDict
from typing import Any

import pytest

from driver.bson import (
    DEFAULT_CODEC_OPTIONS,
    MAX_DOCUMENT_SIZE,
    SON,
    Binary,
    CodecOptions,
    DatetimeConversion,
    DatetimeMS,
    DBRef,
    Int64,
    ObjectId,
    RawBSONDocument,
    Regex,
    UuidRepresentation,
    decode,
    decode_all,
    decode_iter,
    encode,
    is_valid,
)
from driver.errors import InvalidBSON, InvalidDocument, InvalidStringData


def test_ints_pick_the_smallest_width_and_int64_stays_64_bit() -> None:
    assert encode({"a": 1}) == bytes.fromhex("0c000000106100" + "01000000" + "00")
    assert encode({"a": 2**31})[4] == 0x12
    assert encode({"a": Int64(1)})[4] == 0x12
    assert type(decode(encode({"a": Int64(1)}))["a"]) is Int64
    with pytest.raises(InvalidDocument, match="64-bit"):
        encode({"a": 2**63})


@pytest.mark.parametrize("key", [1, b"a", None, ("a",)])
def test_non_string_keys_are_refused(key: Any) -> None:
    with pytest.raises(InvalidDocument, match="str keys"):
        encode({key: 1})


def test_nul_in_key_is_refused_even_nested() -> None:
    with pytest.raises(InvalidDocument, match="NUL"):
        encode({"a": {"b\x00c": 1}})


def test_check_keys_refuses_dollar_and_dot_only_when_asked() -> None:
    for document in ({"$set": 1}, {"a": {"b.c": 1}}, {"a": [{"$x": 1}]}):
        assert decode(encode(document)) == document
        with pytest.raises(InvalidDocument, match="must not"):
            encode(document, check_keys=True)


def test_unencodable_values() -> None:
    with pytest.raises(InvalidDocument, match="cannot encode object"):
        encode({"a": object()})
    with pytest.raises(InvalidStringData, match="UTF-8"):
        encode({"a": "\ud800"})
    with pytest.raises(TypeError, match="mapping"):
        encode([1, 2])  # type: ignore[arg-type]
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(InvalidDocument, match="nested too deeply"):
        encode(loop)


def test_top_level_id_is_written_first() -> None:
    data = encode({"a": 1, "_id": 2})
    assert list(decode(data)) == ["_id", "a"]
    assert list(decode(encode({"x": {"a": 1, "_id": 2}}))["x"]) == ["a", "_id"]


def test_mapping_types_and_document_class() -> None:
    document = SON([("b", 1), ("a", OrderedDict([("y", 2), ("x", 3)]))])
    data = encode(document)
    decoded = decode(data, CodecOptions(document_class=SON))
    assert isinstance(decoded, SON) and isinstance(decoded["a"], SON)
    assert list(decoded) == ["b", "a"] and list(decoded["a"]) == ["y", "x"]
    assert decoded.to_dict() == {"b": 1, "a": {"y": 2, "x": 3}}
    ordered = decode(data, CodecOptions(document_class=OrderedDict))
    assert isinstance(ordered["a"], OrderedDict)


def test_datetimes_naive_utc_by_default_and_aware_on_request() -> None:
    moment = datetime.datetime(2024, 5, 1, 12, 30, 15, 123456)
    data = encode({"t": moment})
    assert decode(data)["t"] == moment.replace(microsecond=123000)
    aware = decode(data, CodecOptions(tz_aware=True))["t"]
    assert aware.tzinfo is datetime.UTC and aware.hour == 12
    tokyo = datetime.timezone(datetime.timedelta(hours=9))
    local = decode(data, CodecOptions(tz_aware=True, tzinfo=tokyo))["t"]
    assert local.hour == 21 and local == aware
    # An aware value is converted to UTC before encoding.
    assert encode({"t": local}) == data


def test_datetimes_outside_python_range_become_datetime_ms() -> None:
    for millis in (-(2**63), -62135596800001, 253402300800000, 2**63 - 1):
        data = encode({"t": DatetimeMS(millis)})
        assert decode(data) == {"t": DatetimeMS(millis)}
        assert encode(decode(data)) == data
    options = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_MS)
    assert decode(encode({"t": datetime.datetime(1970, 1, 1)}), options)["t"] == DatetimeMS(0)
    far = encode({"t": DatetimeMS(2**62)})
    with pytest.raises(InvalidBSON, match="outside Python's years") as caught:
        decode(far, CodecOptions(datetime_conversion=DatetimeConversion.DATETIME))
    assert caught.value.offset == 4
    clamp = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_CLAMP)
    assert decode(far, clamp)["t"] == datetime.datetime.max.replace(microsecond=999000)
    assert DatetimeMS(86_400_000).as_datetime() == datetime.datetime(
        1970, 1, 2, tzinfo=datetime.UTC
    )
    with pytest.raises(OverflowError):
        DatetimeMS(2**62).as_datetime()


@pytest.mark.parametrize(
    ("representation", "subtype"),
    [
        (UuidRepresentation.STANDARD, 4),
        (UuidRepresentation.PYTHON_LEGACY, 3),
        (UuidRepresentation.JAVA_LEGACY, 3),
        (UuidRepresentation.CSHARP_LEGACY, 3),
    ],
)
def test_uuid_representations(representation: UuidRepresentation, subtype: int) -> None:
    value = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
    options = CodecOptions(uuid_representation=representation)
    data = encode({"u": value}, codec_options=options)
    assert data[11] == subtype
    assert decode(data, options) == {"u": value}
    binary = decode(data)["u"]  # UNSPECIFIED leaves it as Binary
    assert isinstance(binary, Binary) and binary.subtype == subtype
    assert binary.as_uuid(representation) == value
    if representation == UuidRepresentation.JAVA_LEGACY:
        assert bytes(binary) == bytes.fromhex("7766554433221100ffeeddccbbaa9988")


def test_uuid_needs_a_representation() -> None:
    with pytest.raises(InvalidDocument, match="UNSPECIFIED"):
        encode({"u": uuid.uuid4()})
    value = uuid.uuid4()
    assert decode(encode({"u": Binary.from_uuid(value)}))["u"].as_uuid() == value


def test_compiled_patterns_encode_as_regex() -> None:
    decoded = decode(encode({"r": re.compile("^a.c$", re.IGNORECASE | re.MULTILINE)}))
    assert decoded["r"] == Regex("^a.c$", "im")
    assert decoded["r"].try_compile().match("A\nxbc") is None
    assert decoded["r"].try_compile().match("abc")


def test_dbref_shape_rules() -> None:
    oid = ObjectId()
    assert decode(encode({"r": {"$ref": "c", "$id": oid}}))["r"] == DBRef("c", oid)
    # Not first, or $db not a string: stays a document (and re-encodes to the same bytes).
    for shaped in ({"$id": oid, "$ref": "c"}, {"$ref": "c", "$id": oid, "$db": 1}):
        data = encode({"r": shaped})
        assert decode(data) == {"r": shaped}
        assert encode(decode(data)) == data


def test_bytes_like_inputs_and_decode_all_iter() -> None:
    first, second = encode({"a": 1}), encode({"b": "x"})
    for wrapped in (bytearray(first), memoryview(first)):
        assert decode(wrapped) == {"a": 1}
    assert decode_all(first + second) == [{"a": 1}, {"b": "x"}]
    assert list(decode_iter(first + second)) == [{"a": 1}, {"b": "x"}]
    assert decode_all(b"") == []
    with pytest.raises(TypeError):
        decode("not bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "offset", "message"),
    [
        (b"\x05\x00\x00", 0, "too few"),
        (b"\x04\x00\x00\x00\x00", 0, "below the minimum"),
        (b"\x06\x00\x00\x00\x00", 0, "only 5 bytes remain"),
        (b"\x05\x00\x00\x00\x01", 4, "NUL"),
        (b"\x05\x00\x00\x00\x00\x00", 5, "trailing"),
        (bytes.fromhex("0d000000 0261 00 ffffff7f 00 00"), 7, "runs past the end of the data"),
        (bytes.fromhex("0d000000 0261 00 00000000 00 00"), 7, "string length 0"),
        (bytes.fromhex("0e000000 0261 00 02000000 e9 00 00"), 7, "UTF-8"),
        (bytes.fromhex("09000000 0861 00 02 00"), 7, "boolean"),
        (bytes.fromhex("08000000 2061 00 00"), 4, "unknown BSON element type 0x20"),
        (bytes.fromhex("0b000000 1061 00 010000 00"), 10, "runs past the end of its document"),
        (bytes.fromhex("0b000000 0161 00 000000 00"), 4, "truncated or malformed element"),
    ],
)
def test_invalid_bson_names_the_offset(data: bytes, offset: int, message: str) -> None:
    with pytest.raises(InvalidBSON, match=message) as caught:
        decode(data)
    assert caught.value.offset == offset
    assert f"offset {offset}" in str(caught.value)
    assert not is_valid(data)


def test_oversized_declared_length() -> None:
    size = MAX_DOCUMENT_SIZE + 1
    with pytest.raises(InvalidBSON, match="exceeds the maximum"):
        decode(size.to_bytes(4, "little") + b"\x00")
    with pytest.raises(InvalidBSON, match="only 8 bytes remain"):
        decode_all(encode({"a": 1}) + b"\x10\x00\x00\x00\x00\x00\x00\x00")


def test_unicode_decode_error_handler() -> None:
    data = bytes.fromhex("0e000000 0261 00 02000000 e9 00 00")
    assert decode(data, CodecOptions(unicode_decode_error_handler="replace")) == {"a": "\ufffd"}


def test_codec_options_validation_and_variants() -> None:
    assert DEFAULT_CODEC_OPTIONS.document_class is dict
    assert DEFAULT_CODEC_OPTIONS.uuid_representation == UuidRepresentation.UNSPECIFIED
    assert DEFAULT_CODEC_OPTIONS.with_options(tz_aware=True).tz_aware
    with pytest.raises(TypeError):
        CodecOptions(document_class=list)
    with pytest.raises(ValueError, match="tz_aware"):
        CodecOptions(tzinfo=datetime.UTC)
    with pytest.raises(ValueError, match="uuid_representation"):
        CodecOptions(uuid_representation=99)
    with pytest.raises(ValueError, match="handler"):
        CodecOptions(unicode_decode_error_handler="nope")


def test_raw_documents_decode_lazily_and_keep_their_bytes() -> None:
    inner = {"x": [1, {"y": "z"}]}
    data = encode({"_id": 1, "inner": inner})
    raw = RawBSONDocument(data)
    assert raw.raw == data and raw._inflated is None
    assert raw["_id"] == 1 and raw._inflated is not None
    nested = raw["inner"]
    assert isinstance(nested, RawBSONDocument) and nested.raw == encode(inner)
    assert isinstance(nested["x"][1], RawBSONDocument)
    assert encode({"wrapped": raw}) == encode({"wrapped": decode(data)})
    batch = decode_all(data * 3, CodecOptions(document_class=RawBSONDocument))
    assert [document.raw for document in batch] == [data] * 3
    assert decode(data, CodecOptions(document_class=RawBSONDocument)) == raw
    with pytest.raises(InvalidBSON, match="declared document length"):
        RawBSONDocument(data[:-1])
    with pytest.raises(TypeError, match="RawBSONDocument"):
        RawBSONDocument(data, DEFAULT_CODEC_OPTIONS)
