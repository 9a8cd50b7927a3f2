"""A tiny raw-socket client for tests that must send exact bytes (no driver involved)."""

from __future__ import annotations

import socket
import struct
from typing import Any

import bson

OP_MSG = 2013
OP_QUERY = 2004


def op_msg(body: dict[str, Any], request_id: int = 1, flags: int = 0) -> bytes:
    payload = struct.pack("<I", flags) + b"\x00" + bson.encode(body)
    return struct.pack("<iiii", 16 + len(payload), request_id, 0, OP_MSG) + payload


def op_query(namespace: str, query: dict[str, Any], request_id: int = 1, flags: int = 0) -> bytes:
    payload = (struct.pack("<i", flags) + namespace.encode() + b"\x00" + struct.pack("<ii", 0, -1)
               + bson.encode(query))
    return struct.pack("<iiii", 16 + len(payload), request_id, 0, OP_QUERY) + payload


def connect(address: str, timeout: float = 3.0) -> socket.socket:
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    return sock


def read_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed by the server")
        data += chunk
    return data


def read_reply(sock: socket.socket) -> tuple[int, int, int, dict[str, Any]]:
    """Returns (op_code, response_to, flags, document) of the next reply."""
    header = read_exact(sock, 16)
    length, _request_id, response_to, op_code = struct.unpack("<iiii", header)
    payload = read_exact(sock, length - 16)
    if op_code == OP_MSG:
        (flags,) = struct.unpack_from("<I", payload)
        assert payload[4] == 0
        return op_code, response_to, flags, bson.decode(payload[5:])
    assert op_code == 1, op_code  # OP_REPLY
    flags, _cursor, _start, count = struct.unpack_from("<iqii", payload)
    assert count == 1
    return op_code, response_to, flags, bson.decode(payload[20:])


def command(address: str, body: dict[str, Any]) -> dict[str, Any]:
    with connect(address) as sock:
        sock.sendall(op_msg(body))
        return read_reply(sock)[3]


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server closed the connection (EOF or reset) rather than answering."""
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
