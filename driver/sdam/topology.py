"""``Topology``: the current ``TopologyDescription`` under one lock, fed by monitors.

One ``threading.Condition`` guards the description, the servers (pool + monitor +
in-flight operation count) and the open/closed state. Readers take snapshots
(descriptions are immutable); monitors only feed results in through
``on_server_check``; application errors go through ``handle_application_error``.
Every change is diffed into SDAM events, queued for the ``EventPublisher`` thread,
and waiters in ``select_server`` are woken. Pools are cleared while the lock is held,
because the SDAM spec says "Clearing the connection pool for a server MUST be
synchronized with the update to the corresponding ServerDescription"; closing pools,
waking and joining monitor threads happen after the lock is released.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from driver.errors import InvalidOperation, ServerSelectionTimeoutError
from driver.events import EventListener, global_listeners
from driver.sdam.error_rules import (
    compare_topology_versions,
    error_topology_version,
    is_backpressure_error,
    is_network_error,
    is_shutdown_error,
    is_state_change_error,
)
from driver.sdam.events import (
    EventPublisher,
    ServerClosedEvent,
    ServerDescriptionChangedEvent,
    ServerOpeningEvent,
    TopologyClosedEvent,
    TopologyDescriptionChangedEvent,
    TopologyOpenedEvent,
)
from driver.sdam.monitor import Monitor, MonitorConnectionFactory, RttStats
from driver.sdam.selection import Selector, choose_server, select_servers
from driver.sdam.server_description import ServerDescription
from driver.sdam.settings import TopologySettings
from driver.sdam.topology_description import (
    NEWER_PRIMARY_MESSAGE,
    TopologyDescription,
    updated_topology_description,
)
from driver.sdam.types import (
    MIN_SUPPORTED_WIRE_VERSION,
    Address,
    ServerType,
    TopologyType,
    format_address,
    normalize_address,
)

# Values of ``handle_application_error``'s ``when`` (the spec's test files spell them
# "beforeHandshakeCompletes" / "afterHandshakeCompletes"; both spellings are accepted).
BEFORE_HANDSHAKE = "before_handshake"
AFTER_HANDSHAKE = "after_handshake"
_WHEN = {BEFORE_HANDSHAKE: True, "beforeHandshakeCompletes": True,
         AFTER_HANDSHAKE: False, "afterHandshakeCompletes": False}
CLOSE_TIMEOUT = 1.0  # seconds close() may spend joining threads


class PoolLike(Protocol):
    """What the topology needs from a connection pool (``driver.cmap.pool.Pool`` has it)."""

    @property
    def generation(self) -> int: ...

    def clear(self, interrupt_in_use: bool = False) -> None: ...

    def ready(self) -> None: ...

    def close(self) -> None: ...


PoolFactory = Callable[[Address], PoolLike]


class _GenerationOnlyPool:
    """Stand-in pool when none is injected: it only counts generations."""

    def __init__(self, address: Address) -> None:
        self.address = address
        self.generation = 0
        self.is_ready = False

    def clear(self, interrupt_in_use: bool = False) -> None:
        self.generation += 1
        self.is_ready = False

    def ready(self) -> None:
        self.is_ready = True

    def close(self) -> None:
        self.is_ready = False


class Server:
    """One server of the topology: its pool, monitor, RTT statistics and load."""

    def __init__(self, topology: Topology, address: Address, pool: PoolLike,
                 monitor: Monitor | None, rtt_stats: RttStats) -> None:
        self._topology = topology
        self.address = address
        self.pool = pool
        self.monitor = monitor
        self.rtt_stats = rtt_stats
        self.operation_count = 0

    @property
    def description(self) -> ServerDescription:
        """The current description (or an Unknown one if the server was removed)."""
        found = self._topology.description_of(self.address)
        return found if found is not None else ServerDescription.unknown(self.address)

    def operation_finished(self) -> None:
        """Call once the operation this server was selected for is over."""
        self._topology._operation_finished(self)

    def __repr__(self) -> str:
        return f"<Server {format_address(self.address)} operations={self.operation_count}>"


def _error_text(address: Address, error: BaseException) -> str:
    text = str(error) or type(error).__name__
    where = format_address(address)
    return text if text.startswith(where) else f"{where}: {text}"


class Topology:
    """Monitors a deployment and selects servers from it."""

    def __init__(
        self,
        settings: TopologySettings,
        *,
        connection_factory: MonitorConnectionFactory | None = None,
        pool_factory: PoolFactory | None = None,
        listeners: Iterable[EventListener] | None = None,
        monitoring: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        if monitoring and connection_factory is None and not settings.load_balanced:
            raise ValueError("a connection_factory is required unless monitoring=False")
        self._settings = settings
        self._connection_factory = connection_factory
        self._pool_factory: PoolFactory = pool_factory or _GenerationOnlyPool
        self._monitoring = monitoring and not settings.load_balanced
        self._rng = rng or random.Random()
        all_listeners = list(global_listeners()) + list(listeners or ())
        self._publisher = EventPublisher(all_listeners)
        self._topology_id = object()
        # Re-entrant: pools deliver their CMAP events on the calling thread, and the pool is
        # cleared with this lock held, so a listener may read the topology without deadlock.
        self._condition = threading.Condition(threading.RLock())
        # Before open() the description is Unknown and empty, so the first
        # TopologyDescriptionChangedEvent goes from it to the seeds (as the spec's tests expect).
        self._description = TopologyDescription(
            TopologyType.Unknown, {}, settings.replica_set_name, None, None, settings)
        self._servers: dict[Address, Server] = {}
        self._retired: list[Monitor] = []
        self._opened = False
        self._closed = False

    # --- reading ------------------------------------------------------------------------------

    @property
    def settings(self) -> TopologySettings:
        return self._settings

    @property
    def topology_id(self) -> object:
        return self._topology_id

    @property
    def publisher(self) -> EventPublisher:
        """The event queue; other event families may ``submit`` to it as well."""
        return self._publisher

    @property
    def description(self) -> TopologyDescription:
        """A snapshot of the current description."""
        with self._condition:
            return self._description

    def description_of(self, address: Address) -> ServerDescription | None:
        with self._condition:
            return self._description.server_descriptions().get(address)

    def get_server(self, address: Address | str) -> Server | None:
        with self._condition:
            return self._servers.get(normalize_address(address))

    @property
    def accepts_srv_updates(self) -> bool:
        """True while SRV polling should feed ``on_srv_update`` (Sharded or Unknown)."""
        with self._condition:
            return not self._closed and self._description.topology_type in (
                TopologyType.Sharded, TopologyType.Unknown)

    def rtt_samples(self, address: Address | str) -> list[tuple[float, float]]:
        """Recent ``(epoch seconds, RTT seconds)`` samples of a server, for charts."""
        server = self.get_server(address)
        return server.rtt_stats.samples() if server is not None else []

    def threads(self) -> list[threading.Thread]:
        """The live threads this topology started (monitors, RTT monitors, events)."""
        with self._condition:
            monitors = [s.monitor for s in self._servers.values() if s.monitor] + self._retired
        found = [t for m in monitors for t in m.threads()]
        thread = getattr(self._publisher, "_thread", None)
        if thread is not None:
            found.append(thread)
        return [t for t in found if t.is_alive()]

    # --- opening and closing -----------------------------------------------------------------

    def open(self) -> None:
        """Publish the opening events and start the monitors (idempotent)."""
        with self._condition:
            self._open_locked()

    def _open_locked(self) -> None:
        if self._closed:
            raise InvalidOperation("cannot use a topology after close()")
        if self._opened:
            return
        self._opened = True
        self._publisher.publish(TopologyOpenedEvent(self._topology_id))
        seeds = {a: ServerDescription.unknown(a) for a in self._settings.normalized_seeds}
        self._apply(self._description.with_servers(seeds, self._settings.initial_topology_type),
                    opening=True)
        if self._settings.load_balanced:
            # Load balancer spec: the only server is a LoadBalancer and is never monitored.
            balancers = {a: ServerDescription.load_balancer(a) for a in seeds}
            self._apply(self._description.with_servers(balancers))
            for server in self._servers.values():
                server.pool.ready()

    def close(self) -> None:
        """Stop every thread (within ``CLOSE_TIMEOUT``), close pools, publish closing events."""
        with self._condition:
            if self._closed:
                return
            self._closed = True
            servers = list(self._servers.values())
            self._retired.extend(s.monitor for s in servers if s.monitor is not None)
            monitors = list(self._retired)
            previous = self._description
            self._description = TopologyDescription(
                TopologyType.Unknown, {}, previous.replica_set_name, previous.max_set_version,
                previous.max_election_id, self._settings)
            self._servers = {}
            if self._opened:
                for server in servers:
                    self._publisher.publish(ServerClosedEvent(server.address, self._topology_id))
                self._publisher.publish(TopologyDescriptionChangedEvent(
                    previous, self._description, self._topology_id))
                self._publisher.publish(TopologyClosedEvent(self._topology_id))
            self._condition.notify_all()
        deadline = time.monotonic() + CLOSE_TIMEOUT
        for monitor in monitors:
            monitor.close()
        for server in servers:
            server.pool.close()
        for monitor in monitors:
            monitor.join(max(0.0, deadline - time.monotonic() - 0.1))
        self._publisher.close(max(0.05, deadline - time.monotonic()))

    def __enter__(self) -> Topology:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- applying changes (lock held) -------------------------------------------------------

    def _apply(self, new: TopologyDescription, opening: bool = False
               ) -> list[Callable[[], None]]:
        """Install ``new``, reconcile servers, queue events. Returns work for after the lock.

        Event order: ServerDescriptionChanged for every server whose description changed,
        ServerOpening / ServerClosed for added / removed servers, then
        TopologyDescriptionChanged; when opening, the TopologyDescriptionChanged to the
        seeds comes before their ServerOpening events (PyMongo's order).
        """
        old = self._description
        after: list[Callable[[], None]] = []
        if new is old:
            return after
        self._description = new
        if opening:
            self._publisher.publish(TopologyDescriptionChangedEvent(old, new, self._topology_id))
        old_sds, new_sds = old.server_descriptions(), new.server_descriptions()
        publish = self._publisher.publish
        for address, sd in new_sds.items():
            previous = old_sds.get(address)
            if previous is not None and previous != sd:
                publish(ServerDescriptionChangedEvent(previous, sd, address, self._topology_id))
                if (previous.server_type == ServerType.RSPrimary and sd.error is not None
                        and NEWER_PRIMARY_MESSAGE in str(sd.error)):
                    server = self._servers.get(address)
                    if server is not None:
                        # "If the old primary server version is 4.0 or earlier, the client
                        # MUST clear its connection pool"; and "MUST request an immediate check".
                        if previous.max_wire_version < MIN_SUPPORTED_WIRE_VERSION:
                            server.pool.clear()
                        if server.monitor is not None:
                            after.append(server.monitor.request_check)
        for address in new_sds:
            if address not in self._servers:
                self._servers[address] = self._make_server(address)
                publish(ServerOpeningEvent(address, self._topology_id))
        for address in [a for a in self._servers if a not in new_sds]:
            server = self._servers.pop(address)
            publish(ServerClosedEvent(address, self._topology_id))
            if server.monitor is not None:
                server.monitor.close()
                self._retired.append(server.monitor)
            after.append(server.pool.close)
        if old != new and not opening:
            publish(TopologyDescriptionChangedEvent(old, new, self._topology_id))
        self._condition.notify_all()
        return after

    def _make_server(self, address: Address) -> Server:
        pool = self._pool_factory(address)
        rtt_stats = RttStats()
        monitor = None
        if self._monitoring and self._connection_factory is not None:
            monitor = Monitor(address, self, self._settings, self._connection_factory,
                              self._publisher, rtt_stats)
            monitor.open()
        return Server(self, address, pool, monitor, rtt_stats)

    @staticmethod
    def _run_after(work: Sequence[Callable[[], None]]) -> None:
        for job in work:
            job()

    # --- inputs -------------------------------------------------------------------------------

    def on_server_check(self, server_description: ServerDescription, *,
                        clear_pool: bool = False, interrupt_in_use: bool = False,
                        monitor: object = None) -> bool:
        """Feed one check result in; returns False when it was ignored (unknown server,
        stale topologyVersion, a retired monitor, or a closed topology)."""
        sd = server_description
        with self._condition:
            server = self._servers.get(sd.address)
            if self._closed or server is None or (monitor is not None and server.monitor is not monitor):
                return False
            new = updated_topology_description(self._description, sd)
            if new is self._description:
                return False
            after = self._apply(new)
            if clear_pool:
                server.pool.clear(interrupt_in_use=interrupt_in_use)
            current = new.server_descriptions().get(sd.address)
            # SDAM "Connection Pool Management": after a successful check of a data-bearing
            # server (or with a direct connection) the pool MUST be marked "ready".
            if current is not None and current.is_server_type_known and (
                    current.is_data_bearing or new.topology_type == TopologyType.Single):
                server.pool.ready()
        self._run_after(after)
        return True

    def handle_application_error(self, address: Address | str, error: BaseException,
                                 generation: int | None, max_wire_version: int | None,
                                 when: str) -> None:
        """Apply the SDAM spec's "Application errors" rules to an operation's error.

        ``generation`` is the pool generation of the connection that failed (None: the
        current one); ``when`` is ``BEFORE_HANDSHAKE`` or ``AFTER_HANDSHAKE``.
        """
        if when not in _WHEN:
            raise ValueError(f"when must be {BEFORE_HANDSHAKE!r} or {AFTER_HANDSHAKE!r}, not {when!r}")
        before_handshake = _WHEN[when]
        address = normalize_address(address)
        after: list[Callable[[], None]] = []
        with self._condition:
            server = self._servers.get(address)
            current = self._description.server_descriptions().get(address)
            if self._closed or server is None or current is None:
                return
            # "If the error's generation number is [older than] the pool's generation number
            # ... the error is considered stale and the client MUST NOT update any topology state"
            if generation is not None and generation < server.pool.generation:
                return
            error_tv = error_topology_version(error)
            if compare_topology_versions(current.topology_version, error_tv) >= 0:
                return  # the server already told us something at least as recent
            load_balanced = self._description.topology_type == TopologyType.LoadBalanced
            if is_state_change_error(error):
                if not load_balanced:
                    unknown = ServerDescription.unknown(address, error, error_tv)
                    after += self._apply(updated_topology_description(self._description, unknown))
                # Only a shutdown, or a server older than 4.2, closed its connections.
                if is_shutdown_error(error) or (
                        max_wire_version is not None and max_wire_version < 8):
                    server.pool.clear()
                if server.monitor is not None:
                    after.append(server.monitor.request_check)
            elif is_network_error(error) or before_handshake:
                # Any error while establishing the connection counts, not only network
                # errors, timeouts and auth failures: "If the driver encounters errors that
                # do not have the backpressure error label (SystemOverloadedError) applied
                # when establishing application connections (this includes the initial
                # handshake and authentication), the driver MUST mark the server Unknown
                # and clear the server's connection pool" (SDAM, "MongoDB Handshake
                # errors"). A timeout after the handshake "MUST NOT mark the server Unknown".
                if is_backpressure_error(error):
                    # "Ignore errors that have a backpressure error label applied": "If
                    # there is a network error or timeout on the connection establishment
                    # or the hello, the client MUST NOT change the server's description."
                    return
                if not load_balanced:
                    unknown = ServerDescription.unknown(address, error)
                    after += self._apply(updated_topology_description(self._description, unknown))
                    server.pool.clear()
                    if server.monitor is not None:
                        after.append(server.monitor.cancel_check)
        self._run_after(after)

    def request_check(self) -> None:
        """Wake every monitor for an immediate check."""
        with self._condition:
            monitors = [s.monitor for s in self._servers.values() if s.monitor is not None]
        for monitor in monitors:
            monitor.request_check()

    def on_srv_update(self, seeds: Iterable[Address | str]) -> None:
        """New SRV records: reconcile the servers when the topology is Sharded or Unknown.

        Per the SRV polling rules: hosts gone from DNS are removed, new ones added, and
        with srvMaxHosts > 0 new hosts are added at random only up to that many servers.
        """
        wanted = list(dict.fromkeys(normalize_address(seed) for seed in seeds))
        if not wanted:
            return  # "the driver MUST NOT remove all hosts" on an empty answer
        with self._condition:
            td = self._description
            if self._closed or td.topology_type not in (TopologyType.Sharded, TopologyType.Unknown):
                return
            current = td.server_descriptions()
            kept = {a: sd for a, sd in current.items() if a in wanted}
            fresh = [a for a in wanted if a not in current]
            limit = self._settings.srv_max_hosts
            if limit:
                self._rng.shuffle(fresh)
                fresh = fresh[: max(0, limit - len(kept))]
            servers = dict(kept)
            servers.update({a: ServerDescription.unknown(a) for a in fresh})
            after = self._apply(td.with_servers(servers))
        self._run_after(after)

    # --- selection ------------------------------------------------------------------------------

    def select_server(self, selector: Selector, timeout: float | None = None, *,
                      deprioritized: Collection[Address] = (),
                      custom_selector: Callable[[list[ServerDescription]],
                                                list[ServerDescription]] | None = None,
                      ) -> Server:
        """Wait until a server matches ``selector`` and return it (its operation count is
        incremented: call ``Server.operation_finished()`` when done).

        Raises ``ServerSelectionTimeoutError`` after ``timeout`` seconds (default
        serverSelectionTimeoutMS), ``ConfigurationError`` for an incompatible server or a
        forbidden maxStalenessSeconds.
        """
        if timeout is None:
            timeout = self._settings.server_selection_timeout
        deadline = time.monotonic() + timeout
        with self._condition:
            self._open_locked()
            while True:
                if self._closed:
                    raise InvalidOperation("cannot use a topology after close()")
                td = self._description
                td.check_compatible()
                servers = select_servers(td, selector, self._settings.local_threshold_ms,
                                         deprioritized, custom_selector)
                if servers:
                    counts = {a: s.operation_count for a, s in self._servers.items()}
                    chosen = self._servers[choose_server(servers, counts, self._rng).address]
                    # Incrementing "MUST NOT wake up any threads that are waiting".
                    chosen.operation_count += 1
                    return chosen
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    message, errors = self._selection_failure(selector, timeout, td)
                    raise ServerSelectionTimeoutError(message, errors)
                for server in self._servers.values():
                    if server.monitor is not None:
                        server.monitor.request_check()
                self._condition.wait(min(remaining, self._settings.min_heartbeat_frequency))

    @contextmanager
    def selected_server(self, selector: Selector, timeout: float | None = None,
                        **kwargs: Any) -> Iterator[Server]:
        """``select_server`` whose operation count is released when the block ends."""
        server = self.select_server(selector, timeout, **kwargs)
        try:
            yield server
        finally:
            server.operation_finished()

    def _operation_finished(self, server: Server) -> None:
        with self._condition:
            server.operation_count = max(0, server.operation_count - 1)

    def _selection_failure(self, selector: Selector, timeout: float, td: TopologyDescription
                           ) -> tuple[str, dict[str, str]]:
        errors: dict[str, str] = {}
        states = []
        for address, sd in td.server_descriptions().items():
            state = f"{format_address(address)} {sd.server_type.name}"
            if sd.round_trip_time is not None:
                state += f" rtt={sd.round_trip_time * 1000:.1f}ms"
            if sd.error is not None:
                errors[format_address(address)] = _error_text(address, sd.error)
                state += f" error=({_error_text(address, sd.error)})"
            states.append(state)
        if errors:
            head = ", ".join(errors.values())
        elif td.topology_type == TopologyType.ReplicaSetNoPrimary and \
                getattr(selector, "is_write", False):
            head = "No primary available for writes"
        elif not td.has_known_servers:
            head = "No server has answered yet"
        elif td.topology_type in (TopologyType.ReplicaSetWithPrimary,
                                  TopologyType.ReplicaSetNoPrimary):
            head = "No replica set members match the selector"
        elif td.topology_type == TopologyType.Sharded:
            head = "No mongoses available"
        else:
            head = "No server matches the selector"
        set_name = f" set={td.replica_set_name!r}" if td.replica_set_name else ""
        message = (f"{head}, Timeout: {timeout:g}s, Selector: {selector!r}, Topology: "
                   f"{td.topology_type.name}{set_name} servers=[{'; '.join(states)}]")
        return message, errors


__all__ = [
    "AFTER_HANDSHAKE",
    "BEFORE_HANDSHAKE",
    "PoolFactory",
    "PoolLike",
    "Server",
    "Topology",
    "TopologySettings",
]
