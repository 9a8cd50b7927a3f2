"""The shell-syntax parser against queries from MongoDB's documentation and Compass users."""

from __future__ import annotations

import datetime
import math

import pytest

from app.shell_syntax.parser import (
    ShellSyntaxError,
    parse,
    parse_document,
    parse_pipeline,
    parse_query_field,
)
from driver.bson import (
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
    encode,
)

OID = "5f1b2c3d4e5f6a7b8c9d0e1f"
D = datetime.datetime

# (shell text as users write it, the value it means)
REAL_QUERIES = [
    # MongoDB manual, "Query Documents"
    ('{ status: "D" }', {"status": "D"}),
    ('{ status: { $in: [ "A", "D" ] } }', {"status": {"$in": ["A", "D"]}}),
    ('{ status: "A", qty: { $lt: 30 } }', {"status": "A", "qty": {"$lt": 30}}),
    (
        '{ $or: [ { status: "A" }, { qty: { $lt: 30 } } ] }',
        {"$or": [{"status": "A"}, {"qty": {"$lt": 30}}]},
    ),
    (
        '{ status: "A", $or: [ { qty: { $lt: 30 } }, { item: /^p/ } ] }',
        {"status": "A", "$or": [{"qty": {"$lt": 30}}, {"item": Regex("^p")}]},
    ),
    ('{ "size.uom": "in" }', {"size.uom": "in"}),
    ('{ size: { h: 14, w: 21, uom: "cm" } }', {"size": {"h": 14, "w": 21, "uom": "cm"}}),
    ('{ tags: { $all: ["red", "blank"] } }', {"tags": {"$all": ["red", "blank"]}}),
    ("{ dim_cm: { $gt: 15, $lt: 20 } }", {"dim_cm": {"$gt": 15, "$lt": 20}}),
    (
        "{ dim_cm: { $elemMatch: { $gt: 22, $lt: 30 } } }",
        {"dim_cm": {"$elemMatch": {"$gt": 22, "$lt": 30}}},
    ),
    ('{ "tags": { $size: 3 } }', {"tags": {"$size": 3}}),
    ("{ 'instock.qty': { $lte: 20 } }", {"instock.qty": {"$lte": 20}}),
    ("{ item: null }", {"item": None}),
    ("{ item : { $exists: false } }", {"item": {"$exists": False}}),
    ("{ item : { $type: 10 } }", {"item": {"$type": 10}}),
    # "$regex" operator forms stay documents (the server reads both).
    ("{ sku: { $regex: /789$/ } }", {"sku": {"$regex": Regex("789$")}}),
    ("{ sku: { $regex: '^ABC', $options: 'im' } }", {"sku": {"$regex": "^ABC", "$options": "im"}}),
    (
        "{ name: { $in: [ /^acme/i, /^ack/ ] } }",
        {"name": {"$in": [Regex("^acme", "i"), Regex("^ack")]}},
    ),
    # Dates, ObjectIds and numbers as Compass users paste them
    (
        '{ createdAt: { $gte: ISODate("2024-01-01T00:00:00.000Z"), $lt: ISODate("2024-02-01") } }',
        {"createdAt": {"$gte": D(2024, 1, 1), "$lt": D(2024, 2, 1)}},
    ),
    (f'{{_id: ObjectId("{OID}")}}', {"_id": ObjectId(OID)}),
    (f'{{"_id": {{"$oid": "{OID}"}}}}', {"_id": ObjectId(OID)}),
    ('{"date": {"$date": "2023-06-01T10:00:00Z"}}', {"date": D(2023, 6, 1, 10)}),
    ('{ "amount": { "$numberDecimal": "10.99" } }', {"amount": Decimal128("10.99")}),
    ('{ "count": { "$numberLong": "9007199254740993" } }', {"count": Int64(9007199254740993)}),
    (
        "{ price: NumberDecimal('9.99'), qty: NumberInt(5) }",
        {"price": Decimal128("9.99"), "qty": 5},
    ),
    ("{ score: { $gte: -1.5e3 } }", {"score": {"$gte": -1500.0}}),
    # Sorts, projections, collation, pipelines
    ("{ name: 1, _id: -1 }", {"name": 1, "_id": -1}),
    (
        "{ _id: 0, 'address.city': 1, tags: { $slice: -2 } }",
        {"_id": 0, "address.city": 1, "tags": {"$slice": -2}},
    ),
    ("{ locale: 'fr', strength: 1 }", {"locale": "fr", "strength": 1}),
    (
        "{ $expr: { $gt: [ '$spent', '$budget' ] } }",
        {"$expr": {"$gt": ["$spent", "$budget"]}},
    ),
    (
        "{ loc: { $near: { $geometry: { type: 'Point', coordinates: [ -73.9667, 40.78 ] }, $maxDistance: 1000 } } }",
        {
            "loc": {
                "$near": {
                    "$geometry": {"type": "Point", "coordinates": [-73.9667, 40.78]},
                    "$maxDistance": 1000,
                }
            }
        },
    ),
    # Relaxed syntax: trailing commas, comments, single quotes, newlines
    (
        """{
          // only active users
          status: 'active',   /* set by the billing job */
          age: { $gte: 18, },
        }""",
        {"status": "active", "age": {"$gte": 18}},
    ),
    (
        '{"a": "it\'s", \'b\': "say \\"hi\\"", c: "\\u00e9\\n"}',
        {"a": "it's", "b": 'say "hi"', "c": "é\n"},
    ),
    ("{ 1: 'one', $and: [] }", {"1": "one", "$and": []}),
]


@pytest.mark.parametrize(("text", "expected"), REAL_QUERIES, ids=[q[0][:40] for q in REAL_QUERIES])
def test_real_queries(text, expected):
    value = parse_document(text)
    assert value == expected
    assert encode(value) == encode(expected)  # same BSON types, not only equal values


CONSTRUCTORS = [
    (f'ObjectId("{OID}")', ObjectId(OID)),
    (f"ObjectId('{OID.upper()}')", ObjectId(OID)),
    ('ISODate("2020-05-01T12:30:45.678Z")', D(2020, 5, 1, 12, 30, 45, 678000)),
    ('ISODate("2020-05-01T12:30:45+02:00")', D(2020, 5, 1, 10, 30, 45)),
    ('ISODate("2020-05-01 12:30")', D(2020, 5, 1, 12, 30)),
    ('new ISODate("2020-05-01")', D(2020, 5, 1)),
    ('new Date("2020-05-01T00:00:00Z")', D(2020, 5, 1)),
    ("new Date(0)", D(1970, 1, 1)),
    ("new Date(-86400000)", D(1969, 12, 31)),
    ("new Date(253402300800000)", DatetimeMS(253402300800000)),
    ("NumberLong(42)", Int64(42)),
    ('NumberLong("-9223372036854775808")', Int64(-(2**63))),
    ("NumberInt(7)", 7),
    ('NumberInt("-2147483648")', -(2**31)),
    (
        'NumberDecimal("1234.5678901234567890123456789")',
        Decimal128("1234.5678901234567890123456789"),
    ),
    ("NumberDecimal('-Infinity')", Decimal128("-Infinity")),
    ("Timestamp(1700000000, 3)", Timestamp(1700000000, 3)),
    ("Timestamp({ t: 5, i: 6 })", Timestamp(5, 6)),
    ('BinData(0, "AQID")', Binary(b"\x01\x02\x03", 0)),
    ('BinData(128, "")', Binary(b"", 128)),
    ('HexData(5, "00ff")', Binary(b"\x00\xff", 5)),
    (
        'UUID("123e4567-e89b-12d3-a456-426614174000")',
        Binary(bytes.fromhex("123e4567e89b12d3a456426614174000"), 4),
    ),
    (
        'UUID("123e4567e89b12d3a456426614174000")',
        Binary(bytes.fromhex("123e4567e89b12d3a456426614174000"), 4),
    ),
    ("MinKey", MinKey()),
    ("MinKey()", MinKey()),
    ("MaxKey", MaxKey()),
    ("MaxKey()", MaxKey()),
    ("/a.c/", Regex("a.c")),
    ("/^x[/]y\\/z/imsx", Regex("^x[/]y\\/z", "imsx")),
    ('RegExp("a/b", "i")', Regex("a/b", "i")),
    ('DBRef("users", 5, "app")', DBRef("users", 5, "app")),
    ('Code("function() { return 1 }")', Code("function() { return 1 }")),
    ("true", True),
    ("false", False),
    ("null", None),
    ("undefined", None),
    ("-5", -5),
    ("+5", 5),
    ("- 2.5", -2.5),
    ("0x1F", 31),
    ("1e3", 1000.0),
    (".5", 0.5),
    ("Infinity", math.inf),
    ("-Infinity", -math.inf),
    ("9223372036854775808", 9.223372036854776e18),
    ('{"$minKey": 1}', MinKey()),
    ('{"$timestamp": {"t": 1, "i": 2}}', Timestamp(1, 2)),
    ('{"$binary": {"base64": "AQI=", "subType": "05"}}', Binary(b"\x01\x02", 5)),
    ('{"$regularExpression": {"pattern": "a", "options": "i"}}', Regex("a", "i")),
    ('{"$date": {"$numberLong": "1000"}}', D(1970, 1, 1, 0, 0, 1)),
    ('{"$date": 1000}', D(1970, 1, 1, 0, 0, 1)),
    ('{"$numberDouble": "-0.0"}', -0.0),
]


@pytest.mark.parametrize(("text", "expected"), CONSTRUCTORS, ids=[c[0] for c in CONSTRUCTORS])
def test_every_constructor(text, expected):
    value = parse(text)
    assert type(value) is type(expected)
    assert encode({"v": value}) == encode({"v": expected})


def test_nan_and_fresh_values():
    assert math.isnan(parse("NaN")) and math.isnan(parse("-NaN"))
    first, second = parse("ObjectId()"), parse("new ObjectId()")
    assert isinstance(first, ObjectId) and first != second
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    for text in ("new Date()", "ISODate()", "Date()"):
        assert abs(parse(text) - now) < datetime.timedelta(seconds=5)
    assert parse("UUID()").subtype == 4


BAD = [
    ("{a: 1", 1, 6, "expected ',' or '}', found end of input"),
    ("{a 1}", 1, 4, "expected ':' after the field name 'a'"),
    ("{\n  a: 'x\n}", 2, 6, "unterminated string"),
    ('{a: ObjectId("zz")}', 1, 14, "is not 24 hex digits"),
    ("{a: foo}", 1, 5, "unknown name 'foo'"),
    ("{a: /x/g}", 1, 5, "JavaScript-only"),
    ("{a: 1}}", 1, 7, "expected end of input"),
    ("{\n  n: NumberInt(99999999999)\n}", 2, 16, "out of range"),
    ("{a: {$oid: 5}}", 1, 5, "$oid"),
    ("{a: [1 2]}", 1, 8, "expected ',' or ']'"),
    ("/* never closed", 1, 1, "expected '*/'"),
    ("{a.b: 1}", 1, 3, "quote keys that contain dots"),
    ("{a: 1e}", 1, 6, "exponent"),
    ("{a: 12abc}", 1, 7, "after the digits"),
    ("{a: Timestamp(1)}", 1, 5, "Timestamp(<seconds>, <increment>)"),
    ("{a: BinData(0, 'not base64!')}", 1, 16, "not base64"),
    ("{a: new Date('yesterday')}", 1, 14, "is not a date"),
    ("{a: ISODate('2024-02-30')}", 1, 13, "not a valid date"),
    ("{a: -'x'}", 1, 6, "expected a number after '-'"),
    ("{a: 'x\\8'}", 1, 7, "octal"),
    ("{a: '\\u12'}", 1, 6, "four hex digits"),
    ("{'a\\u0000': 1}", 1, 2, "NUL"),
    ("{a: MinKey(1)}", 1, 12, "takes no arguments"),
    ("{a: new 5}", 1, 9, "constructor name after 'new'"),
    ("{a: )", 1, 5, "expected a value"),
    ("#", 1, 1, "unexpected character '#'"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_positioned(text, line, column, message):
    with pytest.raises(ShellSyntaxError) as info:
        parse(text)
    error = info.value
    assert message in error.message
    assert (error.line, error.column) == (line, column)
    assert str(error).startswith(f"line {line}, column {column}: ")


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(ShellSyntaxError, match="nested more than"):
        parse("[" * 5000 + "]" * 5000)


def test_query_fields():
    assert parse_document("") == {} and parse_document("  // nothing\n") == {}
    with pytest.raises(ShellSyntaxError, match="expected a document"):
        parse_document("[1]")
    with pytest.raises(ShellSyntaxError, match="expected a document"):
        parse_document(f'{{"$oid": "{OID}"}}')
    assert parse_query_field("", "limit") == 0
    assert parse_query_field("25", "limit") == 25
    with pytest.raises(ShellSyntaxError, match="whole number"):
        parse_query_field("-1", "skip")
    assert parse_query_field("'name_1'", "hint") == "name_1"
    assert parse_query_field("{name: 1}", "hint") == {"name": 1}
    assert parse_query_field("", "hint") is None
    with pytest.raises(ValueError, match="unknown query field"):
        parse_query_field("{}", "bogus")
    assert parse_pipeline("[{$match: {a: 1}}, {$limit: 5},]") == [
        {"$match": {"a": 1}},
        {"$limit": 5},
    ]
    assert parse_pipeline("{$count: 'n'}") == [{"$count": "n"}]
    with pytest.raises(ShellSyntaxError, match="stage documents"):
        parse_pipeline("[1]")


def test_crlf_lines_and_long_input():
    with pytest.raises(ShellSyntaxError) as info:
        parse("{\r\n a: 1,\r\n b: ?\r\n}")
    assert (info.value.line, info.value.column) == (3, 5)
    big = "[" + ",".join(f"{{i: {i}, s: 'v{i}'}}" for i in range(20000)) + "]"
    assert len(parse(big)) == 20000
