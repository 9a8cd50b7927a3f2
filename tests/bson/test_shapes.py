"""The shape-compiling fast path (driver/bson/shapes.py) against the general decoder.

With the default options, documents whose shape was seen before are decoded by a
generated function; ``CodecOptions(document_class=SON)`` always takes the general loop.
The two must agree on every input: same values for valid bytes, and for malformed bytes
the same ``InvalidBSON`` message and offset.
"""

from __future__ import annotations

import datetime
import random
from typing import Any

import pytest

from driver.bson import (
    SON,
    CodecOptions,
    DBRef,
    Int64,
    ObjectId,
    decode,
    decode_all,
    encode,
    json_util,
    shapes,
)
from driver.errors import InvalidBSON
from tests.bson.test_fuzz import _mutate

GENERAL = CodecOptions(document_class=SON)


def _seed_documents() -> list[dict[str, Any]]:
    return [
        {
            "_id": ObjectId("6650a1b2c3d4e5f601234567"),
            "name": "Ada",
            "n": 36,
            "big": Int64(2**40),
            "score": 97.5,
            "when": datetime.datetime(2024, 5, 1, 12, 30, 0, 123000),
            "far": datetime.datetime(1, 1, 1),
            "ok": True,
            "none": None,
        },
        {
            "user": {"name": "Grace", "roles": ["admin", "dev"], "geo": [1.5, -2.5]},
            "items": [{"sku": f"S{i}", "qty": i, "tags": ["a", "b"]} for i in range(4)],
            "ref": {"$ref": "c", "$id": 1},
            "empty": {},
            "none": [],
        },
    ]


def _outcome(data: bytes, options: CodecOptions | None) -> Any:
    try:
        # Canonical Extended JSON shows every type and value exactly (NaN included).
        return ("ok", json_util.dumps(decode(data, options), mode="canonical"))
    except InvalidBSON as exc:
        return ("error", str(exc), exc.offset)


def test_repeated_shapes_are_learnt_and_decode_the_same() -> None:
    for document in _seed_documents():
        data = encode(document)
        shapes.TOP_LEVEL.budget = 8  # earlier tests may have used up the learning budget
        first, second = decode(data), decode(data)
        assert first == second == decode(data, GENERAL)
        assert encode(second) == data
        assert shapes.TOP_LEVEL.shape is not None
        assert shapes.TOP_LEVEL.shape.decode(data, 4, len(data) - 1) == second
        assert decode_all(data * 3) == [second] * 3


def test_dbref_shaped_documents_stay_with_the_general_decoder() -> None:
    data = encode({"r": {"$ref": "c", "$id": 1, "$db": "d"}})
    for _ in range(3):
        assert decode(data) == {"r": DBRef("c", 1, "d")}


@pytest.mark.parametrize("seed", range(3))
def test_mutations_agree_with_the_general_decoder(seed: int) -> None:
    rng = random.Random(seed)
    seeds = [encode(document) for document in _seed_documents()]
    for _ in range(3000):
        original = rng.choice(seeds)
        shapes.TOP_LEVEL.budget = 8  # let the top level learn again, whatever came before
        decode(original)
        decode(original)
        assert shapes.TOP_LEVEL.shape is not None  # the valid document's shape is learnt
        data = original
        for _ in range(rng.randint(1, 2)):
            data = _mutate(rng, data, original)
        assert _outcome(data, None) == _outcome(data, GENERAL), data.hex()


def test_changing_shapes_stay_correct_and_bounded() -> None:
    rng = random.Random(7)
    for index in range(2000):
        document = {f"k{rng.randrange(50)}": rng.choice([1, "x", 2.5, None, [1]]) for _ in range(3)}
        document["i"] = index
        assert decode(encode(document)) == document
    assert len(shapes._COMPILED) <= shapes._COMPILED_LIMIT


def test_deep_documents_fall_back_when_the_fast_path_runs_out_of_stack() -> None:
    # {"a": [{"a": [... {"leaf": 1} ...]}]}, 300 document+array levels: the general
    # decoder's stack suffices, the fast path's (more frames per level) may not.
    depth = 300
    data = encode({"leaf": 1})
    for _ in range(depth):
        array_body = b"\x030\x00" + data
        array = (len(array_body) + 5).to_bytes(4, "little") + array_body + b"\x00"
        body = b"\x04a\x00" + array
        data = (len(body) + 5).to_bytes(4, "little") + body + b"\x00"
    for _ in range(2):  # the second time with the learnt shapes
        value = decode(data)
        for _ in range(depth):
            value = value["a"][0]
        assert value == {"leaf": 1}
