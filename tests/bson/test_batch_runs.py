"""The shape run loops (``Shape.runs``) that decode whole batches, against the general
decoder.

``decode_all`` (documents laid end to end) and ``decode_cursor_reply`` (a cursor reply's
``firstBatch``/``nextBatch`` array, decoded in place) hand every document after the first
of a shape to one generated loop, which stops at the first document it cannot decode
exactly; that one then goes through the general path. Whatever the bytes, the result must
be what ``CodecOptions(document_class=SON)`` (always the general loop) gives: the same
documents, or the same ``InvalidBSON`` message and offset.
"""

from __future__ import annotations

import datetime
import random
from typing import Any

import pytest

from driver.bson import (
    SON,
    CodecOptions,
    Int64,
    ObjectId,
    decode,
    decode_all,
    encode,
    json_util,
)
from driver.errors import InvalidBSON
from driver.operations.raw_batches import decode_cursor_reply
from tests.bson.test_fuzz import _mutate

GENERAL = CodecOptions(document_class=SON)


def _shapes(index: int) -> list[dict[str, Any]]:
    """Documents of several shapes: fixed-size elements only, ending with a string, with
    a sub-document, with nulls, empty, and the benchmark's small document."""
    return [
        {"_id": index, "n": index * 7 % 1000, "name": f"doc-{index}", "ok": index % 2 == 0},
        {
            "_id": ObjectId("6650a1b2c3d4e5f601234567"),
            "big": Int64(2**40 + index),
            "score": index / 4,
            "when": datetime.datetime(2024, 5, 1, 12, 30, 0, 123000),
            "far": datetime.datetime(1, 1, 1),
            "ok": False,
        },
        {"a": None, "b": None, "c": index, "s": "x" * (index % 5)},
        {"user": {"name": "Grace", "tags": ["a", "b"]}, "items": [{"q": index}], "n": index},
        {},
        {"only": None},
    ]


def _outcome(function: Any, data: bytes, options: CodecOptions | None) -> Any:
    try:
        return ("ok", json_util.dumps(function(data, options), mode="canonical"))
    except InvalidBSON as exc:
        return ("error", str(exc), exc.offset)
    except (ValueError, LookupError) as exc:  # a mangled reply outside the batch
        return ("error", type(exc).__name__, str(exc))


def _reply(documents: list[bytes]) -> bytes:
    """A getMore reply around already encoded documents (built by hand so that a
    mutated document goes into the batch as it is)."""
    elements = b"".join(
        b"\x03" + str(i).encode() + b"\x00" + doc for i, doc in enumerate(documents)
    )
    array = (len(elements) + 5).to_bytes(4, "little") + elements + b"\x00"
    cursor_body = (
        b"\x04nextBatch\x00"
        + array
        + b"\x12id\x00"
        + (0).to_bytes(8, "little")
        + b"\x02ns\x00"
        + (5).to_bytes(4, "little")
        + b"db.c\x00"
    )
    cursor = (len(cursor_body) + 5).to_bytes(4, "little") + cursor_body + b"\x00"
    body = b"\x03cursor\x00" + cursor + b"\x01ok\x00" + encode({"x": 1.0})[7:15]
    return (len(body) + 5).to_bytes(4, "little") + body + b"\x00"


def test_batches_of_each_shape_decode_like_the_general_decoder() -> None:
    for shape in range(len(_shapes(0))):
        documents = [_shapes(index)[shape] for index in range(50)]
        batch = b"".join(encode(document) for document in documents)
        assert decode_all(batch) == documents
        assert _outcome(decode_all, batch, None) == _outcome(decode_all, batch, GENERAL)
        reply = _reply([encode(document) for document in documents])
        assert decode_cursor_reply(reply, None) == decode(reply)
        assert decode_cursor_reply(reply, None)["cursor"]["nextBatch"] == documents


def test_mixed_shapes_restart_the_run_after_each_change() -> None:
    rng = random.Random(3)
    documents = [rng.choice(_shapes(index)) for index in range(400)]
    batch = b"".join(encode(document) for document in documents)
    assert decode_all(batch) == documents
    reply = _reply([encode(document) for document in documents])
    assert decode_cursor_reply(reply, None)["cursor"]["nextBatch"] == documents


def test_a_bad_boolean_inside_a_run_raises_with_its_offset() -> None:
    good = [encode(_shapes(index)[0]) for index in range(10)]
    bad = bytearray(good[6])
    bad[-2] = 2  # the "ok" boolean byte, just before the final NUL
    batch = b"".join(good[:6]) + bytes(bad) + b"".join(good[7:])
    with pytest.raises(InvalidBSON) as caught:
        decode_all(batch)
    assert caught.value.offset == sum(len(doc) for doc in good[:6]) + len(bad) - 2
    assert _outcome(decode_all, batch, None) == _outcome(decode_all, batch, GENERAL)


@pytest.mark.parametrize("seed", range(3))
def test_mutated_batches_agree_with_the_general_decoder(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(600):
        shape = rng.randrange(len(_shapes(0)))
        documents = [encode(_shapes(index)[shape]) for index in range(rng.randint(2, 8))]
        victim = rng.randrange(len(documents))
        documents[victim] = _mutate(rng, documents[victim], documents[0])
        batch = b"".join(documents)
        assert _outcome(decode_all, batch, None) == _outcome(decode_all, batch, GENERAL), (
            batch.hex()
        )
        reply = _reply(documents)
        assert _outcome(decode_cursor_reply, reply, None) == _outcome(
            decode_cursor_reply, reply, GENERAL
        ), reply.hex()


def test_mutated_replies_agree_with_the_general_decoder() -> None:
    rng = random.Random(11)
    documents = [encode(_shapes(index)[0]) for index in range(6)]
    original = _reply(documents)
    for _ in range(3000):
        reply = _mutate(rng, original, original)
        assert _outcome(decode_cursor_reply, reply, None) == _outcome(
            decode_cursor_reply, reply, GENERAL
        ), reply.hex()


def test_deep_documents_in_a_batch_fall_back_when_the_run_runs_out_of_stack() -> None:
    # 300 document+array levels: the general decoder's stack suffices, the generated
    # code's (more frames per level) may not; the run must hand such documents back.
    data = encode({"leaf": 1})
    for _ in range(300):
        array_body = b"\x030\x00" + data
        array = (len(array_body) + 5).to_bytes(4, "little") + array_body + b"\x00"
        body = b"\x04a\x00" + array
        data = (len(body) + 5).to_bytes(4, "little") + body + b"\x00"
    for _ in range(2):  # the second time with the learnt shapes
        for decoded in (
            decode_all(data * 4),
            decode_cursor_reply(_reply([data] * 4), None)["cursor"]["nextBatch"],
        ):
            assert len(decoded) == 4
            for value in decoded:
                for _ in range(300):
                    value = value["a"][0]
                assert value == {"leaf": 1}
