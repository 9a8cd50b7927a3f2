"""The one place where an operation meets the network.

``Executor.command`` / ``Executor.write_command`` take a command document and:

1. select a server through the topology (a read preference for reads, the writable
   selector for writes, a fixed address for ``getMore``/``killCursors``);
2. check out a connection from that server's pool;
3. complete the command: ``lsid`` and ``txnNumber`` (sessions, retryable writes),
   ``$clusterTime`` gossip, ``writeConcern``/``readConcern`` (with the causally
   consistent ``afterClusterTime``), ``$readPreference`` following the server selection
   spec's rules for mongos and direct connections (the Stable API fields and ``$db``
   are added by the connection);
4. run it, decode the reply (or split out a raw batch), and raise errors with the
   right class (``driver.net.responses``); network and "not primary" errors go to the
   topology's ``handle_application_error`` so it marks the server Unknown and clears
   the pool;
5. retry once, after a fresh server selection, where the retryable reads/writes
   specifications allow (``driver.operations.retry``).
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driver.errors import (
    ConfigurationError,
    InvalidOperation,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    WaitQueueTimeoutError,
    WriteConcernError,
)
from driver.operations.bulk import WriteLimits
from driver.operations.raw_batches import RawReply, decode_cursor_reply, decode_raw_reply
from driver.operations.replies import optional_document, optional_list
from driver.operations.retry import (
    NO_WRITES_PERFORMED,
    RETRYABLE_WRITE_ERROR,
    is_network_error,
    is_retryable_read_error,
    is_retryable_write_error,
    label_retryable_write_error,
    retryable_write_concern_error,
)
from driver.read_preferences import ReadPreference, ServerMode
from driver.sdam.selection import AddressSelector, writable_server_selector
from driver.sdam.topology import AFTER_HANDSHAKE, BEFORE_HANDSHAKE, Server, Topology
from driver.sdam.types import ServerType, TopologyType
from driver.session import ClientSession, SessionOptions, newer_cluster_time

if TYPE_CHECKING:
    from driver.bson import CodecOptions
    from driver.client import MongoClient
    from driver.concern import ReadConcern, WriteConcern
    from driver.sdam.server_description import ServerDescription

Address = tuple[str, int]

# Commands that continue or end a cursor: they go to the cursor's server and never
# carry $readPreference (the server selection already happened with the first command).
_CURSOR_COMMANDS = frozenset({"getMore", "killCursors"})
# Commands whose reply holds a cursor batch.
_CURSOR_REPLY_COMMANDS = frozenset(
    {"find", "aggregate", "getMore", "listCollections", "listIndexes"}
)
# Commands that take a readConcern (and so the causal afterClusterTime).
_READ_CONCERN_COMMANDS = frozenset(
    {"find", "aggregate", "distinct", "count", "listCollections", "listIndexes"}
)


@dataclass
class Reply:
    """A command's reply, where it came from, and (raw cursors) the undecoded batch."""

    document: Mapping[str, Any]
    address: Address
    raw_batch: tuple[int, str, bytes, int] | None = None


@dataclass
class _Attempt:
    handle: Server  # the topology's Server: pool, and the in-flight operation count
    server: ServerDescription  # its description when it was selected
    topology_type: TopologyType
    session_timeout: int | None


class Executor:
    """Runs commands for one ``MongoClient`` (thread-safe; holds no per-call state)."""

    def __init__(self, client: MongoClient) -> None:
        self._client = client
        self._cluster_time: Mapping[str, Any] | None = None
        # Cursors to kill and implicit sessions to end, handed over by finalizers; the
        # reaper thread drains it (deque.append is atomic: no lock in __del__).
        self.pending_kills: collections.deque[tuple[str, str, int, Address | None, Any]] = (
            collections.deque()
        )

    @property
    def _topology(self) -> Topology:
        return self._client._get_topology()

    # -- sessions ------------------------------------------------------------------------------

    def implicit_session(self) -> ClientSession:
        """A session for one operation or one cursor; its lsid is taken only if used."""
        return ClientSession(self._client, SessionOptions(causal_consistency=False), implicit=True)

    @contextlib.contextmanager
    def session_for(self, session: ClientSession | None) -> Iterator[ClientSession]:
        if session is not None:
            if session.client is not self._client:
                raise InvalidOperation("Can only use session with the MongoClient that started it")
            yield session
            return
        implicit = self.implicit_session()
        try:
            yield implicit
        finally:
            implicit.end_session()

    # -- public entry points -------------------------------------------------------------------

    def command(
        self, dbname: str, command: Mapping[str, Any], *, session: ClientSession | None = None,
        read_preference: ServerMode | None = None, codec_options: CodecOptions | None = None,
        write_concern: WriteConcern | None = None, read_concern: ReadConcern | None = None,
        kind: str = "command", retryable: bool | None = None, address: Address | None = None,
        raw_batches: bool = False, check: bool = True,
    ) -> Reply:
        """Run one command. ``kind``: ``"read"`` (read preference, read concern, retryable
        read), ``"write"`` (primary, write concern, retryable write when ``retryable``),
        ``"command"`` (the read preference given, else primary; no retry), ``"getMore"``
        (on ``address``)."""
        with self.session_for(session) as op_session:
            is_write = kind == "write"
            if kind == "read":
                may_retry = self._client._options.retry_reads if retryable is None else retryable
            elif is_write:
                may_retry = bool(retryable) and self._client._options.retry_writes
            else:
                may_retry = False
            if is_write or kind == "getMore":
                selector: Any = writable_server_selector
            else:
                selector = read_preference or ReadPreference.PRIMARY
            if address is not None:
                selector = AddressSelector(address)
            body = dict(command)
            decoder = self._decoder(codec_options, raw_batches,
                                    next(iter(body), "") in _CURSOR_REPLY_COMMANDS)
            reply, reply_address, attempt = self._run_with_retry(
                dbname, body, (), selector, op_session, write_concern if is_write else None,
                read_concern if kind == "read" else None, read_preference, decoder, is_write,
                may_retry, check, unacknowledged=False,
            )
            raw = reply.raw_batch if isinstance(reply, RawReply) else None
            return Reply(reply, reply_address, raw)

    def write_command(
        self, dbname: str, body: Mapping[str, Any], *, sequence_field: str,
        sequence: Sequence[bytes], session: ClientSession | None,
        write_concern: WriteConcern | None, retryable: bool,
        codec_options: CodecOptions | None = None,
    ) -> dict[str, Any] | None:
        """An insert/update/delete with its statements as a document sequence. Returns the
        reply, or ``None`` for an unacknowledged (``w: 0``) write. Write errors in the reply
        are left to the caller (single write vs. bulk report them differently)."""
        unacknowledged = write_concern is not None and not write_concern.acknowledged
        if unacknowledged and session is not None:
            raise ConfigurationError(
                "Explicit sessions are incompatible with unacknowledged write concern"
            )
        with self.session_for(session) as op_session:
            may_retry = retryable and self._client._options.retry_writes and not unacknowledged
            reply, _, _ = self._run_with_retry(
                dbname, dict(body), ((sequence_field, sequence),), writable_server_selector,
                op_session, write_concern, None, None, self._decoder(codec_options, False), True,
                may_retry, True, unacknowledged=unacknowledged,
            )
        return None if unacknowledged else dict(reply)

    def write_limits(self, session: ClientSession | None) -> WriteLimits:
        """Batch limits of the current writable server."""
        with self._topology.selected_server(writable_server_selector) as server:
            hello = server.description.hello or {}
        return WriteLimits(
            int(hello.get("maxBsonObjectSize", 16 * 1024 * 1024)),
            int(hello.get("maxMessageSizeBytes", 48_000_000)),
            int(hello.get("maxWriteBatchSize", 100_000)),
        )

    def kill_cursors(
        self, dbname: str, collection: str, cursor_id: int, address: Address,
        session: ClientSession | None,
    ) -> None:
        """Send ``killCursors`` now; failures are ignored (the server reaps cursors anyway).

        Nothing is sent when the cursor's server is not currently known to be up: the
        selection would wait serverSelectionTimeoutMS for a server that lost the cursor
        anyway (a restarted server has no cursors).
        """
        from driver.bson import Int64

        topology = self._client._topology
        if topology is None:
            return
        description = topology.description_of(address)
        if description is None or not description.is_server_type_known:
            return
        command = {"killCursors": collection, "cursors": [Int64(cursor_id)]}
        with contextlib.suppress(PyMongoError):
            self.command(dbname, command, session=session, address=address, kind="getMore")

    def kill_cursor_soon(
        self, dbname: str, collection: str, cursor_id: int, address: Address | None,
        session: Any,
    ) -> None:
        """Queue a kill (and/or the end of an implicit session) for the reaper thread.
        Called from finalizers: must not block, take a lock or do I/O."""
        self.pending_kills.append((dbname, collection, cursor_id, address, session))

    def process_pending_kills(self) -> None:
        """Run by the reaper thread (and by ``close``): send queued kills, end sessions."""
        while True:
            try:
                dbname, collection, cursor_id, address, session = self.pending_kills.popleft()
            except IndexError:
                return
            if cursor_id and address is not None:
                self.kill_cursors(dbname, collection, cursor_id, address, session)
            if session is not None:
                with contextlib.suppress(Exception):
                    session.end_session()

    # -- internals -----------------------------------------------------------------------------

    @staticmethod
    def _decoder(
        codec_options: CodecOptions | None, raw_batches: bool, cursor_reply: bool = False
    ) -> Callable[[bytes], Mapping[str, Any]]:
        from driver.bson import DEFAULT_CODEC_OPTIONS, decode

        options = codec_options or DEFAULT_CODEC_OPTIONS
        if raw_batches:
            return lambda body: decode_raw_reply(body, options)
        if cursor_reply and not getattr(options, "_is_raw", False):
            # The batch goes through decode_all: faster than as a nested array.
            return lambda body: decode_cursor_reply(body, options)
        if options is DEFAULT_CODEC_OPTIONS:
            return decode
        return lambda body: decode(body, options)

    def _select(
        self, selector: Any, deprioritized: Sequence[Address]
    ) -> _Attempt:
        topology = self._topology
        server = topology.select_server(selector, deprioritized=deprioritized)
        description = topology.description
        return _Attempt(server, server.description, description.topology_type,
                        description.logical_session_timeout_minutes)

    def _run_with_retry(
        self, dbname: str, body: dict[str, Any], sequences: Any, selector: Any,
        session: ClientSession, write_concern: WriteConcern | None,
        read_concern: ReadConcern | None, read_preference: ServerMode | None,
        decoder: Callable[[bytes], Mapping[str, Any]], is_write: bool, may_retry: bool,
        check: bool, *, unacknowledged: bool,
    ) -> tuple[Mapping[str, Any], Address, _Attempt]:
        attempt = self._select(selector, ())
        txn_number: int | None = None
        if is_write and may_retry:
            if self._supports_retryable_writes(attempt):
                txn_number = session._next_txn_number()
            else:
                may_retry = False
        try:
            reply = self._run_once(
                attempt, dbname, body, sequences, session, write_concern, read_concern,
                read_preference, decoder, is_write, check, txn_number, unacknowledged,
            )
            return reply, attempt.server.address, attempt
        except PyMongoError as first_error:
            if not may_retry:
                raise
            if is_write:
                label_retryable_write_error(first_error, attempt.server.max_wire_version)
                if not is_retryable_write_error(first_error):
                    raise
            elif not is_retryable_read_error(first_error):
                raise
            deprioritized = (
                [attempt.server.address] if attempt.topology_type == TopologyType.Sharded else []
            )
            try:
                retry_attempt = self._select(selector, deprioritized)
            except PyMongoError:
                raise first_error from None
            if is_write and not self._supports_retryable_writes(retry_attempt):
                raise first_error from None
            try:
                reply = self._run_once(
                    retry_attempt, dbname, body, sequences, session, write_concern,
                    read_concern, read_preference, decoder, is_write, check, txn_number,
                    unacknowledged,
                )
            except PyMongoError as second_error:
                if is_write:
                    label_retryable_write_error(second_error, retry_attempt.server.max_wire_version)
                    if second_error.has_error_label(NO_WRITES_PERFORMED):
                        raise first_error from None
                raise
            return reply, retry_attempt.server.address, retry_attempt

    @staticmethod
    def _supports_retryable_writes(attempt: _Attempt) -> bool:
        # Retryable writes need sessions and a replica set member or mongos, not a standalone.
        return (
            attempt.session_timeout is not None
            and attempt.server.server_type != ServerType.Standalone
        )

    def _complete_command(
        self, attempt: _Attempt, body: dict[str, Any], session: ClientSession,
        write_concern: WriteConcern | None, read_concern: ReadConcern | None,
        read_preference: ServerMode | None, is_write: bool, txn_number: int | None,
        unacknowledged: bool,
    ) -> dict[str, Any]:
        command = dict(body)
        name = next(iter(command))
        sessions_supported = attempt.session_timeout is not None
        if sessions_supported and not (unacknowledged and session._implicit):
            command["lsid"] = session._lsid
            if txn_number is not None:
                from driver.bson import Int64

                command["txnNumber"] = Int64(txn_number)
        if write_concern is not None and not write_concern.is_server_default:
            command["writeConcern"] = write_concern.document
        if name in _READ_CONCERN_COMMANDS:
            if read_concern is not None and not read_concern.is_server_default:
                command["readConcern"] = dict(read_concern.document)
            if not session._implicit:
                session._apply_read_concern(command, is_read=True)
        cluster_time = newer_cluster_time(self._cluster_time, session.cluster_time)
        if cluster_time is not None and attempt.server.server_type != ServerType.Standalone:
            command["$clusterTime"] = cluster_time
        read_pref_doc = None
        if name not in _CURSOR_COMMANDS:
            read_pref_doc = self._read_preference_document(attempt, read_preference, is_write)
        if read_pref_doc is not None:
            command["$readPreference"] = read_pref_doc
        return command

    @staticmethod
    def _read_preference_document(
        attempt: _Attempt, read_preference: ServerMode | None, is_write: bool
    ) -> dict[str, Any] | None:
        """Server selection spec, "Passing read preference to mongos and load balancers"
        and "Topology type: Single": mongos gets any non-primary mode; a direct
        connection to a replica-set member reads with primaryPreferred so a secondary
        answers; a standalone gets nothing."""
        if is_write:
            return None
        server_type = attempt.server.server_type
        if server_type in (ServerType.Mongos, ServerType.LoadBalancer):
            if read_preference is None or read_preference.mode == 0:
                return None
            return read_preference.document
        if attempt.topology_type == TopologyType.Single and server_type != ServerType.Standalone:
            if read_preference is None or read_preference.mode == 0:
                return {"mode": "primaryPreferred"}
            return read_preference.document
        if attempt.topology_type in (
            TopologyType.ReplicaSetWithPrimary, TopologyType.ReplicaSetNoPrimary
        ) and read_preference is not None and read_preference.mode != 0:
            return read_preference.document
        return None

    def _run_once(
        self, attempt: _Attempt, dbname: str, body: dict[str, Any], sequences: Any,
        session: ClientSession, write_concern: WriteConcern | None,
        read_concern: ReadConcern | None, read_preference: ServerMode | None,
        decoder: Callable[[bytes], Mapping[str, Any]], is_write: bool, check: bool,
        txn_number: int | None, unacknowledged: bool,
    ) -> Mapping[str, Any]:
        try:
            return self._run_on_server(
                attempt, dbname, body, sequences, session, write_concern, read_concern,
                read_preference, decoder, is_write, check, txn_number, unacknowledged,
            )
        finally:
            attempt.handle.operation_finished()

    def _run_on_server(
        self, attempt: _Attempt, dbname: str, body: dict[str, Any], sequences: Any,
        session: ClientSession, write_concern: WriteConcern | None,
        read_concern: ReadConcern | None, read_preference: ServerMode | None,
        decoder: Callable[[bytes], Mapping[str, Any]], is_write: bool, check: bool,
        txn_number: int | None, unacknowledged: bool,
    ) -> Mapping[str, Any]:
        topology = self._topology
        address = attempt.server.address
        command = self._complete_command(
            attempt, body, session, write_concern, read_concern, read_preference, is_write,
            txn_number, unacknowledged,
        )
        pool = attempt.handle.pool
        # "when a network error occurs before the handshake completes then the error's
        # generation number is the generation of the pool at the time the connection
        # attempt was started" (SDAM): a clear meanwhile makes the error stale.
        generation = pool.generation
        try:
            pooled = pool.checkout()  # type: ignore[attr-defined]
        except PyMongoError as error:
            # A failed connect or handshake is an SDAM "before handshake" error.
            if not _is_pool_error(error):
                topology.handle_application_error(
                    address, error, generation, None, BEFORE_HANDSHAKE
                )
            raise
        with pooled:
            connection = pooled.connection
            max_wire_version = getattr(connection, "max_wire_version", None)
            try:
                reply: Mapping[str, Any] = connection.command(
                    dbname, command, sequences=sequences, unacknowledged=unacknowledged,
                    decoder=decoder, check=check,
                )
            except PyMongoError as error:
                if is_network_error(error):
                    session._mark_dirty()
                    pooled.mark_errored()
                if is_network_error(error) or isinstance(error, NotPrimaryError):
                    if not _is_pool_error(error):
                        topology.handle_application_error(
                            address, error, pooled.generation, max_wire_version,
                            AFTER_HANDSHAKE,
                        )
                if isinstance(error, OperationFailure) and error.details:
                    self._gossip(session, error.details)
                raise
            if unacknowledged:
                return reply
            self._gossip(session, reply)
            if is_write and check:
                self._check_write_concern(reply, address, pooled, max_wire_version)
            return reply

    def _check_write_concern(
        self, reply: Mapping[str, Any], address: Address, pooled: Any,
        max_wire_version: int | None,
    ) -> None:
        """A ``writeConcernError`` on a command that is not an insert/update/delete (those
        report it in their results) is raised here; a retryable one is labelled."""
        concern_error = optional_document(reply, "writeConcernError", "command reply")
        labels = optional_list(reply, "errorLabels", "command reply")
        if not concern_error or "n" in reply:
            if concern_error and retryable_write_concern_error(dict(reply), max_wire_version):
                error = WriteConcernError(
                    str(concern_error.get("errmsg", "")), concern_error.get("code"), dict(reply)
                )
                error._add_error_label(RETRYABLE_WRITE_ERROR)
                raise error
            return
        details = dict(concern_error)
        if "errorLabels" in reply:
            details["errorLabels"] = list(labels)
        raise WriteConcernError(
            str(details.get("errmsg", "write concern error")), details.get("code"), details,
            max_wire_version,
        )

    def _gossip(self, session: ClientSession, reply: Mapping[str, Any]) -> None:
        cluster_time = optional_document(reply, "$clusterTime", "command reply")
        if cluster_time is not None:
            self._cluster_time = newer_cluster_time(self._cluster_time, cluster_time)
        session._process_reply(reply)
        session._touch()

    @property
    def cluster_time(self) -> Mapping[str, Any] | None:
        return self._cluster_time


def _is_pool_error(error: BaseException) -> bool:
    """An error of the pool itself (paused, closed, wait queue timed out), not of a
    connection to the server: SDAM must not see it. Since any error while establishing
    a connection marks the server Unknown, these have to be told apart."""
    from driver.cmap.types import PoolClearedError, PoolClosedError

    return isinstance(error, PoolClearedError | PoolClosedError | WaitQueueTimeoutError)


__all__ = ["Executor", "RawReply", "Reply"]
