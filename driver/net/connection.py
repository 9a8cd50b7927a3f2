"""One connection to one server: a socket, the handshake, auth, and commands over OP_MSG.

``Connection.open(address, settings)`` dials with ``connect_timeout`` (TLS when
configured), runs the handshake (``driver.net.handshake``) and, for general-use
connections, authenticates. ``command()`` sends one OP_MSG (compressed when a
compressor was negotiated and the command may be compressed) and returns the reply
document.

Failures, and what they do to the connection:
- a socket timeout → ``NetworkTimeout``; a reset, refused or closed socket (also in the
  middle of a reply) → ``AutoReconnect`` naming ``host:port``; both close the connection,
  because a half-read stream cannot be resynchronised;
- a reply that breaks the protocol → ``ProtocolError``, and the connection is closed;
- ``ok: 0`` → ``OperationFailure`` (``driver.net.responses``); the connection stays usable.

``hello()`` makes a connection satisfy the monitors' ``HelloConnection`` protocol,
including the awaitable, streaming (exhaust/moreToCome) form.
"""

from __future__ import annotations

import functools
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from driver.auth import Authenticator
from driver.auth.scram import ScramClient
from driver.errors import (
    AutoReconnect,
    ConfigurationError,
    DocumentTooLarge,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    ProtocolError,
    PyMongoError,
)
from driver.net import compression, handshake, wire
from driver.net.handshake import ConnectCancellation, accepts_cancel, create_socket
from driver.net.responses import check_command_response
from driver.net.settings import ConnectionSettings
from driver.net.tls import wrap_socket
from driver.operations.command_events import (
    CommandFailedEvent,
    CommandPublisher,
    CommandStartedEvent,
    CommandSucceededEvent,
    command_for_event,
    is_sensitive,
)
from driver.operations.replies import optional_int

Address = tuple[str, int]
Decoder = Callable[[bytes], Mapping[str, Any]]

DEFAULT_MAX_BSON_SIZE = 16 * 1024 * 1024
DEFAULT_MAX_MESSAGE_SIZE = 48_000_000
DEFAULT_MAX_WRITE_BATCH_SIZE = 100_000
# A command document may exceed maxBsonObjectSize by this much (the server allows
# room for the command's own fields around a maximum-size user document).
COMMAND_OVERHEAD = 16 * 1024

_USE_DEFAULT: Any = object()  # "use the settings' socket timeout"
_SILENT = CommandPublisher()


@functools.lru_cache(maxsize=8)
def _metadata(appname: str | None) -> dict[str, Any]:
    # The platform facts do not change while the process runs; build them once.
    return handshake.client_metadata(appname)


def _default_decoder() -> Decoder:
    from driver.bson import decode

    return decode


def _decode_statement(statement: bytes) -> Mapping[str, Any]:
    # Events show write statements with the driver's default types, whatever decoder
    # the command's reply uses (a cursor's may build RawBSONDocuments).
    from driver.bson import decode

    document: Mapping[str, Any] = decode(statement)
    return document


def _address_text(address: Address) -> str:
    return handshake.address_text(address)


def _ms(timeout: float | None) -> str:
    return "none" if timeout is None else str(int(timeout * 1000))


class Connection:
    """A socket to one server that has completed the handshake (and auth, if any).

    One thread uses a connection at a time (the pool hands it out); only ``close()``
    may be called from another thread.
    """

    def __init__(
        self,
        address: Address,
        sock: socket.socket,
        settings: ConnectionSettings,
        *,
        publisher: CommandPublisher | None = None,
        decoder: Decoder | None = None,
    ) -> None:
        self.address = address
        self.settings = settings
        self._sock = sock
        self._current_timeout: float | None | object = _USE_DEFAULT
        self._publisher = publisher or CommandPublisher(settings.command_listeners)
        self._decode = decoder or _default_decoder()
        self._closed = False
        self._handshake_reply: dict[str, Any] = {}
        self._compressor: compression.Compressor | None = None
        self._op_msg = True
        self._more_to_come = False
        self._last_response_id = 0
        self.max_wire_version = 0
        self.max_bson_size = DEFAULT_MAX_BSON_SIZE
        self.max_message_size = DEFAULT_MAX_MESSAGE_SIZE
        self.max_write_batch_size = DEFAULT_MAX_WRITE_BATCH_SIZE
        self.authenticated_mechanism: str | None = None
        self.opened_at = time.monotonic()

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        address: Address,
        settings: ConnectionSettings,
        *,
        authenticate: bool = True,
        connect_timeout: float | None | object = _USE_DEFAULT,
        publish_events: bool = True,
        cancel: ConnectCancellation | None = None,
    ) -> Connection:
        """Dial, handshake and (when ``authenticate`` and a credential is set) authenticate.

        Monitoring connections pass ``authenticate=False`` ("Authentication ... MUST NOT
        happen on monitoring-only sockets") and ``publish_events=False``. With
        ``cancel``, ``cancel.cancel()`` from another thread ends the whole opening at
        once with ``AutoReconnect`` (a closing topology or pool uses it).
        """
        timeout = settings.connect_timeout if connect_timeout is _USE_DEFAULT else connect_timeout
        assert timeout is None or isinstance(timeout, int | float)
        try:
            return cls._open(address, settings, timeout, authenticate, publish_events, cancel)
        except BaseException as exc:
            # A socket shut down under a blocked read looks like "closed by the server";
            # say what really happened.
            if (cancel is None or not cancel.cancelled or not isinstance(exc, Exception)
                    or "cancelled" in str(exc)):
                raise
            raise AutoReconnect(
                f"{_address_text(address)}: connection attempt cancelled"
            ) from exc
        finally:
            if cancel is not None:
                cancel.detach()

    @classmethod
    def _open(
        cls,
        address: Address,
        settings: ConnectionSettings,
        timeout: float | None,
        authenticate: bool,
        publish_events: bool,
        cancel: ConnectCancellation | None,
    ) -> Connection:
        context = settings.ssl_context()
        try:
            sock: socket.socket = create_socket(address, timeout, cancel)
        except PyMongoError as exc:
            _note_overload_candidate(exc, cancel)
            raise
        if context is not None:
            try:
                sock = wrap_socket(sock, context, address[0], address[1], timeout)
            except BaseException as exc:
                sock.close()
                if isinstance(exc, PyMongoError):
                    _note_overload_candidate(exc, cancel)
                raise
        publisher = None if publish_events else CommandPublisher()
        conn = cls(address, sock, settings, publisher=publisher)
        try:
            conn._handshake(timeout, authenticate)
            if cancel is not None and cancel.cancelled:
                # Cancelled just as the handshake finished: nobody wants this connection.
                raise AutoReconnect(f"{_address_text(address)}: connection attempt cancelled")
        except BaseException:
            conn.close()
            raise
        return conn

    def _handshake(self, timeout: float | None, authenticate: bool) -> None:
        settings = self.settings
        authenticator = (
            Authenticator(settings.credential)
            if authenticate and settings.credential is not None
            else None
        )
        auth_fields: dict[str, Any] = {}
        speculative: ScramClient | None = None
        if authenticator is not None:
            auth_fields, speculative = authenticator.handshake_fields()
        requested = compression.usable_compressors(settings.compressors)
        command, use_hello = handshake.handshake_command(
            metadata=_metadata(settings.appname),
            server_api=settings.server_api,
            load_balanced=settings.load_balanced,
            compressors=requested,
            auth_fields=auth_fields,
        )
        self._op_msg = use_hello
        # Like PyMongo, the handshake itself is not published; auth commands are (redacted).
        try:
            reply = dict(self.command("admin", command, timeout=timeout, publish=False))
        except PyMongoError as exc:
            _note_overload_candidate(exc, None)
            raise
        self._handshake_reply = reply
        where = "handshake reply"
        self.max_wire_version = optional_int(reply, "maxWireVersion", where)
        handshake.check_wire_version(self.address, reply)
        self._op_msg = True  # wire version >= 8 always speaks OP_MSG
        self.max_bson_size = optional_int(reply, "maxBsonObjectSize", where,
                                          DEFAULT_MAX_BSON_SIZE)
        self.max_message_size = optional_int(reply, "maxMessageSizeBytes", where,
                                             DEFAULT_MAX_MESSAGE_SIZE)
        self.max_write_batch_size = optional_int(reply, "maxWriteBatchSize", where,
                                                 DEFAULT_MAX_WRITE_BATCH_SIZE)
        if settings.load_balanced and "serviceId" not in reply:
            raise ConfigurationError(
                f"{_address_text(self.address)} was asked for load-balanced mode but its "
                "handshake reply has no serviceId; the server does not support it"
            )
        chosen = handshake.negotiated_compressor(requested, reply)
        if chosen is not None:
            self._compressor = compression.get_compressor(chosen, settings.zlib_compression_level)
        if authenticator is not None and not reply.get("arbiterOnly"):
            self.authenticated_mechanism = authenticator.authenticate(
                _TimedRunner(self, timeout), reply, speculative
            )

    # -- properties ---------------------------------------------------------------------------

    @property
    def handshake_reply(self) -> dict[str, Any]:
        """The reply to the handshake's hello/isMaster."""
        return self._handshake_reply

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def compressor_name(self) -> str | None:
        return self._compressor.name if self._compressor else None

    @property
    def more_to_come(self) -> bool:
        """True while the server streams replies (exhaust) that have not been read."""
        return self._more_to_come

    @property
    def server_connection_id(self) -> int | None:
        value = self._handshake_reply.get("connectionId")
        return int(value) if isinstance(value, int | float) else None

    @property
    def service_id(self) -> Any:
        return self._handshake_reply.get("serviceId")

    # -- commands -----------------------------------------------------------------------------

    def command(
        self,
        dbname: str,
        spec: Mapping[str, Any],
        *,
        sequences: Sequence[tuple[str, Sequence[Mapping[str, Any] | bytes]]] = (),
        unacknowledged: bool = False,
        timeout: float | None | object = _USE_DEFAULT,
        check: bool = True,
        decoder: Decoder | None = None,
        exhaust_allowed: bool = False,
        apply_server_api: bool = True,
        publish: bool = True,
    ) -> Mapping[str, Any]:
        """Run ``spec`` on ``dbname`` and return the reply (``{}`` when unacknowledged).

        ``sequences`` become OP_MSG document sequences (e.g. ``("documents", docs)`` for
        an insert); ``unacknowledged`` sets moreToCome, so no reply is read (write
        concern ``w: 0``); ``timeout`` overrides ``socketTimeoutMS`` for this command;
        ``decoder`` turns the reply body's bytes into the returned mapping; ``publish``
        False keeps the command out of command monitoring (the handshake's hello).
        """
        if self._closed:
            raise AutoReconnect(f"{_address_text(self.address)}: connection is closed")
        if not spec:
            raise ValueError("a command needs at least one field (its name)")
        name = next(iter(spec))
        document = dict(spec)
        document["$db"] = dbname
        if apply_server_api and self.settings.server_api is not None and name != "getMore":
            # Versioned API spec: the API fields go on every command except getMore.
            document.update(handshake.server_api_fields(self.settings.server_api))
        request_id = wire.next_request_id()
        publisher = self._publisher if publish else _SILENT
        started = time.perf_counter()
        if publisher.enabled:
            publisher.started(
                CommandStartedEvent(
                    command_for_event(document, sequences, _decode_statement),
                    dbname,
                    request_id,
                    self.address,
                    request_id,
                    self.service_id,
                    self.server_connection_id,
                )
            )
        try:
            message = self._build_message(request_id, name, document, sequences, unacknowledged,
                                          exhaust_allowed)
            self._set_timeout(timeout)
            self._send(message)
            if unacknowledged:
                reply: Mapping[str, Any] = {}
            else:
                reply = self._receive_reply(request_id, decoder)
                if check:
                    check_command_response(reply, self.max_wire_version)
        except BaseException as exc:
            if publisher.enabled:
                failure = _failure_document(exc)
                publisher.failed(
                    CommandFailedEvent(
                        time.perf_counter() - started,
                        failure,
                        name,
                        request_id,
                        self.address,
                        request_id,
                        self.service_id,
                        dbname,
                        self.server_connection_id,
                        redacted=is_sensitive(name, document),
                    )
                )
            raise
        if publisher.enabled:
            publisher.succeeded(
                CommandSucceededEvent(
                    time.perf_counter() - started,
                    reply if not unacknowledged else {"ok": 1},
                    name,
                    request_id,
                    self.address,
                    request_id,
                    self.service_id,
                    dbname,
                    self.server_connection_id,
                    redacted=is_sensitive(name, document),
                )
            )
        return reply

    def receive_more(
        self, *, timeout: float | None | object = _USE_DEFAULT, decoder: Decoder | None = None,
        check: bool = True,
    ) -> Mapping[str, Any]:
        """Read the next streamed reply after one that had moreToCome set."""
        if not self._more_to_come:
            raise ProtocolError("no more replies are expected on this connection")
        self._set_timeout(timeout)
        reply = self._receive_reply(self._last_response_id, decoder)
        if check:
            check_command_response(reply, self.max_wire_version)
        return reply

    def hello(
        self,
        *,
        topology_version: Mapping[str, Any] | None = None,
        max_await_time_ms: int | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """A monitoring ``hello`` (the ``HelloConnection`` protocol of ``driver.sdam``).

        With ``topology_version`` and ``max_await_time_ms`` it is the awaitable form, sent
        with exhaustAllowed; once the server streams (moreToCome), later calls just read
        the next reply. Without ``timeout`` it is ``connectTimeoutMS`` (plus the await
        time for the awaitable form), as SDAM monitors use.
        """
        awaitable = topology_version is not None and max_await_time_ms is not None
        if timeout is None and self.settings.connect_timeout is not None:
            timeout = self.settings.connect_timeout
            if awaitable:
                assert max_await_time_ms is not None
                timeout += max_await_time_ms / 1000.0
        if self._more_to_come:
            return dict(self.receive_more(timeout=timeout))
        use_hello = self.settings.server_api is not None or bool(
            self._handshake_reply.get("helloOk")
        )
        command: dict[str, Any] = {"hello": 1} if use_hello else {"isMaster": 1}
        if awaitable:
            command["topologyVersion"] = topology_version
            command["maxAwaitTimeMS"] = max_await_time_ms
        return dict(self.command("admin", command, timeout=timeout, exhaust_allowed=awaitable))

    # -- framing ------------------------------------------------------------------------------

    def _build_message(
        self,
        request_id: int,
        name: str,
        document: dict[str, Any],
        sequences: Sequence[tuple[str, Sequence[Mapping[str, Any] | bytes]]],
        unacknowledged: bool,
        exhaust_allowed: bool,
    ) -> bytes:
        from driver.bson import encode

        body = encode(document)
        if len(body) > self.max_bson_size + COMMAND_OVERHEAD:
            raise DocumentTooLarge(
                f"command document {name!r} is {len(body)} bytes; the server allows "
                f"{self.max_bson_size + COMMAND_OVERHEAD}"
            )
        if not self._op_msg:
            if sequences or unacknowledged:
                raise ProtocolError("legacy OP_QUERY cannot carry document sequences or w:0")
            message = wire.encode_op_query(request_id, f"{document['$db']}.$cmd",
                                           encode({k: v for k, v in document.items()
                                                   if k != "$db"}))
        else:
            encoded_sequences = [
                (identifier, [doc if isinstance(doc, bytes) else encode(doc) for doc in docs])
                for identifier, docs in sequences
            ]
            for identifier, docs in encoded_sequences:
                for doc in docs:
                    if len(doc) > self.max_bson_size:
                        raise DocumentTooLarge(
                            f"a document in {identifier!r} is {len(doc)} bytes; the server "
                            f"allows {self.max_bson_size}"
                        )
            message = wire.encode_op_msg(
                request_id,
                body,
                encoded_sequences,
                more_to_come=unacknowledged,
                exhaust_allowed=exhaust_allowed,
            )
        if len(message) > self.max_message_size:
            raise DocumentTooLarge(
                f"command {name!r} makes a {len(message)}-byte message; the server accepts "
                f"at most {self.max_message_size} (maxMessageSizeBytes)"
            )
        if self._compressor is not None and compression.may_compress(name):
            header = wire.HEADER_SIZE
            original_opcode = wire.OP_MSG if self._op_msg else wire.OP_QUERY
            payload = message[header:]
            message = wire.encode_op_compressed(
                request_id,
                original_opcode,
                len(payload),
                self._compressor.compressor_id,
                self._compressor.compress(payload),
            )
        return message

    def _receive_reply(self, request_id: int, decoder: Decoder | None) -> Mapping[str, Any]:
        header_bytes = self._recv_exact(wire.HEADER_SIZE)
        try:
            header = wire.parse_header(header_bytes, max(self.max_message_size,
                                                         DEFAULT_MAX_MESSAGE_SIZE))
            if header.response_to != request_id:
                raise ProtocolError(
                    f"reply answers request {header.response_to}, expected {request_id}"
                )
        except ProtocolError:
            self._fail_protocol()
            raise
        payload = self._recv_exact(header.length - wire.HEADER_SIZE)
        try:
            opcode = header.opcode
            checksum_header: bytes | None = header_bytes
            if opcode == wire.OP_COMPRESSED:
                frame = wire.decode_op_compressed(payload)
                payload = compression.decompress(
                    frame.compressor_id, frame.data, frame.uncompressed_size
                )
                opcode = frame.original_opcode
                checksum_header = None  # the checksum covered the uncompressed message
            if opcode == wire.OP_MSG:
                msg = wire.decode_op_msg(payload, checksum_header)
                self._more_to_come = msg.more_to_come
                self._last_response_id = header.request_id
                body = msg.body
            elif opcode == wire.OP_REPLY and not self._op_msg:
                documents = wire.decode_op_reply(payload).documents
                if len(documents) != 1:
                    raise ProtocolError(
                        f"legacy command reply holds {len(documents)} documents, expected 1"
                    )
                body = documents[0]
            else:
                raise ProtocolError(
                    f"unexpected {wire.OPCODE_NAMES.get(opcode, opcode)} reply to a command"
                )
            return (decoder or self._decode)(body)
        except (PyMongoError, ValueError) as exc:
            self._fail_protocol()
            if isinstance(exc, ProtocolError):
                raise
            raise ProtocolError(
                f"{_address_text(self.address)} sent a malformed reply: {exc}"
            ) from exc

    def _fail_protocol(self) -> None:
        self._more_to_come = False
        self.close()

    # -- socket I/O ---------------------------------------------------------------------------

    def _set_timeout(self, timeout: float | None | object) -> None:
        value = self.settings.socket_timeout if timeout is _USE_DEFAULT else timeout
        if value != self._current_timeout:
            self._sock.settimeout(value)  # type: ignore[arg-type]
            self._current_timeout = value

    def _send(self, message: bytes) -> None:
        try:
            self._sock.sendall(message)
        except BaseException as exc:
            self._raise_network(exc, "sending")

    def _recv_exact(self, size: int) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        received = 0
        try:
            while received < size:
                count = self._sock.recv_into(view[received:])
                if count == 0:
                    self.close()
                    raise AutoReconnect(
                        f"{_address_text(self.address)}: connection closed by the server "
                        f"after {received} of {size} expected bytes"
                    )
                received += count
        except AutoReconnect:
            raise
        except BaseException as exc:
            self._raise_network(exc, "receiving")
        return bytes(buffer)

    def _raise_network(self, exc: BaseException, doing: str) -> NoReturn:
        closed_elsewhere = self._closed  # close() from another thread (e.g. a monitor's stop)
        self.close()
        where = _address_text(self.address)
        if isinstance(exc, TimeoutError) and not closed_elsewhere:
            current = self._current_timeout
            shown = current if isinstance(current, float | int) else None
            raise NetworkTimeout(
                f"{where}: timed out while {doing} (socketTimeoutMS={_ms(shown)})"
            ) from exc
        if closed_elsewhere and isinstance(exc, Exception):
            raise AutoReconnect(f"{where}: connection closed while {doing}") from exc
        if isinstance(exc, OSError):
            raise AutoReconnect(f"{where}: connection lost while {doing}: {exc}") from exc
        raise exc

    def close(self) -> None:
        """Close the socket (idempotent; safe from another thread, whose blocked read
        then ends with ``AutoReconnect``). The connection is unusable afterwards."""
        if self._closed:
            return
        self._closed = True
        try:
            # shutdown() wakes a thread blocked in recv on this socket; close() alone does not.
            self._sock.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Connection {_address_text(self.address)} {state}>"


class _TimedRunner:
    """Runs auth commands on a connection with the handshake's timeout."""

    def __init__(self, conn: Connection, timeout: float | None) -> None:
        self._conn = conn
        self._timeout = timeout

    def command(self, dbname: str, spec: Mapping[str, Any]) -> Mapping[str, Any]:
        return self._conn.command(dbname, spec, timeout=self._timeout)


# TLS failures that are I/O (the peer hung up or reset mid-handshake) rather than a
# refusal of the certificate, the host name or the protocol.
_TLS_IO_ERRORS = (ssl.SSLEOFError, ssl.SSLSyscallError, ssl.SSLZeroReturnError)


def _note_overload_candidate(exc: PyMongoError, cancel: ConnectCancellation | None) -> None:
    """Flag a dial, TLS or hello failure that may be the server shedding load.

    CMAP spec, "Backpressure-enabled": the pool "MUST add the error labels
    SystemOverloadedError and RetryableError to network errors or network timeouts it
    encounters during the connection establishment or the hello message", but "For
    errors that the driver can distinguish as never occurring due to server overload,
    such as DNS lookup failures, non-I/O TLS errors (e.g., certificate validation or
    hostname-mismatch failures) ... the driver MUST NOT add backpressure error labels";
    "if an I/O error (for example, an EOF error) occurs during the TLS handshake, the
    driver MUST treat it as a potential overload condition". Only the flag is set here;
    the pool adds the labels (monitoring connections keep none).
    """
    if not isinstance(exc, AutoReconnect) or isinstance(exc, NotPrimaryError):
        return
    if cancel is not None and cancel.cancelled:
        return  # we gave up on it ourselves
    cause = exc.__cause__
    if isinstance(cause, socket.gaierror):
        return
    if isinstance(cause, ssl.SSLError) and not isinstance(cause, _TLS_IO_ERRORS):
        return  # certificate verification (and host name) failures are SSLErrors too
    exc._overload_candidate = True


def _failure_document(exc: BaseException) -> Mapping[str, Any]:
    if isinstance(exc, OperationFailure) and exc.details:
        return exc.details
    details = getattr(exc, "details", None)
    if isinstance(details, Mapping) and details:
        return details
    return {"ok": 0, "errmsg": str(exc), "errorType": type(exc).__name__}


def connector(address: Address, settings: ConnectionSettings) -> Callable[..., Connection]:
    """The ``connect()`` callable a ``driver.cmap.pool.Pool`` wants: a ready, authenticated
    connection to ``address`` each time it is called (``cancel=`` aborts one opening)."""

    def connect(*, cancel: ConnectCancellation | None = None) -> Connection:
        return Connection.open(address, settings, cancel=cancel)

    return connect


def monitor_connection_factory(
    settings: ConnectionSettings,
) -> Callable[..., Connection]:
    """The ``MonitorConnectionFactory`` for ``driver.sdam``: no auth, no command events.
    It takes the optional ``cancel=`` keyword, so closing a topology ends a monitor
    that is stuck dialling or handshaking a silent server."""

    def factory(
        address: Address,
        connect_timeout: float | None,
        *,
        cancel: ConnectCancellation | None = None,
    ) -> Connection:
        return Connection.open(
            address,
            settings,
            authenticate=False,
            connect_timeout=connect_timeout,
            publish_events=False,
            cancel=cancel,
        )

    return factory


__all__ = [
    "ConnectCancellation",
    "Connection",
    "ConnectionSettings",
    "accepts_cancel",
    "connector",
    "create_socket",
    "monitor_connection_factory",
]
