"""The pool under real threads: limits hold under load, idle connections are pruned,
minPoolSize is kept, nothing leaks (connections or threads) after ``close()``."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator

import pytest

from driver.cmap.events import ConnectionClosedEvent, ConnectionCreatedEvent, ConnectionReadyEvent
from driver.cmap.pool import Pool, PoolClearedError, PoolOptions
from tests.driver.pool_helpers import (
    ADDRESS,
    Factory,
    FakeConnection,
    Recorder,
    pool_threads,
    wait_no_pool_threads,
)
from tests.timing import HANG_S, assert_prompt

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def no_leaked_pool_threads() -> Iterator[None]:
    yield
    wait_no_pool_threads(within=2.0)


class CountingFactory(Factory):
    """Tracks how many ``connect()`` calls run at once."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(delay=delay)
        self.connecting = 0
        self.max_connecting_seen = 0
        self._count_lock = threading.Lock()

    def __call__(self) -> FakeConnection:
        with self._count_lock:
            self.connecting += 1
            self.max_connecting_seen = max(self.max_connecting_seen, self.connecting)
        try:
            return super().__call__()
        finally:
            with self._count_lock:
                self.connecting -= 1


def run_threads(count: int, target: object) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def body() -> None:
        start.wait()
        try:
            target()  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, name=f"load-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a load thread is stuck"
    return errors


def test_max_pool_size_and_max_connecting_hold_under_20_threads() -> None:
    factory = CountingFactory(delay=0.005)
    pool = Pool(ADDRESS, PoolOptions(max_pool_size=5, max_connecting=2), factory)
    pool.ready()
    in_use = 0
    most_in_use = 0
    most_total = 0
    counter_lock = threading.Lock()

    def work() -> None:
        nonlocal in_use, most_in_use, most_total
        for _ in range(25):
            with pool.checkout() as conn:
                with counter_lock:
                    in_use += 1
                    most_in_use = max(most_in_use, in_use)
                    most_total = max(most_total, pool.total_connection_count)
                assert not conn.closed
                time.sleep(0.0005)  # hold it like a short command would
                with counter_lock:
                    in_use -= 1

    errors = run_threads(20, work)
    assert errors == []
    assert most_in_use <= 5 and most_total <= 5
    assert len(factory.made) <= 5
    assert factory.max_connecting_seen <= 2
    assert pool.in_use_connection_count == 0 and pool.wait_queue_length == 0
    pool.close()
    assert all(conn.close_calls == 1 for conn in factory.made)


def test_clears_under_load_lose_nothing() -> None:
    # Threads check out and in while another clears and readies the pool: every error
    # is the retryable PoolClearedError, the counts add up, and close() closes every
    # connection exactly once.
    factory = CountingFactory(delay=0.001)
    recorder = Recorder()
    pool = Pool(ADDRESS, PoolOptions(max_pool_size=4, min_pool_size=2), factory, [recorder])
    pool.ready()
    stop = threading.Event()
    successes = 0
    count_lock = threading.Lock()

    def churn() -> None:
        while not stop.is_set():
            pool.clear(interrupt_in_use_connections=True)
            pool.ready()
            time.sleep(0.002)

    def work() -> None:
        for _ in range(40):
            try:
                with pool.checkout(timeout=5):
                    nonlocal successes
                    with count_lock:
                        successes += 1
            except PoolClearedError:
                pass

    clearer = threading.Thread(target=churn)
    clearer.start()
    try:
        errors = run_threads(10, work)
    finally:
        stop.set()
        clearer.join(5)
    assert errors == [] and successes > 0
    assert pool.in_use_connection_count == 0
    pool.close()
    factory.release.set()
    wait_no_pool_threads(within=1.0)
    assert all(conn.close_calls == 1 for conn in factory.made)
    created = {e.connection_id for e in recorder.of(ConnectionCreatedEvent)}
    closed = {e.connection_id for e in recorder.of(ConnectionClosedEvent)}
    assert created == closed  # every connection the pool announced, it also closed


def test_idle_connections_are_pruned_in_the_background() -> None:
    recorder = Recorder()
    factory = Factory()
    pool = Pool(
        ADDRESS,
        PoolOptions(max_idle_time_ms=50, background_thread_interval_ms=20),
        factory,
        [recorder],
    )
    pool.ready()
    held = [pool.checkout() for _ in range(3)]
    for conn in held:
        pool.checkin(conn)
    assert pool.available_connection_count == 3
    recorder.wait_count(ConnectionClosedEvent, 3, timeout=2.0)
    assert {e.reason for e in recorder.of(ConnectionClosedEvent)} == {"idle"}
    assert pool.available_connection_count == 0
    assert all(conn.closed for conn in factory.made)
    pool.close()


def test_min_pool_size_is_kept_after_pruning() -> None:
    recorder = Recorder()
    pool = Pool(
        ADDRESS,
        PoolOptions(min_pool_size=2, max_idle_time_ms=40, background_thread_interval_ms=20),
        Factory(),
        [recorder],
    )
    pool.ready()
    # Two idle expiries later the pool has replaced its connections and still holds two.
    recorder.wait_count(ConnectionClosedEvent, 4, timeout=3.0)
    recorder.wait_count(ConnectionReadyEvent, 6, timeout=3.0)
    assert pool.total_connection_count >= 2
    assert {e.reason for e in recorder.of(ConnectionClosedEvent)} == {"idle"}
    pool.close()


def test_no_thread_outlives_close() -> None:
    pool = Pool(ADDRESS, PoolOptions(min_pool_size=3, max_idle_time_ms=10), Factory(delay=0.01))
    pool.ready()
    with pool.checkout():
        pass
    assert pool_threads()  # the maintenance thread at least
    started = time.monotonic()
    pool.close()
    wait_no_pool_threads(within=HANG_S)
    assert_prompt(time.monotonic() - started, "closing a pool with a maintenance thread")


def test_uncontended_checkout_checkin_is_fast() -> None:
    pool = Pool(ADDRESS, PoolOptions(), Factory())
    pool.ready()
    with pool.checkout():
        pass
    samples = []
    for _ in range(2000):
        started = time.perf_counter()
        conn = pool.checkout()
        pool.checkin(conn)
        samples.append(time.perf_counter() - started)
    median = statistics.median(samples)
    print(f"\nuncontended checkout+checkin median: {median * 1e6:.1f} us")
    assert median < 0.001  # generous: about 10 us on a quiet machine
    pool.close()
