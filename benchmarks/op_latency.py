"""Per-operation overhead of the driver, beside PyMongo (C extensions), in one run.

    .venv/bin/python benchmarks/op_latency.py [--ops 2000] [--runs 5]

Both drivers talk to a stub server in a child process (so that it does not compete
for this process's GIL): a threaded TCP server that
speaks just enough of the wire protocol (OP_QUERY for a legacy handshake, OP_MSG for
everything else) and answers every command at once from reply bytes built before the
timing starts (hello, ping, find with one document, insert), so what is timed is the
drivers' own work per operation: building the command, session ids, server selection,
checking a connection out and in, encoding, decoding, events and logging.

Workloads, each ``--ops`` operations per timed run, median of ``--runs`` runs, in
microseconds per operation, with the ratio ours / PyMongo (lower is better):

* ``ping``: ``client.admin.command("ping")``;
* ``find_one``: ``collection.find_one({"_id": 1})`` (a find answered by one document);
* ``insert_one``: ``collection.insert_one({...})`` of a small document.

Two figures per driver: wall-clock time per operation (which includes the loopback
round trip, the same for both) and this process's CPU time per operation (the
driver's own work, monitor threads included).

The runs of the two drivers alternate, so a busy moment on a shared machine hits both.
The stub server's own time is in both figures alike. This is not a test: it prints.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import socket
import socketserver
import statistics
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pymongo  # noqa: E402

import driver  # noqa: E402
from driver.bson import Int64, encode  # noqa: E402

_HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode
_OP_REPLY, _OP_QUERY, _OP_MSG = 1, 2004, 2013

_HELLO = {
    "isWritablePrimary": True,
    "ismaster": True,
    "helloOk": True,
    "maxBsonObjectSize": 16 * 1024 * 1024,
    "maxMessageSizeBytes": 48_000_000,
    "maxWriteBatchSize": 100_000,
    "localTime": datetime.datetime(2024, 1, 1),
    "logicalSessionTimeoutMinutes": 30,
    "connectionId": 1,
    "minWireVersion": 0,
    "maxWireVersion": 21,
    "readOnly": False,
    "ok": 1.0,
}
# command name → reply body; anything else (endSessions, killCursors...) gets {ok: 1}.
_REPLIES: dict[bytes, bytes] = {
    b"hello": encode(_HELLO),
    b"isMaster": encode(_HELLO),
    b"ismaster": encode(_HELLO),
    b"find": encode(
        {
            "cursor": {
                "firstBatch": [{"_id": 1, "name": "Ada", "n": 36}],
                "id": Int64(0),
                "ns": "bench.items",
            },
            "ok": 1.0,
        }
    ),
    b"insert": encode({"n": 1, "ok": 1.0}),
}
_OK = encode({"ok": 1.0})


def _command_name(document: bytes | memoryview) -> bytes:
    """The first key of a BSON document (the command's name), without decoding it."""
    end = bytes(document[5:64]).find(b"\x00")
    return bytes(document[5 : 5 + end])


class _StubHandler(socketserver.BaseRequestHandler):
    """One connection: read a message, answer it from the prebuilt replies, repeat."""

    def handle(self) -> None:
        connection: socket.socket = self.request
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = connection.makefile("rb")
        while True:
            header = reader.read(16)
            if len(header) < 16:
                return
            length, request_id, _, op_code = _HEADER.unpack(header)
            body = reader.read(length - 16)
            if op_code == _OP_MSG:
                # flagBits (4 bytes), then a kind-0 section: one byte, then the command.
                reply = _REPLIES.get(_command_name(body[5:]), _OK)
                payload = b"\x00\x00\x00\x00\x00" + reply
                connection.sendall(
                    _HEADER.pack(16 + len(payload), 0, request_id, _OP_MSG) + payload
                )
            elif op_code == _OP_QUERY:
                # flags, then the collection's C string, skip and return counts, the query.
                query_start = body.index(b"\x00", 4) + 9
                reply = _REPLIES.get(_command_name(body[query_start:]), _OK)
                payload = struct.pack("<iqii", 0, 0, 0, 1) + reply
                connection.sendall(
                    _HEADER.pack(16 + len(payload), 0, request_id, _OP_REPLY) + payload
                )
            else:
                return


class _StubServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _serve(port_sender: Any) -> None:
    """The child process: serve until killed, after sending the port it listens on."""
    server = _StubServer(("127.0.0.1", 0), _StubHandler)
    port_sender.send(server.server_address[1])
    server.serve_forever()


def microseconds_per_op(operation: Callable[[], Any], ops: int) -> tuple[float, float]:
    """(wall-clock, CPU time of this process) per operation, in microseconds."""
    started, started_cpu = time.perf_counter(), time.process_time()
    for _ in range(ops):
        operation()
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return wall / ops * 1e6, cpu / ops * 1e6


def workloads(client: Any) -> dict[str, Callable[[], Any]]:
    collection = client.bench.items
    document = {"name": "Ada", "n": 36, "ok": True}

    def insert_one() -> None:
        collection.insert_one(dict(document))  # a fresh dict: insert_one adds an _id

    return {
        "ping": lambda: client.admin.command("ping"),
        "find_one": lambda: collection.find_one({"_id": 1}),
        "insert_one": insert_one,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--ops", type=int, default=2000, help="operations per timed run")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (median)")
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    port_receiver, port_sender = context.Pipe(duplex=False)
    server = context.Process(target=_serve, args=(port_sender,), daemon=True)
    server.start()
    uri = f"mongodb://127.0.0.1:{port_receiver.recv()}/?directConnection=true"
    clients: dict[str, Any] = {
        "ours": driver.MongoClient(uri),
        "PyMongo": pymongo.MongoClient(uri),
    }
    try:
        operations = {name: workloads(client) for name, client in clients.items()}
        for by_name in operations.values():  # warm up: connect, learn shapes
            for operation in by_name.values():
                for _ in range(50):
                    operation()
        print(
            f"stub server, {args.ops} operations per run, median of {args.runs} interleaved "
            f"runs; PyMongo {pymongo.version} (C extensions: {pymongo.has_c()}); "
            f"Python {sys.version.split()[0]}"
        )
        print(
            f"{'operation':<12}{'ours µs':>10}{'PyMongo µs':>12}{'ratio':>8}"
            f"{'ours CPU µs':>13}{'PyMongo CPU µs':>16}{'CPU ratio':>11}"
        )
        for name in operations["ours"]:
            samples: dict[str, list[tuple[float, float]]] = {key: [] for key in operations}
            for _ in range(args.runs):
                for driver_name, by_name in operations.items():
                    samples[driver_name].append(microseconds_per_op(by_name[name], args.ops))
            ours = statistics.median(wall for wall, _ in samples["ours"])
            theirs = statistics.median(wall for wall, _ in samples["PyMongo"])
            ours_cpu = statistics.median(cpu for _, cpu in samples["ours"])
            theirs_cpu = statistics.median(cpu for _, cpu in samples["PyMongo"])
            print(
                f"{name:<12}{ours:>10.1f}{theirs:>12.1f}{ours / theirs:>7.2f}x"
                f"{ours_cpu:>13.1f}{theirs_cpu:>16.1f}{ours_cpu / theirs_cpu:>10.2f}x"
            )
    finally:
        for client in clients.values():
            client.close()
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
