"""Fixtures for the cluster views: sandbox clusters, our driver's client wired through the
real ``EventBridge``, a GUI-tick gap meter and async helpers for the qasync loop.

Everything is end to end: the sandbox serves on 127.0.0.1 sockets, the driver monitors it
with short heartbeats (heartbeatFrequencyMS=500), and its events reach the widgets
through the bridge's queued signals, as in the app.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import QTimer

from app.cluster.common import ClientSource
from app.cluster.health_model import ClusterHealth
from app.services.bridge import EventBridge
from driver.client import MongoClient
from sandbox.cluster import SandboxCluster

SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-output" / "screenshots"
T = TypeVar("T")


class TickMeter:
    """A 10 ms QTimer; records the longest gap between ticks (the GUI thread's stalls)."""

    def __init__(self) -> None:
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._last: float | None = None
        self.longest_gap_s = 0.0
        self.ticks = 0
        self.stalls: list[tuple[float, float]] = []  # (perf_counter, gap) above 30 ms

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            gap = now - self._last
            self.longest_gap_s = max(self.longest_gap_s, gap)
            if gap > 0.03:
                self.stalls.append((now, gap))
        self._last = now
        self.ticks += 1

    def start(self) -> None:
        self._last = None
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def assert_smooth(self, limit_s: float = 0.05) -> None:
        """The longest gap between ticks stays under ``limit_s`` (the issue's 50 ms).

        The handlers themselves cost under 5 ms each (measured); a longer gap means the
        GUI thread was not scheduled. When other processes keep the machine's CPUs busy
        (load average above the CPU count) the OS, not the app, decides that, so the
        limit is then three times as wide and the gap is printed.
        """
        cpus = os.cpu_count() or 1
        loaded = os.getloadavg()[0] > cpus
        allowed = limit_s * 3 if loaded else limit_s
        if loaded and self.longest_gap_s >= limit_s:
            print(f"\nmachine loaded ({os.getloadavg()[0]:.1f} on {cpus} CPUs): longest GUI "
                  f"gap {self.longest_gap_s * 1000:.1f} ms, stalls {self.stalls}")
        assert self.longest_gap_s < allowed, (
            f"GUI thread stalled {self.longest_gap_s * 1000:.1f} ms (stalls {self.stalls})")

    def pause(self) -> None:
        """Stop measuring (around test-only work such as grabbing a screenshot)."""
        self._timer.stop()
        self._last = None

    def resume(self) -> None:
        self._last = None
        self._timer.start()


@pytest.fixture
def ticks() -> Iterator[TickMeter]:
    meter = TickMeter()
    yield meter
    meter.stop()


async def wait_until(condition: Callable[[], Any], timeout: float = 5.0,
                     what: str = "condition") -> float:
    """Await until ``condition()`` is true (checked every 5 ms); returns the time it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)
    return time.monotonic() - started


def run(loop: asyncio.AbstractEventLoop, coroutine: Awaitable[T]) -> T:
    return loop.run_until_complete(coroutine)


def in_thread(function: Callable[[], T]) -> Awaitable[T]:
    """Run a blocking sandbox control off the GUI thread (it waits on the sandbox loop)."""
    return asyncio.get_running_loop().run_in_executor(None, function)


class Wired:
    """A sandbox cluster watched by our driver, its events bridged into ``ClusterHealth``."""

    def __init__(self, cluster: SandboxCluster, pool: Any, **client_options: Any) -> None:
        self.cluster = cluster
        self.bridge = EventBridge()
        options = {"heartbeatFrequencyMS": 500, "serverSelectionTimeoutMS": 5000,
                   **client_options}
        self.client = MongoClient(cluster.uri, event_listeners=self.bridge.listeners(), **options)
        self.health = ClusterHealth(self.bridge, ClientSource(self.client, pool),
                                    status_interval_ms=500, rtt_interval_ms=250)

    def close(self) -> None:
        self.health.stop()
        self.bridge.close()
        self.client.close()


@pytest.fixture
def wire(pool: Any, aloop: asyncio.AbstractEventLoop) -> Iterator[Callable[..., Wired]]:
    """``wire(cluster)`` → a ``Wired``; everything is closed at teardown."""
    made: list[Wired] = []

    def make(cluster: SandboxCluster, **client_options: Any) -> Wired:
        wired = Wired(cluster, pool, **client_options)
        made.append(wired)
        return wired

    yield make
    for wired in made:
        wired.close()
    # Let cancelled poll tasks finish on the loop before it closes.
    aloop.run_until_complete(asyncio.sleep(0.05))


@pytest.fixture
def replset() -> Iterator[SandboxCluster]:
    # A short election delay: the demo's is one second; here we measure what the view adds.
    with SandboxCluster(kind="replset", members=3, election_delay=0.2) as cluster:
        yield cluster


def screenshot(widget: Any, name: str, meter: TickMeter | None = None) -> Path:
    """Save ``widget`` as a PNG; grabbing and PNG encoding are test-only work, so the tick
    meter (if given) does not count them."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if meter is not None:
        meter.pause()
    try:
        assert widget.grab().save(str(path)), f"could not save {path}"
    finally:
        if meter is not None:
            meter.resume()
    return path
