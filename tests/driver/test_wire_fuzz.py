"""Wire fuzz: a stub server mutates valid replies and the driver must answer every one
with a driver error (a ``PyMongoError``), never a bare Python exception, and never hang.

Two levels, both over real sockets to ``reply_stub.ReplyStub``:

* frames: a valid ``find`` reply frame (OP_MSG, bytes packed by the stub with ``struct``
  and PyMongo's ``bson``) is truncated, has bytes flipped, gets a wrong message or
  document length, a wrong opcode, a wrong ``responseTo``, unknown flag bits, extra
  sections, an OP_COMPRESSED wrapper of garbage, or 10,000 levels of nesting. The reply
  is read by ``Connection.command`` with each of the driver's three reply decoders
  (plain, cursor, raw batches).
* shapes: valid frames whose documents hypothesis builds from random BSON values in
  the places the driver reads (``cursor``, ``cursor.id``, the batch, ``n``, write
  errors...), read through the public API (``find``, ``find_raw_batches``,
  ``count_documents``, ``insert_many``...).

Hypothesis runs a bounded number of examples; each operation runs with socket and
server-selection timeouts, and the 10 s bound on an operation only catches a hang.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import bson
import pytest
from bson.raw_bson import RawBSONDocument
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driver import InsertOne, UpdateOne
from driver.bson import DEFAULT_CODEC_OPTIONS
from driver.errors import ProtocolError, PyMongoError
from driver.net.connection import Connection, ConnectionSettings
from driver.operations.raw_batches import decode_cursor_reply, decode_raw_reply
from tests.driver.reply_stub import ReplyStub, stub_client

HANG_BOUND = 10.0  # seconds; only a real hang takes this long
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _deep(levels: int, kind: int) -> bytes:
    """A BSON document nested ``levels`` deep (``kind`` 0x03 documents or 0x04 arrays),
    built bytewise: no encoder recurses that far."""
    inner = b"\x05\x00\x00\x00\x00"
    for _ in range(levels):
        body = bytes([kind]) + b"0\x00" + inner + b"\x00"
        inner = struct.pack("<i", len(body) + 4) + body
    return inner


_DEEP_DOCUMENT = _deep(10_000, 0x03)
_DEEP_ARRAY = _deep(10_000, 0x04)


def _find_reply(batch: list[Any]) -> dict[str, Any]:
    return {"ok": 1, "cursor": {"id": 0, "ns": "db.c", "firstBatch": batch}}


# -- frame mutations -------------------------------------------------------------------------

def _set_int32(frame: bytes, offset: int, value: int) -> bytes:
    return frame[:offset] + struct.pack("<i", value) + frame[offset + 4:]


int32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)


@st.composite
def frame_mutations(draw: st.DrawFn) -> Callable[[int, bytes], bytes]:
    """A function turning the valid frame into a broken one."""
    kind = draw(st.sampled_from([
        "truncate", "flip", "message_length", "document_length", "opcode", "response_to",
        "flags", "extra_section", "compressed", "append",
    ]))
    if kind == "truncate":
        cut = draw(st.integers(min_value=0, max_value=400))
        reframe = draw(st.booleans())

        def truncate(request_id: int, frame: bytes) -> bytes:
            short = frame[:min(cut, len(frame) - 1)]
            # Reframed: the header says the short length, so the body itself is cut.
            return _set_int32(short, 0, len(short)) if reframe and len(short) >= 16 else short
        return truncate
    if kind == "flip":
        flips = draw(st.lists(st.tuples(st.integers(min_value=16, max_value=400),
                                        st.integers(min_value=1, max_value=255)),
                              min_size=1, max_size=8))

        def flip(request_id: int, frame: bytes) -> bytes:
            data = bytearray(frame)
            for position, mask in flips:
                data[position % len(data)] ^= mask
            return bytes(data)
        return flip
    if kind in ("message_length", "document_length", "opcode", "response_to", "flags"):
        offset = {"message_length": 0, "document_length": 21, "opcode": 12,
                  "response_to": 8, "flags": 16}[kind]
        value = draw(int32 if kind != "response_to" else st.integers(1, 2**31 - 1))
        return lambda request_id, frame: _set_int32(frame, offset, value)
    if kind == "extra_section":
        section_kind = draw(st.integers(min_value=0, max_value=255))
        payload = draw(st.binary(max_size=40))

        def extra(request_id: int, frame: bytes) -> bytes:
            data = frame + bytes([section_kind]) + payload
            return _set_int32(data, 0, len(data))
        return extra
    if kind == "compressed":
        compressor = draw(st.integers(min_value=0, max_value=255))
        claimed = draw(int32)
        garbage = draw(st.binary(max_size=60))

        def compressed(request_id: int, frame: bytes) -> bytes:
            body = struct.pack("<iiB", 2013, claimed, compressor) + garbage
            return struct.pack("<iiii", 16 + len(body), 9, request_id, 2012) + body
        return compressed
    tail = draw(st.binary(min_size=1, max_size=40))
    return lambda request_id, frame: _set_int32(frame + tail, 0, len(frame) + len(tail))


def _decoders() -> list[Any]:
    return [None,
            lambda body: decode_cursor_reply(body, DEFAULT_CODEC_OPTIONS),
            lambda body: decode_raw_reply(body, DEFAULT_CODEC_OPTIONS)]


def _assert_driver_error_only(operation: Callable[[], Any]) -> None:
    """Run ``operation`` in a thread (so a hang is caught, not suffered): it may succeed
    or raise a driver error, nothing else."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            operation()
        except PyMongoError:
            outcome.append(None)
        except BaseException as exc:  # what this test exists to catch
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HANG_BOUND)
    assert not worker.is_alive(), f"operation still running after {HANG_BOUND} s"
    if outcome[0] is not None:
        raise AssertionError(f"non-driver error escaped: {outcome[0]!r}") from outcome[0]


@pytest.fixture(scope="module")
def frame_stub() -> Iterator[ReplyStub]:
    stub = ReplyStub()
    with stub:
        yield stub


def _read_find_reply(stub: ReplyStub, decoder: Any) -> None:
    conn = Connection.open(stub.address, ConnectionSettings(connect_timeout=3.0,
                                                            socket_timeout=3.0))
    try:
        conn.command("db", {"find": "c"}, decoder=decoder)
    finally:
        conn.close()


@FUZZ
@given(mutation=frame_mutations(), decoder_index=st.integers(0, 2),
       batch=st.sampled_from([[{"_id": 1, "x": "y" * 20}], [{"a": [1, 2.5, None]}] * 3, []]))
def test_mutated_frames_give_driver_errors(frame_stub: ReplyStub, mutation: Any,
                                           decoder_index: int, batch: list[Any]) -> None:
    frame_stub.documents["find"] = _find_reply(batch)
    frame_stub.frames["find"] = mutation
    _assert_driver_error_only(lambda: _read_find_reply(frame_stub, _decoders()[decoder_index]))


@pytest.mark.parametrize("deep", [_DEEP_DOCUMENT, _DEEP_ARRAY], ids=["documents", "arrays"])
@pytest.mark.parametrize("decoder_index", [0, 1, 2])
def test_ten_thousand_levels_of_nesting(frame_stub: ReplyStub, deep: bytes,
                                        decoder_index: int) -> None:
    frame_stub.frames.pop("find", None)
    frame_stub.documents["find"] = _find_reply([{"deep": RawBSONDocument(deep)}])
    _assert_driver_error_only(lambda: _read_find_reply(frame_stub, _decoders()[decoder_index]))


@pytest.mark.parametrize("size", [-100, -3, 0, 4], ids=["backwards", "loop", "zero", "four"])
def test_raw_batch_document_length_below_five_is_a_protocol_error(frame_stub: ReplyStub,
                                                              size: int) -> None:
    # Found by the fuzz: the raw-batch splitter stepped backwards on a batch document
    # whose length is below 5 (-3 steps back onto the same element: a loop forever).
    def bad_length(request_id: int, frame: bytes) -> bytes:
        at = frame.index(b"\x030\x00") + 3
        return _set_int32(frame, at, size)

    frame_stub.documents["find"] = _find_reply([{"a": 1}, {"b": 2}])
    frame_stub.frames["find"] = bad_length
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            _read_find_reply(frame_stub, _decoders()[2])
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HANG_BOUND)
    assert not worker.is_alive(), f"reading the reply still running after {HANG_BOUND} s"
    # The connection reports the decoder's InvalidBSON as a ProtocolError naming the server.
    assert isinstance(outcome[0], ProtocolError), repr(outcome[0])
    assert "batch document overruns its array" in str(outcome[0])


# -- document shapes -------------------------------------------------------------------------

bson_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(),
    st.text(max_size=8), st.binary(max_size=8), st.just(bson.ObjectId(b"123456789012")),
    st.just(bson.Timestamp(1, 2)), st.just(bson.Decimal128("NaN")),
)
bson_values = st.recursive(
    bson_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["id", "ns", "n", "_id", "index", "x"]), children,
                      max_size=4),
    max_leaves=12,
)


@st.composite
def shaped_replies(draw: st.DrawFn) -> dict[str, Any]:
    """An ``ok: 1`` reply with random values where the driver looks."""
    cursor = draw(st.one_of(
        bson_values,
        st.fixed_dictionaries({}, optional={
            "id": bson_values, "ns": bson_values,
            "firstBatch": bson_values | st.lists(bson_values, max_size=3),
            "nextBatch": bson_values,
        }),
    ))
    optional = {"cursor": st.just(cursor), "n": bson_values, "nModified": bson_values,
                "writeErrors": bson_values, "upserted": bson_values,
                "writeConcernError": bson_values, "errorLabels": bson_values,
                "values": bson_values, "value": bson_values, "$clusterTime": bson_values,
                "operationTime": bson_values, "databases": bson_values}
    return draw(st.fixed_dictionaries({"ok": st.sampled_from([1, 1.0, True])},
                                      optional=optional))


OPERATIONS: dict[str, Callable[[Any], Any]] = {
    "find": lambda c: list(c.find()),
    "find_raw_batches": lambda c: list(c.find_raw_batches()),
    "aggregate": lambda c: list(c.aggregate([])),
    "count_documents": lambda c: c.count_documents({}),
    "count": lambda c: c.estimated_document_count(),
    "distinct": lambda c: c.distinct("x"),
    "findAndModify": lambda c: c.find_one_and_update({}, {"$set": {"x": 1}}),
    "insert": lambda c: c.insert_many([{"x": 1}, {"x": 2}]),
    "update": lambda c: c.bulk_write([UpdateOne({}, {"$set": {"x": 1}}, upsert=True),
                                      InsertOne({"y": 1})], ordered=False),
    "listIndexes": lambda c: list(c.list_indexes()),
    "listDatabases": lambda c: c.database.client.list_database_names(),
}
COMMAND_OF = {"find_raw_batches": "find", "count_documents": "aggregate"}


@pytest.fixture(scope="module")
def shape_client() -> Iterator[tuple[ReplyStub, Any]]:
    stub = ReplyStub()
    with stub_client(stub) as client:
        yield stub, client


@FUZZ
@given(reply=shaped_replies(), operation=st.sampled_from(sorted(OPERATIONS)))
def test_replies_of_random_shapes_give_driver_errors(
    shape_client: tuple[ReplyStub, Any], reply: dict[str, Any], operation: str
) -> None:
    stub, client = shape_client
    stub.documents.clear()
    stub.documents[COMMAND_OF.get(operation, operation)] = reply
    started = time.monotonic()
    _assert_driver_error_only(lambda: OPERATIONS[operation](client["db"]["c"]))
    assert time.monotonic() - started < HANG_BOUND
