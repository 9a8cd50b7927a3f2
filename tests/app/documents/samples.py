"""Generated sample collections for the documents tests (every BSON type, nesting, arrays)."""

from __future__ import annotations

import datetime
import random
from typing import Any

from driver.bson import (
    Binary,
    Code,
    DatetimeMS,
    Decimal128,
    Int64,
    MaxKey,
    MinKey,
    ObjectId,
    Regex,
    Timestamp,
)

CITIES = ["Lisbon", "Oslo", "Lyon", "Graz", "Porto", "Turin", "Aarhus", "Bilbao"]


def people(count: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    result = []
    for index in range(count):
        document: dict[str, Any] = {
            "_id": ObjectId(rng.randbytes(12)),
            "name": f"person {index} é✓",
            "age": rng.randint(18, 90),
            "score": rng.random() * 100,
            "joined": datetime.datetime(2020, 1, 1)
            + datetime.timedelta(milliseconds=rng.randint(0, 10**11)),
            "address": {"city": rng.choice(CITIES), "zip": f"{rng.randint(1000, 9999)}"},
            "tags": rng.sample(["a", "b", "c", "d"], rng.randint(0, 3)),
        }
        if index % 3 == 0:
            document["vip"] = True
        result.append(document)
    return result


def every_type(seed: int = 2) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "_id": 1,
            "int32": 7,
            "int64": Int64(2**40),
            "small_long": Int64(3),
            "double": 1.5,
            "neg_zero": -0.0,
            "decimal": Decimal128("1234.5600"),
            "string": 'tab\tnew\nline "quoted"',
            "oid": ObjectId(rng.randbytes(12)),
            "date": datetime.datetime(2024, 5, 1, 12, 0, 0, 123000),
            "old_date": DatetimeMS(-(10**14)),
            "ts": Timestamp(1700000000, 5),
            "bin": Binary(b"\x00\x01binary", 0),
            "bin5": Binary(b"md5md5md5md5md5!", 5),
            "uuid": Binary(bytes(range(16)), 4),
            "regex": Regex("^a.*z$", "im"),
            "code": Code("function() { return 1; }"),
            "min": MinKey(),
            "max": MaxKey(),
            "null": None,
            "bool": False,
            "nested": {"deep": {"deeper": [1, {"x": "y"}, []]}, "empty": {}},
            "array": [1, "two", 3.0, None, [4]],
        },
        {"_id": "string id", "only_here": True},
        {"_id": ObjectId(rng.randbytes(12)), "a.b": "dotted key stays a key in JSON"},
    ]
