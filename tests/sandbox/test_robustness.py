"""Hostile and unusual bytes on real sockets: bad frames close only that connection; the legacy
OP_QUERY hello, OP_MSG checksums and document sequences, OP_COMPRESSED, exhaust streaming and many
concurrent connections all work."""

from __future__ import annotations

import random
import socket
import struct
import threading
import zlib
from typing import Any

import bson
import pytest

from sandbox import wire
from sandbox.cluster import SandboxCluster
from tests.sandbox import rawwire


def _still_serving(cluster: SandboxCluster) -> None:
    reply = rawwire.command(cluster.members[0].address, {"ping": 1, "$db": "admin"})
    assert reply["ok"] == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_close_that_connection_only(standalone: SandboxCluster, seed: int) -> None:
    address = standalone.members[0].address
    bystander = rawwire.connect(address)
    rng = random.Random(seed)
    with rawwire.connect(address) as sock:
        sock.sendall(bytes(rng.getrandbits(8) for _ in range(4096)))
        assert rawwire.closed_by_server(sock)
    bystander.sendall(rawwire.op_msg({"ping": 1, "$db": "admin"}))
    assert rawwire.read_reply(bystander)[3]["ok"] == 1.0
    bystander.close()
    _still_serving(standalone)


def test_valid_header_then_garbage_body(standalone: SandboxCluster) -> None:
    with rawwire.connect(standalone.members[0].address) as sock:
        body = b"\x00" * 4 + b"\x00" + b"\xff" * 40
        sock.sendall(struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body)
        assert rawwire.closed_by_server(sock)
    _still_serving(standalone)


def test_truncated_frame(standalone: SandboxCluster) -> None:
    message = rawwire.op_msg({"ping": 1, "$db": "admin"})
    with rawwire.connect(standalone.members[0].address) as sock:
        sock.sendall(message[:-7])
        sock.shutdown(socket.SHUT_WR)  # the client gives up half-way through the frame
        assert rawwire.closed_by_server(sock)
    _still_serving(standalone)


@pytest.mark.parametrize("length", [48_000_001, 2**31 - 1, 3, -5])
def test_oversized_or_impossible_length(standalone: SandboxCluster, length: int) -> None:
    with rawwire.connect(standalone.members[0].address) as sock:
        sock.sendall(struct.pack("<iiii", length, 1, 0, 2013) + b"\x00" * 32)
        assert rawwire.closed_by_server(sock)
    _still_serving(standalone)


def test_unknown_opcode_and_bad_checksum(standalone: SandboxCluster) -> None:
    address = standalone.members[0].address
    with rawwire.connect(address) as sock:
        sock.sendall(struct.pack("<iiii", 20, 1, 0, 2010) + b"\x00" * 4)
        assert rawwire.closed_by_server(sock)
    message = bytearray(rawwire.op_msg({"ping": 1, "$db": "admin"}, flags=1) + b"\x00" * 4)
    struct.pack_into("<i", message, 0, len(message))
    with rawwire.connect(address) as sock:
        sock.sendall(bytes(message))  # checksumPresent with a wrong CRC-32C
        assert rawwire.closed_by_server(sock)
    _still_serving(standalone)


def test_checksum_and_document_sequence_accepted(standalone: SandboxCluster) -> None:
    docs = b"".join(bson.encode({"_id": i, "seq": True}) for i in range(3))
    ident = b"documents\x00"
    section = b"\x01" + struct.pack("<i", 4 + len(ident) + len(docs)) + ident + docs
    body = b"\x00" + bson.encode({"insert": "seqtest", "$db": "robust"})
    payload = struct.pack("<I", 1) + body + section
    length = 16 + len(payload) + 4
    header = struct.pack("<iiii", length, 7, 0, 2013)
    checksum = struct.pack("<I", wire.crc32c(header + payload))
    with rawwire.connect(standalone.members[0].address) as sock:
        sock.sendall(header + payload + checksum)
        _op, response_to, _flags, reply = rawwire.read_reply(sock)
    assert response_to == 7 and reply == {"n": 3, "ok": 1.0}


def test_crc32c_known_value() -> None:
    assert wire.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value


def test_legacy_op_query_hello(standalone: SandboxCluster) -> None:
    with rawwire.connect(standalone.members[0].address) as sock:
        sock.sendall(rawwire.op_query("admin.$cmd", {"isMaster": 1, "helloOk": True}))
        op, _to, _flags, reply = rawwire.read_reply(sock)
        assert op == 1 and reply["ismaster"] is True and reply["helloOk"] is True
        sock.sendall(rawwire.op_query("admin.$cmd", {"listDatabases": 1}, request_id=2))
        refused = rawwire.read_reply(sock)[3]
        assert refused["ok"] == 0.0 and refused["code"] == 352


def test_op_compressed_zlib_both_ways(standalone: SandboxCluster) -> None:
    inner = rawwire.op_msg({"ping": 1, "$db": "admin"}, request_id=9)
    compressed = zlib.compress(inner[16:])
    payload = struct.pack("<iiB", 2013, len(inner) - 16, 2) + compressed
    message = struct.pack("<iiii", 16 + len(payload), 9, 0, 2012) + payload
    with rawwire.connect(standalone.members[0].address) as sock:
        sock.sendall(message)
        header = rawwire.read_exact(sock, 16)
        length, _rid, response_to, op_code = struct.unpack("<iiii", header)
        body = rawwire.read_exact(sock, length - 16)
    assert op_code == 2012 and response_to == 9
    original, size, compressor = struct.unpack_from("<iiB", body)
    assert (original, compressor) == (2013, 2)
    unpacked = zlib.decompress(body[9:])
    assert len(unpacked) == size and bson.decode(unpacked[5:])["ok"] == 1.0


def test_streaming_hello_answers_on_change_or_timeout(replset: SandboxCluster) -> None:
    address = replset.members[1].address
    first = rawwire.command(address, {"hello": 1, "$db": "admin"})
    version = first["topologyVersion"]
    with rawwire.connect(address, timeout=5) as sock:
        sock.sendall(rawwire.op_msg({"hello": 1, "$db": "admin", "topologyVersion": version,
                                     "maxAwaitTimeMS": 100}, request_id=3, flags=1 << 16))
        _op, response_to, flags, reply = rawwire.read_reply(sock)  # after maxAwaitTimeMS
        assert response_to == 3 and flags & 2 and reply["topologyVersion"] == version
        replset.step_down()  # a state change answers the next streamed hello at once
        _op, _to, flags, changed = rawwire.read_reply(sock)
        assert flags & 2
        assert changed["topologyVersion"]["counter"] > version["counter"]
        assert changed["topologyVersion"]["processId"] == version["processId"]


def test_exhaust_get_more(standalone: SandboxCluster) -> None:
    address = standalone.members[0].address
    docs = [{"_id": i} for i in range(25)]
    rawwire.command(address, {"insert": "ex", "$db": "robust", "documents": docs})
    first = rawwire.command(address, {"find": "ex", "$db": "robust", "batchSize": 0})
    cursor_id = first["cursor"]["id"]
    seen: list[Any] = []
    with rawwire.connect(address) as sock:
        sock.sendall(rawwire.op_msg({"getMore": cursor_id, "collection": "ex", "$db": "robust",
                                     "batchSize": 10}, flags=1 << 16))
        while True:
            _op, _to, flags, reply = rawwire.read_reply(sock)
            seen.extend(reply["cursor"]["nextBatch"])
            if not flags & 2:
                break
    assert [d["_id"] for d in seen] == list(range(25)) and reply["cursor"]["id"] == 0
    rawwire.command(address, {"drop": "ex", "$db": "robust"})


def test_two_hundred_concurrent_connections(standalone: SandboxCluster) -> None:
    address = standalone.members[0].address
    sockets = [rawwire.connect(address, timeout=10) for _ in range(200)]
    errors: list[BaseException] = []

    def ping(sock: socket.socket) -> None:
        try:
            sock.sendall(rawwire.op_msg({"ping": 1, "$db": "admin"}))
            assert rawwire.read_reply(sock)[3]["ok"] == 1.0
        except BaseException as exc:  # collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=ping, args=(s,)) for s in sockets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    status = rawwire.command(address, {"serverStatus": 1, "$db": "admin"})
    for sock in sockets:
        sock.close()
    assert not errors
    assert status["connections"]["current"] >= 200


def test_unacknowledged_write_gets_no_reply(standalone: SandboxCluster) -> None:
    address = standalone.members[0].address
    with rawwire.connect(address) as sock:
        sock.sendall(rawwire.op_msg({"insert": "w0", "$db": "robust", "documents": [{"a": 1}],
                                     "writeConcern": {"w": 0}}, request_id=1, flags=2))
        sock.sendall(rawwire.op_msg({"count": "w0", "$db": "robust"}, request_id=2))
        _op, response_to, _flags, reply = rawwire.read_reply(sock)
    assert response_to == 2 and reply["n"] == 1
