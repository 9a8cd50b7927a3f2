"""One member's listening socket and its connections, on the cluster's asyncio loop.

Each connection reads whole messages (16-byte header, then the rest), answers each command in turn
and keeps its own state (authentication, SASL, compression). A message that breaks the protocol
(bad length, unknown opCode, corrupt BSON, bad checksum, truncated frame) closes that connection
only. Exhaust streaming is supported for an awaitable ``hello`` and for ``getMore``: replies carry
``moreToCome`` and keep coming without further requests.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from typing import Any

import bson

from sandbox.commands import CLOSE_CONNECTION, dispatch
from sandbox.state import ClusterState, ConnectionState, Member
from sandbox.wire import (
    COMPRESSOR_NOOP,
    HEADER,
    MORE_TO_COME,
    OP_QUERY,
    ProtocolViolation,
    Request,
    check_header,
    compress,
    encode_op_msg,
    encode_op_reply,
    parse_request,
)

log = logging.getLogger(__name__)
_request_ids = itertools.count(1)
WRITE_CHUNK = 256 * 1024
_RFC2253_NAMES = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
                  "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
                  "domainComponent": "DC", "emailAddress": "emailAddress"}


def certificate_subject(cert: dict[str, Any]) -> str | None:
    """The RFC 2253 subject of a peer certificate as ``ssl`` reports it (most specific first)."""
    subject = cert.get("subject")
    if not subject:
        return None
    parts = []
    for rdn in reversed(subject):
        parts.append("+".join(f"{_RFC2253_NAMES.get(k, k)}={v}" for k, v in rdn))
    return ",".join(parts)


class MemberServer:
    """Serves one member on 127.0.0.1:<port>."""

    def __init__(self, cluster: ClusterState, member: Member,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.cluster = cluster
        self.member = member
        self.ssl_context = ssl_context
        self._server: asyncio.Server | None = None
        self._tasks: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    async def start(self) -> int:
        self._server = await asyncio.start_server(
            self._serve_connection, self.member.host, self.member.port, ssl=self.ssl_context,
            reuse_address=True, backlog=512)
        self.member.port = self._server.sockets[0].getsockname()[1]
        return self.member.port

    async def stop(self) -> None:
        """Close the listening socket and drop every open connection."""
        if self._server is not None:
            self._server.close()
        # A connection accepted just before close() has its handler task created on a later
        # loop turn (connection_made is scheduled, then the task's first step). Let those
        # turns run so every handler registers in _tasks and is aborted below; otherwise a
        # never-started handler would leave its transport open when the loop stops.
        for _ in range(3):
            await asyncio.sleep(0)
        tasks = list(self._tasks)
        for task, writer in list(self._tasks.items()):
            writer.transport.abort()
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _serve_connection(self, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks[task] = writer
        member = self.member
        peer = writer.get_extra_info("peername") or ("?", 0)
        conn = ConnectionState(self.cluster.next_id(), f"{peer[0]}:{peer[1]}", current_task=task)
        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is not None:
            cert = ssl_object.getpeercert()
            if cert:
                conn.peer_certificate_subject = certificate_subject(cert)
        member.connections[conn.connection_id] = conn
        member.counters.connections_created += 1
        try:
            while True:
                header = await reader.readexactly(HEADER.size)
                length = check_header(header)[0]
                payload = await reader.readexactly(length - HEADER.size)
                member.counters.bytes_in += length
                member.counters.requests += 1
                request = parse_request(header, payload)
                if not await self._answer(request, conn, writer):
                    break
        except ProtocolViolation as exc:
            log.info("closing connection %s: %s", conn.peer, exc)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            pass
        except asyncio.CancelledError:
            # The member is stopping (kill or close). Ending quietly matters: asyncio's stream
            # protocol reports a cancelled handler task as an unhandled error.
            pass
        finally:
            member.connections.pop(conn.connection_id, None)
            self._tasks.pop(task, None)
            writer.transport.abort()

    async def _send(self, writer: asyncio.StreamWriter, request: Request, body: bytes,
                    response_to: int, flags: int = 0) -> int:
        request_id = next(_request_ids)
        if request.op_code == OP_QUERY:
            message = encode_op_reply(request_id, response_to, body)
        else:
            message = encode_op_msg(request_id, response_to, body, flags)
        if request.compressor_id is not None and request.compressor_id != COMPRESSOR_NOOP:
            message = compress(message, request.compressor_id)
        if self.member.latency_ms:
            await asyncio.sleep(self.member.latency_ms / 1000.0)
        if len(message) <= WRITE_CHUNK:
            writer.write(message)
            await writer.drain()
        else:
            # Python 3.11's transport keeps unsent bytes in one bytearray and deletes from its
            # front after every send: a 16 MB reply written at once costs O(n^2) copying. Feeding
            # it in chunks keeps that buffer small.
            view = memoryview(message)
            for start in range(0, len(message), WRITE_CHUNK):
                writer.write(view[start:start + WRITE_CHUNK])
                await writer.drain()
        self.member.counters.bytes_out += len(message)
        return request_id

    async def _answer(self, request: Request, conn: ConnectionState,
                      writer: asyncio.StreamWriter) -> bool:
        """Answer one request (and its exhaust stream); False means close the connection."""
        reply = await dispatch(self.cluster, self.member, conn, request)
        if reply is CLOSE_CONNECTION:
            return False
        if request.more_to_come:
            return True  # unacknowledged write: no reply at all
        streaming = request.exhaust_allowed and self._streamable(request)
        response_to = request.request_id
        while True:
            more = streaming and self._continues(request, reply)
            response_to = await self._send(writer, request, reply, response_to,
                                           MORE_TO_COME if more else 0)
            if not more:
                return True
            reply = await dispatch(self.cluster, self.member, conn, request)
            if reply is CLOSE_CONNECTION:
                return False

    @staticmethod
    def _streamable(request: Request) -> bool:
        name = next(iter(request.body), "")
        if name in ("hello", "isMaster", "ismaster"):
            return "topologyVersion" in request.body and "maxAwaitTimeMS" in request.body
        return name == "getMore"

    @staticmethod
    def _continues(request: Request, reply: bytes) -> bool:
        """Whether an exhaust stream goes on after ``reply``; updates ``request`` for the next."""
        doc = bson.decode(reply)
        if doc.get("ok") != 1:
            return False
        if "topologyVersion" in doc:
            request.body["topologyVersion"] = doc["topologyVersion"]
            return True
        cursor = doc.get("cursor")
        return isinstance(cursor, dict) and cursor.get("id", 0) != 0
