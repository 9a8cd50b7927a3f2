"""SRV polling for mongos discovery: re-reading a ``mongodb+srv://`` host's records.

Follows "polling-srv-records-for-mongos-discovery.md" (mongodb/specifications):
``SrvMonitor`` re-polls while the topology is Sharded or Unknown, every
max(lowest TTL, ``rescanSRVIntervalMS``) seconds, or every ``heartbeatFrequencyMS``
after a failed poll, which keeps the old host list. ``monitor_for_client`` builds the
monitor a client's options call for; the option rules (``client_options``) know
nothing of this thread, only the client that starts it does.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from driver.connection_string.srv import (
    DEFAULT_LIFETIME_S,
    DEFAULT_SERVICE_NAME,
    ResolverLike,
    SrvRecords,
    resolve_srv,
)

if TYPE_CHECKING:
    from driver.connection_string.client_options import ClientOptions

Address = tuple[str, int]
DEFAULT_RESCAN_SRV_INTERVAL_MS = 60_000
log = logging.getLogger(__name__)


def updated_host_list(
    current: Sequence[Address],
    found: Sequence[Address],
    srv_max_hosts: int = 0,
    rng: random.Random | None = None,
) -> list[Address]:
    """The polling spec's update: drop hosts no longer listed, keep the others
    untouched, add new ones (at random, up to ``srv_max_hosts`` in total)."""
    kept = [host for host in current if host in found]
    new = [host for host in found if host not in current]
    if srv_max_hosts > 0 and len(found) > srv_max_hosts:
        (rng or random.Random()).shuffle(new)
        new = new[: max(0, srv_max_hosts - len(kept))]
    return kept + new


def make_rescan(
    srv_host: str,
    service_name: str = DEFAULT_SERVICE_NAME,
    *,
    resolver: ResolverLike | None = None,
    lifetime: float = DEFAULT_LIFETIME_S,
) -> Callable[[], SrvRecords]:
    """The rescan callable for ``SrvMonitor``: SRV only, invalid targets dropped."""

    def rescan() -> SrvRecords:
        return resolve_srv(
            srv_host, service_name, resolver=resolver, lifetime=lifetime, strict=False
        )

    return rescan


class SrvMonitor:
    """A thread that calls ``rescan`` periodically and reports a changed host list.

    ``on_change(hosts)`` runs on the monitor thread with the new list. A rescan that
    raises or finds no verified host keeps the old list and retries after
    ``heartbeat_frequency_ms`` (polling spec: "MUST NOT change the topology ... MUST
    temporarily set rescanSRVIntervalMS to heartbeatFrequencyMS"). ``should_poll``
    lets the topology pause polling unless it is Sharded or Unknown.
    """

    def __init__(
        self,
        rescan: Callable[[], SrvRecords],
        on_change: Callable[[list[Address]], None],
        *,
        initial_hosts: Sequence[Address],
        initial_ttl: int | None = None,
        rescan_srv_interval_ms: int = DEFAULT_RESCAN_SRV_INTERVAL_MS,
        heartbeat_frequency_ms: int = 10_000,
        srv_max_hosts: int = 0,
        should_poll: Callable[[], bool] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._rescan = rescan
        self._on_change = on_change
        self._hosts = list(initial_hosts)
        self._floor_ms = rescan_srv_interval_ms
        self._heartbeat_ms = heartbeat_frequency_ms
        self._srv_max_hosts = srv_max_hosts
        self._should_poll = should_poll
        self._rng = rng or random.Random()
        self._interval_ms = self._interval_for(initial_ttl)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def _interval_for(self, ttl: int | None) -> int:
        # "MUST be set to the lowest of the individual TTL values ... but MUST NOT be
        # lower than 60 seconds" (the floor is configurable for tests).
        return max(ttl * 1000, self._floor_ms) if ttl is not None else self._floor_ms

    @property
    def hosts(self) -> list[Address]:
        """The current host list."""
        with self._lock:
            return list(self._hosts)

    @property
    def interval_ms(self) -> int:
        """Milliseconds until the next rescan after the last one ended."""
        return self._interval_ms

    def start(self) -> None:
        """Start the polling thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="binnacle-srv-monitor", daemon=True
            )
            self._thread.start()

    def request_rescan(self) -> None:
        """Rescan now instead of waiting for the interval."""
        self._wake.set()

    def close(self, timeout: float = 1.0) -> None:
        """Stop polling; joins the thread for at most ``timeout`` seconds."""
        self._stopped = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def rescan_once(self) -> bool:
        """One rescan on the calling thread; True when the host list changed."""
        try:
            found = self._rescan()
        except Exception as exc:  # noqa: BLE001 - any failure keeps the old list
            log.warning("SRV rescan failed, keeping %d hosts: %s", len(self._hosts), exc)
            self._interval_ms = self._heartbeat_ms
            return False
        if not found.hosts:
            log.warning("SRV rescan found no valid host, keeping %d hosts", len(self._hosts))
            self._interval_ms = self._heartbeat_ms
            return False
        self._interval_ms = self._interval_for(found.ttl)
        with self._lock:
            new = updated_host_list(self._hosts, found.hosts, self._srv_max_hosts, self._rng)
            changed = new != self._hosts
            self._hosts = new
        if changed and not self._stopped:
            try:
                self._on_change(list(new))
            except Exception:  # noqa: BLE001 - a listener bug must not stop polling
                log.exception("SRV monitor callback failed")
        return changed

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self._interval_ms / 1000)
            self._wake.clear()
            if self._stopped:
                return
            if self._should_poll is None or self._should_poll():
                self.rescan_once()


def monitor_for_client(
    options: ClientOptions,
    on_change: Callable[[list[Address]], None],
    should_poll: Callable[[], bool] | None = None,
) -> SrvMonitor | None:
    """The SRV poller for a ``mongodb+srv://`` client (None otherwise), not started.

    ``on_change`` gets each new host list; ``should_poll`` should return True only
    while the topology is Sharded or Unknown (polling spec).
    """
    if not options.scheme_srv or options.srv_host is None:
        return None
    lifetime = options.connect_timeout_ms / 1000 if options.connect_timeout_ms else 20.0
    rescan = make_rescan(
        options.srv_host, options.srv_service_name, resolver=options.dns_resolver,
        lifetime=lifetime,
    )
    resolution = options.srv_resolution
    return SrvMonitor(
        rescan,
        on_change,
        initial_hosts=options.seeds,
        initial_ttl=resolution.ttl if resolution is not None else None,
        heartbeat_frequency_ms=options.heartbeat_frequency_ms,
        srv_max_hosts=options.srv_max_hosts,
        should_poll=should_poll,
    )


__all__ = [
    "DEFAULT_RESCAN_SRV_INTERVAL_MS",
    "SrvMonitor",
    "make_rescan",
    "monitor_for_client",
    "updated_host_list",
]
