"""``MongoClient``: the entry point, with PyMongo's constructor, properties and methods.

The constructor only validates options (``driver.connection_string.client_options.ClientOptions.from_inputs``);
it never touches the network, so an unreachable server or wrong credentials surface on
the first operation, as ``ServerSelectionTimeoutError`` / ``OperationFailure``. With
``connect=True`` (the default) the ``Topology`` is opened at once and its monitor
threads discover the deployment in the background.

What the client owns, all created lazily by ``_get_topology()`` and torn down by
``close()`` (after which the next operation builds them again):

* the ``Topology`` (monitors, the SDAM event thread) with one ``Pool`` per server,
  whose connections are ``driver.net.connection.Connection`` objects (handshake, auth);
* a reaper thread that sends the ``killCursors`` queued by garbage-collected cursors
  and ends their implicit sessions;
* the server session pool, whose ids go to the server in ``endSessions`` on close.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from driver.common import validate_database_name
from driver.connection_string.srv_polling import SrvMonitor, monitor_for_client
from driver.database import Database
from driver.errors import ConfigurationError, InvalidOperation, PyMongoError
from driver.events import global_listeners, of_family
from driver.operations.command_events import CommandListener
from driver.operations.executor import Executor
from driver.operations.replies import document_list, require_str
from driver.read_preferences import ReadPreference, ServerMode
from driver.sdam.selection import writable_server_selector
from driver.sdam.topology import Topology
from driver.sdam.topology_description import TopologyDescription
from driver.sdam.types import ServerType, TopologyType
from driver.session import ClientSession, ServerSession, ServerSessionPool, SessionOptions

Address = tuple[str, int]

# How often the reaper thread looks for cursors left to kill by finalizers.
REAPER_INTERVAL_S = 0.5
# endSessions takes at most this many ids per command (Driver Sessions spec).
END_SESSIONS_BATCH = 10_000


class MongoClient:
    """A client for a standalone server, a replica set or sharded cluster (thread-safe)."""

    HOST = "localhost"
    PORT = 27017

    def __init__(
        self, host: str | Sequence[str] | None = None, port: int | None = None,
        document_class: type[Any] | None = None, tz_aware: bool | None = None,
        connect: bool | None = None, **kwargs: Any,
    ) -> None:
        from driver.connection_string.client_options import ClientOptions

        if document_class is not None:
            kwargs["document_class"] = document_class
        if tz_aware is not None:
            kwargs["tz_aware"] = tz_aware
        if connect is not None:
            kwargs["connect"] = connect
        self._options = ClientOptions.from_inputs(host, port, kwargs)
        self._listeners = list(self._options.event_listeners)
        self._lock = threading.RLock()
        self._topology: Topology | None = None
        self._reaper: threading.Thread | None = None
        self._reaper_stop = threading.Event()
        self._srv_monitor: SrvMonitor | None = None
        self._server_sessions = ServerSessionPool()
        self._executor = Executor(self)
        self._codec_options = self._options.codec_options
        from driver.bson import DEFAULT_CODEC_OPTIONS

        # Commands decode with the client's document class but PyMongo's other defaults.
        self._command_codec_options = DEFAULT_CODEC_OPTIONS
        self._closed_once = False
        if self._options.connect:
            self._get_topology()

    # -- wiring the layers ---------------------------------------------------------------------

    def _get_topology(self) -> Topology:
        """The open topology, created (or re-created after ``close()``) on first use."""
        topology = self._topology
        if topology is not None:
            return topology
        with self._lock:
            if self._topology is None:
                topology = self._build_topology()
                topology.open()
                self._topology = topology
                self._start_reaper()
                self._start_srv_monitor(topology)
            return self._topology

    def _build_topology(self) -> Topology:
        from driver.cmap.events import ConnectionPoolListener
        from driver.cmap.pool import Pool
        from driver.cmap.types import PoolOptions
        from driver.net.connection import connector, monitor_connection_factory
        from driver.net.settings import ConnectionSettings
        from driver.sdam.settings import TopologySettings

        options = self._options
        # Registered listeners of every family hear this client too (the topology adds the
        # SDAM ones itself, for topologies built without a client).
        registered = global_listeners()
        command_listeners = of_family([*registered, *self._listeners], CommandListener)
        pool_listeners = of_family([*registered, *self._listeners], ConnectionPoolListener)
        sdam_listeners = [x for x in self._listeners if _is_sdam_listener(x)]
        connection_settings = ConnectionSettings.from_client_options(options, command_listeners)
        monitor_settings = ConnectionSettings.from_client_options(options, ())
        pool_options = PoolOptions.from_client_options(options)
        settings = TopologySettings(
            seeds=list(options.seeds),
            replica_set_name=options.replica_set_name,
            direct_connection=options.direct_connection,
            load_balanced=options.load_balanced,
            heartbeat_frequency_ms=options.heartbeat_frequency_ms,
            server_selection_timeout_ms=options.server_selection_timeout_ms,
            local_threshold_ms=options.local_threshold_ms,
            server_monitoring_mode=options.server_monitoring_mode,
            connect_timeout_ms=options.connect_timeout_ms,
            srv_host=options.srv_host,
            srv_max_hosts=options.srv_max_hosts or 0,
        )
        topology_ref: list[Topology] = []

        def make_pool(address: Address) -> Any:
            connect = connector(address, connection_settings)

            def on_background_error(error: BaseException, generation: int) -> None:
                if topology_ref:
                    topology_ref[0].handle_application_error(
                        address, error, generation, None, "before_handshake"
                    )

            pool: Any = Pool(address, pool_options, connect, pool_listeners,
                             on_background_error=on_background_error)
            return pool

        topology = Topology(
            settings,
            connection_factory=monitor_connection_factory(monitor_settings),
            pool_factory=make_pool,
            listeners=sdam_listeners,
        )
        topology_ref.append(topology)
        return topology

    def _start_srv_monitor(self, topology: Topology) -> None:
        # SRV polling spec: a mongodb+srv:// client rescans the records and feeds changes
        # to the topology, but only while it is Sharded or Unknown; never load balanced.
        monitor = None
        if not self._options.load_balanced:
            monitor = monitor_for_client(
                self._options, topology.on_srv_update, should_poll=lambda: topology.accepts_srv_updates
            )
        self._srv_monitor = monitor
        if monitor is not None:
            monitor.start()

    def _start_reaper(self) -> None:
        self._reaper_stop = threading.Event()
        stop = self._reaper_stop
        executor = self._executor

        def reap() -> None:
            while not stop.wait(REAPER_INTERVAL_S):
                with contextlib.suppress(Exception):
                    executor.process_pending_kills()

        self._reaper = threading.Thread(target=reap, name="binnacle-cursor-reaper", daemon=True)
        self._reaper.start()

    # -- server sessions -----------------------------------------------------------------------

    def _session_timeout_minutes(self) -> int | None:
        topology = self._topology
        if topology is None:
            return None
        return topology.description.logical_session_timeout_minutes

    def _acquire_server_session(self) -> ServerSession:
        return self._server_sessions.acquire(self._session_timeout_minutes())

    def _release_server_session(self, session: ServerSession) -> None:
        self._server_sessions.release(session, self._session_timeout_minutes())

    def start_session(
        self, causal_consistency: bool | None = None, default_transaction_options: Any = None,
        snapshot: bool | None = False,
    ) -> ClientSession:
        """A new explicit session (causally consistent unless told otherwise)."""
        self._get_topology()
        return ClientSession(self, SessionOptions(causal_consistency, bool(snapshot)))

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """End pooled sessions on the server, then stop every thread and close every socket.

        The client may be used again afterwards: it reconnects on the next operation.
        """
        with self._lock:
            topology = self._topology
            if topology is None:
                return
            self._reaper_stop.set()
            reaper, self._reaper = self._reaper, None
            srv_monitor, self._srv_monitor = self._srv_monitor, None
            with contextlib.suppress(Exception):
                self._executor.process_pending_kills()
            self._end_sessions(topology)
            self._topology = None
        if srv_monitor is not None:
            srv_monitor.close()
        if reaper is not None and reaper is not threading.current_thread():
            reaper.join(timeout=2.0)
        topology.close()

    def _end_sessions(self, topology: Topology) -> None:
        ids = self._server_sessions.drain()
        description = topology.description
        if not ids or description.logical_session_timeout_minutes is None:
            return
        if not any(sd.is_data_bearing for sd in description.known_servers):
            return
        from driver.bson import DEFAULT_CODEC_OPTIONS

        for start in range(0, len(ids), END_SESSIONS_BATCH):
            batch = ids[start : start + END_SESSIONS_BATCH]
            with contextlib.suppress(PyMongoError):
                with topology.selected_server(ReadPreference.PRIMARY_PREFERRED, 1.0) as server:
                    with server.pool.checkout(1.0) as pooled:  # type: ignore[attr-defined]
                        pooled.connection.command(
                            "admin", {"endSessions": batch},
                            decoder=lambda body: _decode(body, DEFAULT_CODEC_OPTIONS),
                        )

    def __enter__(self) -> MongoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- options and state ---------------------------------------------------------------------

    @property
    def options(self) -> Any:
        """The validated ``ClientOptions``."""
        return self._options

    @property
    def codec_options(self) -> Any:
        return self._codec_options

    @property
    def read_preference(self) -> ServerMode:
        return self._options.read_preference or ReadPreference.PRIMARY

    @property
    def write_concern(self) -> Any:
        return self._options.write_concern

    @property
    def read_concern(self) -> Any:
        return self._options.read_concern

    @property
    def max_pool_size(self) -> int:
        return int(self._options.max_pool_size)

    @property
    def local_threshold_ms(self) -> int:
        return int(self._options.local_threshold_ms)

    @property
    def topology_description(self) -> TopologyDescription:
        """A read-only snapshot of what the client knows about the deployment, as PyMongo's.

        The ``TopologyDescription`` and its ``ServerDescription`` objects are immutable:
        a later change makes a new description, it never alters one already handed out.
        ``server_descriptions()`` maps each address to its description, whose
        ``round_trip_time`` is the monitor's average RTT in seconds (None until measured).
        Servers are Unknown until discovered. Reading it takes the topology's lock for a
        moment and never waits on the network.
        """
        return self._get_topology().description

    @property
    def rtt_samples(self) -> Mapping[Address, tuple[tuple[float, float], ...]]:
        """Recent round-trip-time measurements of each monitored server (Binnacle's
        addition; PyMongo has no such property), for charts.

        A read-only snapshot: address → ``(epoch seconds, RTT seconds)`` pairs, oldest
        first, as the monitors measured them (the raw samples behind each
        ``ServerDescription.round_trip_time`` average; awaited streaming replies are not
        samples). Empty before the client opens and after ``close()``; never opens it.
        """
        topology = self._topology
        if topology is None:
            return MappingProxyType({})
        return MappingProxyType({
            address: tuple(topology.rtt_samples(address))
            for address in topology.description.server_descriptions()})

    def _writable_description(self) -> Any:
        with self._get_topology().selected_server(writable_server_selector) as server:
            return server.description

    @property
    def address(self) -> Address | None:
        """``(host, port)`` of the standalone, primary or mongos in use (waits for one);
        ``InvalidOperation`` when load balancing among several mongoses."""
        description = self._get_topology().description
        kind = description.topology_type
        if kind == TopologyType.Sharded and len(description.server_descriptions()) > 1:
            raise InvalidOperation(
                'Cannot use "address" property when load balancing among mongoses, '
                'use "nodes" instead.'
            )
        if kind not in (TopologyType.ReplicaSetWithPrimary, TopologyType.Single,
                        TopologyType.LoadBalanced, TopologyType.Sharded, TopologyType.Unknown):
            return None
        return self._writable_description().address  # type: ignore[no-any-return]

    @property
    def primary(self) -> Address | None:
        """The primary's address, or ``None`` (not a replica set, or none known)."""
        for sd in self._get_topology().description.server_descriptions().values():
            if sd.server_type == ServerType.RSPrimary:
                return sd.address
        return None

    def _members_of_type(self, server_type: ServerType) -> set[Address]:
        return {
            sd.address
            for sd in self._get_topology().description.server_descriptions().values()
            if sd.server_type == server_type
        }

    @property
    def secondaries(self) -> set[Address]:
        return self._members_of_type(ServerType.RSSecondary)

    @property
    def arbiters(self) -> set[Address]:
        return self._members_of_type(ServerType.RSArbiter)

    @property
    def is_primary(self) -> bool:
        """Whether the server in use accepts writes (waits for a writable server)."""
        return self._writable_description().server_type in (
            ServerType.RSPrimary, ServerType.Standalone, ServerType.Mongos,
            ServerType.LoadBalancer,
        )

    @property
    def is_mongos(self) -> bool:
        return self._writable_description().server_type == ServerType.Mongos  # type: ignore[no-any-return]

    @property
    def nodes(self) -> frozenset[Address]:
        """The addresses of every server discovered so far (empty before discovery)."""
        description = self._get_topology().description
        return frozenset(sd.address for sd in description.known_servers)

    @property
    def max_bson_size(self) -> int:
        hello = self._writable_description().hello or {}
        return int(hello.get("maxBsonObjectSize", 16 * 1024 * 1024))

    @property
    def max_message_size(self) -> int:
        hello = self._writable_description().hello or {}
        return int(hello.get("maxMessageSizeBytes", 48_000_000))

    # -- databases -----------------------------------------------------------------------------

    def __getattr__(self, name: str) -> Database:
        if name.startswith("_"):
            raise AttributeError(
                f"MongoClient has no attribute {name!r}. To access the {name} database, "
                f"use client[{name!r}]."
            )
        return self.__getitem__(name)

    def __getitem__(self, name: str) -> Database:
        return Database(self, name)

    def get_database(
        self, name: str | None = None, codec_options: Any = None,
        read_preference: ServerMode | None = None, write_concern: Any = None,
        read_concern: Any = None,
    ) -> Database:
        """A ``Database``; without ``name``, the default database of the connection string."""
        if name is None:
            name = self._options.database
            if name is None:
                raise ConfigurationError("No default database name defined or provided.")
        return Database(self, name, codec_options, read_preference, write_concern, read_concern)

    def get_default_database(
        self, default: str | None = None, codec_options: Any = None,
        read_preference: ServerMode | None = None, write_concern: Any = None,
        read_concern: Any = None,
    ) -> Database:
        """The database named in the connection string, else ``default``."""
        name = self._options.database or default
        if name is None:
            raise ConfigurationError("No default database name defined or provided.")
        return Database(self, name, codec_options, read_preference, write_concern, read_concern)

    def list_databases(
        self, session: ClientSession | None = None, comment: Any = None, **kwargs: Any
    ) -> Any:
        """A ``CommandCursor`` over ``{"name", "sizeOnDisk", "empty"}`` documents."""
        from driver.operations.cursor import CommandCursor

        command: dict[str, Any] = {"listDatabases": 1}
        command.update(kwargs)
        if comment is not None:
            command["comment"] = comment
        admin = self["admin"]
        reply = self._executor.command(
            "admin", command, session=session, codec_options=self._codec_options,
            kind="read", retryable=True,
        )
        databases = document_list(reply.document, "databases", "listDatabases reply",
                                  required=True)
        cursor_doc = {"id": 0, "firstBatch": list(databases), "ns": "admin.$cmd"}
        return CommandCursor(admin["$cmd"], cursor_doc, reply.address)

    def list_database_names(
        self, session: ClientSession | None = None, comment: Any = None
    ) -> list[str]:
        return [require_str(doc, "name", "listDatabases entry")
                for doc in self.list_databases(session, comment, nameOnly=True)]

    def drop_database(
        self, name_or_database: str | Database, session: ClientSession | None = None,
        comment: Any = None,
    ) -> None:
        """Drop a database, given its name or a ``Database`` of this client."""
        if isinstance(name_or_database, Database):
            name = name_or_database.name
        elif isinstance(name_or_database, str):
            name = name_or_database
        else:
            raise TypeError("name_or_database must be an instance of str or a Database")
        validate_database_name(name)
        command: dict[str, Any] = {"dropDatabase": 1}
        if comment is not None:
            command["comment"] = comment
        self._executor.command(
            name, command, session=session, write_concern=self.write_concern, kind="write",
        )

    def server_info(self, session: ClientSession | None = None) -> dict[str, Any]:
        """The server's ``buildInfo`` (``version``, ``versionArray``, ``gitVersion``...)."""
        return self["admin"].command(
            "buildinfo", read_preference=ReadPreference.PRIMARY, session=session
        )

    # -- identity ------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MongoClient):
            return self._identity() == other._identity()
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self._identity())

    def _identity(self) -> tuple[Any, ...]:
        return (tuple(sorted(self._options.seeds)), self._options.replica_set_name)

    def __repr__(self) -> str:
        hosts = [f"{h}:{p}" for h, p in self._options.seeds] or [str(self._options.srv_host)]
        return (
            f"MongoClient(host={hosts!r}, document_class="
            f"{self._codec_options.document_class.__name__}, "
            f"tz_aware={self._codec_options.tz_aware}, connect={self._options.connect})"
        )

    def __iter__(self) -> MongoClient:
        return self

    def __next__(self) -> None:
        raise TypeError("'MongoClient' object is not iterable")

    next = __next__

    def __bool__(self) -> bool:
        return True


def _decode(body: bytes, options: Any) -> Mapping[str, Any]:
    from driver.bson import decode

    return decode(body, options)  # type: ignore[no-any-return]


def _is_sdam_listener(listener: object) -> bool:
    from driver.sdam.events import ServerHeartbeatListener, ServerListener, TopologyListener

    return isinstance(listener, TopologyListener | ServerListener | ServerHeartbeatListener)


__all__ = ["MongoClient"]
