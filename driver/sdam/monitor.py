"""Server monitors: one thread per server that runs ``hello`` and feeds the topology.

Follows the server monitoring spec: a check every heartbeatFrequencyMS (counted from
the end of one check to the start of the next), an earlier one when requested but
never sooner than minHeartbeatFrequencyMS after the previous one, one immediate retry
when a server that was known fails with a network error, and the streaming protocol
(awaitable ``hello`` with ``topologyVersion`` + ``maxAwaitTimeMS``) when
serverMonitoringMode allows it, with a separate RTT monitor thread in that mode.
Connections come from an injected ``MonitorConnectionFactory``; monitors never take the
topology's lock themselves, they only call ``owner.on_server_check``. A factory that
takes the optional ``cancel=`` keyword gets a ``ConnectCancellation`` per opening, so
``close()`` ends a monitor stuck dialling or handshaking a silent server at once rather
than after connectTimeoutMS.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol, cast

from driver.errors import AutoReconnect, OperationFailure, PyMongoError
from driver.net.handshake import ConnectCancellation, accepts_cancel
from driver.sdam.error_rules import is_network_error, is_network_timeout
from driver.sdam.events import (
    EventPublisher,
    ServerHeartbeatFailedEvent,
    ServerHeartbeatStartedEvent,
    ServerHeartbeatSucceededEvent,
)
from driver.sdam.server_description import ServerDescription
from driver.sdam.settings import TopologySettings
from driver.sdam.types import Address, format_address

RTT_ALPHA = 0.2  # "a weighting factor (alpha) of 0.2" (server selection spec)
MIN_RTT_SAMPLES = 10  # minRoundTripTime is taken over the last 10 samples (monitoring spec)
RTT_WINDOW = 120  # recent samples kept for the application's charts


class HelloConnection(Protocol):
    """A monitoring connection (implemented by ``driver.net``)."""

    def hello(self, *, topology_version: Mapping[str, Any] | None = None,
              max_await_time_ms: int | None = None, timeout: float | None = None
              ) -> dict[str, Any]: ...

    @property
    def handshake_reply(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


# Called as ``factory(address, connect_timeout)``, plus ``cancel=ConnectCancellation``
# when its signature takes that keyword (see ``driver.net.handshake.accepts_cancel``).
MonitorConnectionFactory = Callable[[Address, "float | None"], HelloConnection]


class MonitorOwner(Protocol):
    """What a monitor needs from its topology."""

    def on_server_check(self, server_description: ServerDescription, *,
                        clear_pool: bool = False, interrupt_in_use: bool = False,
                        monitor: object = None) -> bool: ...

    def description_of(self, address: Address) -> ServerDescription | None: ...


class RttStats:
    """Average RTT (EWMA, alpha 0.2), minimum of the last 10, and a window of samples."""

    def __init__(self, window: int = RTT_WINDOW) -> None:
        self._lock = threading.Lock()
        self._average: float | None = None
        self._recent: deque[float] = deque(maxlen=MIN_RTT_SAMPLES)
        self._window: deque[tuple[float, float]] = deque(maxlen=window)

    def add_sample(self, rtt: float) -> None:
        """Record one RTT in seconds (negative values are clamped to 0)."""
        rtt = max(0.0, rtt)
        with self._lock:
            if self._average is None:
                # "the average RTT MUST be set equal to the first RTT measurement"
                self._average = rtt
            else:
                self._average = RTT_ALPHA * rtt + (1 - RTT_ALPHA) * self._average
            self._recent.append(rtt)
            self._window.append((time.time(), rtt))

    @property
    def average(self) -> float | None:
        with self._lock:
            return self._average

    @property
    def minimum(self) -> float:
        """Minimum of the last 10 samples; 0 until there are at least 2."""
        with self._lock:
            return min(self._recent) if len(self._recent) >= 2 else 0.0

    def samples(self) -> list[tuple[float, float]]:
        """Recent ``(epoch seconds, rtt seconds)`` pairs, oldest first."""
        with self._lock:
            return list(self._window)

    def reset(self) -> None:
        """"When a server becomes unavailable, its average RTT MUST be cleared"."""
        with self._lock:
            self._average = None
            self._recent.clear()


class _Sleeper:
    """An interruptible wait shared by the monitor threads."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.stopped = False

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self.condition:
            while not self.stopped:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self.condition.wait(remaining)

    def stop(self) -> None:
        with self.condition:
            self.stopped = True
            self.condition.notify_all()


class _Opener:
    """Opens monitoring connections so that ``cancel()`` can abort one in progress."""

    def __init__(self, address: Address, settings: TopologySettings,
                 factory: MonitorConnectionFactory, sleeper: _Sleeper,
                 cancellable: bool) -> None:
        self._address = address
        self._settings = settings
        self._factory = factory
        self._sleeper = sleeper
        self._cancellable = cancellable
        self._opening: ConnectCancellation | None = None

    def open(self) -> HelloConnection:
        timeout = self._settings.connect_timeout
        if not self._cancellable:
            return self._factory(self._address, timeout)
        handle = ConnectCancellation()
        with self._sleeper.condition:
            if self._sleeper.stopped:
                raise AutoReconnect(f"{format_address(self._address)}: monitor stopped")
            self._opening = handle
        try:
            factory = cast(Callable[..., HelloConnection], self._factory)
            return factory(self._address, timeout, cancel=handle)
        finally:
            with self._sleeper.condition:
                self._opening = None

    def cancel(self) -> None:
        """Abort the opening in progress, if any (call after ``sleeper.stop()``)."""
        with self._sleeper.condition:
            handle, self._opening = self._opening, None
        if handle is not None:
            handle.cancel()


class RttMonitor:
    """Measures RTT on its own connection while the main monitor is streaming."""

    def __init__(self, address: Address, settings: TopologySettings,
                 connection_factory: MonitorConnectionFactory, stats: RttStats,
                 cancellable: bool | None = None) -> None:
        self._address = address
        self._settings = settings
        self._stats = stats
        self._sleeper = _Sleeper()
        if cancellable is None:
            cancellable = accepts_cancel(connection_factory)
        self._opener = _Opener(address, settings, connection_factory, self._sleeper,
                               cancellable)
        self._connection: HelloConnection | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"binnacle-rtt-{format_address(address)}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._sleeper.stop()
        self._opener.cancel()
        connection, self._connection = self._connection, None
        if connection is not None:
            _close_quietly(connection)

    def join(self, timeout: float | None = None) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def _run(self) -> None:
        while not self._sleeper.stopped:
            try:
                start = time.monotonic()
                if self._connection is None:
                    self._connection = self._opener.open()
                    if self._sleeper.stopped:  # stop() ran while it was opening
                        break
                else:
                    self._connection.hello(timeout=self._settings.connect_timeout)
                if not self._sleeper.stopped:
                    self._stats.add_sample(time.monotonic() - start)
            except Exception:
                # The main monitor reports failures; the RTT monitor just reconnects later.
                connection, self._connection = self._connection, None
                if connection is not None:
                    _close_quietly(connection)
            self._sleeper.sleep(self._settings.heartbeat_frequency)
        connection, self._connection = self._connection, None
        if connection is not None:
            _close_quietly(connection)


def _close_quietly(connection: HelloConnection) -> None:
    try:
        connection.close()
    except Exception:  # closing a broken socket may fail; it is being discarded anyway
        pass


class Monitor:
    """The monitor thread of one server."""

    def __init__(self, address: Address, owner: MonitorOwner, settings: TopologySettings,
                 connection_factory: MonitorConnectionFactory, publisher: EventPublisher,
                 rtt_stats: RttStats | None = None) -> None:
        self._address = address
        self._owner = owner
        self._settings = settings
        self._factory = connection_factory
        self._publisher = publisher
        self.rtt_stats = rtt_stats if rtt_stats is not None else RttStats()
        self._sleeper = _Sleeper()
        self._cancellable = accepts_cancel(connection_factory)
        self._opener = _Opener(address, settings, connection_factory, self._sleeper,
                               self._cancellable)
        self._check_requested = False
        self._cancelled = False
        self._connection: HelloConnection | None = None
        self._topology_version: dict[str, Any] | None = None
        # Whether the last awaitable hello waited on the server or brought a change.
        self._last_reply_waited_or_changed = False
        self._last_check_end = float("-inf")
        self._rtt_monitor: RttMonitor | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"binnacle-monitor-{format_address(address)}", daemon=True)
        self.check_count = 0

    @property
    def address(self) -> Address:
        return self._address

    def threads(self) -> list[threading.Thread]:
        found = [self._thread]
        if self._rtt_monitor is not None:
            found.append(self._rtt_monitor.thread)
        return found

    def open(self) -> None:
        self._thread.start()

    def request_check(self) -> None:
        """Wake the monitor for an early check (ignored while streaming, as the spec says)."""
        with self._sleeper.condition:
            self._check_requested = True
            self._sleeper.condition.notify_all()

    def cancel_check(self) -> None:
        """Abort an in-progress check by closing its connection (after an application
        network error: "Cancel inprogress check")."""
        with self._sleeper.condition:
            connection, self._connection = self._connection, None
            self._cancelled = connection is not None
            self._topology_version = None
        if connection is not None:
            _close_quietly(connection)

    def close(self) -> None:
        """Stop the thread(s) and close the connection(s) without waiting; a connection
        still being opened is aborted too (when the factory takes ``cancel=``)."""
        self._sleeper.stop()
        self._opener.cancel()
        with self._sleeper.condition:
            connection, self._connection = self._connection, None
            rtt_monitor = self._rtt_monitor
        if connection is not None:
            _close_quietly(connection)
        if rtt_monitor is not None:
            rtt_monitor.stop()

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self.threads():
            if thread.ident is None or thread is threading.current_thread():
                continue
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    # --- the loop -------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._sleeper.stopped:
            previous = self._owner.description_of(self._address)
            if previous is None:
                return  # the server was removed from the topology
            description, error, cancelled = self._check()
            self._last_check_end = time.monotonic()
            if self._sleeper.stopped:
                return
            if error is not None:
                self.rtt_stats.reset()
                if cancelled:
                    # The application's error handler closed our connection after it had
                    # marked the server Unknown and cleared the pool: nothing to report.
                    self._wait(self._settings.heartbeat_frequency)
                    continue
                # Server monitoring spec: on a check error mark the server Unknown and clear
                # its pool; after a network timeout also interrupt in-use connections.
                self._owner.on_server_check(
                    description, clear_pool=True,
                    interrupt_in_use=is_network_timeout(error), monitor=self)
                if (is_network_error(error) or is_network_timeout(error)) \
                        and previous.is_server_type_known:
                    # "If this was a network error and the server was in a known state
                    # before the error, the client MUST NOT sleep and MUST begin the next
                    # check immediately."
                    continue
                self._wait(self._settings.heartbeat_frequency)
                continue
            self._owner.on_server_check(description, monitor=self)
            if self._streaming:
                # The server answers an awaitable hello when something changes or after
                # maxAwaitTimeMS, so the next one may go out at once: "the client MUST
                # ... continue" without sleeping (server monitoring spec, streaming
                # protocol). A server that answered at once without a new topologyVersion
                # did not wait; only then keep minHeartbeatFrequencyMS, so a misbehaving
                # server cannot make this a busy loop.
                if not self._last_reply_waited_or_changed:
                    self._wait(0.0)
            else:
                self._wait(self._settings.heartbeat_frequency)

    @property
    def _streaming(self) -> bool:
        return self._settings.use_streaming and self._topology_version is not None

    def _wait(self, interval: float) -> None:
        """Sleep ``interval`` after the last check, or until a requested check is due; never
        less than minHeartbeatFrequencyMS."""
        minimum = self._settings.min_heartbeat_frequency
        earliest = self._last_check_end + minimum
        deadline = self._last_check_end + max(interval, minimum)
        condition = self._sleeper.condition
        with condition:
            while not self._sleeper.stopped:
                now = time.monotonic()
                target = earliest if self._check_requested else deadline
                if now >= target:
                    break
                condition.wait(target - now)
            self._check_requested = False

    def _publish(self, event: Any) -> None:
        self._publisher.publish(event)

    def _check(self) -> tuple[ServerDescription, BaseException | None, bool]:
        """One check: (new description, the error if it failed, whether it was cancelled)."""
        with self._sleeper.condition:
            self._cancelled = False
            connection = self._connection
        awaited = connection is not None and self._streaming
        self._publish(ServerHeartbeatStartedEvent(self._address, awaited))
        start = time.monotonic()
        try:
            if connection is None:
                connection = self._opener.open()
                reply = dict(connection.handshake_reply)
                with self._sleeper.condition:
                    stale = self._sleeper.stopped
                    if not stale:
                        self._connection = connection
                if stale:
                    _close_quietly(connection)
            elif awaited:
                timeout = self._settings.connect_timeout
                heartbeat = self._settings.heartbeat_frequency
                reply = connection.hello(
                    topology_version=self._topology_version,
                    max_await_time_ms=int(self._settings.heartbeat_frequency_ms),
                    timeout=None if timeout is None else timeout + heartbeat)
            else:
                reply = connection.hello(timeout=self._settings.connect_timeout)
            if not reply.get("ok"):
                raise OperationFailure(str(reply.get("errmsg", "hello failed")),
                                       reply.get("code"), reply)
        except Exception as exc:
            duration = time.monotonic() - start
            with self._sleeper.condition:
                cancelled = self._cancelled
                broken, self._connection = self._connection, None
                self._topology_version = None
            if broken is not None:
                _close_quietly(broken)
            self._publish(ServerHeartbeatFailedEvent(duration, exc, self._address, awaited))
            self.check_count += 1
            return ServerDescription.unknown(self._address, exc), exc, cancelled
        duration = time.monotonic() - start
        if not awaited:
            # An awaited reply's duration includes the server's wait: not an RTT sample.
            self.rtt_stats.add_sample(duration)
        self._publish(ServerHeartbeatSucceededEvent(duration, reply, self._address, awaited))
        tv = reply.get("topologyVersion")
        previous_tv = self._topology_version
        self._topology_version = dict(tv) if isinstance(tv, Mapping) else None
        # "Immediately proceed to the next check if the previous response was successful
        # and included the topologyVersion field" (server monitoring spec): that holds
        # for the regular hello that switches to streaming too. An awaited reply that came
        # back at once with the same topologyVersion did not wait: only that one keeps
        # minHeartbeatFrequencyMS, so a misbehaving server cannot make this a busy loop.
        if awaited:
            self._last_reply_waited_or_changed = (
                self._topology_version != previous_tv
                or duration >= self._settings.min_heartbeat_frequency)
        else:
            self._last_reply_waited_or_changed = self._topology_version is not None
        if self._streaming:
            self._ensure_rtt_monitor()
        self.check_count += 1
        try:
            description = ServerDescription(
                self._address, reply, self.rtt_stats.average,
                min_round_trip_time=self.rtt_stats.minimum)
        except PyMongoError as exc:  # a hello reply of the wrong shape: the server is Unknown
            return ServerDescription.unknown(self._address, exc), exc, False
        return description, None, False

    def _ensure_rtt_monitor(self) -> None:
        with self._sleeper.condition:
            if self._rtt_monitor is not None or self._sleeper.stopped:
                return
            self._rtt_monitor = RttMonitor(self._address, self._settings, self._factory,
                                           self.rtt_stats, self._cancellable)
            self._rtt_monitor.start()


__all__ = [
    "HelloConnection",
    "Monitor",
    "MonitorConnectionFactory",
    "MonitorOwner",
    "RTT_ALPHA",
    "RttMonitor",
    "RttStats",
]
