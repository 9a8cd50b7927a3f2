"""A small MongoDB-speaking server on 127.0.0.1 for the connection, auth and TLS tests.

It is an independent oracle: frames are packed with ``struct`` here (not with
``driver.net.wire``), documents with PyMongo's ``bson``, and the server side of SCRAM
is written from RFC 5802 with ``hashlib`` (not with ``driver.auth``). Each accepted
socket gets a thread; ``stop()`` shuts every socket down and joins every thread.

Commands it knows: the handshake (legacy ``isMaster`` over OP_QUERY, ``hello`` over
OP_MSG, with ``saslSupportedMechs``, ``speculativeAuthenticate``, ``compression``),
``saslStart``/``saslContinue`` (SCRAM-SHA-1/256, PLAIN), ``authenticate`` (X.509),
``ping``, ``echo`` (returns what it got, document sequences included), ``insert``,
``find`` (returns ``n`` documents), ``fail`` (``ok: 0`` with a given code), and the
misbehaviours ``malformed``, ``closeMidReply``, ``slow`` and ``wrongResponseTo``; any
command named in ``close_on`` is answered by closing the connection.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import ssl
import struct
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any

import bson
from pymongo.saslprep import saslprep

OP_REPLY, OP_QUERY, OP_COMPRESSED, OP_MSG = 1, 2004, 2012, 2013
HEADER = struct.Struct("<iiii")


def crc32c_reference(data: bytes) -> int:
    """Bitwise CRC-32C (no table), to check the driver's table-driven one."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


@dataclass
class User:
    password: str
    mechanisms: tuple[str, ...] = ("SCRAM-SHA-1", "SCRAM-SHA-256")
    source: str = "admin"


@dataclass
class Received:
    """One request as the server saw it."""

    opcode: int
    flags: int
    command: dict[str, Any]
    sequences: dict[str, list[dict[str, Any]]]
    compressed_with: int | None


@dataclass
class _Conversation:
    mechanism: str = ""
    user: str = ""
    auth_message_start: bytes = b""
    server_nonce_full: bytes = b""
    salt: bytes = b""
    done: bool = False


@dataclass
class FakeServer:
    """Configure the attributes, then ``start()``; ``address`` is where it listens."""

    max_wire_version: int = 21
    hello_ok: bool = True
    users: dict[str, User] = field(default_factory=dict)
    compressors: tuple[str, ...] = ()
    iterations: int = 4096
    skip_empty_exchange: bool = True
    checksum_replies: bool = False
    tls_context: ssl.SSLContext | None = None
    extra_hello: dict[str, Any] = field(default_factory=dict)
    supports_load_balancing: bool = True
    silent: bool = False  # accept connections but never answer
    speculative: bool = True  # False: an old server that ignores speculativeAuthenticate
    unix_path: str | None = None  # listen on this Unix domain socket instead of TCP
    close_on: frozenset[str] = frozenset()  # commands answered by closing the connection
    received: list[Received] = field(default_factory=list)
    hello_count: int = 0
    peer_certificates: list[dict[str, Any]] = field(default_factory=list)
    sni_names: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.release = threading.Event()  # ends every "slow" command
        self.slow_started = threading.Event()  # set when a "slow" command arrives
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self._next_id = 1000

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeServer:
        if self.unix_path is not None:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(self.unix_path)
            listener.listen(16)
            self.address = (self.unix_path, 27017)
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            self.address = ("127.0.0.1", listener.getsockname()[1])
        self._listener = listener
        thread = threading.Thread(target=self._accept_loop, name="fake-mongod-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self.release.set()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        assert not alive, f"fake server threads still running: {alive}"

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def commands(self, name: str) -> list[dict[str, Any]]:
        return [r.command for r in self.received if r.command and next(iter(r.command)) == name]

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            if self.tls_context is not None:
                try:
                    sock = self.tls_context.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    sock.close()
                    continue
                peer = sock.getpeercert()
                if peer:
                    self.peer_certificates.append(dict(peer))
            with self._lock:
                self._sockets.append(sock)
            thread = threading.Thread(
                target=self._serve, args=(sock,), name="fake-mongod-conn", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    # -- framing --------------------------------------------------------------------------------

    def _recv(self, sock: socket.socket, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            try:
                chunk = sock.recv(size - len(data))
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def _reply_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def _op_msg(self, doc: dict[str, Any], response_to: int, *, flags: int = 0,
                compressor: int | None = None, request_id: int | None = None) -> bytes:
        if self.checksum_replies and compressor is None:
            flags |= 1
        payload = struct.pack("<I", flags) + b"\x00" + bson.encode(doc)
        rid = request_id if request_id is not None else self._reply_id()
        if compressor is not None:
            compressed = zlib.compress(payload)
            inner = struct.pack("<iiB", OP_MSG, len(payload), compressor) + compressed
            return HEADER.pack(16 + len(inner), rid, response_to, OP_COMPRESSED) + inner
        length = 16 + len(payload) + (4 if flags & 1 else 0)
        message = HEADER.pack(length, rid, response_to, OP_MSG) + payload
        if flags & 1:
            message += struct.pack("<I", crc32c_reference(message))
        return message

    def _serve(self, sock: socket.socket) -> None:
        try:
            self._serve_requests(sock)
        except OSError:  # the client went away (timeouts, closed sockets): normal here
            pass

    def _serve_requests(self, sock: socket.socket) -> None:
        state = _Conversation()
        if self.silent:
            self.release.wait(10)
            return
        while True:
            header = self._recv(sock, 16)
            if header is None:
                return
            length, request_id, _, opcode = HEADER.unpack(header)
            body = self._recv(sock, length - 16)
            if body is None:
                return
            compressed_with = None
            if opcode == OP_COMPRESSED:
                opcode, size, compressed_with = struct.unpack_from("<iiB", body)
                body = zlib.decompress(body[9:])
                assert len(body) == size
            if opcode == OP_QUERY:
                flags = struct.unpack_from("<i", body)[0]
                end = body.index(b"\x00", 4)
                command = bson.decode(body[end + 9:])
                self.received.append(Received(opcode, flags, command, {}, compressed_with))
                if next(iter(command)) in self.close_on:
                    sock.shutdown(socket.SHUT_RDWR)
                    return
                reply = self._handle(command, state)
                doc = bson.encode(reply)
                payload = struct.pack("<iqii", 0, 0, 0, 1) + doc
                sock.sendall(HEADER.pack(16 + len(payload), self._reply_id(), request_id,
                                         OP_REPLY) + payload)
                continue
            flags = struct.unpack_from("<I", body)[0]
            command, sequences = self._parse_sections(body, flags)
            self.received.append(Received(opcode, flags, command, sequences, compressed_with))
            if not self._dispatch(sock, request_id, flags, command, sequences, state,
                                  compressed_with):
                return

    @staticmethod
    def _parse_sections(body: bytes, flags: int) -> tuple[dict[str, Any], dict[str, list[Any]]]:
        end = len(body) - (4 if flags & 1 else 0)
        offset = 4
        command: dict[str, Any] = {}
        sequences: dict[str, list[Any]] = {}
        while offset < end:
            kind = body[offset]
            offset += 1
            size = struct.unpack_from("<i", body, offset)[0]
            if kind == 0:
                command = bson.decode(body[offset:offset + size])
            else:
                nul = body.index(b"\x00", offset + 4)
                name = body[offset + 4:nul].decode()
                sequences[name] = bson.decode_all(body[nul + 1:offset + size])
            offset += size
        return command, sequences

    # -- behaviour ------------------------------------------------------------------------------

    def _dispatch(self, sock: socket.socket, request_id: int, flags: int,
                  command: dict[str, Any], sequences: dict[str, list[Any]],
                  state: _Conversation, compressed_with: int | None) -> bool:
        name = next(iter(command))
        if name in self.close_on:
            sock.shutdown(socket.SHUT_RDWR)
            return False
        if flags & 2:  # moreToCome: the client wants no reply
            return True
        if name == "malformed":
            garbage = b"\x05\x00\x00\x00\x00\xff\xff"  # body length claims 5, data runs on
            sock.sendall(HEADER.pack(16 + 4 + 1 + len(garbage), self._reply_id(), request_id,
                                     OP_MSG) + b"\x00\x00\x00\x00\x00" + garbage)
            return True
        if name == "closeMidReply":
            message = self._op_msg({"ok": 1, "pad": "x" * 200}, request_id)
            sock.sendall(message[: len(message) // 2])
            sock.shutdown(socket.SHUT_RDWR)
            return False
        if name == "slow":
            self.slow_started.set()
            self.release.wait(10)
        if name == "reset":  # close with SO_LINGER 0: the client sees ECONNRESET
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            return False
        if name == "wrongResponseTo":
            sock.sendall(self._op_msg({"ok": 1}, request_id + 7))
            return True
        reply = self._handle(command, state, sequences)
        compressor = compressed_with if compressed_with else None
        if name in ("hello", "isMaster") and flags & (1 << 16) and "topologyVersion" in command:
            # Exhaust: two streamed replies, the first with moreToCome set.
            first_id = self._reply_id()
            sock.sendall(self._op_msg(dict(reply, streamed=1), request_id, flags=2,
                                      request_id=first_id))
            sock.sendall(self._op_msg(dict(reply, streamed=2), first_id))
            return True
        sock.sendall(self._op_msg(reply, request_id, compressor=compressor))
        return True

    def _hello_reply(self, command: dict[str, Any], state: _Conversation) -> dict[str, Any]:
        self.hello_count += 1
        reply: dict[str, Any] = {
            "isWritablePrimary": True, "ismaster": True, "maxWireVersion": self.max_wire_version,
            "minWireVersion": 0, "maxBsonObjectSize": 16 * 1024 * 1024,
            "maxMessageSizeBytes": 48_000_000, "maxWriteBatchSize": 100_000,
            "connectionId": 42, "topologyVersion": {"processId": bson.ObjectId(), "counter": 0},
        }
        if self.hello_ok and "helloOk" in command:
            reply["helloOk"] = True
        if "compression" in command:
            reply["compression"] = [c for c in command["compression"] if c in self.compressors]
        if "loadBalanced" in command and self.supports_load_balancing:
            reply["serviceId"] = bson.ObjectId()
        mechs_for = command.get("saslSupportedMechs")
        if mechs_for:
            user = self.users.get(mechs_for.split(".", 1)[1])
            if user is not None:
                reply["saslSupportedMechs"] = list(user.mechanisms)
        speculative = command.get("speculativeAuthenticate")
        if speculative and self.speculative:
            answer = self._handle(dict(speculative), state)
            if answer.get("ok"):
                answer.pop("ok")
                reply["speculativeAuthenticate"] = answer
        reply.update(self.extra_hello)
        reply["ok"] = 1
        return reply

    def _handle(self, command: dict[str, Any], state: _Conversation,
                sequences: dict[str, list[Any]] | None = None) -> dict[str, Any]:
        name = next(iter(command))
        if name in ("hello", "isMaster", "ismaster"):
            return self._hello_reply(command, state)
        if name == "saslStart":
            return self._sasl_start(command, state)
        if name == "saslContinue":
            return self._sasl_continue(command, state)
        if name == "authenticate":
            return self._x509(command)
        if name == "ping":
            return {"ok": 1}
        if name == "echo":
            return {"ok": 1, "command": command, "sequences": sequences or {}}
        if name == "insert":
            return {"ok": 1, "n": len((sequences or {}).get("documents", []))}
        if name == "find":
            count = int(command.get("n", 3))
            batch = [{"_id": i, "x": "y" * 10} for i in range(count)]
            return {"ok": 1, "cursor": {"id": 0, "ns": "db.c", "firstBatch": batch}}
        if name == "fail":
            return {"ok": 0, "errmsg": command.get("errmsg", "failed"),
                    "code": command.get("code", 2), "codeName": "BadValue"}
        if name == "slow":
            return {"ok": 1}
        return {"ok": 0, "errmsg": f"no such command: '{name}'", "code": 59,
                "codeName": "CommandNotFound"}

    # -- server side of SCRAM, PLAIN and X.509 --------------------------------------------------

    @staticmethod
    def _auth_failed() -> dict[str, Any]:
        return {"ok": 0, "errmsg": "Authentication failed.", "code": 18,
                "codeName": "AuthenticationFailed"}

    def _sasl_start(self, command: dict[str, Any], state: _Conversation) -> dict[str, Any]:
        mechanism = command["mechanism"]
        payload = bytes(command["payload"])
        if mechanism == "PLAIN":
            _, user_name, password = payload.split(b"\x00")
            user = self.users.get(user_name.decode())
            if user is None or user.password != password.decode():
                return self._auth_failed()
            return {"ok": 1, "conversationId": 1, "done": True, "payload": b""}
        assert payload.startswith(b"n,,"), payload
        bare = payload[3:]
        fields = dict(part.split(b"=", 1) for part in bare.split(b","))
        state.mechanism = mechanism
        state.user = fields[b"n"].decode().replace("=2C", ",").replace("=3D", "=")
        user = self.users.get(state.user)
        state.salt = hashlib.sha256(state.user.encode()).digest()[:16]
        state.server_nonce_full = fields[b"r"] + base64.b64encode(os.urandom(18))
        server_first = (b"r=" + state.server_nonce_full + b",s=" + base64.b64encode(state.salt)
                        + b",i=" + str(self.iterations).encode())
        state.auth_message_start = bare + b"," + server_first
        if user is not None and mechanism not in user.mechanisms:
            state.user = ""  # carry on, fail at the proof like a real server
        return {"ok": 1, "conversationId": 1, "done": False, "payload": server_first}

    def _keys(self, mechanism: str, user_name: str, password: str) -> tuple[bytes, bytes, str]:
        digest = "sha1" if mechanism == "SCRAM-SHA-1" else "sha256"
        if digest == "sha1":
            secret = hashlib.md5(f"{user_name}:mongo:{password}".encode()).hexdigest().encode()
        else:
            secret = saslprep(password).encode()
        salted = hashlib.pbkdf2_hmac(digest, secret, self.salt_for(user_name), self.iterations)
        client_key = hmac.new(salted, b"Client Key", digest).digest()
        server_key = hmac.new(salted, b"Server Key", digest).digest()
        return hashlib.new(digest, client_key).digest(), server_key, digest

    @staticmethod
    def salt_for(user_name: str) -> bytes:
        return hashlib.sha256(user_name.encode()).digest()[:16]

    def _sasl_continue(self, command: dict[str, Any], state: _Conversation) -> dict[str, Any]:
        payload = bytes(command["payload"])
        if state.done:
            return {"ok": 1, "conversationId": 1, "done": True, "payload": b""}
        user = self.users.get(state.user)
        if user is None:
            return self._auth_failed()
        without_proof, _, proof_part = payload.rpartition(b",")
        proof = base64.b64decode(proof_part[2:])
        assert without_proof == b"c=biws,r=" + state.server_nonce_full
        auth_message = state.auth_message_start + b"," + without_proof
        stored_key, server_key, digest = self._keys(state.mechanism, state.user, user.password)
        signature = hmac.new(stored_key, auth_message, digest).digest()
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if hashlib.new(digest, client_key).digest() != stored_key:
            return self._auth_failed()
        server_signature = hmac.new(server_key, auth_message, digest).digest()
        state.done = True
        return {"ok": 1, "conversationId": 1, "done": self.skip_empty_exchange,
                "payload": b"v=" + base64.b64encode(server_signature)}

    def _x509(self, command: dict[str, Any]) -> dict[str, Any]:
        wanted = command.get("user")
        subject = self.users.get("__x509__")
        if subject is None or (wanted is not None and wanted != subject.password):
            return self._auth_failed()
        return {"ok": 1, "dbname": "$external", "user": subject.password}
