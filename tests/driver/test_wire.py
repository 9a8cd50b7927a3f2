"""Wire frames byte by byte: OP_MSG (sections, flags, CRC-32C), OP_QUERY/OP_REPLY,
OP_COMPRESSED, and the compressors. PyMongo's ``bson`` makes the document bytes."""

from __future__ import annotations

import struct
import zlib

import bson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from driver.errors import ConfigurationError, ProtocolError
from driver.net import compression, wire
from tests.driver.net_fake_server import crc32c_reference

# --- CRC-32C --------------------------------------------------------------------------------


def test_crc32c_check_value_and_rfc3720_vectors() -> None:
    # The standard check value of CRC-32C, and the iSCSI test patterns (RFC 3720 B.4).
    assert wire.crc32c(b"123456789") == 0xE3069283
    assert wire.crc32c(bytes(32)) == 0x8A9136AA
    assert wire.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert wire.crc32c(bytes(range(32))) == 0x46DD794E
    assert wire.crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C
    assert wire.crc32c(b"") == 0


@given(st.binary(max_size=200), st.binary(max_size=50))
def test_crc32c_matches_bitwise_reference_and_continues(first: bytes, second: bytes) -> None:
    assert wire.crc32c(first) == crc32c_reference(first)
    assert wire.crc32c(second, wire.crc32c(first)) == crc32c_reference(first + second)


# --- OP_MSG ---------------------------------------------------------------------------------


def test_op_msg_body_only_layout() -> None:
    body = bson.encode({"ping": 1, "$db": "admin"})
    message = wire.encode_op_msg(77, body)
    length, request_id, response_to, opcode = struct.unpack_from("<iiii", message)
    assert (length, request_id, response_to, opcode) == (len(message), 77, 0, wire.OP_MSG)
    assert message[16:20] == b"\x00\x00\x00\x00"  # flag bits
    assert message[20:21] == b"\x00"  # kind 0
    assert message[21:] == body


def test_op_msg_document_sequences_round_trip() -> None:
    body = bson.encode({"insert": "c", "$db": "db"})
    docs = [bson.encode({"_id": i, "s": "x" * i}) for i in range(5)]
    updates = [bson.encode({"q": {}, "u": {"$set": {"a": 1}}})]
    message = wire.encode_op_msg(1, body, [("documents", docs), ("updates", updates)])
    header = wire.parse_header(message[:16], 48_000_000)
    assert header.length == len(message)
    decoded = wire.decode_op_msg(message[16:], message[:16])
    assert decoded.body == body
    assert decoded.sequences == {"documents": docs, "updates": updates}
    # Section 1 layout: kind byte, int32 size covering itself + identifier + documents.
    start = 16 + 4 + 1 + len(body)
    assert message[start] == 1
    size = struct.unpack_from("<i", message, start + 1)[0]
    assert size == 4 + len(b"documents\x00") + sum(map(len, docs))


def test_op_msg_flag_bits() -> None:
    body = bson.encode({"ping": 1})
    more = wire.encode_op_msg(1, body, more_to_come=True)
    assert struct.unpack_from("<I", more, 16)[0] == 0b10
    assert wire.decode_op_msg(more[16:]).more_to_come
    exhaust = wire.encode_op_msg(1, body, exhaust_allowed=True)
    assert struct.unpack_from("<I", exhaust, 16)[0] == 1 << 16
    assert wire.decode_op_msg(exhaust[16:]).exhaust_allowed


def test_op_msg_checksum_written_and_verified() -> None:
    body = bson.encode({"hello": 1})
    message = wire.encode_op_msg(5, body, checksum=True)
    assert struct.unpack_from("<I", message, 16)[0] & wire.CHECKSUM_PRESENT
    assert struct.unpack_from("<I", message, len(message) - 4)[0] == crc32c_reference(message[:-4])
    decoded = wire.decode_op_msg(message[16:], message[:16])
    assert decoded.checksum_present and decoded.body == body
    corrupted = bytearray(message)
    corrupted[25] ^= 0x01
    with pytest.raises(ProtocolError, match="checksum mismatch"):
        wire.decode_op_msg(bytes(corrupted[16:]), bytes(corrupted[:16]))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x00\x00", "too short"),
        (b"\x04\x00\x00\x00" + b"\x00" + bson.encode({}), "unknown required flag bits 0x4"),
        (b"\x00\x00\x00\x00" + b"\x02" + bson.encode({}), "unknown section kind 2"),
        (b"\x00\x00\x00\x00" + b"\x00\x20\x00\x00\x00\x00", "length 32"),
        (b"\x00\x00\x00\x00" + b"\x00\x05\x00\x00\x00\x01", "not NUL-terminated"),
        (b"\x00\x00\x00\x00" + (b"\x00" + bson.encode({})) * 2, "more than one body"),
        (b"\x00\x00\x00\x00\x01\x09\x00\x00\x00docs\x00", "no body"),
        (b"\x00\x00\x00\x00\x01\x40\x00\x00\x00docs\x00", "sequence length 64"),
    ],
)
def test_malformed_op_msg_names_the_problem(payload: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        wire.decode_op_msg(payload)


def test_unknown_optional_flag_bits_are_ignored() -> None:
    payload = struct.pack("<I", 1 << 20) + b"\x00" + bson.encode({"ok": 1})
    assert bson.decode(wire.decode_op_msg(payload).body) == {"ok": 1}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (struct.pack("<iiii", 10, 1, 0, wire.OP_MSG), "too small"),
        (struct.pack("<iiii", 100_000_000, 1, 0, wire.OP_MSG), "larger than the maximum"),
        (struct.pack("<iiii", 100, 1, 0, 2010), "unknown opcode 2010"),
    ],
)
def test_bad_headers(header: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        wire.parse_header(header, 48_000_000)


def test_request_ids_are_distinct_positive_int32() -> None:
    ids = {wire.next_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(0 <= i <= 0x7FFFFFFF for i in ids)


# --- OP_QUERY / OP_REPLY ---------------------------------------------------------------------


def test_op_query_layout_for_legacy_ismaster() -> None:
    query = bson.encode({"isMaster": 1, "helloOk": True})
    message = wire.encode_op_query(9, "admin.$cmd", query)
    length, request_id, _, opcode = struct.unpack_from("<iiii", message)
    assert (length, request_id, opcode) == (len(message), 9, wire.OP_QUERY)
    flags = struct.unpack_from("<i", message, 16)[0]
    assert flags == 0
    assert message[20:31] == b"admin.$cmd\x00"
    assert struct.unpack_from("<ii", message, 31) == (0, -1)
    assert message[39:] == query


def test_op_reply_round_trip_and_count_check() -> None:
    docs = [bson.encode({"ok": 1, "ismaster": True})]
    message = wire.encode_op_reply(3, 9, docs)
    reply = wire.decode_op_reply(message[16:])
    assert reply.documents == docs and reply.cursor_id == 0
    bad = bytearray(message)
    struct.pack_into("<i", bad, 16 + 16, 2)  # numberReturned says 2
    with pytest.raises(ProtocolError, match="numberReturned=2"):
        wire.decode_op_reply(bytes(bad[16:]))


# --- OP_COMPRESSED and compressors --------------------------------------------------------------


def test_op_compressed_round_trip_with_zlib() -> None:
    inner = wire.encode_op_msg(4, bson.encode({"find": "c", "filter": {"a": "b" * 100}}))
    payload = inner[16:]
    zlib_c = compression.get_compressor("zlib", 6)
    message = wire.encode_op_compressed(4, wire.OP_MSG, len(payload), zlib_c.compressor_id,
                                        zlib_c.compress(payload))
    assert struct.unpack_from("<i", message, 12)[0] == wire.OP_COMPRESSED
    assert len(message) < len(inner)
    frame = wire.decode_op_compressed(message[16:])
    assert (frame.original_opcode, frame.uncompressed_size, frame.compressor_id) == (
        wire.OP_MSG, len(payload), compression.ZLIB_ID)
    assert compression.decompress(frame.compressor_id, frame.data, frame.uncompressed_size) == payload
    assert zlib.decompress(frame.data) == payload  # really zlib, readable by anyone


def test_decompression_failures_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError, match="cannot decompress zlib"):
        compression.decompress(compression.ZLIB_ID, b"not zlib", 10)
    with pytest.raises(ProtocolError, match="announced 99"):
        compression.decompress(compression.ZLIB_ID, zlib.compress(b"abc"), 99)
    with pytest.raises(ProtocolError, match="unknown compressor id 9"):
        compression.decompress(9, b"", 0)
    assert compression.decompress(compression.NOOP_ID, b"abc", 3) == b"abc"
    with pytest.raises(ProtocolError, match="unsupported opcode"):
        wire.decode_op_compressed(struct.pack("<iiB", 1234, 0, 2))


def test_compressor_selection() -> None:
    assert "zlib" in compression.available_compressors()
    assert compression.usable_compressors(["ZLIB", "bogus", "zlib"]) == ["zlib"]
    with pytest.raises(ConfigurationError, match="unknown compressor 'lz4'"):
        compression.get_compressor("lz4")
    with pytest.raises(ConfigurationError, match="between -1 and 9"):
        compression.get_compressor("zlib", 12)
    for name in ("zstd", "snappy"):
        if name in compression.available_compressors():
            codec = compression.get_compressor(name)
            assert codec.decompress(codec.compress(b"abc" * 50)) == b"abc" * 50
        else:
            with pytest.raises(ConfigurationError, match="needs the"):
                compression.get_compressor(name)


def test_handshake_and_auth_commands_are_never_compressed() -> None:
    for name in ("hello", "isMaster", "ismaster", "saslStart", "saslContinue", "authenticate",
                 "createUser", "updateUser", "getnonce"):
        assert not compression.may_compress(name)
    assert compression.may_compress("find") and compression.may_compress("insert")


_identifiers = st.text(st.characters(codec="utf-8", exclude_characters="\x00"),
                       min_size=1, max_size=12)
_documents = st.lists(st.dictionaries(st.text(max_size=5).filter(lambda k: "\x00" not in k),
                                      st.integers(-(2**31), 2**31 - 1), max_size=3),
                      max_size=4)


@given(st.dictionaries(_identifiers, _documents, max_size=3), st.booleans(), st.booleans())
def test_op_msg_round_trips_any_sections(sequences: dict[str, list[dict[str, int]]],
                                         checksum: bool, more_to_come: bool) -> None:
    body = bson.encode({"cmd": 1})
    encoded = [(name, [bson.encode(d) for d in docs]) for name, docs in sequences.items()]
    message = wire.encode_op_msg(11, body, encoded, checksum=checksum, more_to_come=more_to_come)
    header = wire.parse_header(message[:16], 48_000_000)
    decoded = wire.decode_op_msg(message[16:header.length], message[:16])
    assert decoded.body == body and decoded.more_to_come == more_to_come
    assert {k: [bson.decode(d) for d in v] for k, v in decoded.sequences.items()} == sequences
