"""MongoDB wire-protocol frames as pure functions over bytes.

Everything here works on already-encoded BSON (``bytes``/``memoryview``), so it is
independent of the codec and easy to test byte by byte. The framing follows the
OP_MSG specification (``source/message/OP_MSG.md``), the OP_COMPRESSED
specification (``source/compression/OP_COMPRESSED.md``) and the legacy opcodes
OP_QUERY/OP_REPLY, which the driver uses only for the first legacy ``isMaster`` of
a handshake.

Every message starts with the 16-byte header ``messageLength, requestID,
responseTo, opCode`` (little-endian int32s).
"""

from __future__ import annotations

import itertools
import random
import struct
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from driver.errors import ProtocolError

OP_REPLY = 1
OP_QUERY = 2004
OP_COMPRESSED = 2012
OP_MSG = 2013

OPCODE_NAMES = {
    OP_REPLY: "OP_REPLY",
    OP_QUERY: "OP_QUERY",
    OP_COMPRESSED: "OP_COMPRESSED",
    OP_MSG: "OP_MSG",
}

HEADER_SIZE = 16

# OP_MSG flag bits ("flagBits" in the OP_MSG spec).
CHECKSUM_PRESENT = 1 << 0
MORE_TO_COME = 1 << 1
EXHAUST_ALLOWED = 1 << 16
# "The first 16 bits (0-15) are required and parsers MUST error if an unknown bit is set."
_REQUIRED_BITS_MASK = 0xFFFF
_KNOWN_REQUIRED_BITS = CHECKSUM_PRESENT | MORE_TO_COME

# OP_QUERY flags we use and OP_REPLY responseFlags we read.
QUERY_FLAG_SECONDARY_OK = 1 << 2
REPLY_CURSOR_NOT_FOUND = 1 << 0
REPLY_QUERY_FAILURE = 1 << 1

_HEADER = struct.Struct("<iiii")
_INT32 = struct.Struct("<i")
_UINT32 = struct.Struct("<I")
_REPLY_FIXED = struct.Struct("<iqii")
_COMPRESSED_FIXED = struct.Struct("<iiB")

_MAX_INT32 = 0x7FFFFFFF

# Request ids: one process-wide counter, started at a random point so that two
# processes talking to the same server are easy to tell apart in its logs.
_request_ids = itertools.count(random.randint(0, 1 << 24))
_request_id_lock = threading.Lock()


def next_request_id() -> int:
    """A fresh positive int32 request id (thread-safe)."""
    with _request_id_lock:
        return next(_request_ids) & _MAX_INT32


# --- CRC-32C (Castagnoli) -----------------------------------------------------------------------

_CRC32C_POLY_REFLECTED = 0x82F63B78


def _make_crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC32C_POLY_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC32C_TABLE = _make_crc32c_table()


def crc32c(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-32C of ``data`` (continuing from ``crc``), as OP_MSG checksums use.

    A plain table-driven loop: OP_MSG checksums are optional and servers only send
    them when asked, so speed here matters little.
    """
    table = _CRC32C_TABLE
    value = crc ^ 0xFFFFFFFF
    for byte in bytes(data):
        value = table[(value ^ byte) & 0xFF] ^ (value >> 8)
    return value ^ 0xFFFFFFFF


# --- Header -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageHeader:
    """The 16 bytes in front of every wire message."""

    length: int
    request_id: int
    response_to: int
    opcode: int


def pack_header(length: int, request_id: int, response_to: int, opcode: int) -> bytes:
    """The 16-byte header for a message of ``length`` bytes (header included)."""
    return _HEADER.pack(length, request_id, response_to, opcode)


def parse_header(data: bytes | bytearray | memoryview, max_message_size: int) -> MessageHeader:
    """Read a header and check its length against the protocol and ``max_message_size``."""
    if len(data) != HEADER_SIZE:
        raise ProtocolError(f"message header must be {HEADER_SIZE} bytes, got {len(data)}")
    length, request_id, response_to, opcode = _HEADER.unpack(data)
    if length <= HEADER_SIZE:
        raise ProtocolError(f"message length {length} is too small for a wire message")
    if length > max_message_size:
        raise ProtocolError(
            f"message length {length} is larger than the maximum message size {max_message_size}"
        )
    if opcode not in OPCODE_NAMES:
        raise ProtocolError(f"unknown opcode {opcode} in message header")
    return MessageHeader(length, request_id, response_to, opcode)


# --- OP_MSG -------------------------------------------------------------------------------------


@dataclass(slots=True)
class OpMsg:
    """A decoded OP_MSG: flag bits, the body document and document sequences (raw BSON)."""

    flags: int
    body: bytes
    sequences: dict[str, list[bytes]] = field(default_factory=dict)

    @property
    def more_to_come(self) -> bool:
        return bool(self.flags & MORE_TO_COME)

    @property
    def checksum_present(self) -> bool:
        return bool(self.flags & CHECKSUM_PRESENT)

    @property
    def exhaust_allowed(self) -> bool:
        return bool(self.flags & EXHAUST_ALLOWED)


def _bson_length(data: bytes | memoryview, offset: int, end: int, what: str) -> int:
    if offset + 5 > end:
        raise ProtocolError(f"{what}: truncated BSON document at offset {offset}")
    (size,) = _INT32.unpack_from(data, offset)
    if size < 5 or offset + size > end:
        raise ProtocolError(f"{what}: BSON document length {size} at offset {offset} is invalid")
    if data[offset + size - 1] != 0:
        raise ProtocolError(f"{what}: BSON document at offset {offset} is not NUL-terminated")
    return int(size)


def encode_op_msg(
    request_id: int,
    body: bytes,
    sequences: Iterable[tuple[str, Sequence[bytes]]] = (),
    *,
    more_to_come: bool = False,
    exhaust_allowed: bool = False,
    checksum: bool = False,
    response_to: int = 0,
) -> bytes:
    """One OP_MSG: a kind-0 body section, then one kind-1 section per sequence.

    ``body`` and the sequence documents are encoded BSON. With ``checksum`` a CRC-32C
    of everything before it is appended and the checksumPresent bit set.
    """
    flags = 0
    if more_to_come:
        flags |= MORE_TO_COME
    if exhaust_allowed:
        flags |= EXHAUST_ALLOWED
    if checksum:
        flags |= CHECKSUM_PRESENT
    parts: list[bytes] = [_UINT32.pack(flags), b"\x00", body]
    for identifier, documents in sequences:
        if "\x00" in identifier:
            raise ValueError(f"document sequence identifier {identifier!r} contains a NUL byte")
        ident = identifier.encode("utf-8") + b"\x00"
        size = 4 + len(ident) + sum(len(doc) for doc in documents)
        parts.append(b"\x01")
        parts.append(_INT32.pack(size))
        parts.append(ident)
        parts.extend(documents)
    payload = b"".join(parts)
    length = HEADER_SIZE + len(payload) + (4 if checksum else 0)
    message = pack_header(length, request_id, response_to, OP_MSG) + payload
    if checksum:
        message += _UINT32.pack(crc32c(message))
    return message


def decode_op_msg(
    payload: bytes | bytearray | memoryview, header_bytes: bytes | None = None
) -> OpMsg:
    """Decode the part of an OP_MSG after its header.

    When the checksumPresent bit is set, ``header_bytes`` (the 16 header bytes) are
    needed to verify the CRC-32C, which covers the whole message before the checksum.
    """
    data = payload if isinstance(payload, bytes) else bytes(payload)
    if len(data) < 5:
        raise ProtocolError(f"OP_MSG of {len(data)} bytes is too short")
    (flags,) = _UINT32.unpack_from(data, 0)
    unknown = flags & _REQUIRED_BITS_MASK & ~_KNOWN_REQUIRED_BITS
    if unknown:
        raise ProtocolError(f"OP_MSG has unknown required flag bits 0x{unknown:x}")
    end = len(data)
    if flags & CHECKSUM_PRESENT:
        if end < 9:
            raise ProtocolError("OP_MSG with checksumPresent is too short to hold a checksum")
        end -= 4
        (expected,) = _UINT32.unpack_from(data, end)
        if header_bytes is not None:
            actual = crc32c(data[:end], crc32c(header_bytes))
            if actual != expected:
                raise ProtocolError(
                    f"OP_MSG checksum mismatch: message says 0x{expected:08x}, "
                    f"bytes give 0x{actual:08x}"
                )
    body: bytes | None = None
    sequences: dict[str, list[bytes]] = {}
    offset = 4
    while offset < end:
        kind = data[offset]
        offset += 1
        if kind == 0:
            if body is not None:
                raise ProtocolError("OP_MSG has more than one body (kind 0) section")
            size = _bson_length(data, offset, end, "OP_MSG body")
            body = data[offset : offset + size]
            offset += size
        elif kind == 1:
            if offset + 4 > end:
                raise ProtocolError("OP_MSG document sequence is truncated")
            (size,) = _INT32.unpack_from(data, offset)
            section_end = offset + size
            if size < 5 or section_end > end:
                raise ProtocolError(f"OP_MSG document sequence length {size} is invalid")
            nul = data.find(b"\x00", offset + 4, section_end)
            if nul < 0:
                raise ProtocolError("OP_MSG document sequence identifier is not NUL-terminated")
            identifier = data[offset + 4 : nul].decode("utf-8", "replace")
            docs: list[bytes] = []
            position = nul + 1
            while position < section_end:
                doc_size = _bson_length(data, position, section_end, "OP_MSG document sequence")
                docs.append(data[position : position + doc_size])
                position += doc_size
            sequences.setdefault(identifier, []).extend(docs)
            offset = section_end
        else:
            raise ProtocolError(f"OP_MSG has unknown section kind {kind}")
    if body is None:
        raise ProtocolError("OP_MSG has no body (kind 0) section")
    return OpMsg(flags, body, sequences)


# --- OP_QUERY / OP_REPLY (legacy handshake only) --------------------------------------------


def encode_op_query(
    request_id: int,
    full_collection_name: str,
    query: bytes,
    *,
    flags: int = 0,
    number_to_skip: int = 0,
    number_to_return: int = -1,
) -> bytes:
    """An OP_QUERY (used only for the first legacy ``isMaster`` of a handshake)."""
    payload = b"".join(
        (
            _INT32.pack(flags),
            full_collection_name.encode("utf-8") + b"\x00",
            _INT32.pack(number_to_skip),
            _INT32.pack(number_to_return),
            query,
        )
    )
    return pack_header(HEADER_SIZE + len(payload), request_id, 0, OP_QUERY) + payload


@dataclass(frozen=True, slots=True)
class OpReply:
    """A decoded OP_REPLY: response flags, cursor id and the raw documents."""

    flags: int
    cursor_id: int
    starting_from: int
    documents: list[bytes]


def encode_op_reply(
    request_id: int, response_to: int, documents: Sequence[bytes], *, flags: int = 0
) -> bytes:
    """An OP_REPLY (what a server sends; used by tests and tools)."""
    payload = _REPLY_FIXED.pack(flags, 0, 0, len(documents)) + b"".join(documents)
    return pack_header(HEADER_SIZE + len(payload), request_id, response_to, OP_REPLY) + payload


def decode_op_reply(payload: bytes | bytearray | memoryview) -> OpReply:
    """Decode the part of an OP_REPLY after its header."""
    data = payload if isinstance(payload, bytes) else bytes(payload)
    if len(data) < _REPLY_FIXED.size:
        raise ProtocolError(f"OP_REPLY of {len(data)} bytes is too short")
    flags, cursor_id, starting_from, number_returned = _REPLY_FIXED.unpack_from(data, 0)
    documents: list[bytes] = []
    offset = _REPLY_FIXED.size
    while offset < len(data):
        size = _bson_length(data, offset, len(data), "OP_REPLY")
        documents.append(data[offset : offset + size])
        offset += size
    if len(documents) != number_returned:
        raise ProtocolError(
            f"OP_REPLY says numberReturned={number_returned} but holds {len(documents)} documents"
        )
    return OpReply(flags, cursor_id, starting_from, documents)


# --- OP_COMPRESSED ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompressedFrame:
    """The fields of an OP_COMPRESSED after its header."""

    original_opcode: int
    uncompressed_size: int
    compressor_id: int
    data: bytes


def encode_op_compressed(
    request_id: int,
    original_opcode: int,
    uncompressed_size: int,
    compressor_id: int,
    compressed: bytes,
    *,
    response_to: int = 0,
) -> bytes:
    """An OP_COMPRESSED wrapping a message whose payload (after its header) was compressed."""
    payload = _COMPRESSED_FIXED.pack(original_opcode, uncompressed_size, compressor_id) + compressed
    return pack_header(HEADER_SIZE + len(payload), request_id, response_to, OP_COMPRESSED) + payload


def decode_op_compressed(payload: bytes | bytearray | memoryview) -> CompressedFrame:
    """Split an OP_COMPRESSED payload (after its header) into its fields."""
    data = payload if isinstance(payload, bytes) else bytes(payload)
    if len(data) < _COMPRESSED_FIXED.size:
        raise ProtocolError(f"OP_COMPRESSED of {len(data)} bytes is too short")
    original_opcode, size, compressor_id = _COMPRESSED_FIXED.unpack_from(data, 0)
    if original_opcode not in (OP_MSG, OP_REPLY, OP_QUERY):
        raise ProtocolError(f"OP_COMPRESSED wraps unsupported opcode {original_opcode}")
    if size < 0:
        raise ProtocolError(f"OP_COMPRESSED has a negative uncompressedSize {size}")
    return CompressedFrame(original_opcode, size, compressor_id, data[_COMPRESSED_FIXED.size :])
