"""MongoDB wire-protocol framing for the server side: pure functions over bytes.

Handles the messages a client sends (OP_MSG with body and document-sequence sections and the
optional CRC-32C checksum, the legacy OP_QUERY used for a first ``hello``/``isMaster``, and
OP_COMPRESSED with zlib or no-op compression) and builds the replies (OP_MSG, OP_REPLY), optionally
compressed. Anything malformed raises :class:`ProtocolViolation`; the server then closes only that
connection.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import bson
from bson.codec_options import CodecOptions

OP_REPLY = 1
OP_QUERY = 2004
OP_COMPRESSED = 2012
OP_MSG = 2013

MAX_MESSAGE_SIZE = 48_000_000
MAX_BSON_SIZE = 16 * 1024 * 1024
HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode

# OP_MSG flag bits (OP_MSG spec, "flagBits").
CHECKSUM_PRESENT = 1 << 0
MORE_TO_COME = 1 << 1
EXHAUST_ALLOWED = 1 << 16
_KNOWN_MSG_FLAGS = CHECKSUM_PRESENT | MORE_TO_COME | EXHAUST_ALLOWED
# OP_QUERY flags
QUERY_SECONDARY_OK = 1 << 2

COMPRESSOR_NOOP = 0
COMPRESSOR_ZLIB = 2
COMPRESSOR_NAMES = {"noop": COMPRESSOR_NOOP, "zlib": COMPRESSOR_ZLIB}

# Command documents keep their key order (the first key names the command); UUIDs stay Binary so
# that what a client sent is stored and returned byte for byte.
DECODE_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(document_class=dict)

_INT32 = struct.Struct("<i")
_UINT32 = struct.Struct("<I")


class ProtocolViolation(Exception):
    """A message that breaks the wire protocol; the connection that sent it is closed."""


@dataclass
class Request:
    """One decoded client message."""

    op_code: int
    request_id: int
    body: dict[str, Any]
    flags: int = 0
    compressor_id: int | None = None
    # OP_QUERY only: the namespace ("admin.$cmd") and whether secondaryOk was set.
    legacy_namespace: str | None = None
    size: int = 0
    raw_sequences: dict[str, list[bytes]] = field(default_factory=dict)

    @property
    def more_to_come(self) -> bool:
        return self.op_code == OP_MSG and bool(self.flags & MORE_TO_COME)

    @property
    def exhaust_allowed(self) -> bool:
        return self.op_code == OP_MSG and bool(self.flags & EXHAUST_ALLOWED)

    @property
    def legacy_secondary_ok(self) -> bool:
        return self.op_code == OP_QUERY and bool(self.flags & QUERY_SECONDARY_OK)


def check_header(header: bytes) -> tuple[int, int, int, int]:
    """Validate a 16-byte header; returns (length, request_id, response_to, op_code)."""
    length, request_id, response_to, op_code = HEADER.unpack(header)
    if length < HEADER.size + 1:
        raise ProtocolViolation(f"messageLength {length} is smaller than a header")
    if length > MAX_MESSAGE_SIZE:
        raise ProtocolViolation(
            f"messageLength {length} exceeds maxMessageSizeBytes {MAX_MESSAGE_SIZE}")
    if op_code not in (OP_MSG, OP_QUERY, OP_COMPRESSED):
        raise ProtocolViolation(f"unsupported opCode {op_code}")
    return length, request_id, response_to, op_code


def parse_request(header: bytes, payload: bytes) -> Request:
    """Decode a full message (header already validated by :func:`check_header`)."""
    length, request_id, _response_to, op_code = HEADER.unpack(header)
    compressor_id: int | None = None
    if op_code == OP_COMPRESSED:
        op_code, payload, compressor_id = _decompress(payload)
    try:
        if op_code == OP_MSG:
            request = _parse_op_msg(header, payload)
        elif op_code == OP_QUERY:
            request = _parse_op_query(payload)
        else:
            raise ProtocolViolation(f"opCode {op_code} cannot be compressed")
    except ProtocolViolation:
        raise
    except Exception as exc:  # bson.errors.InvalidBSON, struct.error, UnicodeDecodeError ...
        raise ProtocolViolation(f"malformed message: {exc}") from exc
    request.request_id = request_id
    request.compressor_id = compressor_id
    request.size = length
    return request


def _decompress(payload: bytes) -> tuple[int, bytes, int]:
    if len(payload) < 9:
        raise ProtocolViolation("OP_COMPRESSED message is truncated")
    original_op, size = struct.unpack_from("<ii", payload)
    compressor_id = payload[8]
    if size < 0 or size > MAX_MESSAGE_SIZE:
        raise ProtocolViolation(f"OP_COMPRESSED uncompressedSize {size} is out of range")
    data = payload[9:]
    if compressor_id == COMPRESSOR_NOOP:
        inner = bytes(data)
    elif compressor_id == COMPRESSOR_ZLIB:
        try:
            decompressor = zlib.decompressobj()
            inner = decompressor.decompress(data, size + 1)
        except zlib.error as exc:
            raise ProtocolViolation(f"zlib data is corrupt: {exc}") from exc
    else:
        raise ProtocolViolation(f"unsupported compressorId {compressor_id}")
    if len(inner) != size:
        raise ProtocolViolation(
            f"OP_COMPRESSED uncompressedSize {size} but {len(inner)} bytes decompressed")
    return original_op, inner, compressor_id


def _read_bson(data: bytes | memoryview, offset: int) -> tuple[bytes, int]:
    if offset + 5 > len(data):
        raise ProtocolViolation("BSON document is truncated")
    (size,) = _INT32.unpack_from(data, offset)
    if size < 5 or offset + size > len(data):
        raise ProtocolViolation(f"BSON document length {size} does not fit the message")
    if size > MAX_BSON_SIZE + 16 * 1024:
        raise ProtocolViolation(f"BSON document of {size} bytes exceeds maxBsonObjectSize")
    return bytes(data[offset:offset + size]), offset + size


def _parse_op_msg(header: bytes, payload: bytes) -> Request:
    if len(payload) < 5:
        raise ProtocolViolation("OP_MSG is truncated")
    (flags,) = _UINT32.unpack_from(payload)
    if flags & 0xFFFF & ~_KNOWN_MSG_FLAGS:
        # OP_MSG spec: unknown required bits (0-15) MUST cause an error.
        raise ProtocolViolation(f"OP_MSG has unknown required flag bits {flags:#x}")
    end = len(payload)
    if flags & CHECKSUM_PRESENT:
        if end < 9:
            raise ProtocolViolation("OP_MSG checksum is missing")
        end -= 4
        (expected,) = _UINT32.unpack_from(payload, end)
        actual = crc32c(header + payload[:end])
        if actual != expected:
            raise ProtocolViolation(f"OP_MSG checksum mismatch ({actual:#x} != {expected:#x})")
    view = memoryview(payload)[:end]
    offset = 4
    body: dict[str, Any] | None = None
    sequences: dict[str, list[bytes]] = {}
    while offset < end:
        kind = view[offset]
        offset += 1
        if kind == 0:
            if body is not None:
                raise ProtocolViolation("OP_MSG has more than one body section")
            raw, offset = _read_bson(view, offset)
            body = bson.decode(raw, DECODE_OPTIONS)
        elif kind == 1:
            if offset + 4 > end:
                raise ProtocolViolation("document sequence is truncated")
            (size,) = _INT32.unpack_from(view, offset)
            section_end = offset + size
            if size < 5 or section_end > end:
                raise ProtocolViolation(f"document sequence size {size} does not fit the message")
            name_end = bytes(view[offset + 4:section_end]).find(b"\x00")
            if name_end < 0:
                raise ProtocolViolation("document sequence identifier is not terminated")
            name = bytes(view[offset + 4:offset + 4 + name_end]).decode("utf-8")
            pos = offset + 4 + name_end + 1
            docs: list[bytes] = []
            while pos < section_end:
                raw, pos = _read_bson(view[:section_end], pos)
                docs.append(raw)
            sequences.setdefault(name, []).extend(docs)
            offset = section_end
        else:
            raise ProtocolViolation(f"unknown OP_MSG section kind {kind}")
    if body is None:
        raise ProtocolViolation("OP_MSG has no body section")
    for name, docs in sequences.items():
        if name in body:
            raise ProtocolViolation(f"document sequence {name!r} duplicates a body field")
        body[name] = [bson.decode(raw, DECODE_OPTIONS) for raw in docs]
    return Request(OP_MSG, 0, body, flags=flags, raw_sequences=sequences)


def _parse_op_query(payload: bytes) -> Request:
    (flags,) = _INT32.unpack_from(payload)
    name_end = payload.find(b"\x00", 4)
    if name_end < 0:
        raise ProtocolViolation("OP_QUERY collection name is not terminated")
    namespace = payload[4:name_end].decode("utf-8")
    offset = name_end + 1 + 8  # numberToSkip, numberToReturn
    raw, offset = _read_bson(payload, offset)
    query = bson.decode(raw, DECODE_OPTIONS)
    if offset < len(payload):
        _read_bson(payload, offset)  # returnFieldsSelector: validated, ignored
    if "$query" in query:  # the wrapped form: {$query: {...}, $readPreference: ...}
        inner = dict(query["$query"])
        if "$readPreference" in query:
            inner["$readPreference"] = query["$readPreference"]
        query = inner
    return Request(OP_QUERY, 0, query, flags=flags, legacy_namespace=namespace)


def encode_op_msg(request_id: int, response_to: int, body: bytes, flags: int = 0) -> bytes:
    """An OP_MSG with one body section holding ``body`` (already BSON)."""
    length = HEADER.size + 4 + 1 + len(body)
    return b"".join((HEADER.pack(length, request_id, response_to, OP_MSG),
                     _UINT32.pack(flags), b"\x00", body))


def encode_op_reply(request_id: int, response_to: int, document: bytes) -> bytes:
    """An OP_REPLY carrying one document (the answer to a legacy OP_QUERY command)."""
    length = HEADER.size + 20 + len(document)
    return b"".join((HEADER.pack(length, request_id, response_to, OP_REPLY),
                     struct.pack("<iqii", 8, 0, 0, 1), document))  # flags: AwaitCapable


def compress(message: bytes, compressor_id: int, level: int = -1) -> bytes:
    """Wrap a full message (header included) in OP_COMPRESSED."""
    length, request_id, response_to, op_code = HEADER.unpack_from(message)
    inner = message[HEADER.size:]
    if compressor_id == COMPRESSOR_ZLIB:
        data = zlib.compress(inner, level)
    elif compressor_id == COMPRESSOR_NOOP:
        data = inner
    else:
        raise ValueError(f"unsupported compressorId {compressor_id}")
    total = HEADER.size + 9 + len(data)
    return b"".join((HEADER.pack(total, request_id, response_to, OP_COMPRESSED),
                     struct.pack("<iiB", op_code, len(inner), compressor_id), data))


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum OP_MSG uses. Pure Python: fine for command sizes."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# -- building BSON replies by hand (the fast path for cursors) -----------------------------------

_KEY_CACHE: list[bytes] = [b"\x03" + str(i).encode() + b"\x00" for i in range(4096)]


def _array_keys(count: int) -> list[bytes]:
    while len(_KEY_CACHE) < count:
        i = len(_KEY_CACHE)
        _KEY_CACHE.append(b"\x03" + str(i).encode() + b"\x00")
    return _KEY_CACHE


def encode_document_array(docs: list[bytes]) -> bytes:
    """The BSON array (as an embedded document) whose elements are the given encoded documents."""
    keys = _array_keys(len(docs))
    parts = [b""] * (2 * len(docs))
    parts[0::2] = keys[:len(docs)]
    parts[1::2] = docs
    inner = b"".join(parts)
    return _INT32.pack(len(inner) + 5) + inner + b"\x00"


def encode_cursor_reply(cursor_id: int, namespace: str, batch_key: str, docs: list[bytes],
                        extra: dict[str, Any] | None = None) -> bytes:
    """``{cursor: {<batch_key>: [...], id, ns}, ok: 1}`` built from pre-encoded documents."""
    ns = namespace.encode("utf-8")
    cursor_body = b"".join((
        b"\x04", batch_key.encode(), b"\x00", encode_document_array(docs),
        b"\x12id\x00", struct.pack("<q", cursor_id),
        b"\x02ns\x00", _INT32.pack(len(ns) + 1), ns, b"\x00",
    ))
    cursor_doc = _INT32.pack(len(cursor_body) + 5) + cursor_body + b"\x00"
    tail = bson.encode(extra)[4:-1] if extra else b""
    top = b"".join((b"\x03cursor\x00", cursor_doc, b"\x01ok\x00", struct.pack("<d", 1.0), tail))
    return _INT32.pack(len(top) + 5) + top + b"\x00"
