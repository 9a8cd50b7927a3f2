"""Fixtures for the cluster views: sandbox clusters, our driver's client wired through the
real ``EventBridge``, the shared GUI tick meter (tests/gui_ticks.py) and async helpers for the qasync loop.

Everything is end to end: the sandbox serves on 127.0.0.1 sockets, the driver monitors it
with short heartbeats (heartbeatFrequencyMS=500), and its events reach the widgets
through the bridge's queued signals, as in the app.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from app.cluster.common import ClientSource
from app.cluster.health_model import ClusterHealth
from app.services.bridge import EventBridge
from driver.client import MongoClient
from sandbox.cluster import SandboxCluster
from tests.gui_ticks import TickMeter
from tests.timing import HANG_S

SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-output" / "screenshots"
T = TypeVar("T")


@pytest.fixture
def ticks() -> Iterator[TickMeter]:
    meter = TickMeter()
    yield meter
    meter.stop()


async def wait_until(condition: Callable[[], Any], timeout: float = HANG_S,
                     what: str = "condition") -> float:
    """Await until ``condition()`` is true (checked every 5 ms); returns the time it took.

    ``timeout`` only guards against a hang: a smaller one from a call site (written when
    these were speed checks) is raised to ``HANG_S``, since a busy machine must not fail a
    test. How long things take is printed and collected by ``benchmarks/gui_stalls.py``.
    """
    timeout = max(timeout, HANG_S)
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
